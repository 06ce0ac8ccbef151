"""Checking a per-job CSV against its documented schema (results/README.md) before
aggregation trusts it: a file cut mid-row, edited by hand or written by something
else must be named, never averaged in.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

# Identity and measurement columns every per-job CSV has (provenance is checked
# by aggregation's machine table, not here).
REQUIRED = ["workload", "kernel", "backend", "size", "tasks", "workers", "repeat", "seconds",
            "status", "verified", "error", "startup_seconds", "first_map_seconds"]
IDENTITY = ["workload", "kernel", "backend", "size", "tasks", "workers"]
INTEGER = ["size", "tasks", "workers", "repeat"]
NUMBER = ["seconds", "startup_seconds", "first_map_seconds"]
STATUSES = {"ok", "error", "unsupported"}
BOOLEAN = {"True", "False", "true", "false", "1", "0", "1.0", "0.0"}


class InvalidJobCsv(ValueError):
    """A per-job CSV that does not follow the schema; the message names the file."""


def read_job_csv(path: str | Path) -> pd.DataFrame:
    """The rows of one per-job CSV, or InvalidJobCsv saying what is wrong with it."""
    # Read once; parsed as text to check it, then typed for aggregation.
    try:
        text = Path(path).read_text(encoding="utf-8")
        rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as problem:
        raise InvalidJobCsv(f"{path}: not a readable CSV ({problem})".strip()) from None
    problems = job_csv_problems(rows)
    if problems:
        raise InvalidJobCsv(f"{path}: " + "; ".join(problems))
    return pd.read_csv(io.StringIO(text), dtype={"error": str, "variant": str})


def job_csv_problems(rows: pd.DataFrame) -> list[str]:
    """What is wrong with one per-job CSV's rows, read as text (empty: nothing)."""
    missing = [column for column in REQUIRED if column not in rows]
    if missing:
        return [f"missing columns {missing}"]
    if rows.empty:
        return ["no rows"]
    problems = []
    identity = rows[IDENTITY + (["replicate"] if "replicate" in rows else [])]
    if len(identity.drop_duplicates()) > 1:
        problems.append("rows of more than one job (identity columns differ)")
    for column in INTEGER:
        bad = [value for value in rows[column] if not _is_integer(value)]
        if bad:
            problems.append(f"column {column}: not whole numbers: {bad[:3]}")
    for column in NUMBER:
        bad = [value for value in rows[column] if value != "" and not _is_number(value)]
        if bad:
            problems.append(f"column {column}: not numbers: {bad[:3]}")
    statuses = set(rows["status"]) - STATUSES
    if statuses:
        problems.append(f"column status: unknown values {sorted(statuses)}")
    bad_flags = set(rows["verified"]) - BOOLEAN
    if bad_flags:
        problems.append(f"column verified: not True/False: {sorted(bad_flags)}")
    ok = rows[rows["status"] == "ok"]
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
    return problems


def _is_number(text: str) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def _is_integer(text: str) -> bool:
    return _is_number(text) and math.isfinite(float(text)) and float(text).is_integer()
