# Config loading and validation, and the functions rules use. No rule here.
import copy
import os
import re
import sys
from pathlib import Path

from snakemake.utils import validate

PACKAGE_ROOT = Path(workflow.basedir) / "workflow"
# Make `parbench` importable here and in every local job even without
# `pip install -e .` (jobs inherit this process's environment). Nothing is
# required from the user's environment, so no `envvars:` directive.
sys.path.insert(0, str(PACKAGE_ROOT))
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(None, [str(PACKAGE_ROOT), os.getenv("PYTHONPATH")])
    )
)

from parbench import columns, config_checks, interpreters, refine, sweep  # noqa: E402
from parbench.figures.registry import (  # noqa: E402 - no matplotlib
    FIGURES,
    headline_figure,
    tables_read,
)
from parbench.identity import LOCAL, Job, wildcard_patterns  # noqa: E402
from parbench.snakemake_fixes import linear_pipe_or_service_check  # noqa: E402

# Snakemake's check before each job is quadratic in its inputs (thousands per
# aggregation at 10k jobs): the same answers in linear time (parbench.snakemake_fixes).
linear_pipe_or_service_check()

# A --configfile is a whole experiment design: it replaces config/config.yaml
# instead of merging into it key by key (a merge could never drop a workload).
# --config key=value alone still overrides single keys of the default design.
if workflow.overwrite_configfiles:
    config.clear()
    config.update(copy.deepcopy(workflow.config_settings.overwrite_config))

# `--config workers=[1,2]` gives ['1', '2']: read such values as a config file would.
for key in workflow.config_settings.config:
    config[key] = sweep.typed_override(config[key])

try:
    config_checks.check_config_files(
        workflow.overwrite_configfiles or workflow.configfiles
    )
    config_checks.check_schema(config)
    validate(config, schema="../schemas/config.schema.yaml", set_default=True)
    config_checks.check_consistency(config)
except ValueError as problem:
    raise WorkflowError(str(problem))

# Series and combinations are resolved once here, not once per job.
SERIES = sweep.series(config)
COMBINATIONS = sweep.combinations(config, SERIES)
COMPARE = sweep.comparisons(config, SERIES)
# Replicates of one combination run a round apart, in a seeded shuffle; compared series
# side by side. Planned jobs (refinement) come after every grid job that is ready.
PRIORITIES = sweep.job_priorities(
    COMBINATIONS, config["run_order_seed"], COMPARE, above=refine.GRID_PRIORITY_FLOOR
)
# Timing jobs run one at a time in any case (each takes the timing lock). Telling
# the scheduler so, also without the profile, makes it start them one by one in the
# run order above, instead of several that then race for the lock in any order.
if "timing_slot" not in workflow.global_resources:
    workflow.register_resource("timing_slot", 1)
# Analysis jobs (aggregating, planning, drawing) may share the machine with each other
# but never with a timing job, which would wait for them to be quiet or be `loaded`:
# a timing job takes every share of the machine, an analysis job one.
if "machine_share" not in workflow.global_resources:
    workflow.register_resource("machine_share", 8)
WHOLE_MACHINE = workflow.global_resources["machine_share"].value
WORKLOAD_NAMES = list(config["workloads"])
# The clusters the sweep runs on (each gets figures of its own).
CLUSTER_TARGETS = [target for target in config["targets"] if target != LOCAL]


wildcard_constraints:
    **wildcard_patterns(),
    workload="|".join(map(re.escape, WORKLOAD_NAMES)),
    series="|".join(map(re.escape, SERIES)),
    target="|".join(map(re.escape, CLUSTER_TARGETS)) or "no-cluster-target",
    round=r"\d+",


# Every per-job CSV, and each workload's, listed once (an input function runs per job).
JOB_CSVS = [sweep.job_csv(combination) for combination in COMBINATIONS]
JOB_CSVS_OF_WORKLOAD = {name: [] for name in WORKLOAD_NAMES}
for combination, path in zip(COMBINATIONS, JOB_CSVS):
    JOB_CSVS_OF_WORKLOAD[combination.workload].append(path)


REFINEMENT = refine.Refinement.from_config(config["refine"])
REFINED_WORKLOADS = refine.refined_workloads(
    REFINEMENT,
    {
        name: {job.series for job in COMBINATIONS if job.workload == name}
        for name in WORKLOAD_NAMES
    },
)


def planned_before(round_number):
    """The jobs refinement rounds 1 .. round_number - 1 planned. Each round is a
    checkpoint: its plan must exist before the jobs after it are known, and a round
    that plans nothing ends the refinement."""
    found = []
    for earlier in range(1, round_number):
        plan = refine.read_plan(checkpoints.refine.get(round=earlier).output[0])
        if not plan:
            break
        found += plan
    return found


def refine_inputs(wildcards):
    """What round `round` plans from: the refined workloads' jobs so far."""
    grid = [path for name in REFINED_WORKLOADS for path in JOB_CSVS_OF_WORKLOAD[name]]
    return grid + [sweep.job_csv(job) for job in planned_before(int(wildcards.round))]


