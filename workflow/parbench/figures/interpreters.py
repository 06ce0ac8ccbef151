"""Series on other interpreters (config `interpreters`): the cost of one thread there
and the scaling of its threads, apart.

Left, per workload: each interpreter's serial loop over the project's (above 1: one
thread runs slower there; a free-threaded build pays for its thread safety). Right:
each interpreter's threads over its own serial loop (the scaling the GIL allows or
not), the project's threads beside them. Warm times, 95 % CI of the speedup where the
serial loop is the project's, median ratios otherwise; the largest worker count."""

from __future__ import annotations

import numpy as np
import pandas as pd

from parbench.figures import panels
from parbench.figures.style import DEFAULT_WIDTH
from parbench.interpreters import PROJECT, interpreter_column


def interpreter_rows(summary: pd.DataFrame) -> pd.DataFrame:
    rows = summary[(summary["status"] == "ok") & summary["median_seconds"].notna()]
    return rows.assign(interpreter=interpreter_column(rows))


def ratio_lines(rows: pd.DataFrame, engine: str, over: str) -> dict[tuple[str, str], pd.Series]:
    """Per (interpreter, kernel): `engine`'s median time over `over`'s by size, where
    `over` is `serial-project` (the project's serial loop) or `serial-own` (the serial
    loop of the same interpreter). Above 1: slower."""
    found = {}
    top = rows.groupby(["workload"])["workers"].transform("max")
    serial = rows[rows["engine"] == "serial"]
    # The largest worker count (the serial loop has one worker whatever it is).
    timed = rows[(rows["engine"] == engine) & ((rows["workers"] == top) | (engine == "serial"))]
    for (interpreter, kernel), cells in timed.groupby(["interpreter", "kernel"]):
        reference_interpreter = PROJECT if over == "serial-project" else interpreter
        reference = serial[(serial["interpreter"] == reference_interpreter)
                           & (serial["kernel"] == kernel)]
        reference = reference.groupby(["size", "tasks"])["median_seconds"].median()
        own = cells.groupby(["size", "tasks"])["median_seconds"].median()
        ratio = (own / reference).dropna()
        if len(ratio):
            found[(interpreter, kernel)] = ratio.groupby(level="size").median()
    return found


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
    figure, axes = panels.grid(len(workloads), 2, width, aspect=0.45 * len(workloads))
    for row, name in enumerate(workloads):
        data = rows[rows["workload"] == name]
        unit = data["size_unit"].iloc[0]
        # The project's own serial loop is the reference: only the others get a line.
        cost = {key: line for key, line in ratio_lines(data, "serial", "serial-project").items()
                if key[0] != PROJECT}
        scaling = ratio_lines(data, "threads", "serial-own")
        for ax, lines, label in (
                (axes[row][0], cost, "serial loop / project's serial loop"),
                (axes[row][1], {key: 1 / line for key, line in scaling.items()},
                 "threads' speedup over their own serial loop")):
            for (interpreter, kernel), line in sorted(lines.items()):
                ax.plot(line.index, line.to_numpy(), marker="o",
                        linestyle="-" if interpreter != PROJECT else "--",
                        label=f"{interpreter}, {kernel} kernel")
            ax.axhline(1, color="0.3", linewidth=0.8)
            values = np.concatenate([line.to_numpy() for line in lines.values()]) \
                if lines else np.array([])
            panels.log_axes(ax, unit, label, data["size"], pd.Series(values),
                            "nothing measured on both")
            ax.set_title(name, fontsize="medium")
    workers = int(rows["workers"].max())
    panels.legend(figure, axes)
    figure.suptitle("Other interpreters: one thread's cost (left) and the threads' scaling "
                    f"(right, {workers} workers; dashed: the project's interpreter)")
    return figure
