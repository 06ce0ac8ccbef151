# Thin shell around parbench.plot.plot_target: aggregates -> a cluster target's figure.
from pathlib import Path

from parbench.logs import stderr_to
from parbench.plot import plot_target

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        plot_target(
            snakemake.input.summary,
            snakemake.input.crossover,
            snakemake.wildcards.workload,
            snakemake.wildcards.target,
            Path(snakemake.output.scaling).with_suffix(""),
            width=snakemake.params.width,
        )
