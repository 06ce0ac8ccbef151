"""crossover.csv: for each curve (workload, kernel, tasks, workers), compared pair and
time basis, where the challenger overtakes the baseline (parbench.crossover)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from parbench import columns
from parbench.aggregate.read import without_loaded
from parbench.crossover import crossover_with_confidence

CROSSOVER_COLUMNS = columns.names(columns.CROSSOVER)


def _samples(rows: pd.DataFrame, problem: dict, basis: str) -> dict[int, list[np.ndarray]]:
    """{size: samples per replicate} of one backend's time on one problem (`rows`: its
    successful rows for the problem's workload, kernel and tasks): `warm` (the
    repeats) or `cold` (start-up + first map).

    A job starts its backend once, so one cold value per job; its interval
    comes from resampling the start-ups of every job of the sweep (start-up
    does not depend on the problem size) added to each job's first map.
    """
    if not rows["single_process"].all():
        rows = rows[rows["workers"] == problem["workers"]]
    # On arrays, sorted by size then replicate (the rows' order may be any).
    rows = rows.sort_values(["size", "replicate"], kind="mergesort")
    size, replicate = rows["size"].to_numpy(), rows["replicate"].to_numpy()
    new_size = np.r_[True, size[1:] != size[:-1]] if len(rows) else np.array([], bool)
    new_job = new_size | np.r_[True, replicate[1:] != replicate[:-1]][:len(rows)]
    if basis == "warm":
        seconds = rows["seconds"].to_numpy()
        by_size = np.split(np.arange(len(rows)), np.flatnonzero(new_size)[1:])
        return {int(size[members[0]]): np.split(seconds[members],
                                                np.flatnonzero(new_job[members])[1:])
                for members in by_size if len(members)}
    jobs = np.flatnonzero(new_job)
    startups = rows["startup_seconds"].to_numpy()[jobs]
    first_maps = rows["first_map_seconds"].to_numpy()[jobs]
    job_sizes = size[jobs]
    return {int(one_size): [startups + first_map
                            for first_map in first_maps[job_sizes == one_size]]
            for one_size in np.unique(job_sizes)}


def crossovers(timings: pd.DataFrame, pairs: Sequence[Sequence[str]],
               exclude_loaded: bool = False) -> pd.DataFrame:
    """For each (workload, kernel, tasks, workers), pair and time basis: where challenger
    overtakes baseline, with a bootstrap 95 % interval."""
    ok = timings[timings["status"] == "ok"]
    if exclude_loaded:
        ok = without_loaded(ok)
    ok = ok[["series", "workload", "kernel", "tasks", "workers", "size", "replicate",
             "seconds", "single_process", "startup_seconds", "first_map_seconds"]]
    single_process = timings.groupby("series")["single_process"].all().to_dict()
    # Grouped once: masking the whole table per problem made this quadratic.
    by_series = dict(list(ok.groupby(["series", "workload", "kernel", "tasks"], sort=False)))
    nothing = ok.iloc[:0]

    def series_rows(series: str, problem: dict) -> pd.DataFrame:
        return by_series.get((series, problem["workload"], problem["kernel"],
                              problem["tasks"]), nothing)

    rows = []
    for challenger, baseline in pairs:
        # The problems come from whichever side runs on several workers.
        side = challenger if not single_process.get(challenger, False) else baseline
        # From every row, failed ones too: a side that failed everywhere still gets
        # its row ("too few sizes") instead of vanishing from the table.
        problems = timings[timings["series"] == side][
            [*columns.CURVE, "size_unit"]].drop_duplicates()
        for problem in problems.to_dict("records"):
            for basis in ("warm", "cold"):
                challenger_samples = _samples(series_rows(challenger, problem), problem, basis)
                baseline_samples = _samples(series_rows(baseline, problem), problem, basis)
                sizes = sorted(set(challenger_samples) & set(baseline_samples))
                estimate = crossover_with_confidence(
                    sizes, [challenger_samples[size] for size in sizes],
                    [baseline_samples[size] for size in sizes], challenger=challenger,
                )
                rows.append({
                    **problem, "challenger": challenger, "baseline": baseline,
                    "time_basis": basis, "crossover_status": estimate.status,
                    "crossover_size": estimate.size, "crossover_ci_low": estimate.ci_low,
                    "crossover_ci_high": estimate.ci_high,
                    "found_fraction": estimate.found_fraction,
                    "size_below": estimate.size_below, "size_above": estimate.size_above,
                    "sizes_compared": len(sizes),
                })
    return pd.DataFrame(rows, columns=CROSSOVER_COLUMNS).assign(
        format_version=columns.FORMAT_VERSION)
