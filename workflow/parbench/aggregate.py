"""Per-job CSVs -> timings.csv, summary.csv, crossover.csv (schemas: results/README.md).

This layer reads only the per-job files; plotting reads only what it writes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from parbench import stats
from parbench.crossover import DEFAULT_PAIRS, crossover_with_confidence
from parbench.tables import write_csv_atomically

IDENTITY = ["workload", "kernel", "backend", "size", "tasks", "workers"]
# Speedup compares against the serial loop on the same problem.
PROBLEM = ["workload", "kernel", "size", "tasks"]
PROVENANCE_MACHINE = ["hostname", "cpu_model", "logical_cpus", "available_cores"]


def collect_timings(job_csvs: Iterable[str | Path]) -> pd.DataFrame:
    frames = [pd.read_csv(path, dtype={"error": str, "variant": str}) for path in job_csvs]
    if not frames:
        raise ValueError("no per-job CSVs to aggregate")
    timings = _with_series_columns(pd.concat(frames, ignore_index=True))
    timings["error"] = timings["error"].fillna("")
    machines = timings[PROVENANCE_MACHINE].drop_duplicates()
    if len(machines) > 1:
        print(
            f"warning: timings come from {len(machines)} different machines; "
            "figures will mix them:\n" + machines.to_string(index=False),
            file=sys.stderr,
        )
    return timings.sort_values(IDENTITY + ["repeat"]).reset_index(drop=True)


def _with_series_columns(timings: pd.DataFrame) -> pd.DataFrame:
    """Rows written before backends had options name only their backend: fill in
    what later rows say of their series (docs/data holds such rows)."""
    serial = timings["backend"] == "serial"
    for column, fill in (("engine", timings["backend"]), ("variant", ""),
                         ("single_process", serial)):
        timings[column] = timings[column].fillna(fill) if column in timings else fill
    timings["variant"] = timings["variant"].astype(str)
    timings["single_process"] = timings["single_process"].astype(bool)
    return timings


def option_columns(frame: pd.DataFrame) -> list[str]:
    """The backends' option columns (`option_<name>`), as the rows bring them."""
    return sorted(column for column in frame.columns if column.startswith("option_"))


# A combination is `noisy` when its repeats vary by more than this (std / mean),
# or when its CI missed the target; `loaded` when something else kept more than
# this fraction of the machine busy just before the job started.
NOISY_CV = 0.10
LOADED_FRACTION = 0.25
# Per-job values, identical on every row of a job: taken from its first row.
JOB_COLUMNS = [
    "engine", "variant", "single_process", "size_unit", "startup_seconds", "first_map_seconds",
    "cold_seconds", "teardown_seconds", "overhead_per_task_seconds", "peak_rss_bytes",
    "stop_reason", "ci_target", "chunksize", "start_method", "oversubscribed", "load_avg_1m",
    "background_cpu_fraction", "kernel_level", "task_iterations", "state_verified",
]
SUMMARY_COLUMNS = IDENTITY + [
    "engine", "variant", "single_process", "size_unit", "status", "repeats", "failed", "verified",
    "median_seconds", "ci_low", "ci_high", "min_seconds", "max_seconds", "iqr_seconds", "cv",
    "ci_relative_half_width", "stop_reason", "noisy", "loaded", "oversubscribed",
    "speedup", "speedup_ci_low", "speedup_ci_high",
    "efficiency", "efficiency_ci_low", "efficiency_ci_high",
    "startup_seconds", "first_map_seconds", "cold_seconds", "warm_seconds", "teardown_seconds",
    "overhead_per_task_seconds", "cpu_seconds", "cpu_utilization", "peak_rss_bytes",
    "chunksize", "start_method", "load_avg_1m", "background_cpu_fraction", "kernel_level",
    "task_iterations", "state_verified", "error",
]


