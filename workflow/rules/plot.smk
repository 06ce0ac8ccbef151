# Figures are drawn from the aggregates alone: they rebuild without re-timing
# (`snakemake --forcerun plot_workload plot_overview`, or `parbench plot`). Which
# figures each rule draws, their captions and report categories come from the
# registry (parbench.figures.registry).


rule plot_workload:
    input:
        summary="results/aggregates/{workload}/summary.csv",
        crossover="results/aggregates/{workload}/crossover.csv",
    output:
        **figure_outputs("workload"),
    log:
        "results/logs/plot/{workload}.log",
    priority: workload_priority
    conda:
        "../../envs/parbench.yaml"
    resources:
        machine_share=1,
    params:
        scope="workload",
        tables=tables_read("workload"),
        width=config["figure_width_inches"],
    script:
        "../scripts/plot.py"


rule plot_overview:
    input:
        **{table: f"results/{table}.csv" for table in tables_read("overview")},
        summary="results/summary.csv",
    output:
        **figure_outputs("overview"),
    log:
        "results/logs/plot/overview.log",
    conda:
        "../../envs/parbench.yaml"
    resources:
        machine_share=1,
    params:
        scope="overview",
        tables=tables_read("overview"),
        width=config["figure_width_inches"],
    script:
        "../scripts/plot.py"


# A cluster target's series get figures of their own: never on the local axes.
rule plot_target:
    input:
        summary="results/aggregates/{workload}/summary.csv",
        crossover="results/aggregates/{workload}/crossover.csv",
    output:
        **figure_outputs("target"),
    log:
        "results/logs/plot/{target}/{workload}.log",
    priority: workload_priority
    conda:
        "../../envs/parbench.yaml"
    resources:
        machine_share=1,
    params:
        scope="target",
        tables=tables_read("target"),
        width=config["figure_width_inches"],
    script:
        "../scripts/plot.py"
