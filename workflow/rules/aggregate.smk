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
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/parbench.yaml"
    params:
        pairs=COMPARE,
    script:
        "../scripts/aggregate.py"
