# One timing job per combination of workload, kernel, series, size, tasks, workers and
# replicate (parbench.identity: its fields are the wildcards of sweep.RAW_CSV).
# Jobs never overlap: each holds the timing lock while it measures, and the
# `timing_slot` resource lets a profile say the same to Snakemake's scheduler; it takes
# the whole `machine_share` too, so that no analysis job runs beside it (common.smk).


rule measure:
    input:
        interpreter_of,
    output:
        sweep.RAW_CSV,
    log:
        sweep.RAW_LOG,
    priority: job_priority
    conda:
        "../../envs/parbench.yaml"
    threads: job_threads
    resources:
        timing_slot=1,
        machine_share=WHOLE_MACHINE,
    params:
        # Not `timing_lock`: a param is a rerun trigger, and where the lock lives
        # changes no measurement (the script reads it from the config).
        settings=sweep.measurement_settings(config),
        job=job_params,
    script:
        "../scripts/measure.py"
