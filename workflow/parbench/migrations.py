"""Reading tables of older formats: each format's step to the next, by name.

Every table parbench writes carries `format_version` (parbench.columns). A table
without it is format 1 (every file before the column table). A reader calls
`upgrade` on what it read: older formats are brought up to date step by step;
a newer one than this parbench knows stops the reader, naming the version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from parbench.columns import FORMAT_VERSION
from parbench.identity import LOCAL, SERIAL
from parbench.interpreters import PROJECT

VERSION_COLUMN = "format_version"


class UnknownFormat(ValueError):
    """A table written by a newer parbench (or by something else)."""


@dataclass(frozen=True)
class Step:
    """From one format to the next: columns renamed, then what is filled in."""

    renames: dict[str, str]
    fill: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame


def _series_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-job rows written before series had options named only their backend, and
    rows before targets, replicates and calibrated samples lack those columns
    (docs/data holds such rows): what today's rows say, filled in where they have it."""
    if "series" in rows and "target" not in rows:  # any table of series: where they ran
        rows["target"] = [name.partition("@")[2] or LOCAL for name in rows["series"]]
    if "status" not in rows or "repeat" not in rows:  # not per-job rows
        return rows
    serial = rows["series"] == SERIAL
    for column, fill, after in (("engine", rows["series"], "series"),
                                ("variant", "", "engine"),
                                ("target", LOCAL, "variant"),
                                ("single_process", serial, "variant"),
                                ("replicate", 0, "workers"),
                                ("maps_per_sample", 1, "seconds")):
        if column in rows:
            rows[column] = rows[column].fillna(fill)
        else:
            rows.insert(rows.columns.get_loc(after) + 1, column, fill)
    rows["variant"] = rows["variant"].fillna("").astype(str)
    rows["single_process"] = rows["single_process"].astype(bool)
    return rows


def _interpolated_crossovers(table: pd.DataFrame) -> pd.DataFrame:
    """A crossover table before fits: every row's crossover was the interpolated one."""
    if "crossover_status" not in table or "method" in table:
        return table
    return table.assign(
        method="interpolated", interpolated_status=table["crossover_status"],
        interpolated_size=table["crossover_size"],
        interpolated_ci_low=table["crossover_ci_low"],
        interpolated_ci_high=table["crossover_ci_high"])


def _interpreter_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Before interpreters every series ran on the project's, a build with the GIL."""
    if "series" in table and "interpreter" not in table and "target" in table:
        table.insert(table.columns.get_loc("target") + 1, "interpreter", PROJECT)
    if "python_version" in table and "python_free_threaded_build" not in table:
        table.insert(table.columns.get_loc("python_version") + 1,
                     "python_free_threaded_build", False)
    return table


# Format 2 names the series column `series` (format 1: `backend`), and prefixes a
# workload's own columns (`task_iterations` -> `workload_task_iterations`).
FORMAT_1_TO_2 = Step({"backend": "series", "task_iterations": "workload_task_iterations"},
                     _series_columns)
# Format 3's crossover_size is the fitted crossover where `method` is `fit`; format 2
# had only the interpolated one (and jobs no `planned_round`: all were the grid's).
FORMAT_2_TO_3 = Step({}, _interpolated_crossovers)
# Format 4 says which interpreter ran a series (`interpreter`, and the build).
FORMAT_3_TO_4 = Step({}, _interpreter_columns)
# STEPS[n - 1] reads format n as format n + 1.
STEPS: tuple[Step, ...] = (FORMAT_1_TO_2, FORMAT_2_TO_3, FORMAT_3_TO_4)
if len(STEPS) != FORMAT_VERSION - 1:
    raise RuntimeError("a format without its migration step (parbench.migrations.STEPS)")


def version_of(frame: pd.DataFrame, source: str) -> int:
    """The one format a table's rows say they are in (1: no such column)."""
    if VERSION_COLUMN not in frame:
        return 1
    if frame.empty:  # a table without rows has its header to say it is today's
        return FORMAT_VERSION
    versions = pd.to_numeric(frame[VERSION_COLUMN], errors="coerce").unique()
    if len(versions) != 1 or not float(versions[0]).is_integer():
        raise UnknownFormat(f"{source}: column {VERSION_COLUMN} is not one whole number "
                            f"({sorted(map(str, frame[VERSION_COLUMN].unique()))[:3]})")
    return int(versions[0])


def _checked(version: int, source: str) -> int:
    if version < 1:  # no format was ever numbered so: a garbled cell
        raise UnknownFormat(f"{source}: format version {version}; versions start at 1")
    if version > FORMAT_VERSION:
        raise UnknownFormat(f"{source}: format version {version}, newer than this parbench "
                            f"reads (up to {FORMAT_VERSION}); update parbench to read it")
    return version


def renamed(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Only today's column names (for checks on the text before it is typed)."""
    for step in STEPS[_checked(version_of(frame, source), source) - 1:]:
        frame = frame.rename(columns=step.renames)
    return frame


def upgrade(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame` (read from `source`, typed) in today's format."""
    version = _checked(version_of(frame, source), source)
    if version == FORMAT_VERSION:
        return frame
    for step in STEPS[version - 1:]:
        frame = step.fill(frame.rename(columns=step.renames))
    # Where the column goes is the table's business (parbench.columns.ordered).
    return frame.assign(**{VERSION_COLUMN: FORMAT_VERSION})


def read_table(path: str | Path, keep: Callable[[str], bool] | None = None) -> pd.DataFrame:
    """A table parbench wrote (an aggregate), read back exactly (pandas' parser
    round-trips floats) in today's format: what every reader of an aggregate calls.
    `keep`: only the columns (today's names) it says yes to, the others not parsed."""
    typed = {"error": str, "variant": str}
    if keep is None:
        return upgrade(pd.read_csv(path, dtype=typed), str(path))
    frame = pd.read_csv(path, dtype=typed,
                        usecols=lambda name: name == VERSION_COLUMN or keep(name))
    if version_of(frame, str(path)) != FORMAT_VERSION:  # old names: read whole, renamed
        frame = upgrade(pd.read_csv(path, dtype=typed), str(path))
    return frame[[name for name in frame.columns if keep(name)]]
