"""The findings' sections, each from the aggregates alone."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from parbench.findings import words
from parbench.findings.document import Block, Figure, Heading, Paragraph, Table
from parbench.findings.interpreters import interpreter_description, interpreters_section
from parbench.identity import LOCAL
from parbench.interpreters import PROJECT, interpreter_column
from parbench.stats import compare, compared_by

WARM = "warm"


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


def why(row: pd.Series, model: pd.DataFrame | None) -> list[Block]:
    """The cost model's line on a crossover: where it puts it, and the costs behind."""
    if model is None or model.empty or pd.isna(row.get("predicted_crossover_size")):
        return []
    from parbench.backends import BACKENDS

    # A backend's own words, for a series named as its backend (a variant's options
    # may change how its input travels: pool-shm's does).
    travels = [f"`{series}`: {BACKENDS[series].shared_input_travels}"
               for series in (row["challenger"], row["baseline"]) if series in BACKENDS]
    costs = model[model["series"].isin([row["challenger"], row["baseline"]])
                  & (model["parameter"].isin(["per_byte_seconds", "per_map_seconds"]))]
    parts = []
    for series, values in costs.groupby("series"):
        value = values.set_index("parameter")["value"]
        parts.append(f"`{series}` {value.get('per_byte_seconds', float('nan')) * 1e9:.3g} "
                     f"ns a byte shipped, {words.seconds(value.get('per_map_seconds', 0))} "
                     "a map")
    return [Paragraph(
        f"Why, by the cost model (`model.csv`, fitted on this run's data, compute and "
        f"dispatch workloads): it puts the crossing at "
        f"{words.size(row['predicted_crossover_size'], row['size_unit'])}; "
        + "; ".join(parts) + ", each byte counted once per copy a map makes"
        + (f" ({'; '.join(travels)})" if travels else "") + ".")]


def headline(summary: pd.DataFrame, crossover: pd.DataFrame,
             model: pd.DataFrame | None = None) -> list[Block]:
    row = headline_row(crossover)
    if row is None:
        return [Paragraph("This run compared no pair of series (config `compare`): it has "
                          "timings and figures, but no crossover to state.")]
    where = (f"on `{row['workload']}` ({row['kernel']} kernel, {row['tasks']:.0f} tasks, "
             f"{words.counted(row['workers'], 'worker')}; size: {row['size_unit']})")
    text = f"**The answer, {where}:** " + words.crossover(row)
    return [Paragraph(text), *fixed_costs(summary, row), *why(row, model)]


def _regime(workload: str) -> str:
    from parbench.workloads import WORKLOADS  # the registry declares each one's regime

    return getattr(WORKLOADS.get(workload), "regime", "")


def _fastest_at_largest(summary: pd.DataFrame) -> str:
    """The fastest series' warm time at a curve's largest size, and the series that
    cannot be told from it (`_fastest_warm`)."""
    measured = _measured(summary, "median_seconds")
    if measured.empty:
        return "—"
    at_largest = measured[measured["size"] == measured["size"].max()]
    size = at_largest["size"].iloc[0]
    return _fastest_warm(at_largest,
                         f" at {words.size(size, str(at_largest['size_unit'].iloc[0]))}")


def _fastest_warm(cell: pd.DataFrame, where: str = "") -> str:
    """The series with the lowest warm median among `cell`'s rows (one problem), its
    time (`where`: words after it), and the series that cannot be told from it (a tie:
    Welch's t-test over replicates, stats.compare)."""
    measured = _measured(cell, "median_seconds")
    if measured.empty:
        return "—"
    best = measured.loc[measured["median_seconds"].idxmin()]
    # Not told slower: one the test (on the replicates' geometric mean) would put ahead
    # of the lowest median is no clearer a winner than a tie.
    tied = [row["series"] for _, row in measured.iterrows()
            if row["series"] != best["series"] and compare(row, best) != 1]
    text = f"`{best['series']}` {words.seconds(best['median_seconds'])}{where}"
    if len(tied):
        text += " (tied with " + words.listed([f"`{series}`" for series in tied]) + ")"
    return text


