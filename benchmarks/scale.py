"""`make bench`'s scale check: how the workflow copes with sweeps of thousands of jobs.

For N = 1,000 and 10,000 jobs it builds a design of the real workloads and series
(sizes added until the design has about N jobs), writes one synthetic per-job CSV
per job at the path the workflow expects, in the real schema (a real job's row,
its identity and times replaced: times follow a per-series model, so that there
are crossovers to find), with as many repeats as real jobs keep (5 to 8, each job
its own), and times, side by side:

- `snakemake -n` on the whole design (parse, DAG, the plan: only aggregation and
  plots are left to run, the jobs' CSVs being there);
- aggregation through the workflow (`snakemake --cores 2 --until aggregate`): every
  workload's aggregates, then the global tables; this includes Snakemake building
  the DAG of every job (what the dry run costs);
- aggregation alone: `parbench aggregate` on the same per-job CSVs, in one process
  (the same functions, the same tables);
- aggregation alone of mixed shapes: another design of about N jobs with 2 to 5
  replicates per combination (5 planned, some left out, as a refinement or a cut run
  leaves them) of 5 to 8 repeats each;
- plotting, every workload's figures and the overview: through the workflow (with
  the DAG of every job), and `parbench plot` alone on the mixed shapes' aggregates;
- after one CSV of one workload is written again: which jobs a dry run plans.

At 10k each time is taken ROUNDS times (the aggregation and the plots forced to run
again), and each target is decided by an interval for the median run time: the
smallest and the largest of 6 runs bound it with 97 % confidence (order statistics:
1 - 2 x 0.5**6, whatever the times' distribution). `met` when the largest run is
within the target, `missed` when the smallest is not, else `undecided`. At 1k one
run each (growth is the 10k median over it).

It prints each figure, how it grows from 1k to 10k, and the issue's targets, and
writes them to results/bench/scale.csv. Synthetic files never reach results/raw:
everything happens in a temporary copy of the workflow.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from benchmarks import write_with_provenance
from parbench.workflow_copy import REPO, copy_workflow, planned_jobs  # noqa: E402

SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
WORKLOADS = {"exp_sinh": ["numpy", "python"], "shared_array": ["numpy"],
             "tiny_tasks": ["python"], "imbalanced": ["python"]}
TASKS = [8, 64]
WORKERS = [1, 2, 4]
REPLICATES = 2
MIXED_REPLICATES = (2, 5)  # the fewest and most replicates a combination keeps
REPEATS = (5, 8)  # the fewest and most repeats a job keeps (min_repeats, max_repeats)
ROUNDS = 6  # runs of each time at 10k (module docstring: the interval they give)
OUTPUT = Path("results/bench/scale.csv")
# What is timed, with its target at 10k in seconds, and growth from 1k to 10k.
MEASURES = (
    ("dry_run_seconds", "snakemake -n (s)", 20.0, None),
    ("aggregate_seconds", "aggregation through Snakemake, with its DAG (s)", 20.0, None),
    ("aggregate_alone_seconds", "aggregation alone, parbench aggregate (s)", 10.0, 11.0),
    ("mixed_alone_seconds", "aggregation alone, mixed shapes (s)", 10.0, 11.0),
    ("plot_seconds", "plotting every figure through Snakemake, with its DAG (s)", 30.0, None),
    ("mixed_plot_seconds", "plotting alone, parbench plot, mixed shapes (s)", 30.0, None),
)
# Forced to run again in each later round: the aggregation, then the drawing.
AGGREGATION_RULES = ("aggregate_workload",)
DRAWING_RULES = ("plot_workload", "plot_overview", "findings")


def design(jobs_wanted: int, series: list[str], replicates: int = REPLICATES
           ) -> dict[str, Any]:
    """A config of the real workloads and series with about `jobs_wanted` jobs."""
    kernels = sum(len(names) for names in WORKLOADS.values())
    per_size = kernels * len(TASKS) * replicates * (1 + (len(series) - 1) * len(WORKERS))
    sizes = [1_000 * 2 ** power for power in range(max(1, round(jobs_wanted / per_size)))]
    return {
        "workloads": {name: {"kernels": kernels_of, "sizes": sizes, "tasks": TASKS}
                      for name, kernels_of in WORKLOADS.items()},
        "backends": series, "workers": WORKERS, "replicates": replicates,
        "min_repeats": REPEATS[0], "max_repeats": REPEATS[1],
    }


def template_rows() -> pd.DataFrame:
    """A real job's rows (the serial loop on a tiny exp_sinh), the schema to copy."""
    from parbench.measure import Job, JobSettings, measure

    return measure(Job("exp_sinh", "numpy", "serial", 1_000, 8, 1),
                   JobSettings(min_repeats=REPEATS[1], max_repeats=REPEATS[1], warmups=1,
                               min_sample_seconds=0, quiet_wait_seconds=0))


