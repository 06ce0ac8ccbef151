"""Writing the CSV files the layers exchange (schemas: results/README.md)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv_atomically(rows: pd.DataFrame, output: str | Path) -> None:
    """Write to a temporary file beside `output`, then rename: no half-written CSVs."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as stream:
            rows.to_csv(stream, index=False)
        # mkstemp makes the file private (0600); a result is as readable as any file.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, output)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