def kernel_order(summary: pd.DataFrame):
    """A sort key of (workload, kernel): by the kernel's level where a workload's kernels
    are levels of one quantity (image_filter's passes: 1, 4, 16, not 1, 16, 4), else by
    name."""
    levels = (summary.groupby(["workload", "kernel"])["kernel_level"].first().to_dict()
              if "kernel_level" in summary else {})

    def key(workload: str, kernel: str) -> tuple[float, str]:
        level = levels.get((workload, kernel), math.nan)
        return (level if pd.notna(level) else math.inf, str(kernel))

    return key


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
        ran = set(measured.loc[measured["status"].isin(["ok", "partial"]), "series"])
        # A pair one of whose series did not run on this curve has nothing to say.
        by_pair = {(row["challenger"], row["baseline"]): words.crossover_cell(row)
                   for _, row in rows.iterrows()
                   if {row["challenger"], row["baseline"]} <= ran}
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
    """What explains a crossover: the two series' start-up and dispatch per task."""
    rows = summary[(summary["workload"] == row["workload"])
                   & summary["series"].isin([row["challenger"], row["baseline"]])]
    if rows.empty:
        return []
    costs = rows.groupby("series")[["startup_seconds", "overhead_per_task_seconds"]].median()
    parts = [f"`{series}` starts in {words.seconds(values['startup_seconds'])} and "
             f"dispatches an empty task in {words.seconds(values['overhead_per_task_seconds'])}"
             for series, values in costs.iterrows()]
    return [Paragraph("Fixed costs behind it (medians over this workload's jobs): "
                      + "; ".join(parts) + ".")]


