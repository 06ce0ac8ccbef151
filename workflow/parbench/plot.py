"""summary.csv + crossover.csv -> figures (PNG and PDF). Reads nothing else.

One colour and one marker per backend across every figure (seaborn's
colour-blind palette). Failed combinations are red crosses along the top of
their panel; noisy ones (their CI wider than `ci_target`) are hollow markers, and
those measured on a loaded machine are ringed: never silently dropped. Fonts
are embedded as TrueType (Type 42).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from parbench.backends import BACKENDS, LOCAL, target_of  # noqa: E402
from parbench.crossover import FOUND, NOT_SIGNIFICANT  # noqa: E402

FAILURE_COLOR = "#d62728"
DEFAULT_WIDTH = 7.0
# File stems of the figures (rules in workflow/rules/plot.smk name the same).
WORKLOAD_FIGURES = ("scaling", "speedup", "workers", "winner")
OVERVIEW_FIGURES = ("overhead", "article")
# The article's setting (shared/SEED.md): 10 tasks of 1e7 iterations.
ARTICLE_TASKS = 10

matplotlib.rcParams.update({
    "pdf.fonttype": 42,  # publishers reject Type 3 fonts
    "ps.fonttype": 42,
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
})


def _series_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per series of `frame`: its name, engine and variant (older summaries
    without these columns name only their backend)."""
    columns = [column for column in ("backend", "engine", "variant") if column in frame]
    table = frame[columns].drop_duplicates("backend").copy()
    if "engine" not in table:
        table["engine"] = table["backend"]
    table["variant"] = ([("" if pd.isna(label) else str(label)) for label in table["variant"]]
                        if "variant" in table else "")
    return table


def ordered_backends(frame: pd.DataFrame) -> list[str]:
    """Series in registry order (each backend, then its variants); unknown ones last."""
    order = list(BACKENDS)
    table = _series_table(frame)
    rank = table.apply(lambda row: (order.index(row["engine"]) if row["engine"] in order
                                    else len(order), row["engine"], row["variant"]), axis=1)
    return list(table.assign(rank=rank).sort_values("rank")["backend"])


# A variant's colour is its backend's, shaded: darker, darker still, then lighter.
VARIANT_SHADES = (-0.4, -0.7, 0.4, 0.7)


def _shaded(colour: str, variant_index: int) -> tuple[float, float, float]:
    if variant_index == 0:
        return to_rgb(colour)
    shade = VARIANT_SHADES[(variant_index - 1) % len(VARIANT_SHADES)]
    target = 0.0 if shade < 0 else 1.0
    return tuple(channel + abs(shade) * (target - channel) for channel in to_rgb(colour))


def palette(frame: pd.DataFrame) -> dict[str, tuple[float, float, float]]:
    """One colour per series: its backend's (the class says which); a variant's is
    shade of it. Backends the registry does not know get the colour-blind palette's rest."""
    table = _series_table(frame)
    spare = iter(sns.color_palette("colorblind", 10)[::-1])
    colours: dict[str, tuple[float, float, float]] = {}
    for engine, series in table.groupby("engine", sort=False):
        base = BACKENDS[engine].colour if engine in BACKENDS else next(spare, (0.3, 0.3, 0.3))
        for index, (_, row) in enumerate(series.sort_values("variant").iterrows()):
            colours[row["backend"]] = _shaded(base, index if row["variant"] else 0)
    return colours


VARIANT_MARKERS = ("*", "h", "8", "<", ">")


def markers(frame: pd.DataFrame) -> dict[str, str]:
    """One marker per series: its backend's; each variant its own from VARIANT_MARKERS."""
    table = _series_table(frame)
    found = {}
    for engine, series in table.groupby("engine", sort=False):
        variants = sorted(label for label in series["variant"] if label)
        for _, row in series.iterrows():
            if row["variant"]:
                found[row["backend"]] = VARIANT_MARKERS[variants.index(row["variant"])
                                                        % len(VARIANT_MARKERS)]
            else:
                found[row["backend"]] = BACKENDS[engine].marker if engine in BACKENDS else "o"
    return found


def _label(backend: str, workers: int, several_workers: bool) -> str:
    if backend == "serial" or not several_workers:
        return backend
    return f"{backend} ×{workers}"