def write_synthetic_jobs(workdir: Path, config: dict[str, Any], template: pd.DataFrame) -> int:
    """One per-job CSV per job of `config`'s design, at the workflow's paths."""
    from parbench import sweep
    from parbench.backends import BACKENDS, resolve_series

    rng = np.random.default_rng(0)
    series = {name: resolve_series(name) for name in config["backends"]}
    base_columns = [column for column in template.columns if not column.startswith("option_")]
    combinations = sweep.combinations(_validated(config), series)
    order = rng.permutation(len(combinations))
    started = time.time() - 3600
    for position, combination in zip(order, combinations):
        one_series = series[combination.series]
        engine = BACKENDS[one_series.engine]
        # Per-series model: a fixed cost per map, and work spread over the workers.
        # (crc32, not hash(): str hashes change from run to run)
        fixed = 1e-5 * (1 + zlib.crc32(combination.series.encode()) % 50)
        work = 2e-9 * combination.size * combination.tasks / max(1, combination.workers)
        repeats = int(rng.integers(REPEATS[0], REPEATS[1] + 1))
        seconds = (fixed + work) * rng.lognormal(0, 0.03, repeats)
        rows = template.iloc[[0] * repeats][base_columns].copy()
        rows = rows.assign(
            workload=combination.workload, kernel=combination.kernel,
            series=combination.series, engine=one_series.engine,
            variant=one_series.variant, single_process=engine.single_process,
            size=combination.size, tasks=combination.tasks, workers=combination.workers,
            replicate=combination.replicate, repeat=range(repeats), seconds=seconds,
            # As a real job says why it stopped: at its most repeats, or short of them
            # once its interval was tight (never fewer than its least).
            min_repeats=REPEATS[0], max_repeats=REPEATS[1],
            stop_reason="max_repeats" if repeats == REPEATS[1] else "ci_target",
            sample_seconds=seconds, startup_seconds=0.01 + fixed * 1e3,
            first_map_seconds=seconds[0] * 1.5, job_start_unix=started + 10 * position,
            job_end_unix=started + 10 * position + 5,
            **{f"option_{name}": "null" if value is None else value
               for name, value in one_series.options.items()})
        path = workdir / sweep.job_csv(combination)
        path.parent.mkdir(parents=True, exist_ok=True)
        rows.to_csv(path, index=False)
    return len(combinations)


def _validated(config: dict[str, Any]) -> dict[str, Any]:
    """The config with the schema's defaults, as the workflow sees it."""
    from snakemake.utils import validate

    config = {**config}
    validate(config, schema=str(REPO / "workflow/schemas/config.schema.yaml"),
             set_default=True)
    return config


def snakemake(workdir: Path, *arguments: str) -> tuple[float, str]:
    began = time.perf_counter()
    result = subprocess.run([SNAKEMAKE, "--configfile", "scale.yaml", *arguments],
                            cwd=workdir, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(arguments)} failed:\n{result.stderr[-3000:]}")
    return seconds, result.stdout + result.stderr


