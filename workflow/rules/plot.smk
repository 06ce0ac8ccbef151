# Figures are drawn from the aggregates alone: they rebuild without re-timing
# (`snakemake --forcerun plot_workload plot_overview`, or `parbench plot`).


rule plot_workload:
    input:
        summary="results/aggregates/{workload}/summary.csv",
        crossover="results/aggregates/{workload}/crossover.csv",
    output:
        scaling=report(
            "results/figures/scaling_{workload}.png",
            caption="../report/scaling.rst",
            category="1. Scaling curves",
            labels={"workload": "{workload}"},
        ),
        speedup=report(
            "results/figures/speedup_{workload}.png",
            caption="../report/speedup.rst",
            category="2. Speedup",
            labels={"workload": "{workload}", "versus": "size"},
        ),
        workers=report(
            "results/figures/workers_{workload}.png",
            caption="../report/workers.rst",
            category="2. Speedup",
            labels={"workload": "{workload}", "versus": "workers"},
        ),
        winner=report(
            "results/figures/winner_{workload}.png",
            caption="../report/winner.rst",
            category="3. Winner map",
            labels={"workload": "{workload}"},
        ),
        pdfs=expand(
            "results/figures/{figure}_{{workload}}.pdf",
            figure=WORKLOAD_FIGURES,
        ),
    log:
        "results/logs/plot/{workload}.log",
    conda:
        "../../envs/parbench.yaml"
    params:
        width=config["figure_width_inches"],
    script:
        "../scripts/plot_workload.py"


rule plot_overview:
    input:
        summary="results/summary.csv",
    output:
        overhead=report(
            "results/figures/overhead.png",
            caption="../report/overhead.rst",
            category="4. Overheads",
        ),
        article=report(
            "results/figures/article.png",
            caption="../report/article.rst",
            category="5. The article, re-measured",
        ),
        pdfs=expand("results/figures/{figure}.pdf", figure=OVERVIEW_FIGURES),
    log:
        "results/logs/plot/overview.log",
    conda:
        "../../envs/parbench.yaml"
    params:
        width=config["figure_width_inches"],
    script:
        "../scripts/plot_overview.py"


# A cluster target's series get figures of their own: never on the local axes.
rule plot_target:
    input:
        summary="results/aggregates/{workload}/summary.csv",
        crossover="results/aggregates/{workload}/crossover.csv",
    output:
        scaling=report(
            "results/figures/{target}/scaling_{workload}.png",
            caption="../report/scaling.rst",
            category="6. Clusters",
            labels={"workload": "{workload}", "target": "{target}"},
        ),
        pdf="results/figures/{target}/scaling_{workload}.pdf",
    log:
        "results/logs/plot/{target}/{workload}.log",
    conda:
        "../../envs/parbench.yaml"
    params:
        width=config["figure_width_inches"],
    script:
        "../scripts/plot_target.py"
