# Refinement: after the grid, a checkpoint per round reads the refined workloads' jobs
# so far and plans new ones where they narrow a crossover (config `refine`; the planner:
# parbench.refine.planner). The rounds' jobs join their workload's aggregation.


checkpoint refine:
    input:
        refine_inputs,
    output:
        refine.PLAN,
    log:
        refine.PLAN_LOG,
    conda:
        "../../envs/parbench.yaml"
    resources:
        machine_share=1,
    params:
        refine=config["refine"],
        seed=config["run_order_seed"],
        skip_invalid=config["skip_invalid"],
    script:
        "../scripts/refine.py"
