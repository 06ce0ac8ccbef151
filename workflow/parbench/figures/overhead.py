"""Start-up, dispatch per task and teardown per series: the fixed costs."""

from __future__ import annotations

import pandas as pd

from parbench.figures import panels
from parbench.figures.style import (
    DEFAULT_WIDTH,
    markers,
    ordered_series,
    palette,
    parallel_rows,
)


def draw(summary: pd.DataFrame, crossover: pd.DataFrame | None = None,
         workload: str | None = None, width: float = DEFAULT_WIDTH):
    """Start-up, per-task dispatch and teardown per backend: what explains a crossover."""
    data, note = panels.drawable(parallel_rows(summary))
    colours, marks = palette(data), markers(data)
    backends = ordered_series(data)
    # An empty map's time per task falls with the task count (its fixed cost is shared
    # out): compared at one count, the one most series ran, or the whiskers would show
    # the design. The dispatch of one more task is the model's slope (docs/model.md).
    tasks = _shared_task_count(data)
    per_task = "empty map ÷ its tasks (s)" if tasks is None \
        else f"empty map ÷ its {tasks} tasks (s)"
    quantities = [("startup_seconds", "start-up (s)", data),
                  ("overhead_per_task_seconds", per_task, data[data["tasks"] == tasks]),
                  ("teardown_seconds", "teardown (s)", data)]
    # One row per series, so that every name stays readable however many there are.
    figure, axes = panels.grid(1, len(quantities), width, aspect=0.35 + 0.09 * len(backends))
    for column, (value, label, rows) in enumerate(quantities):
        ax = axes[0][column]
        for position, backend in enumerate(backends):
            values = rows.loc[rows["series"] == backend, value].dropna()
            values = values[values > 0]
            if values.empty:
                continue
            median = values.median()
            # A point with whiskers: on a log axis a bar's length would mean nothing.
            ax.errorbar(median, position, xerr=[[median - values.min()], [values.max() - median]],
                        color=colours[backend], marker=marks[backend], markersize=5,
                        capsize=2, label=backend)
            ax.annotate(f"{median:.2g}", (values.max(), position), xytext=(4, 0), fontsize=6,
                        textcoords="offset points", va="center")
        ax.set_xscale("log")
        ax.set_ylim(len(backends) - 0.5, -0.5)
        ax.set_yticks(range(len(backends)), backends if column == 0 else [])
        ax.set_xlabel(label)
        ax.margins(x=0.25)
        ax.grid(True, axis="x", alpha=0.3)
    figure.suptitle("Fixed costs per backend (points: median over all jobs; whiskers: min–max)"
                    f"{note}")
    return figure


def _shared_task_count(data: pd.DataFrame) -> int | None:
    """The task count the most series ran (the largest of those tied); None: no rows."""
    if data.empty:
        return None
    series_at = data.groupby("tasks")["series"].nunique()
    return int(series_at[series_at == series_at.max()].index.max())
