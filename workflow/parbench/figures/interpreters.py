"""Series on other interpreters (config `interpreters`): the cost of one thread there
and the scaling of its threads, apart.

Left, per workload: each interpreter's serial loop over the project's (above 1: one
thread runs slower there; a free-threaded build pays for its thread safety). Right:
each interpreter's threads over its own serial loop (the scaling the GIL allows or
not), the project's threads beside them. Warm times at the largest worker count, as
median ratios, each with a bar from its two medians' 95 % intervals (the one's low end
over the other's high end, and the reverse: an interval of at least 95 %, wider than
one of the ratio itself). Each line is its series' colour and marker; its kernel, the
line's dash."""

from __future__ import annotations

import numpy as np
import pandas as pd

from parbench.columns.statuses import OK
from parbench.figures import panels
from parbench.figures.style import DEFAULT_WIDTH, markers, palette
from parbench.identity import SERIAL
from parbench.interpreters import PROJECT, interpreter_column


def interpreter_rows(summary: pd.DataFrame) -> pd.DataFrame:
    rows = summary[(summary["status"] == OK) & summary["median_seconds"].notna()]
    return rows.assign(interpreter=interpreter_column(rows))


def ratio_lines(rows: pd.DataFrame, engine: str, over: str
                ) -> dict[tuple[str, str], tuple[str, pd.DataFrame]]:
    """Per (interpreter, kernel): the series of `engine` there, and its median time
    over `over`'s by size (`ratio`, with the band `low`, `high`: the module's), where
    `over` is `serial-project` (the project's serial loop) or `serial-own` (the serial
    loop of the same interpreter). Above 1: slower."""
    found = {}
    top = rows.groupby(["workload"])["workers"].transform("max")
    serial = rows[rows["engine"] == SERIAL]
    # The largest worker count (the serial loop has one worker whatever it is).
    timed = rows[(rows["engine"] == engine) & ((rows["workers"] == top) | (engine == SERIAL))]
    times = ["median_seconds", "ci_low", "ci_high"]
    for (interpreter, kernel), cells in timed.groupby(["interpreter", "kernel"]):
        reference_interpreter = PROJECT if over == "serial-project" else interpreter
        reference = serial[(serial["interpreter"] == reference_interpreter)
                           & (serial["kernel"] == kernel)]
        reference = reference.groupby(["size", "tasks"])[times].median()
        own = cells.groupby(["size", "tasks"])[times].median()
        ratio = pd.DataFrame({"ratio": own["median_seconds"] / reference["median_seconds"],
                              "low": own["ci_low"] / reference["ci_high"],
                              "high": own["ci_high"] / reference["ci_low"]}).dropna(
                                  subset=["ratio"])
        if len(ratio):
            found[(interpreter, kernel)] = (str(cells["series"].iloc[0]),
                                            ratio.groupby(level="size").median())
    return found


KERNEL_DASHES = ("-", "--", "-.", ":")


def draw(summary: pd.DataFrame, crossover: pd.DataFrame, workload: str | None = None,
         width: float = DEFAULT_WIDTH):
    rows = interpreter_rows(summary)
    elsewhere = rows[rows["interpreter"] != PROJECT]
    workloads = [name for name in rows["workload"].unique()
                 if name in set(elsewhere["workload"])]
    if not workloads:
        return panels.message_figure(
            width, "no series on another interpreter (config `interpreters`; "
            "docs/free-threading.md)", "Other interpreters")
    figure, axes = panels.grid(len(workloads), 2, width, aspect=0.6)
    colours, marks = palette(rows), markers(rows)
    for row, name in enumerate(workloads):
        data = rows[rows["workload"] == name]
        unit = data["size_unit"].iloc[0]
        # The project's own serial loop is the reference: only the others get a line.
        cost = {key: line for key, line in ratio_lines(data, SERIAL, "serial-project").items()
                if key[0] != PROJECT}
        scaling = ratio_lines(data, "threads", "serial-own")
        inverted = {key: (series, pd.DataFrame({"ratio": 1 / line["ratio"],
                                                "low": 1 / line["high"],
                                                "high": 1 / line["low"]}))
                    for key, (series, line) in scaling.items()}
        kernels = sorted(data["kernel"].unique())
        for ax, lines, label in (
                (axes[row][0], cost, "serial loop /\nproject's serial loop"),
                (axes[row][1], inverted, "threads' speedup over\ntheir own serial loop")):
            for (interpreter, kernel), (series, line) in sorted(lines.items()):
                colour = colours[series]
                ratio = line["ratio"].to_numpy()
                spread = np.clip(np.vstack([ratio - line["low"].to_numpy(),
                                            line["high"].to_numpy() - ratio]), 0, None)
                ax.errorbar(line.index, ratio, yerr=spread, marker=marks[series],
                            markersize=4, capsize=2, color=colour, elinewidth=0.7,
                            linestyle=KERNEL_DASHES[kernels.index(kernel)
                                                    % len(KERNEL_DASHES)],
                            label=f"{series}, {kernel}")
            ax.axhline(1, color="0.3", linewidth=0.8)
            values = np.concatenate([line["ratio"].to_numpy() for _, line in lines.values()]) \
                if lines else np.array([])
            panels.log_axes(ax, unit, label, data["size"], pd.Series(values),
                            "nothing measured on both")
            ax.set_title(name, fontsize="medium")
    workers = int(rows["workers"].max())
    panels.legend(figure, axes)
    figure.suptitle("Other interpreters: one thread's cost (left), the threads' scaling "
                    f"(right, {workers} workers); bars from the medians' 95 % intervals")
    return figure
