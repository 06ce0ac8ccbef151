# Thin shell around parbench.aggregate.combine_files: every workload's tables -> the
# global timings, summary, crossover, machines and design tables, and the design they
# were made with beside them (what `parbench aggregate` repeats).
from parbench.aggregate import GLOBAL_TABLES, WORKLOAD_TABLES, combine_files, write_run_design
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
        write_run_design(snakemake.config, snakemake.output.run_design)
