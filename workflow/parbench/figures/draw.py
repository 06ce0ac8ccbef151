"""The aggregates -> every figure of a scope, as the registry lists them: the rules'
and `parbench plot`'s one way in. Reads summary.csv and crossover.csv, nothing else."""

from __future__ import annotations

import importlib
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from parbench.backends import LOCAL
from parbench.figures import panels
from parbench.figures.registry import FIGURES, TARGET, WORKLOAD, Figure, of_scope
from parbench.figures.style import DEFAULT_WIDTH
from parbench.machine import available_cores
from parbench.migrations import read_table


def figure_of(figure: Figure | str, summary: pd.DataFrame, crossover: pd.DataFrame,
              workload: str | None = None, target: str = LOCAL,
              width: float = DEFAULT_WIDTH, tables: Mapping[str, pd.DataFrame] | None = None):
    """One registered figure, drawn from the rows of one target (figures never mix a
    cluster's times, connect rather than start-up, with the local machine's);
    `tables`: the other tables figures read (`Figure.reads`)."""
    figure = FIGURES[figure] if isinstance(figure, str) else figure
    module = importlib.import_module(figure.module)
    rows = panels.target_rows(summary, target)
    extra = {name: (tables or {}).get(name) for name in figure.reads}
    if figure.scope == TARGET:
        return module.draw(rows, crossover, workload, width, target=target, **extra)
    return module.draw(rows, crossover, workload, width, **extra)


def draw_scope(scope: str, summary: pd.DataFrame, crossover: pd.DataFrame,
               stems: Mapping[str, str | Path], workload: str | None = None,
               target: str = LOCAL, width: float = DEFAULT_WIDTH,
               tables: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """Every figure of `scope`, each saved as PNG and PDF at its stem (`stems`: name ->
    path without extension)."""
    written = []
    for figure in of_scope(scope):
        written += panels.save(figure_of(figure, summary, crossover, workload, target, width,
                                         tables), stems[figure.name])
    return written


@dataclass(frozen=True)
class ScopeToDraw:
    """One call of `draw_scope`: a scope's figures for one workload and target."""

    scope: str
    stems: Mapping[str, str | Path]
    workload: str | None = None
    target: str = LOCAL


# What the forked processes of draw_scopes draw from (a fork inherits them: nothing
# is pickled on the way there).
_DRAWING: dict = {}


def _draw_forked(position: int) -> list[Path]:
    one = _DRAWING["scopes"][position]
    return draw_scope(one.scope, _DRAWING["summary"], _DRAWING["crossover"], one.stems,
                      one.workload, one.target, _DRAWING["width"], _DRAWING["tables"])


def draw_scopes(scopes: Sequence[ScopeToDraw], summary: pd.DataFrame,
                crossover: pd.DataFrame, width: float = DEFAULT_WIDTH,
                tables: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """`draw_scope` of each of `scopes`, on as many cores as there are scopes and cores
    (`parbench plot`: the workflow's plotting jobs run side by side the same way).
    Drawing is all in matplotlib's Python: one process per scope, not threads."""
    global _DRAWING
    processes = min(len(scopes), available_cores())
    # Forking is safe from a single-threaded process only (another thread may hold a
    # lock the child needs).
    if processes < 2 or threading.active_count() > 1:
        return [path for one in scopes for path in draw_scope(
            one.scope, summary, crossover, one.stems, one.workload, one.target, width,
            tables)]
    _DRAWING = {"scopes": list(scopes), "summary": summary, "crossover": crossover,
                "width": width, "tables": tables}
    try:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")
                                 ) as pool:
            # The costliest first (a workload's four figures), so the cores end together.
            order = sorted(range(len(scopes)), key=lambda i: scopes[i].scope != WORKLOAD)
            drawn = dict(zip(order, pool.map(_draw_forked, order)))
    finally:
        _DRAWING = {}
    return [path for position in range(len(scopes)) for path in drawn[position]]


def plot_files(scope: str, summary_csv: str | Path, crossover_csv: str | Path | None,
               stems: Mapping[str, str | Path], workload: str | None = None,
               target: str = LOCAL, width: float = DEFAULT_WIDTH,
               tables: Mapping[str, str | Path] | None = None) -> list[Path]:
    """`draw_scope` from the aggregate files (the plotting rules)."""
    summary = read_table(summary_csv)
    crossover = read_table(crossover_csv) if crossover_csv else pd.DataFrame(
        columns=["workload", "challenger", "baseline", "time_basis"])
    others = {name: read_table(path) for name, path in (tables or {}).items()}
    return draw_scope(scope, summary, crossover, stems, workload, target, width, others)


def stems_under(folder: Path, scope: str, workload: str | None = None,
                target: str | None = None) -> dict[str, Path]:
    """Where `parbench plot` puts a scope's figures under `folder` (as the workflow does
    under results/figures)."""
    return {figure.name: folder / figure.stem.format(workload=workload, target=target)
            for figure in of_scope(scope)}
