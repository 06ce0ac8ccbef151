"""What the figures share: grids of panels, lines with their intervals and marks,
crossover labels, log axes and legends (parbench.figures.saving saves them)."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from parbench.backends import LOCAL, target_of  # noqa: E402
from parbench.crossover import FOUND, NOT_SIGNIFICANT  # noqa: E402
from parbench.figures.style import (  # noqa: E402
    FAILURE_COLOR,
    LOADED_COLOR,
    NOT_MEASURED,
    first_known,
    format_size,
    kernel_order,
    ordered_series,
    parallel_rows,
    series_label,
    single_process,
)


def grid(rows: int, columns: int, width: float, aspect: float = 0.75):
    panel_width = width / max(1, columns)
    return plt.subplots(
        rows, columns, figsize=(width, panel_width * aspect * rows + 0.9), squeeze=False,
        constrained_layout=True,
    )


def message_figure(width: float, message: str, title: str):
    """A figure that says what it cannot draw, instead of failing the sweep."""
    figure, axes = grid(1, 1, width, aspect=0.3)
    axes[0][0].set_axis_off()
    axes[0][0].text(0.5, 0.5, message, ha="center", va="center", color=FAILURE_COLOR,
                    transform=axes[0][0].transAxes)
    figure.suptitle(title)
    return figure


# Fewer workers than the panel's most: each count its own dash, the most solid.
FEWER_WORKERS = ("--", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)))
# The ideal speed-up (= workers): grey dots, which no series' line uses.
IDEAL = (0, (1, 2))


def lines(ax, cell: pd.DataFrame, value: str, styles, several_workers: bool,
           band: tuple[str, str] | None = None) -> None:
    """One line per backend (and worker count): CI band, hollow noisy points, failures.
    The cell's columns are read once as arrays and each line is an index into them:
    a 10,000-job sweep draws thousands of lines, and pandas per line cost seconds."""
    cell = cell.sort_values("size", kind="mergesort")
    size, values = cell["size"].to_numpy(), cell[value].to_numpy()
    bands = (cell[band[0]].to_numpy(), cell[band[1]].to_numpy()) if band else None
    status = cell["status"].to_numpy()
    measured = ~np.isin(status, list(NOT_MEASURED))
    # As pandas would group them: a point whose `noisy` is unknown (NaN, equal to
    # neither True nor False) is not drawn.
    noisy = cell["noisy"].to_numpy()
    loaded = (cell["loaded"].astype(bool).to_numpy() if "loaded" in cell
              else np.zeros(len(cell), dtype=bool))
    top_workers = cell["workers"].max()
    fewer = sorted(set(cell["workers"]) - {top_workers}, reverse=True)
    rank = {backend: position for position, backend in enumerate(ordered_series(cell))}
    groups = cell.groupby(["series", "workers"], sort=False).indices
    for (backend, workers), rows in sorted(groups.items(),
                                           key=lambda item: (rank[item[0][0]], item[0][1])):
        good = rows[measured[rows]]
        style = ("-" if workers == top_workers or single_process(backend)
                 else FEWER_WORKERS[fewer.index(workers) % len(FEWER_WORKERS)])
        colour, marker = styles[0][backend], styles[1][backend]
        # The marker is the legend's (the points drawn below cover the line's own).
        ax.plot(size[good], values[good], color=colour, linestyle=style, marker=marker,
                markersize=4, label=series_label(backend, workers, several_workers))
        if bands is not None and len(good):
            ax.fill_between(size[good], bands[0][good], bands[1][good], color=colour,
                            alpha=0.2, linewidth=0)
        for hollow in (False, True):
            points = good[noisy[good] == hollow]
            if len(points):
                ax.scatter(size[points], values[points], marker=marker, s=22, zorder=3,
                           edgecolors=colour, linewidths=1.2,
                           facecolors="white" if hollow else colour)
        ringed = good[loaded[good]]
        if len(ringed):  # ringed: someone else kept the machine busy meanwhile
            ax.scatter(size[ringed], values[ringed], marker="o", s=90, zorder=4,
                       facecolors="none", edgecolors=LOADED_COLOR, linewidths=1.0)
        for one_status, (status_marker, mark_colour, label) in NOT_MEASURED.items():
            missing = rows[status[rows] == one_status]
            if len(missing):  # along the panel's top: drawn, never silently dropped
                ax.scatter(size[missing], np.full(len(missing), 0.97), marker=status_marker,
                           color=mark_colour, transform=ax.get_xaxis_transform(),
                           zorder=5, label=label)


# Statuses a figure cannot draw as points: how it marks them, and what it calls them.
def failure_note(data: pd.DataFrame) -> str:
    """A title line naming the combinations a figure cannot draw as points."""
    notes = []
    for status, (_, _, label) in NOT_MEASURED.items():
        rows = data[data["status"] == status]
        if not rows.empty:
            counts = ", ".join(f"{backend} ×{count}"
                               for backend, count in rows.groupby("series").size().items())
            notes.append(f"{label}, not drawn: {counts}")
    return f"\n{'; '.join(notes)} (see `error` in summary.csv)" if notes else ""


def drawable(data: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows a figure can draw (measured ones), and the note naming the others."""
    return data[~data["status"].isin(list(NOT_MEASURED))], failure_note(data)