def _format_size(size: float, unit: str) -> str:
    if "bytes" in unit:
        for factor, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if size >= factor:
                return f"{size / factor:.3g} {name}"
        return f"{size:.3g} B"
    return f"{size:.2g}"


def _grid(rows: int, columns: int, width: float, aspect: float = 0.75):
    panel_width = width / max(1, columns)
    return plt.subplots(
        rows, columns, figsize=(width, panel_width * aspect * rows + 0.9), squeeze=False,
        constrained_layout=True,
    )


def _message_figure(width: float, message: str, title: str):
    """A figure that says what it cannot draw, instead of failing the sweep."""
    figure, axes = _grid(1, 1, width, aspect=0.3)
    axes[0][0].set_axis_off()
    axes[0][0].text(0.5, 0.5, message, ha="center", va="center", color=FAILURE_COLOR,
                    transform=axes[0][0].transAxes)
    figure.suptitle(title)
    return figure


def _lines(ax, cell: pd.DataFrame, value: str, styles, several_workers: bool,
           band: tuple[str, str] | None = None) -> None:
    """One line per backend (and worker count): CI band, hollow noisy points, failures."""
    for backend in ordered_backends(cell):
        for workers, line in cell[cell["backend"] == backend].groupby("workers"):
            line = line.sort_values("size")
            good = line[~line["status"].isin(list(NOT_MEASURED))]
            style = "-" if workers == cell["workers"].max() or backend == "serial" else "--"
            colour, marker = styles[0][backend], styles[1][backend]
            ax.plot(good["size"], good[value], color=colour, linestyle=style,
                    label=_label(backend, workers, several_workers))
            if band is not None and len(good):
                ax.fill_between(good["size"], good[band[0]], good[band[1]], color=colour,
                                alpha=0.2, linewidth=0)
            for noisy, points in good.groupby("noisy"):
                ax.scatter(points["size"], points[value], marker=marker, s=22, zorder=3,
                           edgecolors=colour, linewidths=1.2,
                           facecolors="white" if noisy else colour)
            loaded = good[good["loaded"].astype(bool)] if "loaded" in good else good.iloc[:0]
            if len(loaded):  # ringed: someone else kept the machine busy meanwhile
                ax.scatter(loaded["size"], loaded[value], marker="o", s=90, zorder=4,
                           facecolors="none", edgecolors=LOADED_COLOR, linewidths=1.0)
            for status, (marker, mark_colour, label) in NOT_MEASURED.items():
                missing = line[line["status"] == status]
                if len(missing):  # along the panel's top: drawn, never silently dropped
                    ax.scatter(missing["size"], np.full(len(missing), 0.97), marker=marker,
                               color=mark_colour, transform=ax.get_xaxis_transform(),
                               zorder=5, label=label)


# Statuses a figure cannot draw as points: how it marks them, and what it calls them.
NOT_MEASURED = {"error": ("x", FAILURE_COLOR, "failed"),
                "unsupported": ("_", "0.35", "unsupported"),
                "excluded (loaded)": ("v", "0.35", "left out: loaded machine"),
                "invalid file": ("x", "0.35", "left out: invalid CSV")}
LOADED_COLOR = "0.1"


def _failure_note(data: pd.DataFrame) -> str:
    """A title line naming the combinations a figure cannot draw as points."""
    notes = []
    for status, (_, _, label) in NOT_MEASURED.items():
        rows = data[data["status"] == status]
        if not rows.empty:
            counts = ", ".join(f"{backend} ×{count}"
                               for backend, count in rows.groupby("backend").size().items())
            notes.append(f"{label}, not drawn: {counts}")
    return f"\n{'; '.join(notes)} (see `error` in summary.csv)" if notes else ""


