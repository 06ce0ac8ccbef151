# Thin shell around parbench.measure.run_job: one combination -> one CSV.
from parbench.logs import stderr_to
from parbench.measure import Combination, JobSettings, run_job

with stderr_to(snakemake.log[0]):
    run_job(
        Combination.from_wildcards(snakemake.wildcards),
        JobSettings(**snakemake.params.settings),
        snakemake.output[0],
    )