def at_top_workers(data: pd.DataFrame, top: int | None = None) -> tuple[pd.DataFrame, int]:
    """Parallel backends at their largest worker count (or `top`), plus the serial loop."""
    top = parallel_rows(data)["workers"].max() if top is None else top
    serial = np.array([single_process(series) for series in data["series"]], dtype=bool)
    return data[(data["workers"] == top).to_numpy() | serial], top


def interval_label(row: pd.Series, unit: str, sizes: tuple[float, float]) -> str:
    """'[low, high]', saying '≤ smallest' / '≥ largest' where an interpolated interval
    reaches the grid's end (resamples without a crossing in range count at the ends)."""
    if row.get("method") == "fit":
        return (f"[{format_size(row['crossover_ci_low'], unit)}, "
                f"{format_size(row['crossover_ci_high'], unit)}; fit over "
                f"{row['fit_replicates']:.0f} replicates]")
    if row.get("method") == "bracket":
        return (f"[{format_size(row['crossover_ci_low'], unit)}, "
                f"{format_size(row['crossover_ci_high'], unit)}; where the sign changes]")
    smallest, largest = sizes
    low = (f"≤ {format_size(smallest, unit)}" if row["crossover_ci_low"] <= smallest * 1.000001
           else format_size(row["crossover_ci_low"], unit))
    high = (f"≥ {format_size(largest, unit)}" if row["crossover_ci_high"] >= largest * 0.999999
            else format_size(row["crossover_ci_high"], unit))
    found_in = (f"; in {row['found_fraction']:.0%} of resamples"
                if row["found_fraction"] < 0.95 else "")
    return f"[{low}, {high}{found_in}]"


# Each crossover of a panel its own line, so that a reader quotes the right one.
CROSSOVER_LINES = ((":", "dotted"), ("--", "dashed"), ("-.", "dash-dotted"))


def mark_crossover(ax, crossovers: pd.DataFrame, unit: str,
                    sizes: tuple[float, float], colours: dict | None = None,
                    replicates: dict | None = None) -> None:
    """At each crossover a line in its baseline's colour (`colours`), dotted, dashed,
    then dash-dotted, named at its foot, a span of that colour for its 95 % interval,
    and a label that says which line is which (`replicates`: per series, the fewest a
    combination of it ran on the panel; where the pair's is one, an interpolated
    interval covers within-job noise only, and its label says so)."""
    labels, drawn = [], 0
    for _, row in crossovers.iterrows():
        if row.get("sizes_compared") == 0:
            continue  # the pair did not both run on this curve: nothing to say
        pair = f"{row['challenger']} vs {row['baseline']}"
        if row["crossover_status"] == FOUND:
            style, style_name = CROSSOVER_LINES[drawn % len(CROSSOVER_LINES)]
            colour = (colours or {}).get(row["baseline"], "0.25")
            drawn += 1
            ax.axvspan(row["crossover_ci_low"], row["crossover_ci_high"], color=colour,
                       alpha=0.1, linewidth=0)
            ax.axvline(row["crossover_size"], color=colour, linestyle=style, linewidth=1.2)
            ax.annotate(pair, (row["crossover_size"], 0.0), xycoords=("data", "axes fraction"),
                        xytext=(2, 2), textcoords="offset points", rotation=90,
                        va="bottom", fontsize=5.5, color=colour)
            known = [(replicates or {})[name] for name in (row["challenger"], row["baseline"])
                     if name in (replicates or {})]
            fewest = min(known, default=float("nan"))
            alone = (" (1 replicate: within-job noise only)"
                     if fewest == 1 and row.get("method") == "interpolated" else "")
            labels.append(f"{row['challenger']} < {row['baseline']} above "
                          f"{format_size(row['crossover_size'], unit)} ({style_name})\n"
                          f"  95 % CI {interval_label(row, unit, sizes)}{alone}")
        elif row["crossover_status"] == NOT_SIGNIFICANT:
            # No line: the medians cross, but the lead above is within the noise.
            # Where replicates pair, the headline gives no size: the medians' crossing.
            near = first_known(row, ("crossover_size", "interpolated_size", "medians_cross"))
            labels.append(f"{pair}: medians cross at {format_size(near, unit)}"
                          "\n  but the lead above is not significant")
        elif row.get("method") == "fit" and pd.notna(row.get("interpolated_size")):
            # The fit says why it gives no number; the grid's interpolation is beside it.
            labels.append(f"{pair}: {row['crossover_status']} (interpolated: "
                          f"{format_size(row['interpolated_size'], unit)})")
        else:
            labels.append(f"{pair}: {row['crossover_status']}")
    if labels:
        ax.text(0.02, 0.97, "\n".join(labels), transform=ax.transAxes, va="top", fontsize=6,
                color="0.2", bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})


