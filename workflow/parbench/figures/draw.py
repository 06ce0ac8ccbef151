"""The aggregates -> every figure of a scope, as the registry lists them: the rules'
and `parbench plot`'s one way in. Reads summary.csv and crossover.csv, nothing else."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from parbench.backends import LOCAL
from parbench.figures import panels, saving
from parbench.figures.registry import FIGURES, TARGET, WORKLOAD, Figure, of_scope
from parbench.figures.style import DEFAULT_WIDTH
from parbench.forked import forked_map
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
        written += saving.save(figure_of(figure, summary, crossover, workload, target, width,
                                         tables), stems[figure.name])
    return written


@dataclass(frozen=True)
class ScopeToDraw:
    """One call of `draw_scope`: a scope's figures for one workload and target."""

    scope: str
    stems: Mapping[str, str | Path]
    workload: str | None = None
    target: str = LOCAL


def draw_scopes(scopes: Sequence[ScopeToDraw], summary: pd.DataFrame,
                crossover: pd.DataFrame, width: float = DEFAULT_WIDTH,
                tables: Mapping[str, pd.DataFrame] | None = None) -> list[Path]:
    """`draw_scope` of each of `scopes`, on as many cores as there are scopes and cores
    (parbench.forked; a workload's figures, the costliest, first), as the workflow's
    plotting jobs run side by side. Drawing is matplotlib's Python: processes, not
    threads."""
    def draw(one: ScopeToDraw) -> list[Path]:
        return draw_scope(one.scope, summary, crossover, one.stems, one.workload,
                          one.target, width, tables)

    drawn = forked_map(draw, scopes, first=lambda one: one.scope == WORKLOAD)
    return [path for paths in drawn for path in paths]


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
