# Thin shell around parbench.aggregate.combine_files: every workload's tables -> the
# global timings, summary, crossover, machines and design tables (the design the sweep
# ran goes beside them by its own rule, run_design).
from parbench.aggregate import GLOBAL_TABLES, WORKLOAD_TABLES, combine_files
from parbench.logs import stderr_to

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        per_workload = [
            {table: snakemake.input[table][index] for table in WORKLOAD_TABLES}
            for index in range(len(snakemake.input.summary))
        ]
        combine_files(
            per_workload,
            {table: snakemake.output[table] for table in GLOBAL_TABLES},
            pairs=snakemake.params.pairs,
            exclude_loaded=snakemake.params.exclude_loaded,
        )