def leave_out_replicates(workdir: Path, config: dict[str, Any]) -> int:
    """Delete replicates so that each combination keeps between MIXED_REPLICATES'
    bounds (a seeded draw); returns the per-job CSVs left."""
    from parbench import sweep
    from parbench.backends import resolve_series

    rng = np.random.default_rng(1)
    series = {name: resolve_series(name) for name in config["backends"]}
    kept, keep = 0, {}
    for combination in sweep.combinations(_validated(config), series):
        one = dataclasses.replace(combination, replicate=0)
        if one not in keep:
            keep[one] = int(rng.integers(MIXED_REPLICATES[0], MIXED_REPLICATES[1] + 1))
        if combination.replicate >= keep[one]:
            (workdir / sweep.job_csv(combination)).unlink()
        else:
            kept += 1
    return kept


def parbench_seconds(results: Path, command: str) -> float:
    """Seconds `parbench --results RESULTS COMMAND` takes (it must succeed)."""
    began = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).with_name("parbench")), "--results",
                             str(results), command],
                            capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"parbench {command} failed:\n{result.stderr[-3000:]}")
    return seconds


def parbench_aggregate(workdir: Path) -> float:
    """Seconds `parbench aggregate` takes on the per-job CSVs under `workdir`, in a
    folder of its own (the workflow's tables stay as they are)."""
    copy = workdir / "aggregate-alone"
    if not copy.is_dir():
        copy.mkdir()
        (copy / "raw").symlink_to(workdir / "results" / "raw")
    return parbench_seconds(copy, "aggregate")


def parbench_plot(workdir: Path) -> float:
    """Seconds `parbench plot` takes on the aggregates parbench_aggregate wrote."""
    return parbench_seconds(workdir / "aggregate-alone", "plot")


def one_scale(jobs_wanted: int, template: pd.DataFrame, series: list[str],
              rounds: int = 1) -> dict[str, Any]:
    """Each measure's seconds, `rounds` runs of each (a list), on about `jobs_wanted`
    jobs; and which jobs dry runs plan."""
    with tempfile.TemporaryDirectory(prefix="parbench-scale-") as folder:
        workdir = copy_workflow(Path(folder))
        config = design(jobs_wanted, series)
        (workdir / "scale.yaml").write_text(yaml.safe_dump(config))
        jobs = write_synthetic_jobs(workdir, config, template)
        found: dict[str, Any] = {key: [] for key, *_ in MEASURES}
        for round_number in range(rounds):
            again = [] if round_number == 0 else ["--forcerun", *AGGREGATION_RULES]
            dry_seconds, dry = snakemake(workdir, "-n", "--cores", "2")
            found["dry_run_seconds"].append(dry_seconds)
            if round_number == 0:  # what is left to run with every job's CSV there
                planned_before = planned_jobs(dry)
            found["aggregate_seconds"].append(
                snakemake(workdir, "--cores", "2", "--until", "aggregate", *again)[0])
            found["aggregate_alone_seconds"].append(parbench_aggregate(workdir))
            again = [] if round_number == 0 else ["--forcerun", *DRAWING_RULES]
            found["plot_seconds"].append(snakemake(workdir, "--cores", "2", *again)[0])
        # One workload's job measured again (new times: Snakemake compares the
        # contents of small inputs, not only their time stamps): what has to follow?
        some_csv = next((workdir / "results/raw/shared_array").rglob("*.csv"))
        remeasured = pd.read_csv(some_csv)
        remeasured["seconds"] *= 1.01
        remeasured.to_csv(some_csv, index=False)
        _, after_one = snakemake(workdir, "-n", "--cores", "2")
    with tempfile.TemporaryDirectory(prefix="parbench-scale-mixed-") as folder:
        workdir = copy_workflow(Path(folder))
        # Planned at the most replicates, about N kept (the mean of the bounds).
        planned = jobs_wanted * MIXED_REPLICATES[1] * 2 // sum(MIXED_REPLICATES)
        mixed = design(planned, series, MIXED_REPLICATES[1])
        write_synthetic_jobs(workdir, mixed, template)
        mixed_jobs = leave_out_replicates(workdir, mixed)
        for _ in range(rounds):
            found["mixed_alone_seconds"].append(parbench_aggregate(workdir))
            found["mixed_plot_seconds"].append(parbench_plot(workdir))
    return {**found, "jobs": jobs, "mixed_jobs": mixed_jobs,
            "planned_before": planned_before, "planned_after_one_csv": planned_jobs(after_one)}


