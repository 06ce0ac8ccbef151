# Thin shell around parbench.aggregate.aggregate: per-job CSVs -> the aggregates.
from parbench.aggregate import aggregate
from parbench.logs import stderr_to

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        aggregate(
            snakemake.input,
            snakemake.output.timings,
            snakemake.output.summary,
            snakemake.output.crossover,
            snakemake.output.machines,
            pairs=snakemake.params.pairs,
            design_csv=snakemake.output.design,
            exclude_loaded=snakemake.params.exclude_loaded,
            skip_invalid=snakemake.params.skip_invalid,
        )
