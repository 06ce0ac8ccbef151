# Per-job CSVs -> each workload's tables, then the global tables users read.
# Aggregating workload by workload keeps a sweep of thousands of jobs cheap to
# update: new jobs of one workload re-aggregate (and re-plot) that workload alone.


rule aggregate_workload:
    input:
        job_csvs_of,
    output:
        **{
            table: f"results/aggregates/{{workload}}/{table}.csv"
            for table in WORKLOAD_TABLES
        },
    log:
        "results/logs/aggregate/{workload}.log",
    priority: workload_priority
    conda:
        "../../envs/parbench.yaml"
    resources:
        machine_share=1,
    params:
        pairs=COMPARE,
        exclude_loaded=config["exclude_loaded"],
        skip_invalid=config["skip_invalid"],
    script:
        "../scripts/aggregate_workload.py"


rule aggregate:
    input:
        **{
            table: expand(
                "results/aggregates/{workload}/{table}.csv",
                workload=WORKLOAD_NAMES,
                table=[table],
            )
            for table in WORKLOAD_TABLES
        },
    output:
        **{
            table: f"results/{table}.csv"
            for table in GLOBAL_TABLES
            if table != "machines"
        },
        machines=report(
            "results/machines.csv",
            caption="../report/machines.rst",
            category="Provenance",
        ),
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/parbench.yaml"
    resources:
        machine_share=1,
    params:
        pairs=COMPARE,
        exclude_loaded=config["exclude_loaded"],
    script:
        "../scripts/aggregate.py"


# What the run found, in words, from the global tables (parbench.findings): the report's
# front page includes its reST twin.
# The design the sweep ran, beside its aggregates (what `parbench aggregate` repeats):
# written again whenever the config changes, whatever the change reruns, and only once
# the aggregates it describes are (a run stopped before them leaves the old design).
rule run_design:
    input:
        "results/summary.csv",
    output:
        "results/config.yaml",
    log:
        "results/logs/run_design.log",
    localrule: True
    conda:
        "../../envs/parbench.yaml"
    params:
        design=config,
    script:
        "../scripts/run_design.py"


rule findings:
    input:
        summary="results/summary.csv",
        crossover="results/crossover.csv",
        machines="results/machines.csv",
        model="results/model.csv",
        figures=[headline_figure(workload) for workload in WORKLOAD_NAMES],
    output:
        markdown="results/findings.md",
        rst="results/findings.rst",
    log:
        "results/logs/findings.log",
    conda:
        "../../envs/parbench.yaml"
    resources:
        machine_share=1,
    params:
        workloads=WORKLOAD_NAMES,
    script:
        "../scripts/findings.py"
