"""One round of refinement: the per-job CSVs so far -> the jobs that narrow each refined
crossover (parbench.refine), in an order that keeps compared series side by side."""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from parbench.aggregate.crossovers import crossovers
from parbench.aggregate.read import collect_timings
from parbench.aggregate.summary import summary_with_samples
from parbench.columns.statuses import MEASURED, OK
from parbench.crossover import BRACKET, FIT, FOUND
from parbench.crossover.bracket import NARROW_ENOUGH, inside
from parbench.identity import COMBINATION, Job
from parbench.refine import Refinement, refined_jobs, write_plan
from parbench.replication import replicates_needed
from parbench.sweep import run_order

# The most replicates one noisy combination may add in a round (the rest of the budget
# goes to others: a combination that needs more is noisy for a reason to look at).
MAX_TOP_UP = 2
# A wanted size this close (as a factor) to a measured one measures that one instead.
SNAP = 1.1


def rounded(size: float) -> int:
    """A new size, to two significant digits: the same estimate plans the same size;
    at least 1 (a fit's estimate far outside its sizes can be below it)."""
    return max(1, int(float(f"{size:.2g}")))


def estimate_of(row: pd.Series) -> float:
    """Where to measure around: the headline crossover, else the fitted one where it
    lies within the sizes fitted, else where the medians cross (noise or a poor fit
    still say roughly where the curves meet). A fit's crossing beyond its sizes rests
    on lines nothing checked there: nearly flat ones put it anywhere (tens of GB for
    curves measured at a few MB), and jobs planned there only fail."""
    fitted = row["fit_size"]
    if not (pd.notna(fitted) and row["fit_size_low"] <= fitted <= row["fit_size_high"]):
        fitted = math.nan
    for size in (row["crossover_size"], fitted, row["medians_cross"]):
        if pd.notna(size) and size > 0:
            return float(size)
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
               seed: int = 1, refined_before: int = 0
               ) -> tuple[list[Job], list[dict[str, Any]]]:
    """The jobs round `round_number` adds, and each refined crossover as estimated from
    `timings` (every row so far of the workloads the refinement reads) with what is done
    about it. `refined_before`: the jobs earlier rounds planned around crossovers (what
    `max_jobs` bounds; top-ups are not among them).

    A curve whose fitted interval is still wide gets `refinement.replicates` new
    replicates of the pair, each measuring both series at the bracket (the estimate
    times `factors`): each new replicate is one more paired line through the crossing,
    which is what the fitted interval rests on (parbench.crossover.fitted)."""
    table = crossovers(timings[timings["status"] == OK], refinement.pairs)
    table = table[(table["time_basis"] == "warm")
                  & table["workload"].map(refinement.refines)]
    single = timings.groupby("series")["single_process"].first().to_dict()
    blocks, estimates = [], []
    for _, row in table.iterrows():
        record = {"round": round_number, "curve": describe(row)}
        around = estimate_of(row)
        if within_target(row, refinement.target):
            estimates.append({**record, "action": "within the target"})
            continue
        if not math.isfinite(around):
            estimates.append({**record, "action": "no crossing to measure around"})
            continue
        pair = (row["challenger"], row["baseline"])
        curve = timings[timings["series"].isin(pair)
                        & (timings["workload"] == row["workload"])
                        & (timings["kernel"] == row["kernel"])
                        & (timings["tasks"] == row["tasks"])]
        sizes, count = where_to_measure(row, around, refinement, curve["size"])
        if not sizes:
            estimates.append({**record, "action": "no whole size inside the bracket"})
            continue
        # Numbered after the curve's highest replicate: none of these jobs exists yet.
        first = int(curve["replicate"].max()) + 1 if len(curve) else 0
        replicates = list(range(first, first + count))
        workers = {series: 1 if single.get(series, False) else int(row["workers"])
                   for series in pair}
        blocks += [(place, [Job(row["workload"], row["kernel"], series, int(size),
                                int(row["tasks"]), workers[series], replicate)
                            for size in sizes for series in pair])
                   for place, replicate in enumerate(replicates)]
        estimates.append({**record, "around": around, "sizes": sizes,
                          "replicates": replicates, "action": "measure more"})
    budget = max(0, refinement.max_jobs - refined_before)
    chosen: list[Job] = []
    # Whole replicates only (half a bracket is no line), each curve's first new
    # replicate before any curve's second (a stable sort keeps the curves' order).
    # Two pairs that share a series (Ray against each Pool) want its same jobs: each
    # job is planned, and counted against the budget, once.
    taken: set[Job] = set()
    for _, block in sorted(blocks, key=lambda item: item[0]):
        new = [job for job in dict.fromkeys(block) if job not in taken]
        if len(chosen) + len(new) <= budget:
            chosen += new
            taken.update(new)
    wanted = {job for _, block in blocks for job in block}
    if len(chosen) < len(wanted):
        estimates.append({"round": round_number,
                          "action": f"budget: {len(chosen)} of the jobs wanted "
                                    f"({refined_before} planned before, "
                                    f"max_jobs {refinement.max_jobs})"})
    if round_number == 1 and refinement.tops_up:
        top_ups, record = noisy_top_ups(timings, refinement.noisy_seconds, chosen)
        chosen += top_ups
        estimates.append({"round": round_number, **record, "top_ups": len(top_ups)})
    return run_order(chosen, seed + round_number, refinement.pairs), estimates


