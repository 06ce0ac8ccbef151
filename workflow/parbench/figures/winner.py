"""The fastest series per cell, shaded by its margin; crossovers as boundaries."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from parbench.crossover import FOUND, NONE_IN_RANGE, START_WITHIN_NOISE
from parbench.figures import panels
from parbench.figures.style import (
    DEFAULT_WIDTH,
    NOT_MEASURED,
    format_size,
    ordered_series,
    palette,
    parallel_rows,
)
from parbench.stats import compare, compared_by

# A cell where some of its row's series did not run (a refined size: only the compared
# pair measured there) ranks too few to name the fastest: grey, unranked.
PARTIAL_CELL, PARTIAL_LABEL = "0.9", "not every series ran here: unranked"


def _complete_cells(planned: pd.DataFrame, rows: str) -> set[tuple[float, float]]:
    """The (size, row level) cells where every series its row ran, in any status, has a
    row: the only cells whose fastest series is the fastest of the panel's series."""
    wanted = planned.groupby(rows)["series"].agg(set)
    present = planned.groupby(["size", rows])["series"].agg(set)
    return {(size, level) for (size, level), series in present.items()
            if series >= wanted[level]}


def _winner_panel(ax, planned: pd.DataFrame, colours, unit: str, rows: str = "tasks",
                  row_label: str = "tasks") -> list[float]:
    """A map of the fastest series per (size, `rows`) cell, shaded by its margin, of the
    `planned` rows (every status: a failed series still counts as run). Sizes where no
    cell is complete are left out, and a partial cell is grey. Returns the sizes drawn."""
    # A row of no known level (an invalid file's: its identity alone) is on no row.
    planned = planned[planned[rows].notna() & planned["size"].notna()]
    complete = _complete_cells(planned, rows)
    sizes = sorted({size for size, _ in complete})
    levels = sorted(planned[rows].unique())
    cell = planned[~planned["status"].isin(list(NOT_MEASURED))]
    for y, level in enumerate(levels):
        for x, size in enumerate(sizes):
            if (size, level) not in complete:
                ax.add_patch(plt.Rectangle((x, y), 1, 1, color=PARTIAL_CELL, linewidth=0,
                                           label=PARTIAL_LABEL))
                continue
            ranked = cell[(cell["size"] == size) & (cell[rows] == level)]
            ranked = ranked.sort_values("median_seconds")
            if ranked.empty:
                continue
            best = ranked.iloc[0]
            runner_up = ranked.iloc[1] if len(ranked) > 1 else None
            margin = runner_up["median_seconds"] / best["median_seconds"] if runner_up is not None \
                else np.inf
            # Clear only where told faster (a runner-up the test puts ahead is no clearer).
            clear = runner_up is None or compare(best, runner_up) == -1
            # Shade: a margin of 2x or more is full colour, a near-tie is pale.
            alpha = 0.25 + 0.75 * min(1.0, np.log2(max(margin, 1.0))) if clear else 0.15
            ax.add_patch(plt.Rectangle((x, y), 1, 1, color=colours[best["series"]],
                                       alpha=alpha, linewidth=0))
            if not clear:
                ax.add_patch(plt.Rectangle((x, y), 1, 1, fill=False, hatch="///",
                                           edgecolor="0.5", linewidth=0))
            label = f"{best['series']}\n×{margin:.2g}" if clear else "no clear\nwinner"
            ax.text(x + 0.5, y + 0.5, label, ha="center", va="center", fontsize=6)
    ax.set_xlim(0, len(sizes))
    ax.set_ylim(0, len(levels))
    ax.set_xticks(np.arange(len(sizes)) + 0.5, [format_size(s, unit) for s in sizes])
    ax.set_yticks(np.arange(len(levels)) + 0.5, [f"{level:g}" for level in levels])
    ax.set_xlabel(f"size ({unit})")
    ax.set_ylabel(row_label)
    return sizes


def _cell_position(size: float, sizes: list[float]) -> float:
    """Where `size` falls on a map whose cells are the grid's sizes (log-interpolated)."""
    if size <= sizes[0]:
        return 0.5
    for index in range(len(sizes) - 1):
        low, high = sizes[index], sizes[index + 1]
        if size <= high:
            return index + 0.5 + np.log(size / low) / np.log(high / low)
    return len(sizes) - 0.5


BOUNDARY_STYLES = ("-", "--", ":", "-.")
PAIR_MARKERS = (">", "s", "^", "D")