def _combination_row(key: tuple, rows: pd.DataFrame) -> dict:
    ok = rows[rows["status"] == "ok"]
    spread = stats.spread(ok["seconds"])
    first = rows.iloc[0]
    summary = {column: value for column, value in zip(IDENTITY, key)}
    summary.update({column: first.get(column, np.nan)
                    for column in JOB_COLUMNS + option_columns(rows)})
    failed = int((rows["status"] == "error").sum())
    unsupported = bool((rows["status"] == "unsupported").any())
    # A stateful workload's gathered states must add up too (empty: not stateful).
    state_verified = rows.get("state_verified", pd.Series([True])).dropna()
    summary.update(
        status=("unsupported" if unsupported else "error") if ok.empty
        else ("partial" if failed else "ok"),
        repeats=len(ok), failed=failed,
        verified=bool(rows["verified"].astype(bool).all()
                      and rows.get("warmups_verified", pd.Series([True])).astype(bool).all()
                      and (state_verified.astype(str) != "False").all()),
        median_seconds=spread.median, ci_low=spread.ci_low, ci_high=spread.ci_high,
        min_seconds=ok["seconds"].min(), max_seconds=ok["seconds"].max(),
        iqr_seconds=spread.iqr, cv=spread.cv,
        ci_relative_half_width=spread.relative_half_width,
        warm_seconds=spread.median,
        cpu_seconds=ok["cpu_seconds"].median() if "cpu_seconds" in ok else np.nan,
        cpu_utilization=ok["cpu_utilization"].median() if "cpu_utilization" in ok else np.nan,
        error=next((message for message in rows["error"] if message), ""),
    )
    ci_target = summary["ci_target"] if pd.notna(summary["ci_target"]) else np.inf
    # Fewer repeats than asked for (the job's time budget ran out) cannot show
    # their own noise: one repeat has a zero-width "interval".
    too_few = len(ok) < first.get("min_repeats", 0)
    summary["noisy"] = bool(
        (pd.notna(spread.cv) and spread.cv > NOISY_CV)
        or summary["ci_relative_half_width"] > ci_target
        or (too_few and not ok.empty)
    )
    summary["loaded"] = bool(summary["background_cpu_fraction"] > LOADED_FRACTION)
    summary["_samples"] = ok["seconds"].to_numpy()
    return summary


