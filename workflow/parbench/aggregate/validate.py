"""Checking a per-job CSV against its documented schema (results/README.md) before
aggregation trusts it: a file cut mid-row, edited by hand or written by something
else must be named, never averaged in.

Thousands of files are read in bulk (`read_job_csvs`): the files that share a
header are parsed as one text, checked column by column, and only a file found
wanting is read alone, for the message that names what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from parbench import columns, identity, migrations
from parbench.identity import COMBINATION

# What every per-job CSV has, and which of it must be numbers (parbench.columns;
# provenance is checked by aggregation's machine table, not here).
REQUIRED = columns.required()
INTEGER = [name for name in REQUIRED if columns.BY_NAME[name].kind == columns.INTEGER]
NUMBER = [name for name in REQUIRED if columns.BY_NAME[name].kind == columns.NUMBER]
STATUSES = {"ok", "error", "unsupported"}
BOOLEAN = {"True", "False", "true", "false", "1", "0", "1.0", "0.0"}
# The other declared columns a file has are checked by their kind where not empty
# (a value of the wrong kind would change the type of the whole column aggregated).
OPTIONAL_KINDS = {column.name: column.kind for column in columns.COLUMNS
                  if columns.JOB in column.tables and not column.required
                  and not column.family and column.kind != columns.TEXT}
KIND_WORDS = {columns.INTEGER: "whole numbers", columns.NUMBER: "numbers",
              columns.FLAG: "True/False"}
# Counts a job cannot have fewer of.
AT_LEAST = {"tasks": 1, "workers": 1, "replicate": 0, "repeat": 0}


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
    problems = _ragged_lines(text) + job_csv_problems(rows)
    if not problems:
        problems = path_problems(path, rows)
    if problems:
        raise InvalidJobCsv(f"{path}: " + "; ".join(problems))
    return typed(text, str(path))


def path_problems(path: str | Path, rows: pd.DataFrame) -> list[str]:
    """Rows of another job than the one their file's path names (a file copied over
    another's would be aggregated twice). Empty where the path names no job."""
    named = identity.parse_job_csv(str(path))
    if named is None or rows.empty:
        return []
    first = rows.iloc[0]
    differ = [name for name, value in _named_fields(named, rows) if not _same(first[name], value)]
    return [f"its rows are of another job than its path names ({', '.join(differ)} differ)"
            ] if differ else []


def _named_fields(job: identity.Job, rows: pd.DataFrame) -> list[tuple[str, object]]:
    """The fields a path names that its rows carry (old files had no replicate)."""
    return [(name, getattr(job, name)) for name in identity.JOB if name in rows]


def _same(cell: str, value: object) -> bool:
    if isinstance(value, int):
        return _is_integer(cell) and int(float(cell)) == value
    return cell == str(value)


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
    identity = rows[list(COMBINATION) + (["replicate"] if "replicate" in rows else [])]
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
    for column, kind in OPTIONAL_KINDS.items():
        if column in rows:
            bad = [value for value in rows[column] if value != "" and not _fits(kind, value)]
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
    if not problems and _too_few_for_its_stop(rows):
        problems.append("fewer timed repeats than its stop reason says it took (rows lost "
                        "at the end?)")
    return problems


def _too_few_for_its_stop(rows: pd.DataFrame) -> bool:
    """A job that says it stopped at max_repeats (or at its ci_target) with fewer timed
    repeats than that: its last rows were lost, whole."""
    if "stop_reason" not in rows or "max_repeats" not in rows or "min_repeats" not in rows:
        return False
    timed = sum(value != "" for value in rows["seconds"])
    reason = rows["stop_reason"].iloc[0]
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


