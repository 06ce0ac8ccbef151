"""Per-job CSVs -> timings.csv, summary.csv, crossover.csv, machines.csv, design.csv
(schemas: results/README.md).

A combination is measured in one or more replicates (jobs); every median,
speedup and crossover interval is a two-level bootstrap over replicates and the
repeats within them (parbench.stats).

This layer reads only the per-job files; plotting reads only what it writes.
"""

from __future__ import annotations

import multiprocessing
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from parbench import stats
from parbench.backends import LOCAL, target_of
from parbench.crossover import DEFAULT_PAIRS, crossover_with_confidence
from parbench.machine import available_cores
from parbench.stats import VarianceComponents, cheapest_design, variance_components
from parbench.tables import write_csv_atomically
from parbench.validation import read_job_csvs

IDENTITY = ["workload", "kernel", "backend", "size", "tasks", "workers"]
JOB = IDENTITY + ["replicate"]
# Speedup compares against the serial loop on the same problem.
PROBLEM = ["workload", "kernel", "size", "tasks"]
PROVENANCE_MACHINE = ["hostname", "cpu_model", "logical_cpus", "available_cores"]


def collect_timings(job_csvs: Iterable[str | Path],
                    invalid: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Every per-job CSV's rows, each file checked against its schema first
    (parbench.validation). A bad file stops aggregation, naming it and what is
    wrong; with `invalid` (a list) it is left out instead and listed there as
    (path, problem)."""
    already_invalid = len(invalid) if invalid is not None else 0
    frames = read_job_csvs(job_csvs, invalid)
    for _, problem in (invalid or [])[already_invalid:]:
        print(f"warning: left out an invalid per-job CSV: {problem}", file=sys.stderr)
    if not frames:
        raise ValueError("no (valid) per-job CSVs to aggregate")
    timings = _with_series_columns(pd.concat(frames, ignore_index=True))
    timings["error"] = timings["error"].fillna("")
    machines = timings[PROVENANCE_MACHINE].drop_duplicates()
    if len(machines) > 1:
        print(
            f"warning: timings come from {len(machines)} different machines; "
            "figures will mix them:\n" + machines.to_string(index=False),
            file=sys.stderr,
        )
    return timings.sort_values(JOB + ["repeat"]).reset_index(drop=True)


def _with_series_columns(timings: pd.DataFrame) -> pd.DataFrame:
    """Rows written before backends had options name only their backend: fill in
    what later rows say of their series (docs/data holds such rows)."""
    serial = timings["backend"] == "serial"
    # Before replicates and calibrated samples: one job per combination, one map per sample.
    # A column filled in goes where today's rows have it, so that the column order does
    # not depend on which workloads' rows are read together.
    for column, fill, after in (("engine", timings["backend"], "backend"),
                                ("variant", "", "engine"),
                                ("target", LOCAL, "variant"),
                                ("single_process", serial, "variant"),
                                ("replicate", 0, "workers"),
                                ("maps_per_sample", 1, "seconds")):
        if column in timings:
            timings[column] = timings[column].fillna(fill)
        else:
            timings.insert(timings.columns.get_loc(after) + 1, column, fill)
    timings["variant"] = timings["variant"].astype(str)
    timings["single_process"] = timings["single_process"].astype(bool)
    return timings


def option_columns(frame: pd.DataFrame) -> list[str]:
    """The backends' option columns (`option_<name>`), as the rows bring them."""
    return sorted(column for column in frame.columns if column.startswith("option_"))


# A combination is `noisy` when its median's CI (over replicates and their samples)
# is wider than the `ci_target` it was measured for: its precision goal missed. Not
# the spread of single samples: a median of many spread samples can be precise.
# `loaded` when something else kept more than this fraction of the machine busy
# before or while one of its jobs measured (rows written before jobs judged that
# themselves: just before it started).
LOADED_FRACTION = 0.25
# Per-job values, identical on every row of a job: the median over the
# combination's replicates (numbers), or its first job's value.
JOB_COLUMNS = [
    "engine", "variant", "single_process", "size_unit", "startup_seconds", "first_map_seconds",
    "cold_seconds", "teardown_seconds", "overhead_per_task_seconds", "peak_rss_bytes",
    "peak_pss_bytes", "stop_reason", "ci_target", "chunksize", "start_method", "oversubscribed",
    "load_avg_1m",
    "background_cpu_fraction", "background_cpu_fraction_during", "quiet_waited_seconds",
    "maps_per_sample", "kernel_level", "task_iterations", "state_verified",
]
SUMMARY_COLUMNS = IDENTITY + [
    "engine", "variant", "single_process", "size_unit", "status", "repeats", "failed", "verified",
    "median_seconds", "ci_low", "ci_high", "min_seconds", "max_seconds", "iqr_seconds", "cv",
    "ci_relative_half_width", "stop_reason", "noisy", "loaded", "oversubscribed",
    "replicates", "loaded_replicates", "excluded_replicates", "between_replicate_cv",
    "within_replicate_cv", "replicate_min_gap_jobs",
    "speedup", "speedup_ci_low", "speedup_ci_high",
    "efficiency", "efficiency_ci_low", "efficiency_ci_high",
    "startup_seconds", "first_map_seconds", "cold_seconds", "warm_seconds", "teardown_seconds",
    "overhead_per_task_seconds", "cpu_seconds", "cpu_utilization", "peak_rss_bytes",
    "peak_pss_bytes", "maps_per_sample", "chunksize", "start_method", "load_avg_1m",
    "background_cpu_fraction",
    "background_cpu_fraction_during", "quiet_waited_seconds", "kernel_level",
    "task_iterations", "state_verified", "error",
]


def job_loaded(jobs: pd.DataFrame) -> pd.Series:
    """Per job (one row each): measured while others kept the machine busy. Rows
    of jobs that judged it themselves carry `loaded`; older ones only the share
    of the machine others used just before they started."""
    before = jobs.get("background_cpu_fraction", pd.Series(np.nan, jobs.index)) > LOADED_FRACTION
    if "loaded" not in jobs:
        return before
    return jobs["loaded"].map({True: True, False: False, "True": True, "False": False}
                              ).fillna(before).astype(bool)


def loaded_rows(timings: pd.DataFrame) -> np.ndarray:
    """Per row: its job was measured on a loaded machine (`job_loaded`)."""
    jobs = timings.drop_duplicates(JOB)
    loaded = pd.MultiIndex.from_frame(jobs.loc[job_loaded(jobs).to_numpy(), JOB])
    return pd.MultiIndex.from_frame(timings[JOB]).isin(loaded)


def sweep_positions(timings: pd.DataFrame) -> pd.Series:
    """Each job's place in the order the sweep ran them (by start time), per row."""
    if "job_start_unix" not in timings:
        return pd.Series(np.nan, timings.index)
    starts = timings.groupby(JOB)["job_start_unix"].transform("first")
    return starts.rank(method="dense") - 1


# The columns the per-combination statistics read (a narrow frame keeps the loop over
# thousands of combinations cheap); the per-job values come from `job_values`.
ROW_COLUMNS = ["replicate", "repeat", "status", "seconds", "verified", "warmups_verified",
               "state_verified", "error", "sample_seconds", "cpu_seconds", "cpu_utilization",
               "job_start_unix", "job_end_unix", "min_repeats"]


def job_values(timings: pd.DataFrame) -> pd.DataFrame:
    """Per combination (rows in IDENTITY order), each of JOB_COLUMNS and the option
    columns: the median over its jobs (numbers), or its first job's value."""
    jobs = timings.drop_duplicates(JOB)
    grouped = jobs.groupby(IDENTITY, sort=True)
    first = jobs.drop_duplicates(IDENTITY).set_index(IDENTITY)
    index = grouped.size().index
    values = {}
    for column in JOB_COLUMNS + option_columns(timings):
        if column not in jobs:
            values[column] = np.full(len(index), np.nan)
            continue
        numeric = (pd.api.types.is_numeric_dtype(jobs[column])
                   and not pd.api.types.is_bool_dtype(jobs[column]))
        values[column] = (grouped[column].median() if numeric
                          else first[column].reindex(index)).to_numpy()
    return pd.DataFrame(values, index=index)


def _combination_row(key: tuple, rows: Mapping[str, np.ndarray],
                     exclude_loaded: bool) -> dict:
    """One combination's statistics but those of its samples' spread (`_with_spread`
    adds them), from its rows (ROW_COLUMNS' arrays, sorted by replicate, then repeat;
    `_job_loaded`: the row's job was measured on a loaded machine). On NumPy arrays:
    this runs once per combination, thousands of times in a large sweep."""
    replicate, status = rows["replicate"], rows["status"]
    seconds = rows["seconds"].astype(float)
    first_of_job = np.flatnonzero(np.r_[True, replicate[1:] != replicate[:-1]])
    job_loaded_flags = rows["_job_loaded"].astype(bool)[first_of_job]
    loaded_jobs = set(replicate[first_of_job][job_loaded_flags].tolist())
    excluded = loaded_jobs if exclude_loaded else set()
    used = ~np.isin(replicate, list(excluded)) if excluded else np.ones(len(replicate), bool)
    ok = used & (status == "ok")
    ok_replicate, ok_seconds = replicate[ok], seconds[ok]
    # The timed repeats of each replicate, in replicate order.
    starts = np.flatnonzero(np.r_[True, ok_replicate[1:] != ok_replicate[:-1]])
    samples = np.split(ok_seconds, starts[1:]) if ok.any() else []
    components = variance_components(samples)
    summary = {column: value for column, value in zip(IDENTITY, key)}
    failed = int(np.sum(used & (status == "error")))
    unsupported = bool(np.any(status == "unsupported"))
    # A stateful workload's gathered states must add up too (empty: not stateful).
    states = rows["state_verified"] if "state_verified" in rows else np.array([])
    states_agree = all(str(state) != "False" for state in states if not pd.isna(state))
    warmups = rows["warmups_verified"] if "warmups_verified" in rows else np.array([True])
    messages = rows["error"]
    summary.update(
        status=("unsupported" if unsupported else "excluded (loaded)" if not used.any()
                else "error") if not ok.any() else ("partial" if failed else "ok"),
        repeats=int(ok.sum()), failed=failed,
        verified=bool(rows["verified"].astype(bool).all()
                      and warmups.astype(bool).all() and states_agree),
        min_seconds=ok_seconds.min() if ok.any() else np.nan,
        max_seconds=ok_seconds.max() if ok.any() else np.nan,
        cpu_seconds=_median(rows, "cpu_seconds", ok),
        cpu_utilization=_median(rows, "cpu_utilization", ok),
        replicates=len(samples), loaded_replicates=len(loaded_jobs),
        excluded_replicates=len(excluded),
        between_replicate_cv=components.between_cv, within_replicate_cv=components.within_cv,
        error=next((message for message in messages if message), ""),
    )
    # Fewer repeats than asked for (the job's time budget ran out) cannot show
    # their own noise: one repeat has a zero-width "interval".
    min_repeats = rows["min_repeats"][0] if "min_repeats" in rows else 0
    summary["_too_few"] = bool(ok.sum() < min_repeats * max(1, len(samples)) and ok.any())
    summary["loaded"] = bool(loaded_jobs - excluded)
    summary["_samples"] = samples
    summary["_components"] = components
    summary["_costs"] = _costs(rows, ok, first_of_job[used[first_of_job]])
    return summary


def _with_spread(summary: dict, medians: np.ndarray, ci_target: float) -> dict:
    """A combination's row with the spread of its samples (`medians`: their
    bootstrap medians), and `noisy` against its `ci_target`."""
    spread = stats.spread(summary["_samples"], medians)
    summary.update(median_seconds=spread.median, ci_low=spread.ci_low,
                   ci_high=spread.ci_high, iqr_seconds=spread.iqr, cv=spread.cv,
                   ci_relative_half_width=spread.relative_half_width,
                   warm_seconds=spread.median)
    ci_target = ci_target if pd.notna(ci_target) else np.inf
    summary["noisy"] = bool(summary["ci_relative_half_width"] > ci_target
                            or summary.pop("_too_few"))
    return summary


def _median(rows: Mapping[str, np.ndarray], column: str, mask: np.ndarray) -> float:
    """The median of a column over the masked rows, NaN left out (nan: none)."""
    if column not in rows:
        return np.nan
    values = rows[column].astype(float)[mask]
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else np.nan


def _costs(rows: Mapping[str, np.ndarray], ok: np.ndarray,
           used_jobs: np.ndarray) -> tuple[float, float]:
    """(seconds one more replicate costs besides its samples, seconds per sample), from
    one combination's rows, its mask of successful rows and the first row of each
    job left in the statistics."""
    if not ok.any() or "job_end_unix" not in rows:
        return (np.nan, np.nan)
    wall = (rows["job_end_unix"].astype(float)[used_jobs]
            - rows["job_start_unix"].astype(float)[used_jobs])
    beyond = wall - rows["_job_sampled_seconds"].astype(float)[used_jobs]
    beyond = beyond[~np.isnan(beyond)]
    sample = rows["sample_seconds" if "sample_seconds" in rows else "seconds"].astype(float)[ok]
    sample = sample[~np.isnan(sample)]
    return (max(float(np.median(beyond)), 0.0) if beyond.size else np.nan,
            float(np.median(sample)) if sample.size else np.nan)


def summarise(timings: pd.DataFrame, exclude_loaded: bool = False) -> pd.DataFrame:
    """One row per combination: median with its bootstrap CI, spread, speedup with its
    CI, the variance between and within replicates. `exclude_loaded`: leave out the
    replicates measured on a loaded machine."""
    return public_summary(_summary_with_samples(timings, exclude_loaded), timings)


def public_summary(summary: pd.DataFrame, timings: pd.DataFrame) -> pd.DataFrame:
    """The summary's documented columns, in order (without the samples behind them)."""
    columns = SUMMARY_COLUMNS + option_columns(timings)
    return summary.reindex(columns=columns).sort_values(IDENTITY).reset_index(drop=True)


def _summary_with_samples(timings: pd.DataFrame, exclude_loaded: bool) -> pd.DataFrame:
    if "replicate" not in timings:  # rows of one job per combination
        timings = timings.assign(replicate=0)
    values = job_values(timings)
    timings = timings.assign(_job_loaded=loaded_rows(timings))
    # Each job's timed seconds, summed once for the whole table (as pandas sums).
    sample = "sample_seconds" if "sample_seconds" in timings else "seconds"
    ok_rows = timings[timings["status"] == "ok"]
    sampled = ok_rows.groupby(JOB)[sample].sum()
    timings = timings.assign(_job_sampled_seconds=sampled.reindex(
        pd.MultiIndex.from_frame(timings[JOB])).fillna(0).to_numpy())
    narrow = timings[IDENTITY + [column for column in ROW_COLUMNS if column in timings]
                     + ["_job_loaded", "_job_sampled_seconds"]]
    # Each combination's rows replicate by replicate (as collect_timings sorts them),
    # combinations in `values`' order; sliced out of whole-table arrays.
    narrow = narrow.sort_values(IDENTITY + ["replicate"], kind="mergesort")
    arrays = {column: narrow[column].to_numpy() for column in narrow.columns}
    combination = narrow.groupby(IDENTITY, sort=True).ngroup().to_numpy()
    starts = np.flatnonzero(np.r_[True, combination[1:] != combination[:-1]])
    ends = np.r_[starts[1:], len(combination)]
    rows = [_combination_row(tuple(arrays[column][start] for column in IDENTITY),
                             {name: column[start:end] for name, column in arrays.items()},
                             exclude_loaded)
            for start, end in zip(starts, ends)]
    medians = stats.bootstrap_medians_many([row["_samples"] for row in rows])
    summary = pd.DataFrame([_with_spread(row, one, ci_target) for row, one, ci_target
                            in zip(rows, medians, values["ci_target"])])
    for column in values.columns:
        summary[column] = values[column].to_numpy()
    summary["replicate_min_gap_jobs"] = replicate_gap_column(summary, timings)
    summary[["speedup", "speedup_ci_low", "speedup_ci_high"]] = _speedups(summary, medians)
    for suffix in ("", "_ci_low", "_ci_high"):
        summary[f"efficiency{suffix}"] = summary[f"speedup{suffix}"] / summary["workers"]
    return summary


def _speedups(summary: pd.DataFrame, medians: Sequence[np.ndarray]) -> list[tuple]:
    """(speedup, CI low, CI high) per combination: the serial loop's median on the
    same problem over its own; the interval from the ratios of both sides' bootstrap
    medians (stats.ratio_interval: the serial side's are its `medians`, drawn with the
    same seed; the other side's are drawn again with the next seed)."""
    # On the series' own target: a cluster's times are never divided by the local loop's.
    problems = list(zip(*(summary[column] for column in PROBLEM),
                        summary["backend"].map(target_of)))
    backend, repeats = summary["backend"].to_numpy(), summary["repeats"].to_numpy()
    serial = {problem: position for position, problem in enumerate(problems)
              if backend[position] == "serial" and repeats[position] > 0}
    compared = [position for position, problem in enumerate(problems)
                if problem in serial and repeats[position] > 0 and backend[position] != "serial"]
    drawn_again = dict(zip(compared, stats.bootstrap_medians_many(
        [summary["_samples"].iat[position] for position in compared], seed=stats.SEED + 1)))
    speedups = []
    for position, problem in enumerate(problems):
        reference = serial.get(problem)
        if reference is None or repeats[position] == 0:
            speedups.append((np.nan, np.nan, np.nan))
        elif backend[position] == "serial":
            speedups.append((1.0, 1.0, 1.0))  # the reference itself: exactly 1
        else:
            low, high = stats.percentile_interval(medians[reference] / drawn_again[position])
            speedups.append((stats.pooled_median(summary["_samples"].iat[reference])
                             / summary["median_seconds"].iat[position], low, high))
    return speedups


DESIGN_COLUMNS = IDENTITY + [
    "scope", "replicates", "repeats_per_replicate", "between_replicate_cv", "within_replicate_cv",
    "replicate_cost_seconds", "repeat_cost_seconds", "ci_target", "recommended_replicates",
    "recommended_repeats", "recommended_seconds", "reaching_target",
]
# A workload's design table keeps what the sweep's row is computed from.
WORKLOAD_DESIGN_COLUMNS = [column for column in DESIGN_COLUMNS if column != "reaching_target"
                           ] + ["between_replicate_log_variance", "within_replicate_log_variance"]


def combination_designs(summary: pd.DataFrame) -> pd.DataFrame:
    """Per combination with at least two replicates, the cheapest replicates x repeats
    reaching its CI target (stats.cheapest_design), with the log-variance components
    behind it (`between_replicate_log_variance`, `within_replicate_log_variance`)."""
    rows = []
    for _, row in summary.iterrows():
        components, (replicate_cost, repeat_cost) = row["_components"], row["_costs"]
        ci_target = row["ci_target"] if pd.notna(row["ci_target"]) else 0.05
        design = cheapest_design(components, replicate_cost, repeat_cost, ci_target)
        if design is None:
            continue
        rows.append({**{column: row[column] for column in IDENTITY}, "scope": "combination",
                     "replicates": row["replicates"],
                     "repeats_per_replicate": row["repeats"] / max(1, row["replicates"]),
                     "between_replicate_cv": components.between_cv,
                     "within_replicate_cv": components.within_cv,
                     "replicate_cost_seconds": replicate_cost,
                     "repeat_cost_seconds": repeat_cost, "ci_target": ci_target,
                     "recommended_replicates": design.replicates,
                     "recommended_repeats": design.repeats,
                     "recommended_seconds": design.seconds,
                     "between_replicate_log_variance": components.between,
                     "within_replicate_log_variance": components.within})
    return pd.DataFrame(rows, columns=WORKLOAD_DESIGN_COLUMNS)


def with_sweep_design(table: pd.DataFrame) -> pd.DataFrame:
    """The combinations' designs and one `sweep` row: the cheapest design for the
    median combination (median variance components and costs: one combination's
    between-replicate variance rests on few replicates), and the share of
    combinations whose own components that design brings within the target."""
    if table.empty:
        return pd.DataFrame(columns=DESIGN_COLUMNS)
    between = table["between_replicate_log_variance"]
    within = table["within_replicate_log_variance"]
    typical = VarianceComponents(float(between.median()), float(within.median()))
    ci_target = float(table["ci_target"].median())
    design = cheapest_design(typical, float(table["replicate_cost_seconds"].median()),
                             float(table["repeat_cost_seconds"].median()), ci_target)
    allowed = table["ci_target"].map(stats.allowed_log_variance)
    reached = (between + within / design.repeats) / design.replicates
    sweep_row = {"scope": "sweep", "replicates": int(table["replicates"].median()),
                 "repeats_per_replicate": table["repeats_per_replicate"].median(),
                 "between_replicate_cv": typical.between_cv,
                 "within_replicate_cv": typical.within_cv,
                 "replicate_cost_seconds": table["replicate_cost_seconds"].median(),
                 "repeat_cost_seconds": table["repeat_cost_seconds"].median(),
                 "ci_target": ci_target, "recommended_replicates": design.replicates,
                 "recommended_repeats": design.repeats,
                 "recommended_seconds": float(
                     ((table["replicate_cost_seconds"]
                       + design.repeats * table["repeat_cost_seconds"])
                      * design.replicates).sum()),
                 "reaching_target": float((reached <= allowed).mean())}
    table = pd.concat([table, pd.DataFrame([sweep_row])], ignore_index=True)
    return table.reindex(columns=DESIGN_COLUMNS)


def recommended_design(summary: pd.DataFrame) -> pd.DataFrame:
    """design.csv for one summary: every combination's design, then the sweep's."""
    return with_sweep_design(combination_designs(summary))


# A per-job CSV's identity, from its path (sweep.RAW_CSV), for a file whose rows
# cannot be trusted to say it.
RAW_PATH = re.compile(r"(?P<workload>[^/]+)/(?P<kernel>[^/]+)/(?P<backend>[^/]+)/"
                      r"size(?P<size>\d+)_tasks(?P<tasks>\d+)_workers(?P<workers>\d+)"
                      r"(?:_rep\d+)?\.csv$")


def invalid_file_rows(invalid: Sequence[tuple[str, str]], columns: pd.Index) -> pd.DataFrame:
    """One `invalid file` row per per-job CSV left out, its identity read from its path."""
    rows = []
    for path, problem in invalid:
        match = RAW_PATH.search(str(path))
        identity = match.groupdict() if match else {}
        for column in ("size", "tasks", "workers"):
            if column in identity:
                identity[column] = int(identity[column])
        rows.append({**identity, "status": "invalid file", "repeats": 0, "verified": False,
                     "error": problem})
    return pd.DataFrame(rows).reindex(columns=columns)


def design_message(design: pd.DataFrame) -> str:
    """The sweep-wide recommendation, as the aggregate log prints it."""
    sweep = design[design["scope"] == "sweep"]
    if sweep.empty:
        return ("no recommendation: it needs combinations measured in at least two "
                "replicates (`replicates: 2`)")
    row = sweep.iloc[0]
    return (
        f"variance components (median over {len(design) - 1} combinations): between "
        f"replicates {row['between_replicate_cv']:.1%}, within {row['within_replicate_cv']:.1%}"
        f" of the time; one more replicate costs {row['replicate_cost_seconds']:.2f} s besides "
        f"its samples, a sample {row['repeat_cost_seconds']:.3f} s. To reach "
        f"±{row['ci_target']:.0%} at least cost (Kalibera & Jones): replicates: "
        f"{row['recommended_replicates']}, min_repeats: {row['recommended_repeats']} (about "
        f"{row['recommended_seconds'] / 60:.0f} min of measuring; it brings "
        f"{row['reaching_target']:.0%} of the combinations within the target; this run: "
        f"{row['replicates']} replicates x {row['repeats_per_replicate']:.0f} samples)"
    )


CROSSOVER_COLUMNS = [
    "workload", "kernel", "tasks", "workers", "challenger", "baseline", "time_basis",
    "crossover_status", "crossover_size", "crossover_ci_low", "crossover_ci_high",
    "found_fraction", "size_below", "size_above", "sizes_compared", "size_unit",
]


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


def without_loaded(timings: pd.DataFrame) -> pd.DataFrame:
    """The rows of the jobs that measured on a quiet machine."""
    return timings[~loaded_rows(timings)]


def crossovers(timings: pd.DataFrame, pairs: Sequence[Sequence[str]],
               exclude_loaded: bool = False) -> pd.DataFrame:
    """For each (workload, kernel, tasks, workers), pair and time basis: where challenger
    overtakes baseline, with a bootstrap 95 % interval."""
    ok = timings[timings["status"] == "ok"]
    if exclude_loaded:
        ok = without_loaded(ok)
    ok = ok[["backend", "workload", "kernel", "tasks", "workers", "size", "replicate",
             "seconds", "single_process", "startup_seconds", "first_map_seconds"]]
    single_process = timings.groupby("backend")["single_process"].all().to_dict()
    # Grouped once: masking the whole table per problem made this quadratic.
    by_series = dict(list(ok.groupby(["backend", "workload", "kernel", "tasks"], sort=False)))
    nothing = ok.iloc[:0]

    def series_rows(backend: str, problem: dict) -> pd.DataFrame:
        return by_series.get((backend, problem["workload"], problem["kernel"],
                              problem["tasks"]), nothing)

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
    jobs = timings.drop_duplicates(JOB)
    return (
        jobs.groupby(present, dropna=False)
        .agg(jobs=("workload", "size"), first_utc=("timestamp_utc", "min"),
             last_utc=("timestamp_utc", "max"))
        .reset_index()
    )


# The tables each workload gets (results/aggregates/<workload>/), and the global
# ones the concatenation step writes (results/).
WORKLOAD_TABLES = ("timings", "summary", "crossover", "design")
GLOBAL_TABLES = ("timings", "summary", "crossover", "machines", "design")


def workload_tables(timings: pd.DataFrame, pairs: Sequence[Sequence[str]],
                    exclude_loaded: bool = False,
                    invalid: Sequence[tuple[str, str]] = ()) -> dict[str, pd.DataFrame]:
    """One workload's rows -> its timings, summary, crossover and design tables."""
    full_summary = _summary_with_samples(timings, exclude_loaded)
    summary = public_summary(full_summary, timings)
    if invalid:
        summary = pd.concat([summary, invalid_file_rows(invalid, summary.columns)],
                            ignore_index=True)
    return {"timings": timings, "summary": summary,
            "crossover": crossovers(timings, pairs, exclude_loaded),
            "design": combination_designs(full_summary)}


# Each workload's rows, for the forked processes of tables_of_workloads (a fork
# inherits them: nothing is pickled on the way there).
_ROWS_OF_WORKLOAD: dict[str, pd.DataFrame] = {}


def _forked_workload_tables(workload: str, pairs: Sequence[Sequence[str]],
                            exclude_loaded: bool) -> dict[str, pd.DataFrame]:
    tables = workload_tables(_ROWS_OF_WORKLOAD[workload], pairs, exclude_loaded)
    del tables["timings"]  # the parent has them
    return tables


def tables_of_workloads(timings: pd.DataFrame, pairs: Sequence[Sequence[str]],
                        exclude_loaded: bool = False) -> list[dict[str, pd.DataFrame]]:
    """workload_tables of every workload in `timings` (in order of appearance), on as
    many cores as there are workloads and cores: workloads are independent, as the
    workflow's per-workload jobs are."""
    global _ROWS_OF_WORKLOAD
    rows = {name: part.reset_index(drop=True)
            for name, part in timings.groupby("workload", sort=False)}
    processes = min(len(rows), available_cores())
    if processes < 2:
        return [workload_tables(part, pairs, exclude_loaded) for part in rows.values()]
    _ROWS_OF_WORKLOAD = rows
    try:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            found = pool.starmap(_forked_workload_tables,
                                 [(name, pairs, exclude_loaded) for name in rows], chunksize=1)
    finally:
        _ROWS_OF_WORKLOAD = {}
    return [{"timings": part, **tables} for part, tables in zip(rows.values(), found)]


def combine(tables: Sequence[Mapping[str, pd.DataFrame]],
            pairs: Sequence[Sequence[str]]) -> dict[str, pd.DataFrame]:
    """Every workload's tables -> the global ones, as aggregating all rows at once
    would give them: what crosses workloads (the sweep-wide job order, machines, the
    sweep's design row) is computed here."""
    timings = pd.concat([table["timings"] for table in tables], ignore_index=True)
    timings = timings.sort_values(JOB + ["repeat"]).reset_index(drop=True)
    summary = pd.concat([table["summary"] for table in tables], ignore_index=True)
    invalid = summary["status"] == "invalid file"
    summary = public_summary(summary[~invalid], timings)
    # Replicates' distance in jobs counts every workload's jobs in between.
    summary["replicate_min_gap_jobs"] = replicate_gap_column(summary, timings)
    summary = pd.concat([summary, invalid_rows(tables)],
                        ignore_index=True).reindex(columns=summary.columns)
    crossover = pd.concat([table["crossover"] for table in tables], ignore_index=True)
    pair_order = {tuple(pair): position for position, pair in enumerate(pairs)}
    crossover = crossover.assign(
        _pair=[pair_order.get(pair, len(pair_order))
               for pair in zip(crossover["challenger"], crossover["baseline"])])
    crossover = (crossover.sort_values(["_pair", "workload"], kind="mergesort")
                 .drop(columns="_pair").reset_index(drop=True))
    designs = pd.concat([table["design"] for table in tables], ignore_index=True)
    designs = designs.sort_values(IDENTITY, kind="mergesort").reset_index(drop=True)
    return {"timings": timings, "summary": summary,
            "crossover": crossover.reindex(columns=CROSSOVER_COLUMNS),
            "machines": machines(timings), "design": with_sweep_design(designs)}


def invalid_rows(tables: Sequence[Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """The `invalid file` rows of every workload's summary, in workload order."""
    frames = [table["summary"][table["summary"]["status"] == "invalid file"]
              for table in tables]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def replicate_min_gaps(timings: pd.DataFrame) -> pd.Series:
    """Per combination (IDENTITY index): how many other jobs of the sweep ran between
    two of its replicates, at least (nan: fewer than two, or no start times)."""
    jobs = timings.drop_duplicates(JOB)
    jobs = jobs.assign(_position=sweep_positions(jobs).to_numpy())  # dense: as over every row
    jobs = jobs.dropna(subset=["_position"]).sort_values(IDENTITY + ["_position"])
    steps = jobs.groupby(IDENTITY)["_position"].diff()
    return (steps - 1).groupby([jobs[column] for column in IDENTITY]).min()


def replicate_gap_column(summary: pd.DataFrame, timings: pd.DataFrame) -> np.ndarray:
    """`replicate_min_gap_jobs` for the summary's rows, from every job in `timings`:
    whole numbers, unless a combination has none."""
    gaps = replicate_min_gaps(timings).reindex(pd.MultiIndex.from_frame(summary[IDENTITY]))
    return (gaps.astype(int) if gaps.notna().all() else gaps.astype(float)).to_numpy()


def read_table(path: str | Path) -> pd.DataFrame:
    """An aggregate written by this module, read back exactly (floats round-trip)."""
    return pd.read_csv(path, float_precision="round_trip", dtype={"error": str, "variant": str})


def aggregate_workload(job_csvs: Iterable[str | Path], outputs: Mapping[str, str | Path],
                       pairs: Sequence[Sequence[str]], exclude_loaded: bool = False,
                       skip_invalid: bool = False) -> None:
    """One workload's per-job CSVs -> its tables (`outputs`: WORKLOAD_TABLES -> path).
    The workflow runs this once per workload, so that new jobs of one workload
    re-aggregate (and re-plot) that workload alone."""
    invalid: list[tuple[str, str]] | None = [] if skip_invalid else None
    timings = collect_timings(job_csvs, invalid)
    for name, table in workload_tables(timings, pairs, exclude_loaded, invalid or []).items():
        write_csv_atomically(table, outputs[name])


def combine_files(per_workload: Sequence[Mapping[str, str | Path]],
                  outputs: Mapping[str, str | Path], pairs: Sequence[Sequence[str]],
                  exclude_loaded: bool = False) -> None:
    """Every workload's tables (files) -> the global tables (`outputs`: GLOBAL_TABLES)."""
    tables = [{name: read_table(path) for name, path in files.items()}
              for files in per_workload]
    write_global(combine(tables, pairs), outputs, exclude_loaded)


def write_global(tables: Mapping[str, pd.DataFrame], outputs: Mapping[str, str | Path],
                 exclude_loaded: bool) -> None:
    for name in GLOBAL_TABLES:
        write_csv_atomically(tables[name], outputs[name])
    summary = tables["summary"]
    loaded = int(summary["loaded"].fillna(False).astype(bool).sum())
    if loaded:
        print(f"warning: {loaded} of {len(summary)} combinations have replicates measured on a "
              "loaded machine" + (" (left out of the statistics)" if exclude_loaded else
                                  " (`--exclude-loaded` leaves them out)"), file=sys.stderr)
    print(design_message(tables["design"]), file=sys.stderr)


def aggregate(
    job_csvs: Iterable[str | Path],
    timings_csv: str | Path,
    summary_csv: str | Path,
    crossover_csv: str | Path,
    machines_csv: str | Path,
    pairs: Sequence[Sequence[str]] | None = None,
    design_csv: str | Path | None = None,
    exclude_loaded: bool = False,
    skip_invalid: bool = False,
) -> None:
    """All per-job CSVs at once (`parbench aggregate`): workload by workload, then
    combined, exactly as the workflow does it in separate jobs. `pairs`: the
    [challenger, baseline] pairs for crossover.csv; None: the default pairs whose two
    series are in the rows. `design_csv`: where the recommended replicates and
    repeats go (default: next to summary.csv). `exclude_loaded`: statistics without
    the jobs measured on a loaded machine (timings.csv keeps them). `skip_invalid`:
    leave out per-job CSVs that break their schema, listing them in the log and as
    `invalid file` rows of summary.csv, instead of stopping."""
    invalid: list[tuple[str, str]] | None = [] if skip_invalid else None
    timings = collect_timings(job_csvs, invalid)
    if pairs is None:
        present = set(timings["backend"])
        pairs = [pair for pair in DEFAULT_PAIRS if set(pair) <= present]
    tables = tables_of_workloads(timings, pairs, exclude_loaded)
    if invalid:  # listed once, after every workload's rows
        tables[-1]["summary"] = pd.concat(
            [tables[-1]["summary"], invalid_file_rows(invalid, tables[-1]["summary"].columns)],
            ignore_index=True)
    outputs = {"timings": timings_csv, "summary": summary_csv, "crossover": crossover_csv,
               "machines": machines_csv,
               "design": design_csv or Path(summary_csv).with_name("design.csv")}
    write_global(combine(tables, pairs), outputs, exclude_loaded)
