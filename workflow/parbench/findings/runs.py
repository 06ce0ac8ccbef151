"""The committed runs the docs are generated from (docs/data/<run>): where they are,
which one each page leads with, and their tables read back."""

from __future__ import annotations

from pathlib import Path

from parbench.migrations import read_table

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "docs/data"
# The run the README leads with: the reference (dense, slow, the method of today),
# else the first committed one.
HEADLINE_RUNS = ("reference", "2cpu")
# The run of threads on a free-threaded CPython beside Pool and Ray (its sentence
# follows the headline's figure).
FREE_THREADING_RUN = "freethreaded"
# The run of a size grid per regime (config/regimes.yaml): the README's regime table.
REGIMES_RUN = "regimes"


def tables_of(run: str):
    folder = DATA / run
    return (read_table(folder / "summary.csv"), read_table(folder / "crossover.csv"),
            read_table(folder / "machines.csv"))


def model_of(run: str):
    path = DATA / run / "model.csv"
    return read_table(path) if path.is_file() else None
