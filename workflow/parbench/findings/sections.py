"""The findings' sections, each from the aggregates alone: the answer up front (the
headline crossover, its fixed costs and the cost model's reason), the regime table, and
the page that puts them before the detail (parbench.findings.detail)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from parbench.columns.statuses import MEASURED, UNSUPPORTED
from parbench.figures.style import kernel_order
from parbench.findings import words
from parbench.findings.detail import (
    WARM,
    fastest_warm,
    machine_section,
    measured_rows,
    undecided,
    workload_section,
)
from parbench.findings.document import Block, Figure, Heading, Paragraph, Table
from parbench.findings.interpreters import interpreters_section
from parbench.findings.reason import model_reason
from parbench.identity import LOCAL
from parbench.stats import compared_by


def _local(summary: pd.DataFrame) -> pd.DataFrame:
    if "target" not in summary:
        return summary
    return summary[summary["target"].fillna(LOCAL) == LOCAL]


def headline_row(crossover: pd.DataFrame) -> pd.Series | None:
    """The crossover a reader asks about first: the first compared pair's warm one,
    found on shared data, else found on any workload, else on shared data, else the
    first."""
    warm = crossover[crossover["time_basis"] == WARM]
    if warm.empty:
        return None
    first_pair = warm.iloc[0][["challenger", "baseline"]].tolist()
    pair = warm[(warm["challenger"] == first_pair[0]) & (warm["baseline"] == first_pair[1])]
    shared = pair["workload"] == "shared_array"
    found = pair["crossover_status"] == "found"
    for rows in (pair[shared & found], pair[found], pair[shared], pair):
        if not rows.empty:
            return rows.iloc[0]
    return None


def why(row: pd.Series, model: pd.DataFrame | None,
        summary: pd.DataFrame | None = None) -> list[Block]:
    """The cost model's reason for a crossover (parbench.findings.reason), fitted on
    this run."""
    reason = model_reason(row, model, summary)
    return [Paragraph("Why, by the cost model (`model.csv`, fitted on this run's data, "
                      "compute and dispatch workloads). " + reason)] if reason else []


def headline(summary: pd.DataFrame, crossover: pd.DataFrame,
             model: pd.DataFrame | None = None) -> list[Block]:
    row = headline_row(crossover)
    if row is None:
        return [Paragraph("This run compared no pair of series (config `compare`): it has "
                          "timings and figures, but no crossover to state.")]
    where = (f"on `{row['workload']}` ({row['kernel']} kernel, {row['tasks']:.0f} tasks, "
             f"{words.counted(row['workers'], 'worker')}; size: {row['size_unit']})")
    text = f"**The answer, {where}:** " + words.crossover(row)
    return [Paragraph(text), *fixed_costs(summary, row), *why(row, model, summary)]


def _regime(workload: str) -> str:
    from parbench.workloads import WORKLOADS  # the registry declares each one's regime

    return getattr(WORKLOADS.get(workload), "regime", "")


def _fastest_at_largest(summary: pd.DataFrame) -> str:
    """The fastest series' warm time at a curve's largest size, and the series that
    cannot be told from it (`_fastest_warm`)."""
    measured = measured_rows(summary, "median_seconds")
    if measured.empty:
        return "—"
    at_largest = measured[measured["size"] == measured["size"].max()]
    size = at_largest["size"].iloc[0]
    return fastest_warm(at_largest,
                         f" at {words.size(size, str(at_largest['size_unit'].iloc[0]))}")


def regime_table(summary: pd.DataFrame, crossover: pd.DataFrame) -> Table | None:
    """One row per curve (workload, kernel, tasks, workers): its regime, each compared
    pair's warm crossover, and the fastest series at the largest size."""
    warm = crossover[crossover["time_basis"] == WARM]
    if warm.empty:
        return None
    pairs = list(dict.fromkeys(zip(warm["challenger"], warm["baseline"])))
    table = Table(["regime", "workload", "kernel", "tasks × workers",
                   *[f"`{challenger}` overtakes `{baseline}` [95 % CI]"
                     for challenger, baseline in pairs],
                   "fastest warm at the largest size"])
    curve = ["workload", "kernel", "tasks", "workers"]
    level = kernel_order(summary)
    curves = list(warm.groupby(curve, sort=False))
    order = list(dict.fromkeys(warm["workload"]))
    for key, rows in sorted(curves, key=lambda item: (order.index(item[0][0]),
                                                      level(*item[0][:2]), *item[0][2:])):
        workload, kernel, tasks, workers = key
        # The serial loop (one worker) is on every curve's worker count.
        measured = summary[(summary["workload"] == workload) & (summary["kernel"] == kernel)
                           & (summary["tasks"] == tasks)
                           & ((summary["workers"] == workers)
                              | summary["single_process"].isin([True, "True"]))]
        ran = set(measured.loc[measured["status"].isin(MEASURED), "series"])
        unsupported = set(measured.loc[measured["status"] == UNSUPPORTED, "series"])
        # A pair one of whose series did not run on this curve has nothing to say, but
        # why: one it cannot run, or none in the design.
        by_pair = {(row["challenger"], row["baseline"]):
                   words.crossover_cell(row) if {row["challenger"], row["baseline"]} <= ran
                   else "unsupported" if {row["challenger"], row["baseline"]} & unsupported
                   else "—"
                   for _, row in rows.iterrows()}
        table.rows.append([_regime(workload), f"`{workload}`", str(kernel),
                           f"{tasks:.0f} × {workers:.0f}",
                           *[by_pair.get(pair, "—") for pair in pairs],
                           _fastest_at_largest(measured)])
    return table


