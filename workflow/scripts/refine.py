# Thin shell around parbench.refine.planner.plan_files: the refined workloads' per-job
# CSVs so far -> one round's plan of new jobs (results/refine/round<N>.json).
from parbench.logs import stderr_to
from parbench.refine import Refinement
from parbench.refine.planner import plan_files

if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        plan_files(
            snakemake.input,
            snakemake.output[0],
            int(snakemake.wildcards.round),
            Refinement.from_config(snakemake.params.refine),
            seed=snakemake.params.seed,
            skip_invalid=snakemake.params.skip_invalid,
        )
