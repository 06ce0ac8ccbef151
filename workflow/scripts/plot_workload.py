# Thin shell around parbench.plot.plot_workload: aggregates -> one workload's figures.
from pathlib import Path

from parbench.logs import stderr_to
from parbench.plot import WORKLOAD_FIGURES, plot_workload

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        plot_workload(
            snakemake.input.summary,
            snakemake.input.crossover,
            snakemake.wildcards.workload,
            {name: Path(snakemake.output[name]).with_suffix("")
             for name in WORKLOAD_FIGURES},
            width=snakemake.params.width,
        )