def _measured(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows that measured `column`."""
    return rows[rows["status"].isin(["ok", "partial"]) & rows[column].notna()]


def _fastest(rows: pd.DataFrame, column: str) -> str:
    measured = _measured(rows, column)
    if measured.empty:
        return "—"
    best = measured.loc[measured[column].idxmin()]
    return f"`{best['series']}` {words.seconds(best[column])}"


def workload_section(workload: str, summary: pd.DataFrame,
                     crossover: pd.DataFrame) -> list[Block]:
    rows = summary[summary["workload"] == workload]
    unit = rows["size_unit"].dropna().iloc[0] if rows["size_unit"].notna().any() else ""
    blocks: list[Block] = [Heading(f"`{workload}`", 3)]
    table = Table(["kernel", "size", "tasks", "fastest warm", "fastest cold",
                   "series measured"])
    # One problem a row: a kernel's times are no other kernel's (worker counts apart,
    # each series at its own: the fastest is the fastest however many it used).
    level = kernel_order(rows)
    groups = dict(list(rows.groupby(["kernel", "size", "tasks"])))
    for (kernel, size, tasks), cell in sorted(
            groups.items(), key=lambda item: (level(workload, item[0][0]), *item[0][1:])):
        sizes = sorted(rows.loc[(rows["kernel"] == kernel) & (rows["tasks"] == tasks),
                                "size"].unique())
        if size not in (sizes[0], sizes[-1]):
            continue  # each end of the range
        table.rows.append([str(kernel), words.size(size, unit), f"{tasks:.0f}",
                           _fastest_warm(cell), _fastest(cell, "cold_seconds"),
                           str(cell["series"].nunique())])
    blocks.append(Paragraph(f"Size: {unit}. Warm: the steady-state map; cold: start-up and "
                            "the first map, what a one-shot script pays. Tied: not told "
                            "apart from the fastest by Welch's t-test over replicates."))
    blocks.append(table)
    pairs = crossover[(crossover["workload"] == workload) & (crossover["time_basis"] == WARM)]
    for _, pair in pairs.iterrows():
        curve = (f"{pair['kernel']} kernel, {pair['tasks']:.0f} tasks, "
                 f"{words.counted(pair['workers'], 'worker')}")
        blocks.append(Paragraph(f"{curve}: " + words.crossover(pair)))
    return blocks


def undecided(summary: pd.DataFrame, crossover: pd.DataFrame) -> list[Block]:
    """What the run could not decide, counted."""
    measured = summary[summary["status"].isin(["ok", "partial"])]
    noisy = int(measured["noisy"].fillna(False).astype(bool).sum())
    loaded = int(summary["loaded"].fillna(False).astype(bool).sum())
    failed = summary[~summary["status"].isin(["ok", "partial", "unsupported"])]
    warm = crossover[crossover["time_basis"] == WARM]
    # A pair never measured side by side (a series left out of a workload, or one with
    # no way to run it) is no open question.
    open_pairs = warm[~warm["crossover_status"].isin(["found", "none in range"])
                      & ~warm["crossover_status"].str.endswith("faster throughout")
                      & (warm["sizes_compared"].fillna(1) > 0)]
    items = [f"{noisy} of {len(measured)} combinations have a median whose 95 % CI is wider "
             "than the `ci_target` they were measured for, or fewer ok samples than "
             "`min_repeats` in a replicate (`noisy`: hollow points in the figures)."]
    if loaded:
        items.append(f"{words.counted(loaded, 'combination')} "
                     f"{'has' if loaded == 1 else 'have'} replicates measured on a loaded "
                     "machine.")
    if not failed.empty:
        items.append(f"{words.counted(len(failed), 'combination')} failed or "
                     f"{'was' if len(failed) == 1 else 'were'} left out: "
                     + ", ".join(sorted(set(failed['status']))) + " (`error` in summary.csv).")
    unsupported = int((summary["status"] == "unsupported").sum())
    if unsupported:
        items.append(f"{words.counted(unsupported, 'combination')} "
                     f"{'has' if unsupported == 1 else 'have'} no idiomatic way to run "
                     "(`unsupported`).")
    for _, row in open_pairs.iterrows():
        items.append(f"`{row['workload']}` ({row['kernel']} kernel), {row['tasks']:.0f} "
                     f"tasks, {words.counted(row['workers'], 'worker')}: " + words.crossover(row))
    return [Heading("What this run could not decide"),
            *[Paragraph(f"- {item}") for item in items]]


def _dirty(machines: pd.DataFrame) -> bool:
    """Whether some job ran code with uncommitted changes (`git_dirty`): the commit
    alone does not say what ran."""
    if "git_dirty" not in machines:
        return False
    return bool(machines["git_dirty"].map({True: True, "True": True}).fillna(False).any())


def machine_section(machines: pd.DataFrame) -> list[Block]:
    if machines.empty:
        return []
    # The project's interpreter's set that ran the most jobs; the run's whole span.
    on = interpreter_column(machines)
    own = machines[on == PROJECT] if (on == PROJECT).any() else machines
    row = own.sort_values("jobs", ascending=False).iloc[0] if "jobs" in own else own.iloc[0]
    row = row.copy()
    if "first_utc" in machines:
        row["first_utc"], row["last_utc"] = machines["first_utc"].min(), machines["last_utc"].max()
    versions = [f"{column.removesuffix('_version')} {row[column]}"
                for column in machines.columns if column.endswith("_version")
                and column not in ("python_version", "format_version") and pd.notna(row[column])
                and row[column] != "not installed"]
    memory = row.get("memory_bytes")
    text = (f"{row.get('cpu_model', '?')}, {row.get('logical_cpus', 0):.0f} logical CPUs, "
            f"{row.get('available_cores', 0):.0f} available to the jobs"
            + (f", {memory / 2**30:.0f} GiB" if pd.notna(memory) else "")
            + f"; {row.get('os', '?')}; Python {row.get('python_version', '?')}"
            + f" (GIL {'on' if row.get('gil_enabled', True) else 'off'})"
            + f"; {', '.join(versions)}; commit {str(row.get('git_commit', '?'))[:10]}"
            + (" with uncommitted changes" if _dirty(machines) else "")
            + f"; jobs from {row.get('first_utc', '?')} to {row.get('last_utc', '?')}.")
    blocks: list[Block] = [Heading("The machine"), Paragraph(text)]
    elsewhere = machines[on != PROJECT]
    if len(elsewhere) and machines["hostname"].nunique() == 1:
        described = [f"{interpreter_description(machines, name)} with numpy "
                     f"{row.get('numpy_version', '?')}"
                     for name, row in zip(elsewhere["interpreter"], elsewhere.to_dict("records"))]
        blocks.append(Paragraph("Series on other interpreters ran on "
                                + words.listed(list(dict.fromkeys(described))) + "."))
    elif len(machines) > 1:
        blocks.append(Paragraph(f"The jobs ran on {len(machines)} machine and software sets "
                                "(machines.csv): the figures mix them."))
    return blocks


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
