# Thin shell around parbench.figures.draw.plot_files: aggregates -> the figures of one
# scope (a workload's, the overview, a cluster target's), as the registry lists them.
from pathlib import Path

from parbench.figures.draw import plot_files
from parbench.identity import LOCAL
from parbench.logs import stderr_to

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        plot_files(
            snakemake.params.scope,
            snakemake.input.summary,
            snakemake.input.get("crossover"),
            {name: Path(path).with_suffix("") for name, path in snakemake.output.items()},
            workload=snakemake.wildcards.get("workload"),
            target=snakemake.wildcards.get("target", LOCAL),
            width=snakemake.params.width,
            tables={name: snakemake.input[name] for name in snakemake.params.tables},
        )
