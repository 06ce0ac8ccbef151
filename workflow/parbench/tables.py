"""Writing the CSV files the layers exchange (schemas: results/README.md).

A timing job writes its rows without pandas (`write_rows_atomically`): importing
pandas cost each job about 0.17 s that was not measurement. Its CSV is byte for
byte what pandas would write (a test compares them).
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def _umask() -> int:
    """The process's umask, read without changing it: set to 0 for a moment (the only
    other way to read it), files another thread made meanwhile were writable by all,
    and a signal raising between the two calls left it at 0."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o077)  # no /proc (or a kernel before 4.7): briefly private, not open
    os.umask(mask)
    return mask


def write_csv_atomically(rows: pd.DataFrame, output: str | Path) -> None:
    """Write to a temporary file beside `output`, then rename: no half-written CSVs."""
    _write_atomically(lambda stream: rows.to_csv(stream, index=False), output)


def write_text_atomically(text: str, output: str | Path) -> None:
    _write_atomically(lambda stream: stream.write(text), output)


def write_rows_atomically(rows: Sequence[Mapping[str, Any]], output: str | Path) -> None:
    """`rows` (dicts; columns in order of first appearance) as pandas would write
    `pd.DataFrame(rows)`, atomically as `write_csv_atomically`."""
    columns = list(dict.fromkeys(name for row in rows for name in row))
    cells = {name: [row.get(name) for row in rows] for name in columns}
    formatted = {name: _format_column(values) for name, values in cells.items()}

    def write(stream: IO[str]) -> None:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*(formatted[name] for name in columns)))

    _write_atomically(write, output)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _format_column(values: list[Any]) -> list[str]:
    """One column's cells as pandas writes them: whole numbers beside a missing value
    or a fraction become floats (`3.0`), missing values are empty."""
    present = [value for value in values if not _missing(value)]
    is_bool = [isinstance(value, (bool, np.bool_)) for value in present]
    is_int = [isinstance(value, (int, np.integer)) and not flag
              for value, flag in zip(present, is_bool)]
    is_float = [isinstance(value, (float, np.floating)) for value in present]
    numeric = present and all(i or f for i, f in zip(is_int, is_float))
    as_float = numeric and (len(present) < len(values) or any(is_float))
    cells = []
    for value in values:
        if _missing(value):
            cells.append("")
        elif as_float:
            cells.append(repr(float(value)))
        elif isinstance(value, (bool, np.bool_)):
            cells.append(str(bool(value)))
        elif isinstance(value, (float, np.floating)):
            cells.append(repr(float(value)))
        else:
            cells.append(str(value))
    return cells


def _write_atomically(write: Callable[[IO[str]], None], output: str | Path) -> None:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            write(stream)
        # mkstemp makes the file private (0600); a result is as readable as any file.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