def summarise(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per combination: median with its bootstrap CI, spread, speedup with its CI."""
    summary = pd.DataFrame(
        [_combination_row(key, rows) for key, rows in timings.groupby(IDENTITY)]
    )
    serial = summary[(summary["backend"] == "serial") & (summary["repeats"] > 0)]
    serial_samples = {tuple(row[PROBLEM]): row["_samples"] for _, row in serial.iterrows()}
    speedups = []
    for _, row in summary.iterrows():
        reference = serial_samples.get(tuple(row[PROBLEM]))
        if reference is None or row["repeats"] == 0:
            speedups.append((np.nan, np.nan, np.nan))
            continue
        if row["backend"] == "serial":
            speedups.append((1.0, 1.0, 1.0))  # the reference itself: exactly 1
            continue
        low, high = stats.ratio_interval(reference, row["_samples"])
        speedups.append((np.median(reference) / row["median_seconds"], low, high))
    summary[["speedup", "speedup_ci_low", "speedup_ci_high"]] = speedups
    for suffix in ("", "_ci_low", "_ci_high"):
        summary[f"efficiency{suffix}"] = summary[f"speedup{suffix}"] / summary["workers"]
    columns = SUMMARY_COLUMNS + option_columns(timings)
    return summary.reindex(columns=columns).sort_values(IDENTITY).reset_index(drop=True)


CROSSOVER_COLUMNS = [
    "workload", "kernel", "tasks", "workers", "challenger", "baseline", "time_basis",
    "crossover_status", "crossover_size", "crossover_ci_low", "crossover_ci_high",
    "found_fraction", "size_below", "size_above", "sizes_compared", "size_unit",
]


def _samples(ok: pd.DataFrame, backend: str, problem: dict, basis: str) -> dict[int, np.ndarray]:
    """{size: samples} of one backend's time: `warm` (the repeats) or `cold` (start-up + first map).

    A job starts its backend once, so one cold value per size; its interval
    comes from resampling the start-ups of every size of the sweep (start-up
    does not depend on the problem size) added to each size's first map.
    """
    rows = ok[(ok["backend"] == backend) & (ok["workload"] == problem["workload"])
              & (ok["kernel"] == problem["kernel"]) & (ok["tasks"] == problem["tasks"])]
    if not rows["single_process"].all():
        rows = rows[rows["workers"] == problem["workers"]]
    if basis == "warm":
        return {size: group["seconds"].to_numpy() for size, group in rows.groupby("size")}
    jobs = rows.groupby("size")[["startup_seconds", "first_map_seconds"]].first()
    startups = jobs["startup_seconds"].to_numpy()
    return {size: startups + first_map for size, first_map in jobs["first_map_seconds"].items()}


def crossovers(timings: pd.DataFrame, pairs: Sequence[Sequence[str]]) -> pd.DataFrame:
    """For each (workload, kernel, tasks, workers), pair and time basis: where challenger
    overtakes baseline, with a bootstrap 95 % interval."""
    ok = timings[timings["status"] == "ok"]
    single_process = timings.groupby("backend")["single_process"].all().to_dict()
    rows = []
    for challenger, baseline in pairs:
        # The problems come from whichever side runs on several workers.
        side = challenger if not single_process.get(challenger, False) else baseline
        # From every row, failed ones too: a side that failed everywhere still gets
        # its row ("too few sizes") instead of vanishing from the table.
        problems = timings[timings["backend"] == side][["workload", "kernel", "tasks",
                                                        "workers", "size_unit"]].drop_duplicates()
        for problem in problems.to_dict("records"):
            for basis in ("warm", "cold"):
                challenger_samples = _samples(ok, challenger, problem, basis)
                baseline_samples = _samples(ok, baseline, problem, basis)
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
    return pd.DataFrame(rows, columns=CROSSOVER_COLUMNS)


# What identifies the machine and software a row was measured with; every
# package version the rows record (`*_version`) joins these.
PROVENANCE_COLUMNS = [
    "hostname", "cpu_model", "logical_cpus", "physical_cores", "available_cores",
    "memory_bytes", "shm_bytes", "os", "python_version", "gil_enabled", "blas_library",
    "blas_threads", "default_start_method", "git_commit", "git_dirty", "config_hash",
]


def machines(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct machine and software set, with how many jobs it ran and when."""
    versions = [column for column in timings.columns if column.endswith("_version")
                and column != "python_version"]
    present = [column for column in PROVENANCE_COLUMNS if column in timings] + versions
    jobs = timings.drop_duplicates(IDENTITY)
    return (
        jobs.groupby(present, dropna=False)
        .agg(jobs=("workload", "size"), first_utc=("timestamp_utc", "min"),
             last_utc=("timestamp_utc", "max"))
        .reset_index()
    )


def aggregate(
    job_csvs: Iterable[str | Path],
    timings_csv: str | Path,
    summary_csv: str | Path,
    crossover_csv: str | Path,
    machines_csv: str | Path,
    pairs: Sequence[Sequence[str]] | None = None,
) -> None:
    """`pairs`: the [challenger, baseline] pairs for crossover.csv; None: the default
    pairs whose two series are in the rows."""
    timings = collect_timings(job_csvs)
    if pairs is None:
        present = set(timings["backend"])
        pairs = [pair for pair in DEFAULT_PAIRS if set(pair) <= present]
    write_csv_atomically(timings, timings_csv)
    write_csv_atomically(summarise(timings), summary_csv)
    write_csv_atomically(crossovers(timings, pairs), crossover_csv)
    write_csv_atomically(machines(timings), machines_csv)