def noisy_top_ups(timings: pd.DataFrame, budget_seconds: float,
                  planned: Sequence[Job]) -> tuple[list[Job], dict[str, Any]]:
    """More replicates for the combinations whose median misses its `ci_target`, as
    many as each one's own variance components say it needs (replication.replicates_needed:
    the fewest replicates R whose Student's t half-width of the mean, variance
    (between + within / n) / R at its n samples a job, is within the target; at least
    one more, at most MAX_TOP_UP; none where no number of replicates reaches it), the
    cheapest answers first, until
    `budget_seconds` of their measured job time is spent. A combination that `planned`
    (the refinement's jobs) already gives a replicate is left to those."""
    summary = summary_with_samples(timings, exclude_loaded=False)
    noisy = summary[summary["noisy"].astype(bool) & summary["status"].isin(MEASURED)
                    & (summary["replicates"] >= 2)]
    highest = timings.groupby(list(COMBINATION))["replicate"].max().to_dict()
    refined = {job.combination for job in planned}
    wants, unreachable = [], 0
    for _, row in noisy.iterrows():
        combination = Job(row["workload"], row["kernel"], row["series"], int(row["size"]),
                          int(row["tasks"]), int(row["workers"]), 0)
        if combination in refined:
            continue
        components, (replicate_cost, repeat_cost) = row["_components"], row["_costs"]
        repeats = row["repeats"] / row["replicates"]
        job_seconds = replicate_cost + repeats * repeat_cost
        if not math.isfinite(job_seconds):
            continue
        between = components.for_design if math.isfinite(components.for_design) else 0.0
        within = components.within if math.isfinite(components.within) else 0.0
        needed = replicates_needed(between, within, repeats, float(row["ci_target"]))
        if needed is None:  # no number of replicates reaches the target: look at why
            unreachable += 1
            continue
        extra = min(MAX_TOP_UP, max(1, needed - int(row["replicates"])))
        wants.append((extra * job_seconds, extra, combination))
    chosen, spent = [], 0.0
    for seconds, extra, combination in sorted(wants, key=lambda want: want[0]):
        if spent + seconds > budget_seconds:
            continue
        first = int(highest[dataclasses.astuple(combination)[:-1]]) + 1
        chosen += [dataclasses.replace(combination, replicate=first + one)
                   for one in range(extra)]
        spent += seconds
    return chosen, {"action": f"noisy: {len(noisy)} combinations miss their ci_target; "
                              f"{len(chosen)} more replicates for "
                              f"{len({job.combination for job in chosen})} of them, "
                              f"about {spent:.0f} s of the {budget_seconds:.0f} s budget"
                              + (f"; {unreachable} that no number of replicates brings "
                                 "within it left to look at" if unreachable else "")}