def regimes(summary: pd.DataFrame, crossover: pd.DataFrame) -> list[Block]:
    """Every compared pair's warm crossover, curve by curve: the per-regime answer."""
    table = regime_table(summary, crossover)
    if table is None:
        return []
    return [Heading("Where one series overtakes another, regime by regime"),
            Paragraph("Warm times (start-up excluded); sizes in each workload's unit; "
                      "(fit): where the lines fitted near the crossing meet, "
                      "(bracket): between the two measured sizes where the paired times "
                      "change sign, (interpolated): between two grid sizes; tied: not told "
                      f"slower by {compared_by(summary['replicates'])}."), table]


def fixed_costs(summary: pd.DataFrame, row: pd.Series) -> list[Block]:
    """What explains a crossover: the two series' start-up and empty map, per task, at
    the crossover's task count (the calibration's time per task: an empty map's fixed
    cost shared out, not the dispatch of one more task, which the model's reason gives)."""
    rows = summary[(summary["workload"] == row["workload"])
                   & (summary["tasks"] == row["tasks"])
                   & summary["series"].isin([row["challenger"], row["baseline"]])]
    if rows.empty:
        return []
    costs = rows.groupby("series")[["startup_seconds", "overhead_per_task_seconds"]].median()
    parts = [f"`{series}` starts in {words.seconds(values['startup_seconds'])}, and an "
             f"empty map of {row['tasks']:.0f} tasks costs it "
             f"{words.seconds(values['overhead_per_task_seconds'])} a task"
             for series, values in costs.iterrows()]
    return [Paragraph("Fixed costs behind it (medians over this workload's jobs): "
                      + "; ".join(parts) + ".")]


def findings(summary: pd.DataFrame, crossover: pd.DataFrame, machines: pd.DataFrame,
             figures: Mapping[str, str] | None = None,
             model: pd.DataFrame | None = None) -> list[Block]:
    """The whole page; `figures`: each workload's scaling figure, the headline's shown;
    `model`: model.csv, for the line of why."""
    summary = _local(summary)
    blocks: list[Block] = [Heading("What this run found", 1),
                           *headline(summary, crossover, model)]
    row = headline_row(crossover)
    if row is not None and figures and row["workload"] in figures:
        blocks.append(Figure(figures[row["workload"]],
                             f"{row['workload']}: time per map against size",
                             link=f"figures/{Path(figures[row['workload']]).name}"))
    blocks += [*regimes(summary, crossover), *interpreters_section(summary, machines),
               Heading("Workload by workload")]
    for workload in summary["workload"].dropna().unique():
        blocks += workload_section(workload, summary, crossover)
    return blocks + undecided(summary, crossover) + machine_section(machines)
