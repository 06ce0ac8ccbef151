"""Per combination: the median and its two-level bootstrap interval, the spread
of its samples, the variance between and within its replicates, its flags."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from parbench import columns, identity, stats
from parbench.aggregate.read import family_columns, loaded_rows, sweep_positions
from parbench.aggregate.speedup import speedups
from parbench.columns.statuses import ERROR, EXCLUDED, OK, PARTIAL, UNSUPPORTED
from parbench.replication import variance_components
from parbench.stats import replicate_interval

IDENTITY, JOB = list(identity.COMBINATION), list(identity.JOB)
# The columns the per-combination statistics read (a narrow frame keeps the loop over
# thousands of combinations cheap); the per-job values come from `job_values`.
ROW_COLUMNS = ["replicate", "repeat", "status", "seconds", "verified", "warmups_verified",
               "state_verified", "error", "sample_seconds", "cpu_seconds", "cpu_utilization",
               "job_start_unix", "job_end_unix", "min_repeats"]


def job_values(timings: pd.DataFrame) -> pd.DataFrame:
    """Per combination (rows in IDENTITY order), each per-job column summary.csv carries
    (parbench.columns: `to_summary`; a family's members, a plug-in's own): the median
    over its jobs, its first job's value, or whether any job's is true."""
    jobs = timings.drop_duplicates(JOB)
    grouped = jobs.groupby(IDENTITY, sort=True)
    first = jobs.drop_duplicates(IDENTITY).set_index(IDENTITY)
    index = grouped.size().index
    medians, anys = columns.to_summary(columns.MEDIAN), columns.to_summary(columns.ANY)
    values = {}
    for column in (medians + columns.to_summary(columns.FIRST) + anys
                   + family_columns(timings)):
        if column not in jobs:
            values[column] = np.full(len(index), np.nan)
            continue
        if column in anys:
            flags = jobs[column].map({True: True, "True": True}).fillna(False).astype(bool)
            values[column] = flags.groupby([jobs[name] for name in IDENTITY],
                                           sort=True).any().reindex(index).to_numpy()
            continue
        values[column] = (grouped[column].median() if column in medians
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
    ok = used & (status == OK)
    ok_replicate, ok_seconds = replicate[ok], seconds[ok]
    # The timed repeats of each replicate, in replicate order.
    starts = np.flatnonzero(np.r_[True, ok_replicate[1:] != ok_replicate[:-1]])
    samples = np.split(ok_seconds, starts[1:]) if ok.any() else []
    components = variance_components(samples)
    summary = {column: value for column, value in zip(IDENTITY, key)}
    failed = int(np.sum(used & (status == ERROR)))
    unsupported = bool(np.any(status == UNSUPPORTED))
    # A stateful workload's gathered states must add up too (empty: not stateful).
    states = rows["state_verified"] if "state_verified" in rows else np.array([])
    states_agree = all(str(state) != "False" for state in states if not pd.isna(state))
    warmups = rows["warmups_verified"] if "warmups_verified" in rows else np.array([True])
    messages = rows["error"]
    summary.update(
        status=(UNSUPPORTED if unsupported else EXCLUDED if not used.any()
                else ERROR) if not ok.any() else (PARTIAL if failed else OK),
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
        **dict(zip(("replicate_ci_low", "replicate_ci_high"), replicate_interval(samples))),
        error=next((message for message in messages if message), ""),
    )
    # Fewer repeats than asked for (the job's time budget ran out) cannot show
    # their own noise: one repeat has a zero-width "interval".
    min_repeats = rows["min_repeats"][0] if "min_repeats" in rows else 0
    summary["_too_few"] = any(len(replicate) < min_repeats for replicate in samples)
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
    values = np.concatenate(summary["_samples"]) if summary["_samples"] else np.array([])
    summary["mad_seconds"] = (float(np.median(np.abs(values - spread.median))) if values.size
                              else np.nan)
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
    return public_summary(summary_with_samples(timings, exclude_loaded), timings)


def public_summary(summary: pd.DataFrame, timings: pd.DataFrame) -> pd.DataFrame:
    """The summary's declared columns, in order (without the samples behind them)."""
    names = columns.ordered(columns.names(columns.SUMMARY) + family_columns(timings),
                            columns.SUMMARY)
    summary = summary.assign(format_version=columns.FORMAT_VERSION)
    return summary.reindex(columns=names).sort_values(IDENTITY).reset_index(drop=True)


def summary_with_samples(timings: pd.DataFrame, exclude_loaded: bool) -> pd.DataFrame:
    if "replicate" not in timings:  # rows of one job per combination
        timings = timings.assign(replicate=0)
    values = job_values(timings)
    timings = timings.assign(_job_loaded=loaded_rows(timings))
    # Each job's timed seconds, summed once for the whole table (as pandas sums).
    sample = "sample_seconds" if "sample_seconds" in timings else "seconds"
    ok_rows = timings[timings["status"] == OK]
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
    summary[["speedup", "speedup_ci_low", "speedup_ci_high"]] = speedups(summary, medians)
    for suffix in ("", "_ci_low", "_ci_high"):
        summary[f"efficiency{suffix}"] = summary[f"speedup{suffix}"] / summary["workers"]
    return summary


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
