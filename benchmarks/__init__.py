"""Cross-checks of the harness against bare code and Ray's own harness (`make bench`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_with_provenance(table: pd.DataFrame, output: Path) -> None:
    """A `make bench` table with the machine's provenance columns, written to `output`
    (under results/bench/)."""
    from parbench import machine

    for column, value in machine.provenance(1).items():
        table[column] = value
    output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(output, index=False)
