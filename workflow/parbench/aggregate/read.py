"""Reading: every per-job CSV checked against its schema (parbench.aggregate.bulk) and brought to
today's format (parbench.migrations), and the aggregates read back exactly."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from parbench import columns, identity
from parbench.aggregate.bulk import read_job_csvs
from parbench.columns.job import MACHINE_IDENTITY
from parbench.migrations import read_table  # noqa: F401 - aggregation's reader too

JOB = list(identity.JOB)
# What says two rows came from different machines (machines.csv has the rest).
MACHINE = list(MACHINE_IDENTITY)
# `loaded` when something else kept more than this fraction of the machine busy
# before or while one of its jobs measured (rows written before jobs judged that
# themselves: just before it started).
LOADED_FRACTION = 0.25


def collect_timings(job_csvs: Iterable[str | Path],
                    invalid: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Every per-job CSV's rows, each file checked against its schema first
    (parbench.aggregate.validate) and read in today's format. A bad file stops
    aggregation, naming it and what is wrong; with `invalid` (a list) it is left out
    instead and listed there as (path, problem)."""
    already_invalid = len(invalid) if invalid is not None else 0
    frames = read_job_csvs(job_csvs, invalid)
    for _, problem in (invalid or [])[already_invalid:]:
        print(f"warning: left out an invalid per-job CSV: {problem}", file=sys.stderr)
    if not frames:
        raise ValueError("no (valid) per-job CSVs to aggregate")
    timings = pd.concat(frames, ignore_index=True)
    timings = timings[columns.ordered(list(timings.columns), columns.JOB)]
    timings["error"] = timings["error"].fillna("")
    machines = timings[MACHINE].drop_duplicates()
    if len(machines) > 1:
        print(
            f"warning: timings come from {len(machines)} different machines; "
            "figures will mix them:\n" + machines.to_string(index=False),
            file=sys.stderr,
        )
    return timings.sort_values(JOB + ["repeat"]).reset_index(drop=True)


def family_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of a family (`option_<name>`, a plug-in's own) the rows bring,
    which summary.csv carries: sorted, so that the order does not depend on which
    workloads' rows are read together."""
    return sorted(columns.family_members(list(frame.columns), columns.SUMMARY))


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


def without_loaded(timings: pd.DataFrame) -> pd.DataFrame:
    """The rows of the jobs that measured on a quiet machine."""
    return timings[~loaded_rows(timings)]


def sweep_positions(timings: pd.DataFrame) -> pd.Series:
    """Each job's place in the order the sweep ran them (by start time), per row."""
    if "job_start_unix" not in timings:
        return pd.Series(np.nan, timings.index)
    starts = timings.groupby(JOB)["job_start_unix"].transform("first")
    return starts.rank(method="dense") - 1