def within_target(row: Mapping[str, Any], target: float) -> bool:
    """Whether a curve's headline (its crossover.csv row) needs no more jobs: a fit or
    a bracket found within ±`target`. Not an interpolated one: over few replicates its
    bootstrap interval is too narrow (docs/method.md)."""
    return (row["method"] in (FIT, BRACKET) and row["crossover_status"] == FOUND
            and row["crossover_relative_half_width"] <= target)


def where_to_measure(row: Mapping[str, Any], around: float, refinement: Refinement,
                     measured: pd.Series) -> tuple[list[int], int]:
    """The sizes a curve's new replicates measure, and how many replicates (`row`: its
    crossover.csv row). Where the headline is a bracket still wider than NARROW_ENOUGH:
    its thirds on log axes, each round cutting it to a third at least whatever the
    curves do between its ends, with as many more replicates as keep a round's jobs
    (a bracket narrows where a sign is told from noise, which replicates at a size do,
    not more sizes). Else around the estimate: `refinement.factors` times it
    (`bracket`), reusing the sizes the last fit kept, `refinement.replicates`."""
    low, high = row["crossover_ci_low"], row["crossover_ci_high"]
    if row["method"] == BRACKET and high > NARROW_ENOUGH * low:
        # Sizes are whole, and rounded: a bracket with none inside it (from 0 to 1) is
        # as narrow as sizes go (none: nothing to measure).
        sizes = sorted({rounded(size) for size in inside(low, high, parts=3)} - {low, high})
        jobs = refinement.replicates * len(refinement.factors)
        return sizes, max(refinement.replicates, jobs // len(sizes)) if sizes else 0
    return bracket(around, refinement.factors, fitted_sizes(row, measured)), \
        refinement.replicates


def fitted_sizes(row: Mapping[str, Any], measured: pd.Series) -> pd.Series:
    """The measured sizes a bracket may reuse: those the last fit kept, when it dropped
    end sizes where a curve bends (a replicate at a dropped size loses that point, and
    with it the spread its line's slope needs)."""
    low, high = row["fit_size_low"], row["fit_size_high"]
    if pd.isna(low) or pd.isna(high):
        return measured
    return measured[(measured >= low) & (measured <= high)]


def bracket(around: float, factors: Iterable[float], measured: Iterable[float]) -> list[int]:
    """The sizes a new replicate measures: `around` times each factor, or a size already
    measured within `SNAP` of it (its points then gather replicates instead of
    scattering over sizes one or two replicates deep)."""
    measured = sorted({int(size) for size in measured if size > 0})
    sizes = set()
    for factor in factors:
        wanted = around * factor
        near = [size for size in measured if abs(math.log(size / wanted)) <= math.log(SNAP)]
        sizes.add(min(near, key=lambda size: abs(math.log(size / wanted))) if near
                  else rounded(wanted))
    return sorted(sizes)


def plan_files(job_csvs: Iterable[str | Path], output: str | Path, round_number: int,
               refinement: Refinement, seed: int = 1, skip_invalid: bool = False) -> list[Job]:
    """The checkpoint's work: the refined workloads' per-job CSVs so far -> round
    `round_number`'s plan file; each estimate printed (the rule's log). With
    `skip_invalid`, as the aggregation does: a bad file is left out, named in the log."""
    timings = collect_timings(sorted(map(str, job_csvs)), [] if skip_invalid else None)
    jobs, estimates = plan_round(timings, round_number, refinement, seed,
                                 refined_jobs(Path(output).parent, round_number))
    for estimate in estimates:
        print(f"refinement round {round_number}: {estimate.get('curve', '')} -> "
              f"{estimate['action']}" + (f" (sizes {estimate['sizes']}, replicates "
                                         f"{estimate['replicates']})"
                                         if "sizes" in estimate else ""), file=sys.stderr)
    print(f"refinement round {round_number}: {len(jobs)} new jobs", file=sys.stderr)
    write_plan(output, round_number, jobs, estimates)
    return jobs

