# Every per-job CSV -> one table of all rows, a summary, the crossover sizes and
# the machines they were measured on.


rule aggregate:
    input:
        job_csvs(),
    output:
        timings="results/timings.csv",
        summary="results/summary.csv",
        crossover="results/crossover.csv",
        machines=report(
            "results/machines.csv",
            caption="../report/machines.rst",
            category="Provenance",
        ),
        design="results/design.csv",
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/parbench.yaml"
    params:
        pairs=COMPARE,
        exclude_loaded=config["exclude_loaded"],
        skip_invalid=config["skip_invalid"],
    script:
        "../scripts/aggregate.py"
