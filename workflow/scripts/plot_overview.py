# Thin shell around parbench.plot.plot_overview: aggregates -> the cross-workload figures.
from pathlib import Path

from parbench.logs import stderr_to
from parbench.plot import OVERVIEW_FIGURES, plot_overview

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        plot_overview(
            snakemake.input.summary,
            {name: Path(snakemake.output[name]).with_suffix("") for name in OVERVIEW_FIGURES},
            width=snakemake.params.width,
        )
