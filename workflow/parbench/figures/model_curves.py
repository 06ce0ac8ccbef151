"""The cost model's curves beside the measured ones: per workload, on its curve with the
most measurements, each series' measured warm medians (points) and the model's
prediction at the same sizes (a faint line of the same colour), log-log. Where a line
leaves its points, the model misses; the workloads it never saw are marked held out.

An overview figure, not a layer on each workload's scaling figure: the model is fitted
on the whole sweep, so its curves on a workload's figure would redraw every workload's
figures after any workload's new jobs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from parbench.figures import panels
from parbench.figures.model import no_predictions, predicted
from parbench.figures.style import DEFAULT_WIDTH, markers, ordered_series, palette

CURVE = ["workload", "kernel", "tasks", "workers"]
COLUMNS = 2


def curves(predictions: pd.DataFrame) -> list[pd.DataFrame]:
    """Per workload, the rows of its curve with the most predicted measurements (ties:
    the first in the table's order), workloads in the table's order."""
    return [max((curve for _, curve in rows.groupby(CURVE[1:], sort=False)), key=len)
            for _, rows in predictions.groupby("workload", sort=False)]


def draw(summary: pd.DataFrame, crossover: pd.DataFrame | None = None,
         workload: str | None = None, width: float = DEFAULT_WIDTH,
         predictions: pd.DataFrame | None = None):
    rows = predicted(predictions)
    if rows.empty:
        return no_predictions(width, "The cost model's curves")
    colours, marks = palette(rows), markers(rows)
    found = curves(rows)
    figure, axes = panels.grid(math.ceil(len(found) / COLUMNS), min(COLUMNS, len(found)),
                               width, aspect=0.8)
    for ax, curve in zip(np.ravel(axes), found):
        for series in ordered_series(curve):
            points = curve[curve["series"] == series].sort_values("size")
            # A dash at each prediction: a curve of one size still shows where it is.
            ax.plot(points["size"], points["predicted_seconds"], color=colours[series],
                    alpha=0.45, linewidth=2.0, linestyle="--", marker="_", markersize=14,
                    markeredgewidth=2.0)
            ax.scatter(points["size"], points["measured_seconds"], s=22,
                       marker=marks[series], color=colours[series], label=series, zorder=3)
        first = curve.iloc[0]
        held = " (held out)" if bool(first["held_out"]) else ""
        ax.set_title(f"{first['workload']} {first['kernel']}{held}, "
                     f"{int(first['tasks'])} tasks × {int(first['workers'])} workers",
                     fontsize="small")
        units = summary.loc[summary["workload"] == first["workload"], "size_unit"] \
            if "size_unit" in summary else pd.Series(dtype=str)
        # As the scaling figures: a size of 0 (imbalanced's equal tasks) on a symlog axis.
        panels.log_axes(ax, units.iloc[0] if len(units) else "", "warm time of one map (s)",
                        curve["size"])
        ax.grid(True, alpha=0.3)
    for ax in np.ravel(axes)[len(found):]:
        ax.set_axis_off()
    panels.legend(figure, axes)
    figure.suptitle("The cost model's curves (faint dashes) beside the measured medians "
                    "(points)")
    return figure
