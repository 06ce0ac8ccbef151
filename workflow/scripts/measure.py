# Thin shell around parbench.measure.run_job: one job -> one CSV.
from parbench.backends import Series
from parbench.identity import Job
from parbench.logs import stderr_to
from parbench.machine import config_hash
from parbench.measure import JobSettings, run_job

# Guarded: with the spawn/forkserver start methods, every Pool worker re-runs
# this file as __mp_main__; unguarded, it would start the job again.
if __name__ == "__main__":
    with stderr_to(snakemake.log[0]):
        run_job(
            Job.from_wildcards(snakemake.wildcards),
            JobSettings(**snakemake.params.settings),
            Series(**snakemake.params.job["series"]),
            snakemake.output[0],
            workload_plugin=snakemake.params.job["workload_plugin"] or None,
            timing_lock=snakemake.config.get("timing_lock"),
            config_hash=config_hash(snakemake.config),
            planned_round=snakemake.params.job["planned_round"],
        )
