"""Median time per map against size, log-log, with CI bands and the crossover."""

from __future__ import annotations

import pandas as pd

from parbench.figures import panels
from parbench.figures.style import DEFAULT_WIDTH, markers, palette, parallel_rows


def replicates_of(cell: pd.DataFrame) -> dict:
    """Per series, the fewest replicates a combination of it ran (a failed one's 0 left
    out: it says nothing of the others)."""
    if "replicates" not in cell:
        return {}
    ran = cell[cell["replicates"] > 0]
    return ran.groupby("series")["replicates"].min().to_dict()


def draw(summary: pd.DataFrame, crossover: pd.DataFrame, workload: str,
         width: float = DEFAULT_WIDTH):
    """Median time per map vs size, log-log, CI bands, crossover with its interval."""
    data = summary[summary["workload"] == workload]
    styles = palette(data), markers(data)
    several = parallel_rows(data)["workers"].nunique() > 1
    unit = data["size_unit"].iloc[0]
    warm = crossover[(crossover["workload"] == workload) & (crossover["time_basis"] == "warm")]
    top_workers = data["workers"].max()

    def draw_panel(ax, cell, kernel, task_count):
        panels.lines(ax, cell, "median_seconds", styles, several, band=("ci_low", "ci_high"))
        panels.mark_crossover(ax, warm[(warm["kernel"] == kernel) & (warm["tasks"] == task_count)
                                 & (warm["workers"] == top_workers)], unit,
                        (cell["size"].min(), cell["size"].max()), styles[0],
                        replicates_of(cell))
        panels.log_axes(ax, unit, "median time per map (s)", cell["size"], cell["median_seconds"],
                  "no successful run")

    return panels.size_figure(data, width, draw_panel,
                        f"{workload}: time to run all tasks (bands: 95 % CI; start-up excluded)"
                        f"{panels.failure_note(data)}")

