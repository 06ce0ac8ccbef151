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
    quantities = [("startup_seconds", "start-up (s)"),
                  ("overhead_per_task_seconds", "dispatch per empty task (s)"),
                  ("teardown_seconds", "teardown (s)")]
    # One row per series, so that every name stays readable however many there are.
    figure, axes = panels.grid(1, len(quantities), width, aspect=0.35 + 0.09 * len(backends))
    for column, (value, label) in enumerate(quantities):
        ax = axes[0][column]
        for position, backend in enumerate(backends):
            values = data.loc[data["series"] == backend, value].dropna()
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

