"""Reading thousands of per-job CSVs at once: the files that share a header are
parsed as one text and checked column by column against parbench.aggregate.validate's
rules (a superset of what they find), and only a file found wanting is read alone,
by `validate.read_job_csv`, for the message that names what is wrong with it.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from parbench import columns, identity, migrations
from parbench.aggregate.validate import (
    AT_LEAST,
    BOOLEAN,
    CONSTANT,
    KINDS,
    NEVER_EMPTY,
    REQUIRED,
    STATUSES,
    InvalidJobCsv,
    fields_that_differ,
    named_series,
    read_job_csv,
    typed,
)
from parbench.columns.statuses import FAILURES, OK


def read_job_csvs(paths: Iterable[str | Path],
                  invalid: list[tuple[str, str]] | None = None) -> list[pd.DataFrame]:
    """The rows of many per-job CSVs: one typed frame per distinct header, in the order
    the headers first appear (so concatenating them orders columns as concatenating
    the files one by one would). A bad file raises InvalidJobCsv naming it; with
    `invalid` (a list), it is left out and listed there as (path, problem)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for path in distinct_jobs(paths, invalid):
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


def distinct_jobs(paths: Iterable[str | Path],
                  invalid: list[tuple[str, str]] | None) -> list[str | Path]:
    """The paths, each once, and of each job the first file: a second file of the same
    job (a copy in a backup folder, a file named without `_rep` beside its `_rep0`)
    would count its rows twice, so it is refused, naming both files (InvalidJobCsv, or
    listed in `invalid`)."""
    # The same file named twice (as text or as a Path) is read once.
    unique = list({os.path.normpath(str(path)): path for path in paths}.values())
    files_of: dict[identity.Job | None, list[str | Path]] = {}
    for path in unique:
        # A file not named as a job's (`…rep0 (copy).csv`) is known by its first row.
        job = identity.parse_job_csv(str(path)) or _job_of_first_row(path)
        files_of.setdefault(job, []).append(path)
    kept = {id(path) for path in files_of.pop(None, [])}
    for job, files in files_of.items():
        # The file at the job's own place (<results>/raw/<workload>/…, the results
        # folder itself under no raw/) is the job's; another is the copy, wherever it
        # sorts (raw/backup/… sorts first; raw/old/raw/… ends as the job's own does).
        own = identity.job_csv(job).removeprefix("results/")
        placed = [path for path in files if str(path).endswith(own)
                  and "raw" not in Path(str(path)[:-len(own)]).parts]
        chosen = (placed or files)[0]
        kept.add(id(chosen))
        for path in files:
            if path is not chosen:
                _reject(path, f"{path}: the same job as {chosen} (a copy?): each job's "
                        "rows are aggregated once; remove one of the two", invalid)
    return [path for path in unique if id(path) in kept]


def _job_of_first_row(path: str | Path) -> identity.Job | None:
    """The job a CSV's first row names (None: it names none, or is unreadable; the
    reading proper says what is wrong with it)."""
    try:
        with open(path, encoding="utf-8", newline="") as file:
            reader = csv.reader(file)
            header, first = next(reader), next(reader)
        named = migrations.renamed(pd.DataFrame([first], columns=header),
                                   str(path)).iloc[0].to_dict()
        return identity.Job(**identity.typed({name: named[name] for name in identity.JOB}))
    except (OSError, UnicodeDecodeError, StopIteration, KeyError, ValueError, TypeError,
            migrations.UnknownFormat):
        return None


def _read_group(header: str, files: list[tuple[str, str]],
                invalid: list[tuple[str, str]] | None) -> pd.DataFrame | None:
    """Files of one header: parsed as one text, checked in bulk; a file that fails a
    check is read alone for its message and left out (or raises)."""
    names = next(csv.reader(io.StringIO(header)), [])
    if len(set(names)) < len(names):  # a name twice: each file says so alone
        return _read_one_by_one(files, invalid)
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
    suspect = (set(np.flatnonzero(np.array(counts) == 0)) | set(suspect_files(rows, owner))
               | ragged | misnamed_files(files, rows, counts))
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


