# Thin shell around parbench.aggregate.aggregate_workload: one workload's per-job
# CSVs -> its tables under results/aggregates/<workload>/.
from parbench.aggregate import WORKLOAD_TABLES, aggregate_workload
from parbench.logs import stderr_to

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        aggregate_workload(
            snakemake.input,
            {table: snakemake.output[table] for table in WORKLOAD_TABLES},
            pairs=snakemake.params.pairs,
            exclude_loaded=snakemake.params.exclude_loaded,
            skip_invalid=snakemake.params.skip_invalid,
        )
