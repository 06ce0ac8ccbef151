"""The cost model against the measurements: predicted against measured warm time per
combination, log-log, on the identity line where the model is right; the combinations
of workloads it was not fitted on (held out) marked apart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from parbench.figures import panels
from parbench.figures.style import DEFAULT_WIDTH, markers, ordered_series, palette
from parbench.identity import SERIAL


def predicted(predictions: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of predictions.csv the model gave a time for (finite, positive), but
    the serial loop's: its work is the reference the model is given, not a prediction
    of it (as parbench.model.check counts them)."""
    rows = predictions if predictions is not None else pd.DataFrame()
    if rows.empty:
        return rows
    return rows[np.isfinite(rows["predicted_seconds"]) & (rows["predicted_seconds"] > 0)
                & (rows["series"] != SERIAL)]


def no_predictions(width: float, title: str):
    return panels.message_figure(width, "no predictions: the model has no series fitted "
                                 "(results/model.csv); it needs the serial loop's times "
                                 "on the workloads it fits", title)


def draw(summary: pd.DataFrame, crossover: pd.DataFrame | None = None,
         workload: str | None = None, width: float = DEFAULT_WIDTH,
         predictions: pd.DataFrame | None = None):
    rows = predicted(predictions)
    if rows.empty:
        return no_predictions(width, "The cost model")
    colours, marks = palette(rows), markers(rows)
    figure, axes = panels.grid(1, 1, width, aspect=0.8)
    ax = axes[0][0]
    for series in ordered_series(rows):
        for held_out, points in rows[rows["series"] == series].groupby("held_out"):
            ax.scatter(points["measured_seconds"], points["predicted_seconds"], s=24,
                       marker=marks[series], edgecolors=colours[series], linewidths=1.2,
                       facecolors="white" if held_out else colours[series],
                       label=series if not held_out else None, zorder=3)
    low = min(rows["measured_seconds"].min(), rows["predicted_seconds"].min()) / 1.5
    high = max(rows["measured_seconds"].max(), rows["predicted_seconds"].max()) * 1.5
    ax.plot([low, high], [low, high], color="0.3", linewidth=0.8, label="identity")
    for factor in (0.8, 1.2):  # |predicted / measured − 1| = 20 %, as the note counts
        ax.plot([low, high], [low * factor, high * factor], color="0.6", linewidth=0.6,
                linestyle=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_xlabel("measured warm time of one map (s)")
    ax.set_ylabel("predicted by the cost model (s)")
    ax.grid(True, alpha=0.3)
    held = rows[rows["held_out"].astype(bool)]
    errors = (held["predicted_seconds"] / held["measured_seconds"] - 1).abs()
    note = (f"held out (hollow): {len(held)} combinations, median |error| "
            f"{errors.median():.0%}, worst {errors.max():.0%}" if len(held)
            else "no held-out combination")
    panels.legend(figure, axes)
    figure.suptitle(f"The cost model: predicted against measured (dotted: ±20 %)\n{note}")
    return figure