def _boundaries(ax, sizes: list[float], crossover: pd.DataFrame,
                kernel_of_level: dict) -> list:
    """On a size × compute map, where each compared challenger overtakes its baseline:
    at every compute level its crossover with its 95 % interval as a bar, joined level
    to level, in the pair's own line and marker; where none is found, the pair's marker
    at an edge: the right (filled) where the challenger does not overtake in range, the
    left where it is faster throughout, the right hollow where the run cannot say
    (not significant, no clear winner, a poor fit: crossover.csv says which)."""
    handles = []
    pairs = list(crossover[["challenger", "baseline"]].drop_duplicates().itertuples(index=False))
    for pair_index, (challenger, baseline) in enumerate(pairs):
        style = BOUNDARY_STYLES[pair_index % len(BOUNDARY_STYLES)]
        marker = PAIR_MARKERS[pair_index % len(PAIR_MARKERS)]
        # Each pair a little above or below the row's middle: two pairs' bars at one
        # level would hide each other (spread over the row, however many pairs).
        step = min(0.18, 0.8 / max(len(pairs), 1))
        middle = 0.5 + step * (pair_index - (len(pairs) - 1) / 2)
        # Side by side inside the edges, one column per pair.
        right, left = len(sizes) - 0.1 - 0.14 * pair_index, 0.1 + 0.14 * pair_index
        xs, ys = [], []
        for y, level in enumerate(sorted(kernel_of_level)):
            rows = crossover[(crossover["kernel"] == kernel_of_level[level])
                             & (crossover["challenger"] == challenger)
                             & (crossover["baseline"] == baseline)]
            if rows.empty or rows.iloc[0].get("sizes_compared") == 0:
                continue  # the pair did not both run at this level: nothing to mark
            row = rows.iloc[0]
            status = str(row["crossover_status"])
            if status == FOUND:
                x = _cell_position(row["crossover_size"], sizes)
                ends = [row.get(end, np.nan) for end in ("crossover_ci_low", "crossover_ci_high")]
                bar = None
                if all(pd.notna(end) for end in ends):
                    low, high = (_cell_position(end, sizes) for end in ends)
                    bar = [[max(x - low, 0)], [max(high - x, 0)]]
                ax.errorbar([x], [y + middle], xerr=bar, color="0.1", marker=marker,
                            markersize=4, capsize=2, elinewidth=0.8, linestyle="none",
                            zorder=4)
                xs.append(x)
                ys.append(y + middle)
            else:
                at_start = status.endswith("faster throughout") or status == START_WITHIN_NOISE
                # Hollow: not told at the smallest size, or undecided at the right edge.
                hollow = status == START_WITHIN_NOISE if at_start else status != NONE_IN_RANGE
                ax.scatter([left if at_start else right], [y + middle], marker=marker, s=16,
                           zorder=4, edgecolors="0.1", facecolors="white" if hollow else "0.1")
        handles.append(Line2D([], [], color="0.1", linestyle=style, marker=marker, markersize=4,
                              label=f"{challenger} overtakes {baseline}"))
        if len(xs) > 1:
            ax.plot(xs, ys, color="0.1", linestyle=style, linewidth=1)
    return handles


def draw(summary: pd.DataFrame, crossover: pd.DataFrame | None, workload: str,
         width: float = DEFAULT_WIDTH):
    """For each cell the fastest backend, shaded by its margin over the runner-up.

    Two maps: among every backend (the serial loop included), and among the parallel
    ones only (the Ray-vs-Pool question). Cells are size × task count, one pair of maps
    per kernel; for a workload whose kernels are levels of one quantity (image_filter:
    compute per byte), size × that level, with the compared pairs' crossovers drawn
    as boundaries.
    """
    everything = summary[summary["workload"] == workload]
    data, note = panels.drawable(everything)
    if data.empty:  # every combination failed or is unsupported: say so, draw nothing
        return panels.message_figure(width, "no successful run: no winner to show",
                               f"{workload}: fastest backend per cell{note}")
    data, top = panels.at_top_workers(data)
    # Every status at those workers: a series that failed at a size still ran there.
    planned, _ = panels.at_top_workers(everything, top)
    colours = palette(data)
    unit = data["size_unit"].iloc[0]
    levels = data["kernel_level"] if "kernel_level" in data else pd.Series(dtype=float)
    boundary_handles: list = []
    if len(levels) and levels.notna().all() and data["kernel"].nunique() > 1:
        tasks = data["tasks"].max()
        cell = planned[planned["tasks"] == tasks]
        known = cell[cell["kernel_level"].notna()]
        kernel_of_level = dict(zip(known["kernel_level"], known["kernel"]))
        figure, axes = panels.grid(2, 1, width, aspect=0.1 + 0.1 * len(kernel_of_level))
        row_label = "compute level (kernel)"
        _winner_panel(axes[0][0], cell, colours, unit, "kernel_level", row_label)
        axes[0][0].set_title(f"every backend ({top} workers, {tasks} tasks)")
        sizes = _winner_panel(axes[1][0], parallel_rows(cell), colours, unit,
                              "kernel_level", row_label)
        axes[1][0].set_title("parallel backends only\nmarks: where the challenger overtakes, "
                             "bars its 95 % interval (at the right edge: not in range, "
                             "hollow: undecided; at the left: faster throughout)")
        if crossover is not None:
            warm = crossover[(crossover["workload"] == workload) & (crossover["tasks"] == tasks)
                             & (crossover["workers"] == top)
                             & (crossover["time_basis"] == "warm")]
            boundary_handles = _boundaries(axes[1][0], sizes, warm, kernel_of_level)
    else:
        kernels = sorted(data["kernel"].unique())
        figure, axes = panels.grid(2 * len(kernels), 1, width, aspect=0.25)
        for row, kernel in enumerate(kernels):
            cell = planned[planned["kernel"] == kernel]
            _winner_panel(axes[2 * row][0], cell, colours, unit)
            axes[2 * row][0].set_title(f"{kernel} kernel, every backend ({top} workers)")
            _winner_panel(axes[2 * row + 1][0], parallel_rows(cell), colours, unit)
            axes[2 * row + 1][0].set_title(f"{kernel} kernel, parallel backends only")
    legend = [Patch(color=colours[b], label=b) for b in ordered_series(data)]
    legend.append(Patch(facecolor="white", edgecolor="0.5", hatch="///",
                        label=f"no clear winner (not told apart by "
                              f"{compared_by(data.get('replicates', []))})"))
    if any(patch.get_label() == PARTIAL_LABEL for ax in figure.axes for patch in ax.patches):
        legend.append(Patch(color=PARTIAL_CELL, label=PARTIAL_LABEL))
    handles = legend + boundary_handles
    panels.figure_legend(figure, handles, [handle.get_label() for handle in handles],
                         min(len(handles), 4))
    figure.suptitle(f"{workload}: fastest backend per cell (×: margin over the runner-up)"
                    f"{note}")
    return figure

