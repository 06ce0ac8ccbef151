"""Checking a per-job CSV against its documented schema (results/README.md) before
aggregation trusts it: a file cut mid-row, edited by hand or written by something
else must be named, never averaged in.

The rules, on one file's rows read as text (`read_job_csv`, `job_csv_problems`).
Thousands of files are read in bulk by parbench.aggregate.bulk, which checks the
same rules column by column and reads only a file found wanting here, alone.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from parbench import columns, identity, migrations
from parbench.columns.statuses import FAILURES, OK, PER_JOB

# What every per-job CSV has (parbench.columns; provenance is checked by
# aggregation's machine table, not here).
REQUIRED = columns.required()
STATUSES = PER_JOB
BOOLEAN = {"True", "False", "true", "false", "1", "0", "1.0", "0.0"}
# Every declared column a file has that is not text, by its kind (a value of another
# kind would change the type of the whole column aggregated). An empty cell is a
# missing value: allowed, but in a required whole-number or flag column.
KINDS = {column.name: column.kind for column in columns.COLUMNS
         if columns.JOB in column.tables and not column.family
         and column.kind != columns.TEXT}
NEVER_EMPTY = {column.name for column in columns.COLUMNS if column.required
               and column.kind in (columns.INTEGER, columns.FLAG)}
KIND_WORDS = {columns.INTEGER: "whole numbers", columns.NUMBER: "numbers",
              columns.FLAG: "True/False"}
# Counts a job cannot have fewer of.
AT_LEAST = {"tasks": 1, "workers": 1, "replicate": 0, "repeat": 0}
# What a job is, where and how it ran: one value on every row of its file (the
# samples and their outcome are what vary).
CONSTANT = tuple(column.name for column in columns.COLUMNS
                 if columns.JOB in column.tables and not column.family
                 and column.group not in ("sample", "outcome"))


def named_series(engine: str, variant: str, target: str) -> str:
    """The series a row's engine, variant and target make (`pool-shm`, `ray@lab`)."""
    base = f"{engine}-{variant}" if variant else engine
    return base if target in ("", identity.LOCAL) else f"{base}@{target}"


class InvalidJobCsv(ValueError):
    """A per-job CSV that does not follow the schema; the message names the file."""


def read_job_csv(path: str | Path) -> pd.DataFrame:
    """The rows of one per-job CSV, or InvalidJobCsv saying what is wrong with it."""
    # Read once; parsed as text to check it, then typed for aggregation.
    try:
        text = Path(path).read_text(encoding="utf-8")
        rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        rows = migrations.renamed(rows, str(path))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            migrations.UnknownFormat) as problem:
        raise InvalidJobCsv(f"{path}: not a readable CSV ({problem})".strip()) from None
    problems = _ragged_lines(text) + _repeated_names(text) + job_csv_problems(rows)
    if not problems:
        problems = path_problems(path, rows)
    if problems:
        raise InvalidJobCsv(f"{path}: " + "; ".join(problems))
    return typed(text, str(path))


def path_problems(path: str | Path, rows: pd.DataFrame) -> list[str]:
    """Rows of another job than the one their file's path names (a file copied over
    another's would be aggregated twice). Empty where the path names no job."""
    named = identity.parse_job_csv(str(path))
    differ = fields_that_differ(named, rows.iloc[0]) if named and not rows.empty else []
    return [f"its rows are of another job than its path names ({', '.join(differ)} differ)"
            ] if differ else []


def fields_that_differ(named: identity.Job, row: Mapping[str, str]) -> list[str]:
    """The identity fields a path names that a row (as text) carries otherwise (old
    files had no replicate: not compared)."""
    return [name for name in identity.JOB
            if name in row and not _same(row[name], getattr(named, name))]


def _same(cell: str, value: object) -> bool:
    if isinstance(value, int):
        return _is_integer(cell) and int(float(cell)) == value
    return cell == str(value)


