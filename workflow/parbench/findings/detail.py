"""The findings in detail: each workload's fastest series at the ends of its range,
what the run could not decide, and the machine it ran on; and the helpers the regime
table shares with them (the fastest series with its ties, kernels in their order)."""

from __future__ import annotations

import pandas as pd

from parbench.columns.statuses import MEASURED, UNSUPPORTED
from parbench.figures.style import kernel_order
from parbench.findings import words
from parbench.findings.document import Block, Heading, Paragraph, Table
from parbench.findings.interpreters import interpreter_description
from parbench.interpreters import PROJECT, interpreter_column
from parbench.stats import compare, compared_by

# The time basis the findings speak of: the steady state (crossover.csv's `time_basis`).
WARM = "warm"


def measured_rows(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows that measured `column`."""
    return rows[rows["status"].isin(MEASURED) & rows[column].notna()]


def _series_measured(cell: pd.DataFrame) -> str:
    """How many series measured the cell, "of" how many ran (failed or unsupported)."""
    measured, ran = measured_rows(cell, "median_seconds")["series"].nunique(), \
        cell["series"].nunique()
    return str(measured) if measured == ran else f"{measured} of {ran}"


def _fastest(rows: pd.DataFrame, column: str) -> str:
    measured = measured_rows(rows, column)
    if measured.empty:
        return "—"
    best = measured.loc[measured[column].idxmin()]
    return f"`{best['series']}` {words.seconds(best[column])}"


def fastest_warm(cell: pd.DataFrame, where: str = "") -> str:
    """The series with the lowest warm median among `cell`'s rows (one problem), its
    time (`where`: words after it), and the series that cannot be told from it (a tie:
    Welch's t-test over replicates, stats.compare)."""
    measured = measured_rows(cell, "median_seconds")
    if measured.empty:
        return "—"
    # Each series at its best worker count: one name once.
    measured = measured.sort_values("median_seconds", kind="mergesort").drop_duplicates(
        "series")
    best = measured.loc[measured["median_seconds"].idxmin()]
    # Not told slower: one the test (on the replicates' geometric mean) would put ahead
    # of the lowest median is no clearer a winner than a tie.
    tied = [row["series"] for _, row in measured.iterrows()
            if row["series"] != best["series"] and compare(row, best) != 1]
    text = f"`{best['series']}` {words.seconds(best['median_seconds'])}{where}"
    if len(tied):
        text += " (tied with " + words.listed([f"`{series}`" for series in tied]) + ")"
    return text


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
                           fastest_warm(cell), _fastest(cell, "cold_seconds"),
                           _series_measured(cell)])
    blocks.append(Paragraph(f"Size: {unit}. Warm: the steady-state map; cold: start-up and "
                            "the first map, what a one-shot script pays. Tied: not told "
                            "apart from the fastest by "
                            f"{compared_by(rows.get('replicates', []))}; each series at "
                            "its fastest worker count."))
    blocks.append(table)
    pairs = crossover[(crossover["workload"] == workload) & (crossover["time_basis"] == WARM)]
    for _, pair in sorted(pairs.iterrows(), key=lambda item: level(workload, item[1]["kernel"])):
        curve = (f"{pair['kernel']} kernel, {pair['tasks']:.0f} tasks, "
                 f"{words.counted(pair['workers'], 'worker')}")
        blocks.append(Paragraph(f"{curve}: " + words.crossover(pair)))
    return blocks


def undecided(summary: pd.DataFrame, crossover: pd.DataFrame) -> list[Block]:
    """What the run could not decide, counted."""
    measured = summary[summary["status"].isin(MEASURED)]
    noisy = int(measured["noisy"].fillna(False).astype(bool).sum())
    loaded = int(summary["loaded"].fillna(False).astype(bool).sum())
    failed = summary[~summary["status"].isin([*MEASURED, UNSUPPORTED])]
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
    unsupported = int((summary["status"] == UNSUPPORTED).sum())
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
