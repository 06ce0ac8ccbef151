"""The article's table re-measured: warm and cold time per series, with intervals."""

from __future__ import annotations

import pandas as pd
from matplotlib.lines import Line2D

from parbench.figures import panels
from parbench.figures.style import DEFAULT_WIDTH, markers, ordered_series, palette

# The article's setting (shared/SEED.md): 10 tasks of 1e7 iterations.
ARTICLE_TASKS = 10

def draw(summary: pd.DataFrame, crossover: pd.DataFrame | None = None,
         workload: str | None = None, width: float = DEFAULT_WIDTH):
    """The article's table re-measured: exp_sinh, its largest size, 10 tasks, with intervals."""
    data, note = panels.drawable(summary[summary["workload"] == "exp_sinh"])
    figure, axes = panels.grid(1, 1, width, aspect=0.5)
    ax = axes[0][0]
    if data.empty:
        ax.text(0.5, 0.5, "exp_sinh is not in this sweep: run config/article.yaml",
                ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return figure
    tasks = ARTICLE_TASKS if ARTICLE_TASKS in set(data["tasks"]) else data["tasks"].max()
    data = data[data["tasks"] == tasks]
    size = data["size"].max()
    data, top = panels.at_top_workers(data[data["size"] == size])
    colours, marks = palette(data), markers(data)
    rows = [(kernel, backend) for kernel in sorted(data["kernel"].unique(), reverse=True)
            for backend in ordered_series(data)
            if not data[(data["kernel"] == kernel) & (data["series"] == backend)].empty]
    for position, (kernel, backend) in enumerate(rows):
        row = data[(data["kernel"] == kernel) & (data["series"] == backend)].iloc[0]
        colour, marker = colours[backend], marks[backend]
        # Points on a log axis (a bar's length would depend on where the axis starts):
        # filled = warm median with its CI, hollow = cold, joined by what start-up adds.
        ax.plot([row["median_seconds"], row["cold_seconds"]], [position, position],
                color=colour, alpha=0.4, linewidth=1.5)
        ax.errorbar(row["median_seconds"], position, capsize=2, color=colour, marker=marker,
                    markersize=5, xerr=[[row["median_seconds"] - row["ci_low"]],
                                        [row["ci_high"] - row["median_seconds"]]])
        ax.plot(row["cold_seconds"], position, marker=marker, markersize=5, color=colour,
                markerfacecolor="white")
        ax.text(max(row["cold_seconds"], row["median_seconds"]) * 1.4, position,
                f"{row['median_seconds']:.3g} s [{row['ci_low']:.3g}, {row['ci_high']:.3g}]"
                f"   cold {row['cold_seconds']:.3g} s   ×{row['speedup']:.2f}",
                va="center", fontsize=6, clip_on=True)  # never past the panel
    ax.set_yticks(range(len(rows)), [f"{backend} ({kernel})" for kernel, backend in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xscale("log")
    longest = data[["cold_seconds", "median_seconds"]].max().max()
    shortest = data[["ci_low", "median_seconds"]].min().min()
    ax.set_xlim(shortest / 2, longest * 200)  # room for the labels
    ax.set_xlabel("time for all tasks (s): filled = warm median [95 % CI], hollow = cold")
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(handles=[Line2D([], [], color="0.3", marker="o", linestyle="",
                              label="warm: steady-state map [95 % CI]"),
                       Line2D([], [], color="0.3", marker="o", markerfacecolor="white",
                              linestyle="", label="cold: start-up + first map")],
              loc="upper right", frameon=False, fontsize=6)
    ax.set_title(f"exp_sinh, {size:.0e} iterations per task, {tasks} tasks, {top} workers "
                 f"(the article: 1e7 × 10; ×: speedup over serial){note}")
    return figure