def _drawable(data: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The rows a figure can draw (measured ones), and the note naming the others."""
    return data[~data["status"].isin(list(NOT_MEASURED))], _failure_note(data)


def _at_top_workers(data: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Parallel backends at their largest worker count, plus the serial loop."""
    top = data[data["backend"] != "serial"]["workers"].max()
    return data[(data["workers"] == top) | (data["backend"] == "serial")], top


def _interval_label(row: pd.Series, unit: str, sizes: tuple[float, float]) -> str:
    """'[low, high]', saying '≤ smallest' / '≥ largest' where the interval reaches the
    grid's end (resamples without a crossing in range are counted at the ends)."""
    smallest, largest = sizes
    low = (f"≤ {_format_size(smallest, unit)}" if row["crossover_ci_low"] <= smallest * 1.000001
           else _format_size(row["crossover_ci_low"], unit))
    high = (f"≥ {_format_size(largest, unit)}" if row["crossover_ci_high"] >= largest * 0.999999
            else _format_size(row["crossover_ci_high"], unit))
    found_in = (f"; in {row['found_fraction']:.0%} of resamples"
                if row["found_fraction"] < 0.95 else "")
    return f"[{low}, {high}{found_in}]"


def _mark_crossover(ax, crossovers: pd.DataFrame, unit: str,
                    sizes: tuple[float, float]) -> None:
    """A dotted line at each crossover, a grey span for its 95 % interval, and a label."""
    labels = []
    for _, row in crossovers.iterrows():
        pair = f"{row['challenger']} vs {row['baseline']}"
        if row["crossover_status"] == FOUND:
            ax.axvspan(row["crossover_ci_low"], row["crossover_ci_high"], color="0.5",
                       alpha=0.15, linewidth=0)
            ax.axvline(row["crossover_size"], color="0.25", linestyle=":", linewidth=1)
            labels.append(f"{row['challenger']} < {row['baseline']} above "
                          f"{_format_size(row['crossover_size'], unit)}\n"
                          f"  95 % CI {_interval_label(row, unit, sizes)}")
        elif row["crossover_status"] == NOT_SIGNIFICANT:
            # No line: the medians cross, but the lead above is within the noise.
            labels.append(f"{pair}: medians cross at {_format_size(row['crossover_size'], unit)}"
                          "\n  but the lead above is not significant")
        else:
            labels.append(f"{pair}: {row['crossover_status']}")
    if labels:
        ax.text(0.02, 0.97, "\n".join(labels), transform=ax.transAxes, va="top", fontsize=6,
                color="0.2", bbox={"facecolor": "white", "alpha": 0.7, "linewidth": 0})


def _legend(figure, axes, extra: list | None = None) -> None:
    handles: dict[str, object] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    for handle in extra or []:
        handles.setdefault(handle.get_label(), handle)
    if handles:
        figure.legend(list(handles.values()), list(handles), loc="outside lower center",
                      ncols=min(len(handles), 5), frameon=False)


def _noisy_handle():
    return plt.Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
                      markeredgecolor="0.3", label="hollow: CI wider than the target")


def _loaded_handle():
    return plt.Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor="none",
                      markeredgecolor=LOADED_COLOR, label="ringed: loaded machine")


def save(figure, output_stem: str | Path) -> list[Path]:
    output_stem = Path(output_stem)
    output_stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".pdf"):
        path = output_stem.with_suffix(suffix)
        figure.savefig(path, dpi=200)
        written.append(path)
    plt.close(figure)
    return written