def legend(figure, axes, extra: list | None = None) -> None:
    handles: dict[str, object] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    for handle in extra or []:
        handles.setdefault(handle.get_label(), handle)
    if handles:
        figure_legend(figure, list(handles.values()), list(handles), min(len(handles), 5))


def figure_legend(figure, handles: list, labels: list[str], columns: int):
    """The figure's legend, below its panels (fit_to_width gives it fewer columns where
    it is wider than the figure)."""
    legend = figure.legend(handles, labels, loc="outside lower center", ncols=columns,
                           frameon=False)
    legend.made_from = list(handles)  # to be made again as they were (fit_to_width)
    return legend


def noisy_handle():
    return plt.Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                      markeredgecolor="0.3", label="hollow: CI wider than the target")


def loaded_handle():
    return plt.Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor="none",
                      markeredgecolor=LOADED_COLOR, label="ringed: loaded machine")


def log_axes(ax, unit: str, ylabel: str, sizes: pd.Series | None = None,
              values: pd.Series | None = None, nothing: str = "") -> None:
    """Log axes for a panel; where `values` has nothing to draw, the panel says
    `nothing` instead (a log axis with no positive data cannot be drawn at all)."""
    positive = sizes[sizes > 0] if sizes is not None else pd.Series(dtype=float)
    if sizes is not None and (sizes <= 0).any() and len(positive):
        # A size of 0 (imbalanced: equal tasks) has no place on a log axis: linear up
        # to the smallest positive size, logarithmic above.
        ax.set_xscale("symlog", linthresh=float(positive.min()))
    else:
        ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"size ({unit})")
    ax.set_ylabel(ylabel)
    drawable = values[np.isfinite(values) & (values > 0)] if values is not None else None
    if drawable is not None and drawable.empty:
        if len(positive):
            ax.set_xlim(float(positive.min()) / 2, float(positive.max()) * 2)
        ax.set_ylim(0.1, 10)
        ax.text(0.5, 0.3, nothing or "nothing to draw", transform=ax.transAxes,
                ha="center", va="center", color=FAILURE_COLOR, wrap=True)


def size_figure(data: pd.DataFrame, width: float, draw: Callable, title: str):
    """A panel per kernel x task count of one workload's rows, each drawn by
    `draw(ax, cell, kernel, tasks)`."""
    level = kernel_order(data)  # image_filter's passes 1, 4, 16; not 1, 16, 4
    workload = data["workload"].iloc[0] if len(data) else ""
    kernels = sorted(data["kernel"].unique(), key=lambda kernel: level(workload, kernel))
    tasks = sorted(data["tasks"].unique())
    figure, axes = grid(len(kernels), len(tasks), width)
    for row, kernel in enumerate(kernels):
        for column, task_count in enumerate(tasks):
            cell = data[(data["kernel"] == kernel) & (data["tasks"] == task_count)]
            ax = axes[row][column]
            if cell.empty:  # a task count measured with another kernel only
                ax.set_axis_off()
                continue
            draw(ax, cell, kernel, task_count)
            ax.set_title(f"{kernel} kernel, {task_count} tasks")
            ax.grid(True, which="major", alpha=0.3)
    loaded = "loaded" in data and bool(data["loaded"].astype(bool).any())
    legend(figure, axes, [noisy_handle()] + ([loaded_handle()] if loaded else []))
    figure.suptitle(title)
    return figure


def target_rows(summary: pd.DataFrame, target: str = LOCAL) -> pd.DataFrame:
    """The series measured on one target: figures never mix a cluster's times
    (connect, not start-up; other hosts) with the local machine's."""
    return summary[summary["series"].map(target_of) == target]


def local_rows(summary: pd.DataFrame) -> pd.DataFrame:
    return target_rows(summary, LOCAL)

