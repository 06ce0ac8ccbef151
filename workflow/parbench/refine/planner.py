"""One round of refinement: the per-job CSVs so far -> the jobs that narrow each refined
crossover (parbench.refine), in an order that keeps compared series side by side."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from parbench.aggregate.crossovers import FIT, crossovers
from parbench.aggregate.read import collect_timings
from parbench.crossover import FOUND
from parbench.crossover.fitted import WINDOW, window_sizes
from parbench.identity import Job
from parbench.refine import Refinement, write_plan
from parbench.sweep import run_order


def rounded(size: float) -> int:
    """A new size, to two significant digits: the same estimate plans the same size."""
    return int(float(f"{size:.2g}"))


def estimate_of(row: pd.Series) -> float:
    """Where to measure around: the headline crossover, else the fitted one, else where
    the medians cross (noise or a poor fit still say roughly where the curves meet)."""
    for column in ("crossover_size", "fit_size", "medians_cross"):
        if pd.notna(row[column]) and row[column] > 0:
            return float(row[column])
    return math.nan


def describe(row: pd.Series) -> str:
    """One crossover as the logs print it."""
    curve = (f"{row['workload']} {row['kernel']}, {row['tasks']} tasks, {row['workers']} "
             f"workers, {row['challenger']} vs {row['baseline']}")
    if row["crossover_status"] == FOUND:
        return (f"{curve}: {row['method']} {row['crossover_size']:.4g} "
                f"[{row['crossover_ci_low']:.4g}, {row['crossover_ci_high']:.4g}] "
                f"(±{row['crossover_relative_half_width']:.0%})")
    return f"{curve}: {row['method']} {row['crossover_status']}"


def plan_round(timings: pd.DataFrame, round_number: int, refinement: Refinement,
               seed: int = 1) -> tuple[list[Job], list[dict[str, Any]]]:
    """The jobs round `round_number` adds, and each refined crossover as estimated from
    `timings` (every row so far of the refined workloads) with what is done about it."""
    table = crossovers(timings[timings["status"] == "ok"], refinement.pairs)
    table = table[(table["time_basis"] == "warm")
                  & table["workload"].map(refinement.refines)]
    existing = set(zip(timings["series"], timings["workload"], timings["kernel"],
                       timings["size"], timings["tasks"], timings["replicate"]))
    single = timings.groupby("series")["single_process"].first().to_dict()
    already = _planned_before(timings)
    blocks, estimates = [], []
    for _, row in table.iterrows():
        record = {"round": round_number, "curve": describe(row)}
        around = estimate_of(row)
        if row["method"] == FIT and row["crossover_status"] == FOUND \
                and row["crossover_relative_half_width"] <= refinement.target:
            estimates.append({**record, "action": "within the target"})
            continue
        if not math.isfinite(around):
            estimates.append({**record, "action": "no crossing to measure around"})
            continue
        measured = sorted(set(timings.loc[(timings["series"] == row["challenger"])
                                          & (timings["workload"] == row["workload"])
                                          & (timings["kernel"] == row["kernel"])
                                          & (timings["tasks"] == row["tasks"]), "size"]))
        sizes = sorted(set(window_sizes(measured, around, WINDOW))
                       | {rounded(around * factor) for factor in refinement.factors})
        replicates = refinement.replicates * round_number
        for size in sizes:
            for replicate in range(replicates):
                block = [Job(row["workload"], row["kernel"], series, int(size),
                             int(row["tasks"]),
                             1 if single.get(series, False) else int(row["workers"]),
                             replicate)
                         for series in (row["challenger"], row["baseline"])]
                block = [job for job in block if (job.series, job.workload, job.kernel,
                                                  job.size, job.tasks, job.replicate)
                         not in existing]
                if block:
                    blocks.append((replicate, abs(math.log(size / around)), block))
        estimates.append({**record, "around": around, "sizes": sizes,
                          "replicates": replicates, "action": "measure more"})
    budget = max(0, refinement.max_jobs - already)
    chosen: list[Job] = []
    for _, _, block in sorted(blocks, key=lambda item: item[:2]):  # low replicates, near first
        if len(chosen) + len(block) > budget:
            break
        chosen += [job for job in block if job not in chosen]
    if len(chosen) < sum(len(block) for *_, block in blocks):
        estimates.append({"round": round_number,
                          "action": f"budget: {len(chosen)} of the jobs wanted "
                                    f"({already} planned before, max_jobs {refinement.max_jobs})"})
    return run_order(chosen, seed + round_number, refinement.pairs), estimates


def _planned_before(timings: pd.DataFrame) -> int:
    """Jobs earlier rounds planned (their rows say which round planned them)."""
    if "planned_round" not in timings:
        return 0
    jobs = timings.drop_duplicates(["series", "workload", "kernel", "size", "tasks",
                                    "workers", "replicate"])
    return int((jobs["planned_round"].fillna(0) > 0).sum())


def plan_files(job_csvs: Iterable[str | Path], output: str | Path, round_number: int,
               refinement: Refinement, seed: int = 1) -> list[Job]:
    """The checkpoint's work: the refined workloads' per-job CSVs so far -> round
    `round_number`'s plan file; each estimate printed (the rule's log)."""
    timings = collect_timings(sorted(map(str, job_csvs)))
    jobs, estimates = plan_round(timings, round_number, refinement, seed)
    for estimate in estimates:
        print(f"refinement round {round_number}: {estimate.get('curve', '')} -> "
              f"{estimate['action']}" + (f" (sizes {estimate['sizes']}, replicates "
                                         f"{estimate['replicates']})"
                                         if "sizes" in estimate else ""), file=sys.stderr)
    print(f"refinement round {round_number}: {len(jobs)} new jobs", file=sys.stderr)
    write_plan(output, round_number, jobs, estimates)
    return jobs