def median_bounds(seconds: list[float]) -> tuple[float, float, float]:
    """The median of the runs, and the smallest and largest: an interval for the median
    run time with confidence 1 - 2 x 0.5**runs (order statistics)."""
    return float(np.median(seconds)), float(min(seconds)), float(max(seconds))


def at_most(low: float, high: float, threshold: float) -> str:
    """`met` when even the slowest run is within `threshold`, `missed` when even the
    fastest is not, `undecided` otherwise."""
    return "met" if high <= threshold else "missed" if low > threshold else "undecided"


def scale_table(small: dict[str, Any], large: dict[str, Any]) -> pd.DataFrame:
    """One row per measure: 1k, the 10k median with its interval and verdict, growth."""
    rows = []
    for key, label, threshold, most_growth in MEASURES:
        median, low, high = median_bounds(large[key])
        at_1k = float(np.median(small[key]))
        growth = median / at_1k
        verdicts = [at_most(low, high, threshold)]
        if most_growth is not None:
            verdicts.append("met" if growth <= most_growth else "missed")
        rows.append({"measure": label, "seconds_1k": at_1k,
                     "seconds_10k": median, "low_10k": low, "high_10k": high,
                     "runs_10k": len(large[key]), "growth": growth,
                     "target": f"<= {threshold:g} s at 10k" + (
                         f", growth <= {most_growth:g}x" if most_growth else ""),
                     "verdict": ("missed" if "missed" in verdicts else "undecided"
                                 if "undecided" in verdicts else "met")})
    return pd.DataFrame(rows)


def main() -> None:
    from parbench.backends import default_series

    series = default_series()
    template = template_rows()
    small = one_scale(1_000, template, series)
    large = one_scale(10_000, template, series, ROUNDS)
    print(f"\nscale: synthetic per-job CSVs of the real schema, {small['jobs']} and "
          f"{large['jobs']} jobs ({len(series)} series, {REPLICATES} replicates, "
          f"{REPEATS[0]} to {REPEATS[1]} repeats); mixed shapes: {small['mixed_jobs']} and "
          f"{large['mixed_jobs']} jobs, {MIXED_REPLICATES[0]} to {MIXED_REPLICATES[1]} "
          f"replicates; at 10k the median of {ROUNDS} runs, [fastest, slowest] "
          f"({1 - 2 * 0.5 ** ROUNDS:.0%} interval of the median)")
    table = scale_table(small, large)
    print(f"{'measure':<58}{'1k':>7}{'10k':>7}{'[fastest, slowest]':>20}{'growth':>8}  "
          "target, verdict")
    for row in table.itertuples():
        print(f"{row.measure:<58}{row.seconds_1k:>7.1f}{row.seconds_10k:>7.1f}"
              f"{f'[{row.low_10k:.1f}, {row.high_10k:.1f}]':>20}{row.growth:>7.1f}x  "
              f"{row.target}: {row.verdict}")
    write_with_provenance(table, OUTPUT)
    print(f"planned by a dry run with every CSV there (10k): {large['planned_before']}")
    print(f"planned after one shared_array CSV is written again (10k): "
          f"{large['planned_after_one_csv']}")
    only_that = {rule: count for rule, count in large["planned_after_one_csv"].items()
                 if rule not in ("all",)}
    print("re-aggregation after one new CSV: "
          + ("only that workload's aggregate runs" if only_that.get("aggregate_workload") == 1
             else "NOT only that workload's aggregate") + f" ({only_that})")
    print(f"written to {OUTPUT}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.path.insert(0, str(REPO / "workflow"))
    main()