def read_job_csvs(paths: Iterable[str | Path],
                  invalid: list[tuple[str, str]] | None = None) -> list[pd.DataFrame]:
    """The rows of many per-job CSVs: one typed frame per distinct header, in the order
    the headers first appear (so concatenating them orders columns as concatenating
    the files one by one would). A bad file raises InvalidJobCsv naming it; with
    `invalid` (a list), it is left out and listed there as (path, problem)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as problem:
            _reject(path, f"{path}: not a readable CSV ({problem})", invalid)
            continue
        header, _, body = text.partition("\n")
        if body and not body.endswith("\n"):
            body += "\n"
        groups.setdefault(header, []).append((str(path), body))
    frames = []
    for header, files in groups.items():
        frame = _read_group(header, files, invalid)
        if frame is not None:
            frames.append(frame)
    return frames


def _read_group(header: str, files: list[tuple[str, str]],
                invalid: list[tuple[str, str]] | None) -> pd.DataFrame | None:
    """Files of one header: parsed as one text, checked in bulk; a file that fails a
    check is read alone for its message and left out (or raises)."""
    text = header + "\n" + "".join(body for _, body in files)
    source = files[0][0] if len(files) == 1 else f"{len(files)} files like {files[0][0]}"
    try:
        rows = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        rows = migrations.renamed(rows, source)
        # A row with fewer cells than the header (cut short) is read with empty cells.
        shapes = [_records(body, len(rows.columns)) for _, body in files]
        counts = [count for count, _ in shapes]
        if sum(counts) != len(rows):
            raise pd.errors.ParserError("records and rows disagree")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, migrations.UnknownFormat):
        return _read_one_by_one(files, invalid)  # a malformed file: find it
    owner = np.repeat(np.arange(len(files)), counts)
    ragged = {index for index, (_, uneven) in enumerate(shapes) if uneven}
    suspect = (set(np.flatnonzero(np.array(counts) == 0)) | set(_suspect_files(rows, owner))
               | ragged | _misnamed_files(files, rows, counts))
    if suspect:
        for index in sorted(suspect):
            path = files[index][0]
            try:
                read_job_csv(path)  # it may pass alone (a check here is coarser)
                suspect.discard(index)
            except InvalidJobCsv as problem:
                _reject(path, str(problem), invalid)
        if suspect:
            keep = ~np.isin(owner, sorted(suspect))
            kept_text = header + "\n" + "".join(
                body for index, (_, body) in enumerate(files) if index not in suspect)
            if not keep.any():
                return None
            return typed(kept_text, source)
    return typed(text, source)


def _misnamed_files(files: list[tuple[str, str]], rows: pd.DataFrame,
                    counts: list[int]) -> set[int]:
    """Indices of files whose first row is of another job than their path names."""
    firsts = np.cumsum([0, *counts[:-1]])
    columns_here = [name for name in identity.JOB if name in rows]
    cells = rows[columns_here].to_numpy()
    misnamed = set()
    for index, ((path, _), first) in enumerate(zip(files, firsts)):
        named = identity.parse_job_csv(path)
        if named is None or counts[index] == 0:
            continue
        if any(not _same(cell, getattr(named, name))
               for name, cell in zip(columns_here, cells[first])):
            misnamed.add(index)
    return misnamed


def _records(body: str, width: int) -> tuple[int, bool]:
    """(how many records, whether any has other than `width` cells) of a file's body, as
    the csv module reads it. Without quotes or carriage returns a record is a line and
    its cells are its commas and one more: counted without parsing (a third of the
    reading time of ten thousand files)."""
    if '"' not in body and "\r" not in body:
        lines = body.split("\n")[:-1]  # the body ends with a newline
        return len(lines), any(line.count(",") != width - 1 for line in lines)
    records = list(csv.reader(io.StringIO(body)))
    return len(records), any(len(record) != width for record in records)


def _suspect_files(rows: pd.DataFrame, owner: np.ndarray) -> np.ndarray:
    """Indices of files whose rows may break the schema (a superset: each is then
    checked alone by `job_csv_problems`)."""
    if any(column not in rows for column in REQUIRED):
        return np.unique(owner)
    bad = np.zeros(len(rows), dtype=bool)
    for column in INTEGER:
        numbers = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
        bad |= ~np.isfinite(numbers) | (numbers != np.floor(numbers))
    for column in NUMBER:
        numbers = pd.to_numeric(rows[column], errors="coerce")
        bad |= (numbers.isna() & (rows[column] != "")).to_numpy()
    for column, kind in OPTIONAL_KINDS.items():
        if column not in rows:
            continue
        given = (rows[column] != "").to_numpy()
        if kind == columns.FLAG:
            bad |= given & ~rows[column].isin(BOOLEAN).to_numpy()
            continue
        numbers = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
        wrong = np.isnan(numbers)
        if kind == columns.INTEGER:
            wrong |= np.isfinite(numbers) & (numbers != np.floor(numbers))
        bad |= given & wrong
    for column, least in AT_LEAST.items():
        if column in rows:
            bad |= pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float) < least
    bad |= ~rows["status"].isin(STATUSES).to_numpy()
    bad |= ~rows["verified"].isin(BOOLEAN).to_numpy()
    seconds = pd.to_numeric(rows["seconds"], errors="coerce").to_numpy(dtype=float)
    ok = (rows["status"] == "ok").to_numpy()
    bad |= ok & ~(np.isfinite(seconds) & (seconds > 0))
    frame = rows.assign(_file=owner)
    identity = list(COMBINATION) + (["replicate"] if "replicate" in rows else [])
    mixed = frame.groupby("_file")[identity].nunique().gt(1).any(axis=1)
    repeats = pd.to_numeric(frame["repeat"], errors="coerce")
    in_order = repeats.to_numpy() == frame.groupby("_file").cumcount().to_numpy()
    disorder = pd.Series(~in_order).groupby(owner).any()
    short = _short_files(rows, owner)
    return np.unique(np.concatenate([owner[bad], mixed[mixed].index.to_numpy(),
                                     disorder[disorder].index.to_numpy(), short]))


def _short_files(rows: pd.DataFrame, owner: np.ndarray) -> np.ndarray:
    """Indices of files with fewer timed repeats than their stop reason says (a
    superset of `_too_few_for_its_stop`'s, each checked alone)."""
    if "stop_reason" not in rows or "max_repeats" not in rows or "min_repeats" not in rows:
        return np.array([], dtype=int)
    frame = pd.DataFrame({
        "file": owner, "timed": (rows["seconds"] != "").to_numpy(),
        "reason": rows["stop_reason"].to_numpy(),
        "most": pd.to_numeric(rows["max_repeats"], errors="coerce").to_numpy(),
        "least": pd.to_numeric(rows["min_repeats"], errors="coerce").to_numpy()})
    files = frame.groupby("file").agg(timed=("timed", "sum"), reason=("reason", "first"),
                                      most=("most", "first"), least=("least", "first"))
    short = (((files["reason"] == "max_repeats") & (files["timed"] < files["most"]))
             | ((files["reason"] == "ci_target") & (files["timed"] < files["least"])))
    return files.index[short].to_numpy()


def _read_one_by_one(files: list[tuple[str, str]],
                     invalid: list[tuple[str, str]] | None) -> pd.DataFrame | None:
    frames = []
    for path, _ in files:
        try:
            frames.append(read_job_csv(path))
        except InvalidJobCsv as problem:
            _reject(path, str(problem), invalid)
    return pd.concat(frames, ignore_index=True) if frames else None


def _reject(path: str | Path, problem: str, invalid: list[tuple[str, str]] | None) -> None:
    if invalid is None:
        raise InvalidJobCsv(problem)
    invalid.append((str(path), problem))