def _repeated_names(text: str) -> list[str]:
    """Column names the header has twice (pandas would read the second as `name.1`)."""
    header = next(csv.reader(io.StringIO(text)), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    return [f"the header names {repeated} twice"] if repeated else []


def _ragged_lines(text: str) -> list[str]:
    """Rows whose number of cells is not the header's (a row cut short)."""
    header, *records = list(csv.reader(io.StringIO(text)))
    short = [(line, len(record)) for line, record in enumerate(records, start=2)
             if len(record) != len(header)]
    return [f"line {line}: {cells} cells, the header has {len(header)} (a row cut short?)"
            for line, cells in short[:3]]


def typed(text: str, source: str) -> pd.DataFrame:
    """Checked per-job rows as aggregation reads them: typed, in today's format."""
    return migrations.upgrade(pd.read_csv(io.StringIO(text), dtype={"error": str,
                                                                    "variant": str}), source)


def job_csv_problems(rows: pd.DataFrame) -> list[str]:
    """What is wrong with one per-job CSV's rows, read as text (empty: nothing)."""
    missing = [column for column in REQUIRED if column not in rows]
    if missing:
        return [f"missing columns {missing}"]
    if rows.empty:
        return ["no rows"]
    problems = []
    job = rows[[name for name in identity.JOB if name in rows]]
    if len(job.drop_duplicates()) > 1:
        problems.append("rows of more than one job (identity columns differ)")
    varying = [name for name in CONSTANT if name in rows and name not in identity.JOB
               and rows[name].nunique() > 1]
    if varying:
        problems.append(f"columns {varying[:5]} differ between the rows of one job")
    if {"engine", "variant", "target"} <= set(rows):
        first = rows.iloc[0]
        said = named_series(first["engine"], first["variant"], first["target"])
        if said != first["series"]:
            problems.append(f"series {first['series']!r}, but its engine, variant and target "
                            f"make {said!r}")
    for column, kind in KINDS.items():
        if column in rows:
            bad = [value for value in rows[column]
                   if not _fits(kind, value) and (value != "" or column in NEVER_EMPTY)]
            if bad:
                problems.append(f"column {column}: not {KIND_WORDS[kind]}: {bad[:3]}")
    for column, least in AT_LEAST.items():
        if column in rows:
            bad = [value for value in rows[column] if _is_number(value) and float(value) < least]
            if bad:
                problems.append(f"column {column}: below {least}: {bad[:3]}")
    statuses = set(rows["status"]) - STATUSES
    if statuses:
        problems.append(f"column status: unknown values {sorted(statuses)}")
    ok = rows[rows["status"] == OK]
    empty = [int(index) + 2 for index, value in ok["seconds"].items()
             if not _is_number(value) or not math.isfinite(float(value))
             or float(value) <= 0]
    if empty:
        problems.append(f"line(s) {empty[:5]}: status ok without a positive time "
                        "(a row cut short?)")
    if not problems:
        repeats = sorted(int(float(value)) for value in rows["repeat"])
        if repeats != list(range(len(rows))):
            problems.append(f"repeats {repeats[:10]} are not 0..{len(rows) - 1}, one row each "
                            "(rows lost or repeated?)")
    if not problems and _too_few_for_its_stop(rows):
        problems.append("fewer rows than its stop reason says it wrote (rows lost at the "
                        "end?)")
    return problems


def _too_few_for_its_stop(rows: pd.DataFrame) -> bool:
    """A job that says it stopped at max_repeats (or at its ci_target) with fewer timed
    repeats than that, or on a failure (`error`, `unsupported`) without the row of that
    status: its last rows were lost, whole."""
    if "stop_reason" not in rows or "max_repeats" not in rows or "min_repeats" not in rows:
        return False
    timed = sum(value != "" for value in rows["seconds"])
    reason = rows["stop_reason"].iloc[0]
    if reason in FAILURES:  # the row that says so was its last
        return reason not in set(rows["status"])
    if reason == "max_repeats" and _is_integer(rows["max_repeats"].iloc[0]):
        return timed < int(float(rows["max_repeats"].iloc[0]))
    if reason == "ci_target" and _is_integer(rows["min_repeats"].iloc[0]):
        return timed < int(float(rows["min_repeats"].iloc[0]))
    return False


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _is_integer(text: str) -> bool:
    return _is_number(text) and math.isfinite(float(text)) and float(text).is_integer()


def _fits(kind: str, text: str) -> bool:
    if kind == columns.FLAG:
        return text in BOOLEAN
    return _is_integer(text) if kind == columns.INTEGER else _is_number(text)
