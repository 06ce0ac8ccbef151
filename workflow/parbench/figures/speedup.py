"""Speedup over the serial loop against size, with CI bands and the ideal."""

from __future__ import annotations

import pandas as pd

from parbench.figures import panels
from parbench.figures.style import DEFAULT_WIDTH, markers, palette, parallel_rows
from parbench.identity import SERIAL


def draw(summary: pd.DataFrame, crossover: pd.DataFrame, workload: str,
         width: float = DEFAULT_WIDTH):
    """Speedup over the serial loop vs size, with CI bands and the ideal (= workers)."""
    workload_rows = summary[summary["workload"] == workload]
    data = workload_rows[workload_rows["series"] != SERIAL]
    styles = palette(data), markers(data)
    several = parallel_rows(data)["workers"].nunique() > 1

    def draw_panel(ax, cell, kernel, task_count):
        cell = cell[cell["series"] != SERIAL]
        panels.lines(ax, cell, "speedup", styles, several,
                     band=("speedup_ci_low", "speedup_ci_high"))
        for workers in sorted(parallel_rows(cell)["workers"].unique()):
            ax.axhline(workers, color="0.5", linewidth=0.8, linestyle=panels.IDEAL)
        ax.axhline(1, color="0.2", linewidth=0.8)
        serial = workload_rows[workload_rows["series"] == SERIAL]
        nothing = ("no serial baseline: the design runs no `serial` series" if serial.empty
                   else "no serial baseline: the serial loop failed"
                   if not (serial["repeats"] > 0).any()
                   else "no parallel series: the design runs only the serial loop"
                   if data.empty else "no successful parallel run")
        panels.log_axes(ax, workload_rows["size_unit"].iloc[0], "speedup over serial (×)",
                  cell["size"], cell["speedup"], nothing)

    return panels.size_figure(workload_rows, width, draw_panel,
                        f"{workload}: speedup over the serial loop (grey dots: ideal = workers)"
                        f"{panels.failure_note(workload_rows)}")