def misnamed_files(files: list[tuple[str, str]], rows: pd.DataFrame,
                   counts: list[int]) -> set[int]:
    """Indices of files whose first row is of another job than their path names."""
    firsts = np.cumsum([0, *counts[:-1]])
    job = [name for name in identity.JOB if name in rows]
    cells = rows[job].to_numpy()
    misnamed = set()
    for index, ((path, _), first) in enumerate(zip(files, firsts)):
        named = identity.parse_job_csv(path)
        if named and counts[index] and fields_that_differ(named, dict(zip(job, cells[first]))):
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


def suspect_files(rows: pd.DataFrame, owner: np.ndarray) -> np.ndarray:
    """Indices of files whose rows may break the schema (a superset: each is then
    checked alone by `validate.job_csv_problems`)."""
    if any(column not in rows for column in REQUIRED):
        return np.unique(owner)
    bad = np.zeros(len(rows), dtype=bool)
    for column, kind in KINDS.items():
        if column not in rows:
            continue
        if kind == columns.FLAG:
            wrong = ~rows[column].isin(BOOLEAN).to_numpy()
        else:
            numbers = pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float)
            wrong = np.isnan(numbers)
            if kind == columns.INTEGER:
                wrong |= ~np.isfinite(numbers) | (numbers != np.floor(numbers))
        bad |= wrong if column in NEVER_EMPTY else wrong & (rows[column] != "").to_numpy()
    for column, least in AT_LEAST.items():
        if column in rows:
            bad |= pd.to_numeric(rows[column], errors="coerce").to_numpy(dtype=float) < least
    bad |= ~rows["status"].isin(STATUSES).to_numpy()
    seconds = pd.to_numeric(rows["seconds"], errors="coerce").to_numpy(dtype=float)
    ok = (rows["status"] == OK).to_numpy()
    bad |= ok & ~(np.isfinite(seconds) & (seconds > 0))
    # Each row against its file's first: what is one job's must not vary.
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    first_of_row = np.repeat(starts, np.diff(np.r_[starts, len(owner)]))
    varying = np.zeros(len(rows), dtype=bool)
    for name in CONSTANT:
        if name in rows:
            values = rows[name].to_numpy()
            varying |= values != values[first_of_row]
    if {"engine", "variant", "target"} <= set(rows):  # the first row speaks for its file
        first = rows.iloc[starts]
        said = [named_series(*cells) for cells in zip(first["engine"], first["variant"],
                                                        first["target"])]
        varying[starts] |= np.array(said, dtype=object) != first["series"].to_numpy()
    mixed = pd.Series(varying).groupby(owner).any()
    frame = rows.assign(_file=owner)
    repeats = pd.to_numeric(frame["repeat"], errors="coerce")
    in_order = repeats.to_numpy() == frame.groupby("_file").cumcount().to_numpy()
    disorder = pd.Series(~in_order).groupby(owner).any()
    short = short_files(rows, owner)
    return np.unique(np.concatenate([owner[bad], mixed[mixed].index.to_numpy(),
                                     disorder[disorder].index.to_numpy(), short]))


def short_files(rows: pd.DataFrame, owner: np.ndarray) -> np.ndarray:
    """Indices of files with fewer timed repeats than their stop reason says, or a
    failure's stop reason without its row (a superset of `validate`'s
    `_too_few_for_its_stop`, each checked alone)."""
    if "stop_reason" not in rows or "max_repeats" not in rows or "min_repeats" not in rows:
        return np.array([], dtype=int)
    frame = pd.DataFrame({
        "file": owner, "timed": (rows["seconds"] != "").to_numpy(),
        "reason": rows["stop_reason"].to_numpy(),
        "most": pd.to_numeric(rows["max_repeats"], errors="coerce").to_numpy(),
        "least": pd.to_numeric(rows["min_repeats"], errors="coerce").to_numpy(),
        "said": (rows["status"] == rows["stop_reason"]).to_numpy()})
    files = frame.groupby("file").agg(timed=("timed", "sum"), reason=("reason", "first"),
                                      most=("most", "first"), least=("least", "first"),
                                      said=("said", "any"))
    short = (((files["reason"] == "max_repeats") & (files["timed"] < files["most"]))
             | ((files["reason"] == "ci_target") & (files["timed"] < files["least"]))
             | (files["reason"].isin(FAILURES) & ~files["said"]))
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