def _log_axes(ax, unit: str, ylabel: str, sizes: pd.Series | None = None,
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


def _size_figure(data: pd.DataFrame, width: float, draw: Callable, title: str):
    """A panel per kernel x task count of one workload's rows, each drawn by
    `draw(ax, cell, kernel, tasks)`."""
    kernels, tasks = sorted(data["kernel"].unique()), sorted(data["tasks"].unique())
    figure, axes = _grid(len(kernels), len(tasks), width)
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
    _legend(figure, axes, [_noisy_handle()] + ([_loaded_handle()] if loaded else []))
    figure.suptitle(title)
    return figure


def scaling_figure(summary: pd.DataFrame, crossover: pd.DataFrame, workload: str,
                   width: float = DEFAULT_WIDTH):
    """1. Median time per map vs size, log-log, CI bands, crossover with its interval."""
    data = summary[summary["workload"] == workload]
    styles = palette(data), markers(data)
    several = data[data["backend"] != "serial"]["workers"].nunique() > 1
    unit = data["size_unit"].iloc[0]
    warm = crossover[(crossover["workload"] == workload) & (crossover["time_basis"] == "warm")]
    top_workers = data["workers"].max()

    def draw(ax, cell, kernel, task_count):
        _lines(ax, cell, "median_seconds", styles, several, band=("ci_low", "ci_high"))
        _mark_crossover(ax, warm[(warm["kernel"] == kernel) & (warm["tasks"] == task_count)
                                 & (warm["workers"] == top_workers)], unit,
                        (cell["size"].min(), cell["size"].max()))
        _log_axes(ax, unit, "median time per map (s)", cell["size"], cell["median_seconds"],
                  "no successful run")

    return _size_figure(data, width, draw,
                        f"{workload}: time to run all tasks (bands: 95 % CI; start-up excluded)")


def speedup_figure(summary: pd.DataFrame, workload: str, width: float = DEFAULT_WIDTH):
    """Speedup over the serial loop vs size, with CI bands and the ideal (= workers)."""
    workload_rows = summary[summary["workload"] == workload]
    data = workload_rows[workload_rows["backend"] != "serial"]
    styles = palette(data), markers(data)
    several = data["workers"].nunique() > 1

    def draw(ax, cell, kernel, task_count):
        cell = cell[cell["backend"] != "serial"]
        _lines(ax, cell, "speedup", styles, several, band=("speedup_ci_low", "speedup_ci_high"))
        for workers in sorted(cell["workers"].unique()):
            ax.axhline(workers, color="0.5", linewidth=0.8, linestyle="--")
        ax.axhline(1, color="0.2", linewidth=0.8)
        serial = workload_rows[workload_rows["backend"] == "serial"]
        nothing = ("no serial baseline: the design runs no `serial` series" if serial.empty
                   else "no serial baseline: the serial loop failed"
                   if not (serial["repeats"] > 0).any()
                   else "no parallel series: the design runs only the serial loop"
                   if data.empty else "no successful parallel run")
        _log_axes(ax, workload_rows["size_unit"].iloc[0], "speedup over serial (×)",
                  cell["size"], cell["speedup"], nothing)

    return _size_figure(workload_rows, width, draw,
                        f"{workload}: speedup over the serial loop (dashed: ideal = workers)")


def swept_problem(rows: pd.DataFrame) -> tuple[int, int]:
    """The (size, tasks) measured at the most worker counts; ties go to the largest size,
    then the most tasks. A design may sweep workers on one problem only (config/16cpu/)."""
    counts = rows.groupby(["size", "tasks"])["workers"].nunique().reset_index()
    best = counts.sort_values(["workers", "size", "tasks"]).iloc[-1]
    return int(best["size"]), int(best["tasks"])


def workers_figure(summary: pd.DataFrame, workload: str, width: float = DEFAULT_WIDTH):
    """2. Speedup and efficiency vs workers, with the ideal line, on the problem swept over
    the most worker counts (see `swept_problem`)."""
    data = summary[(summary["workload"] == workload) & (summary["backend"] != "serial")]
    if data.empty:
        return _message_figure(width, "no parallel series: the design runs only the serial "
                               "loop", f"{workload}: scaling with workers")
    note = _failure_note(data)
    colours, marks = palette(data), markers(data)
    kernels = sorted(data["kernel"].unique())
    figure, axes = _grid(2, len(kernels), width, aspect=0.7)
    for column, kernel in enumerate(kernels):
        size, tasks = swept_problem(data[data["kernel"] == kernel])
        cell = data[(data["kernel"] == kernel) & (data["size"] == size)
                    & (data["tasks"] == tasks)]
        workers = sorted(cell["workers"].unique())
        for row, (value, ideal) in enumerate(
            [("speedup", np.array(workers, float)), ("efficiency", np.ones(len(workers)))]
        ):
            ax = axes[row][column]
            ax.plot(workers, ideal, color="0.5", linestyle="--", linewidth=0.8, marker="_",
                    markersize=12, label="ideal")  # the marker shows it at one worker count
            for backend in ordered_backends(cell):
                line = cell[(cell["backend"] == backend)
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
            ax.set_xlabel("workers (processes)")
            ax.set_ylabel("speedup over serial (×)" if value == "speedup"
                          else "efficiency (speedup / workers)")
            ax.set_title(f"{kernel} kernel, size {_format_size(size, cell['size_unit'].iloc[0])}"
                         f", {tasks} tasks")
            ax.grid(True, alpha=0.3)
            if len(workers) == 1:
                ax.text(0.5, 0.5, "one worker count measured:\nsweep `workers` to see scaling",
                        transform=ax.transAxes, ha="center", fontsize=6, color="0.4")
    _legend(figure, axes)
    figure.suptitle(f"{workload}: scaling with workers (bars: 95 % CI){note}")
    return figure


def _winner_panel(ax, cell: pd.DataFrame, colours, unit: str, rows: str = "tasks",
                  row_label: str = "tasks") -> None:
    """A map of the fastest series per (size, `rows`) cell, shaded by its margin."""
    sizes, levels = sorted(cell["size"].unique()), sorted(cell[rows].unique())
    for y, level in enumerate(levels):
        for x, size in enumerate(sizes):
            ranked = cell[(cell["size"] == size) & (cell[rows] == level)]
            ranked = ranked.sort_values("median_seconds")
            if ranked.empty:
                continue
            best = ranked.iloc[0]
            runner_up = ranked.iloc[1] if len(ranked) > 1 else None
            margin = runner_up["median_seconds"] / best["median_seconds"] if runner_up is not None \
                else np.inf
            clear = runner_up is None or best["ci_high"] < runner_up["ci_low"]
            # Shade: a margin of 2x or more is full colour, a near-tie is pale.
            alpha = 0.25 + 0.75 * min(1.0, np.log2(max(margin, 1.0))) if clear else 0.15
            ax.add_patch(plt.Rectangle((x, y), 1, 1, color=colours[best["backend"]],
                                       alpha=alpha, linewidth=0))
            if not clear:
                ax.add_patch(plt.Rectangle((x, y), 1, 1, fill=False, hatch="///",
                                           edgecolor="0.5", linewidth=0))
            label = f"{best['backend']}\n×{margin:.2g}" if clear else "no clear\nwinner"
            ax.text(x + 0.5, y + 0.5, label, ha="center", va="center", fontsize=6)
    ax.set_xlim(0, len(sizes))
    ax.set_ylim(0, len(levels))
    ax.set_xticks(np.arange(len(sizes)) + 0.5, [_format_size(s, unit) for s in sizes])
    ax.set_yticks(np.arange(len(levels)) + 0.5, [f"{level:g}" for level in levels])
    ax.set_xlabel(f"size ({unit})")
    ax.set_ylabel(row_label)


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
BEYOND_MARKERS = (">", "s", "^", "x")


def _boundaries(ax, cell: pd.DataFrame, crossover: pd.DataFrame, kernel_of_level: dict) -> list:
    """On a size × compute map, where each compared challenger overtakes its baseline:
    a line through the crossover of every compute level (found ones only), with
    a mark beside the map's right edge where it is not found in range."""
    sizes = sorted(cell["size"].unique())
    handles = []
    pairs = crossover[["challenger", "baseline"]].drop_duplicates().itertuples(index=False)
    for pair_index, (style, (challenger, baseline)) in enumerate(zip(BOUNDARY_STYLES, pairs)):
        xs, ys, beyond = [], [], []
        for y, level in enumerate(sorted(kernel_of_level)):
            found = crossover[(crossover["kernel"] == kernel_of_level[level])
                              & (crossover["challenger"] == challenger)
                              & (crossover["baseline"] == baseline)
                              & (crossover["crossover_status"] == FOUND)]
            if found.empty:
                beyond.append(y + 0.5)
                continue
            xs.append(_cell_position(found["crossover_size"].iloc[0], sizes))
            ys.append(y + 0.5)
        marker = BEYOND_MARKERS[pair_index % len(BEYOND_MARKERS)]
        handles.append(Line2D([], [], color="0.1", linestyle=style, marker=marker, markersize=4,
                              label=f"{challenger} overtakes {baseline}"))
        if xs:
            ax.plot(xs, ys, color="0.1", linestyle=style, marker="o", markersize=3)
        if beyond:  # side by side inside the right edge, one column per pair
            ax.scatter([len(sizes) - 0.1 - 0.14 * pair_index] * len(beyond), beyond,
                       marker=BEYOND_MARKERS[pair_index % len(BEYOND_MARKERS)], s=16,
                       color="0.1", zorder=4)
    return handles


def winner_figure(summary: pd.DataFrame, workload: str, width: float = DEFAULT_WIDTH,
                  crossover: pd.DataFrame | None = None):
    """3. For each cell the fastest backend, shaded by its margin over the runner-up.

    Two maps: among every backend (the serial loop included), and among the parallel
    ones only (the Ray-vs-Pool question). Cells are size × task count, one pair of maps
    per kernel; for a workload whose kernels are levels of one quantity (image_filter:
    compute per byte), size × that level, with the compared pairs' crossovers drawn
    as boundaries.
    """
    data, note = _drawable(summary[summary["workload"] == workload])
    if data.empty:  # every combination failed or is unsupported: say so, draw nothing
        return _message_figure(width, "no successful run: no winner to show",
                               f"{workload}: fastest backend per cell{note}")
    data, top = _at_top_workers(data)
    colours = palette(data)
    unit = data["size_unit"].iloc[0]
    levels = data["kernel_level"] if "kernel_level" in data else pd.Series(dtype=float)
    boundary_handles: list = []
    if len(levels) and levels.notna().all() and data["kernel"].nunique() > 1:
        tasks = data["tasks"].max()
        cell = data[data["tasks"] == tasks]
        kernel_of_level = dict(zip(cell["kernel_level"], cell["kernel"]))
        figure, axes = _grid(2, 1, width, aspect=0.1 + 0.1 * len(kernel_of_level))
        row_label = "compute level (kernel)"
        _winner_panel(axes[0][0], cell, colours, unit, "kernel_level", row_label)
        axes[0][0].set_title(f"every backend ({top} workers, {tasks} tasks)")
        _winner_panel(axes[1][0], cell[cell["backend"] != "serial"], colours, unit,
                      "kernel_level", row_label)
        axes[1][0].set_title("parallel backends only; lines: where the challenger overtakes "
                             "(a mark at the right edge: not in range)")
        if crossover is not None:
            warm = crossover[(crossover["workload"] == workload) & (crossover["tasks"] == tasks)
                             & (crossover["workers"] == top)
                             & (crossover["time_basis"] == "warm")]
            boundary_handles = _boundaries(axes[1][0], cell, warm, kernel_of_level)
    else:
        kernels = sorted(data["kernel"].unique())
        figure, axes = _grid(2 * len(kernels), 1, width, aspect=0.25)
        for row, kernel in enumerate(kernels):
            cell = data[data["kernel"] == kernel]
            _winner_panel(axes[2 * row][0], cell, colours, unit)
            axes[2 * row][0].set_title(f"{kernel} kernel, every backend ({top} workers)")
            _winner_panel(axes[2 * row + 1][0], cell[cell["backend"] != "serial"], colours,
                          unit)
            axes[2 * row + 1][0].set_title(f"{kernel} kernel, parallel backends only")
    legend = [Patch(color=colours[b], label=b) for b in ordered_backends(data)]
    legend.append(Patch(facecolor="white", edgecolor="0.5", hatch="///",
                        label="no clear winner (95 % CIs overlap)"))
    figure.legend(handles=legend + boundary_handles, loc="outside lower center",
                  ncols=min(len(legend) + len(boundary_handles), 4), frameon=False)
    figure.suptitle(f"{workload}: fastest backend per cell (×: margin over the runner-up)"
                    f"{note}")
    return figure


def overhead_figure(summary: pd.DataFrame, width: float = DEFAULT_WIDTH):
    """4. Start-up, per-task dispatch and teardown per backend: what explains a crossover."""
    data, note = _drawable(summary[summary["backend"] != "serial"])
    colours, marks = palette(data), markers(data)
    backends = ordered_backends(data)
    quantities = [("startup_seconds", "start-up (s)"),
                  ("overhead_per_task_seconds", "dispatch per empty task (s)"),
                  ("teardown_seconds", "teardown (s)")]
    # One row per series, so that every name stays readable however many there are.
    figure, axes = _grid(1, len(quantities), width, aspect=0.35 + 0.09 * len(backends))
    for column, (value, label) in enumerate(quantities):
        ax = axes[0][column]
        for position, backend in enumerate(backends):
            values = data.loc[data["backend"] == backend, value].dropna()
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


def article_figure(summary: pd.DataFrame, width: float = DEFAULT_WIDTH):
    """5. The article's table re-measured: exp_sinh, its largest size, 10 tasks, with intervals."""
    data, note = _drawable(summary[summary["workload"] == "exp_sinh"])
    figure, axes = _grid(1, 1, width, aspect=0.5)
    ax = axes[0][0]
    if data.empty:
        ax.text(0.5, 0.5, "exp_sinh is not in this sweep: run config/article.yaml",
                ha="center", transform=ax.transAxes)
        ax.set_axis_off()
        return figure
    tasks = ARTICLE_TASKS if ARTICLE_TASKS in set(data["tasks"]) else data["tasks"].max()
    data = data[data["tasks"] == tasks]
    size = data["size"].max()
    data, top = _at_top_workers(data[data["size"] == size])
    colours, marks = palette(data), markers(data)
    rows = [(kernel, backend) for kernel in sorted(data["kernel"].unique(), reverse=True)
            for backend in ordered_backends(data)
            if not data[(data["kernel"] == kernel) & (data["backend"] == backend)].empty]
    for position, (kernel, backend) in enumerate(rows):
        row = data[(data["kernel"] == kernel) & (data["backend"] == backend)].iloc[0]
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
                va="center", fontsize=6)
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


def plot_workload(summary_csv: str | Path, crossover_csv: str | Path, workload: str,
                  outputs: dict[str, str | Path], width: float = DEFAULT_WIDTH) -> None:
    """The per-workload figures; `outputs` maps each of WORKLOAD_FIGURES to a file stem."""
    draw_workload(pd.read_csv(summary_csv), pd.read_csv(crossover_csv), workload, outputs, width)


def plot_overview(summary_csv: str | Path, outputs: dict[str, str | Path],
                  width: float = DEFAULT_WIDTH) -> None:
    """The figures across workloads; `outputs` maps each of OVERVIEW_FIGURES to a file stem."""
    draw_overview(pd.read_csv(summary_csv), outputs, width)


def target_rows(summary: pd.DataFrame, target: str = LOCAL) -> pd.DataFrame:
    """The series measured on one target: figures never mix a cluster's times
    (connect, not start-up; other hosts) with the local machine's."""
    return summary[summary["backend"].map(target_of) == target]


def local_rows(summary: pd.DataFrame) -> pd.DataFrame:
    return target_rows(summary, LOCAL)


def plot_target(summary_csv: str | Path, crossover_csv: str | Path, workload: str,
                target: str, output: str | Path, width: float = DEFAULT_WIDTH) -> None:
    """A cluster target's scaling figure for one workload (`output`: a file stem): its
    series alone, and the crossovers of pairs on it. Its speedups would need the serial
    loop on the same target, which a cluster does not run."""
    summary, crossover = pd.read_csv(summary_csv), pd.read_csv(crossover_csv)
    rows = target_rows(summary, target)
    if rows[rows["workload"] == workload].empty:  # the workload runs none of its series
        save(_message_figure(width, f"no series of this workload ran on {target}",
                             f"{workload} on {target}"), output)
        return
    on_target = crossover[crossover["challenger"].map(target_of) == target]
    save(scaling_figure(rows, on_target, workload, width), output)


def draw_workload(summary: pd.DataFrame, crossover: pd.DataFrame, workload: str,
                  outputs: dict[str, str | Path], width: float = DEFAULT_WIDTH) -> None:
    summary = local_rows(summary)
    save(scaling_figure(summary, crossover, workload, width), outputs["scaling"])
    save(speedup_figure(summary, workload, width), outputs["speedup"])
    save(workers_figure(summary, workload, width), outputs["workers"])
    save(winner_figure(summary, workload, width, crossover), outputs["winner"])


def draw_overview(summary: pd.DataFrame, outputs: dict[str, str | Path],
                  width: float = DEFAULT_WIDTH) -> None:
    summary = local_rows(summary)
    save(overhead_figure(summary, width), outputs["overhead"])
    save(article_figure(summary, width), outputs["article"])
