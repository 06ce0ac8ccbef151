"""Speedup and efficiency against worker count, with the ideal lines."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from parbench.figures import panels
from parbench.figures.style import (
    DEFAULT_WIDTH,
    NOT_MEASURED,
    format_size,
    markers,
    ordered_series,
    palette,
    parallel_rows,
)


def swept_problem(rows: pd.DataFrame) -> tuple[int, int]:
    """The (size, tasks) measured at the most worker counts; ties go to the largest size,
    then the most tasks. A design may sweep workers on one problem only (config/16cpu/)."""
    counts = rows.groupby(["size", "tasks"])["workers"].nunique().reset_index()
    best = counts.sort_values(["workers", "size", "tasks"]).iloc[-1]
    return int(best["size"]), int(best["tasks"])


def draw(summary: pd.DataFrame, crossover: pd.DataFrame, workload: str,
         width: float = DEFAULT_WIDTH):
    """Speedup and efficiency vs workers, with the ideal line, on the problem swept over
    the most worker counts (see `swept_problem`)."""
    data = parallel_rows(summary[summary["workload"] == workload])
    if data.empty:
        return panels.message_figure(width, "no parallel series: the design runs only the serial "
                               "loop", f"{workload}: scaling with workers")
    note = panels.failure_note(data)
    colours, marks = palette(data), markers(data)
    kernels = sorted(data["kernel"].unique())
    figure, axes = panels.grid(2, len(kernels), width, aspect=0.7)
    for column, kernel in enumerate(kernels):
        size, tasks = swept_problem(data[data["kernel"] == kernel])
        cell = data[(data["kernel"] == kernel) & (data["size"] == size)
                    & (data["tasks"] == tasks)]
        workers = sorted(cell["workers"].unique())
        for row, (value, ideal) in enumerate(
            [("speedup", np.array(workers, float)), ("efficiency", np.ones(len(workers)))]
        ):
            ax = axes[row][column]
            ax.plot(workers, ideal, color="0.5", linestyle=panels.IDEAL, linewidth=0.8, marker="_",
                    markersize=12, label="ideal")  # the marker shows it at one worker count
            for backend in ordered_series(cell):
                line = cell[(cell["series"] == backend)
                            & ~cell["status"].isin(list(NOT_MEASURED))]
                line = line.sort_values("workers")
                errors = np.vstack([line[value] - line[f"{value}_ci_low"],
                                    line[f"{value}_ci_high"] - line[value]])
                ax.errorbar(line["workers"], line[value], yerr=np.clip(errors, 0, None),
                            color=colours[backend], marker=marks[backend],
                            markersize=4, capsize=2, label=backend)
            # Log-log for speedup: the ideal is a diagonal, and a backend far below
            # 1× (shipping data costs more than the work) stays readable.
            ax.set_xscale("log", base=2)
            if value == "speedup":
                ax.set_yscale("log", base=2)
                ax.yaxis.set_major_formatter(FuncFormatter(lambda tick, _: f"{tick:g}"))
            ax.set_xticks(workers, [str(count) for count in workers])
            ax.minorticks_off()
            ax.set_xlabel("workers (processes or threads)")
            ax.set_ylabel("speedup over serial (×)" if value == "speedup"
                          else "efficiency (speedup / workers)")
            ax.set_title(f"{kernel} kernel, size {format_size(size, cell['size_unit'].iloc[0])}"
                         f", {tasks} tasks")
            ax.grid(True, alpha=0.3)
            if len(workers) == 1:
                ax.text(0.5, 0.5, "one worker count measured:\nsweep `workers` to see scaling",
                        transform=ax.transAxes, ha="center", fontsize=6, color="0.4")
    panels.legend(figure, axes)
    figure.suptitle(f"{workload}: scaling with workers (bars: 95 % CI){note}")
    return figure