def job_csvs_of(wildcards):
    """A workload's jobs: its grid, and what refinement planned for it."""
    grid = JOB_CSVS_OF_WORKLOAD[wildcards.workload]
    if wildcards.workload not in REFINED_WORKLOADS:
        return grid
    planned = planned_before(REFINEMENT.rounds + 1)
    return grid + [
        sweep.job_csv(job) for job in planned if job.workload == wildcards.workload
    ]


def planned_round_of(wildcards):
    """0 for a grid job; for a planned one, the round that planned it."""
    job = Job.from_wildcards(wildcards)
    if sweep.job_csv(job) in PRIORITIES:
        return 0
    return refine.planned_rounds().get(job, (0, 0))[0]


WORKLOAD_TABLES = list(columns.WORKLOAD_FILES)
GLOBAL_TABLES = list(columns.GLOBAL_FILES)


def figure_files():
    """Every figure of the registry (parbench.figures.registry), PNG and PDF."""
    return [
        path
        for figure in FIGURES.values()
        for path in expand(
            figure.path,
            workload=WORKLOAD_NAMES,
            target=CLUSTER_TARGETS,
            extension=["png", "pdf"],
        )
    ]


def figure_outputs(scope):
    """A plotting rule's outputs: each figure of `scope` as a report item (its caption
    and category from the registry), and its PDF."""
    outputs = {}
    for figure in FIGURES.values():
        if figure.scope == scope:
            outputs[figure.name] = report(
                figure.path.replace("{extension}", "png"),
                caption=f"../report/{figure.name}.rst",
                category=figure.category,
                labels=figure.labels,
            )
            outputs[f"{figure.name}_pdf"] = figure.path.replace("{extension}", "pdf")
    return outputs


def get_final_output():
    """Every per-job CSV is a target too, though each is an input of its workload's
    aggregation: Snakemake does not make again an input that is missing where the job
    that reads it is up to date (an interrupted run's lost CSV would stay lost)."""
    return (
        JOB_CSVS
        + [f"results/{table}.csv" for table in GLOBAL_TABLES]
        + ["results/findings.md", "results/findings.rst", "results/config.yaml"]
        + figure_files()
    )


def planned_job_csvs(wildcards):
    """Refinement's jobs are targets too, as the grid's are (get_final_output): a lost
    one is made again."""
    if not REFINED_WORKLOADS:
        return []
    return [sweep.job_csv(job) for job in planned_before(REFINEMENT.rounds + 1)]


def job_priority(wildcards):
    """Snakemake runs the highest first: the sweep's run order (sweep.run_order), then
    the planned jobs in their plans' order."""
    job = Job.from_wildcards(wildcards)
    return PRIORITIES.get(sweep.job_csv(job)) or refine.priority(
        job, refine.planned_rounds()
    )


def workload_priority(wildcards):
    """An aggregating or drawing job of a workload: the workload with the most jobs
    first, so that the cores end together (Snakemake's greedy scheduler otherwise
    started a 10k sweep's largest aggregation last, a second later than needed). In
    thousandths of the sweep's jobs: below the timing jobs' priorities, so that
    measuring is not broken off to aggregate (job_priority, refine.priority)."""
    return 1 + 1000 * len(JOB_CSVS_OF_WORKLOAD[wildcards.workload]) // max(
        1, len(JOB_CSVS)
    )


def job_threads(wildcards):
    """A timing job holds as many cores as it starts workers; on a cluster, its
    workers run there, and the job is a driver on one core."""
    if SERIES[wildcards.series].target != LOCAL:
        return 1
    return int(wildcards.workers)


def job_params(wildcards):
    """What a timing job is told besides its wildcards, in one function (Snakemake
    inspects every function of every job: one, not three, at 10,000 jobs): its series
    and options, its own only, so that changing one backend's option re-times that
    backend's jobs and nothing else; its workload's plug-in; the refinement round that
    planned it."""
    return {
        "series": sweep.series_params(SERIES[wildcards.series]),
        "workload_plugin": config["workloads"][wildcards.workload].get("plugin", ""),
        "planned_round": planned_round_of(wildcards),
    }


def interpreter_of(wildcards):
    """A job on an interpreter this workflow builds waits for the build
    (rule build_interpreter); one given by path needs nothing."""
    one = SERIES[wildcards.series]
    built = interpreters.build_of(one.interpreter_path)
    return [one.interpreter_path] if built else []


# Snakemake's job rate limiter (--max-jobs-per-timespan, default 100/1s) schedules a
# new pass of the scheduler a second after every pass, and each such pass schedules the
# next: every finished job adds one more pass a second over all ready jobs. On 2 cores a
# 1,000-job sweep's scheduler grew to half a core within 80 jobs, which the timing jobs
# measured as someone else's load. Run locally, jobs start one at a time on a job's end;
# there is nothing to limit. A cluster executor keeps its limiter (its queue needs it).
onstart:
    if workflow.local_exec and getattr(workflow, "scheduler", None) is not None:
        workflow.scheduler.job_rate_limiter = None
