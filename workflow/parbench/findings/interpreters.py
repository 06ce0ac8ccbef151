"""Series on other interpreters in the findings: where threads on a free-threaded
CPython win and lose against each baseline, and whether a GIL came back on."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from parbench.columns.statuses import OK
from parbench.findings import words
from parbench.findings.document import Block, Heading, Paragraph
from parbench.interpreters import PROJECT, interpreter_column
from parbench.stats import compare, compared_by


def verdicts(summary: pd.DataFrame, challenger: str, baseline: str) -> dict[str, str]:
    """Per workload (and kernel), whether `challenger` wins, loses or ties against
    `baseline` over the sizes both ran (warm; the largest worker count; a win or a loss
    is told by Welch's t-test over replicates, stats.compare): one of OUTCOMES, the
    sizes' outcomes together."""
    found = {}
    ok = summary[(summary["status"] == OK) & summary["median_seconds"].notna()]
    for (workload, kernel), rows in ok.groupby(["workload", "kernel"], sort=False):
        rows = rows[rows["workers"] == rows["workers"].max()] if (
            rows["series"] == challenger).any() else rows
        mine = rows[rows["series"] == challenger].set_index(["size", "tasks"])
        theirs = ok[(ok["workload"] == workload) & (ok["kernel"] == kernel)
                    & (ok["series"] == baseline)]
        theirs = theirs[theirs["workers"] == theirs["workers"].max()].set_index(
            ["size", "tasks"])
        both = mine.index.intersection(theirs.index)
        if both.empty:
            continue
        outcomes = set()
        for key in both:
            outcomes.add({-1: "wins", 1: "loses", 0: "ties"}[
                compare(mine.loc[key], theirs.loc[key])])
        name = f"`{workload}`" + (f" ({kernel})" if ok.loc[ok["workload"] == workload,
                                                          "kernel"].nunique() > 1 else "")
        found[name] = ("wins or loses" if {"wins", "loses"} <= outcomes
                       else " or ".join(sorted(outcomes)))
    return found


# Each workload's verdict, as the sentence says it (by size: the sizes differ).
OUTCOMES = {"wins": "beat", "loses": "lose to", "ties": "tie with",
            "ties or wins": "beat or tie with, by size,",
            "loses or ties": "tie with or lose to, by size,",
            "wins or loses": "beat or lose to, by size,"}


def interpreter_sentence(summary: pd.DataFrame, machines: pd.DataFrame,
                         challenger: str = "threads-ft",
                         baselines: Sequence[str] = ("pool", "ray")) -> str | None:
    """One sentence: where `challenger` (threads on another interpreter) wins and where
    it loses against each baseline, naming the interpreter; None without it."""
    rows = summary[summary["series"] == challenger]
    if rows.empty:
        return None
    interpreter = str(interpreter_column(rows).iloc[0])
    described = interpreter_description(machines, interpreter, named=False)
    clauses = []
    for baseline in baselines:
        found = verdicts(summary, challenger, baseline)
        if not found:
            continue
        parts = []
        for outcome, label in OUTCOMES.items():
            names = [name for name, verdict in found.items() if verdict == outcome]
            if names:
                parts.append(f"{label} `{baseline}` on {words.listed(names)}")
        clauses.append(", ".join(parts))
    if not clauses:
        return None
    return (f"Threads on {described} (`{challenger}`, interpreter `{interpreter}`) "
            + "; they ".join(clauses)
            + f" (warm times; told apart by {compared_by(summary['replicates'])}).")


def interpreter_description(machines: pd.DataFrame, interpreter: str,
                            named: bool = True) -> str:
    """`ft` as the machines table knows it: its version and build (and its name)."""
    rows = machines[interpreter_column(machines) == interpreter]
    if rows.empty:
        return f"interpreter `{interpreter}`"
    row = rows.iloc[0]
    build = ("free-threaded" if bool(row.get("python_free_threaded_build", False))
             else "with the GIL")
    return f"CPython {row['python_version']} {build}" + (f" (`{interpreter}`)" if named else "")


def interpreters_section(summary: pd.DataFrame, machines: pd.DataFrame) -> list[Block]:
    """Series on other interpreters: who wins where, and whether a GIL came back on."""
    elsewhere = summary[interpreter_column(summary) != PROJECT]
    if elsewhere.empty:
        return []
    blocks: list[Block] = [Heading("Other interpreters")]
    for challenger in sorted(elsewhere.loc[elsewhere["engine"] == "threads", "series"]
                             .unique()):
        # Against the processes, and against threads on the project's interpreter.
        sentence = interpreter_sentence(summary, machines, challenger,
                                        ("pool", "ray", "threads"))
        if sentence:
            blocks.append(Paragraph(sentence))
    back_on = elsewhere[elsewhere.get("gil_enabled", pd.Series(False, elsewhere.index))
                        .fillna(False).astype(bool)]
    free_builds = machines[machines.get("python_free_threaded_build",
                                        pd.Series(False, machines.index)).fillna(False)
                           .astype(bool)]
    back_on = back_on[back_on["interpreter"].isin(free_builds.get("interpreter", []))]
    if len(back_on):
        blocks.append(Paragraph(
            "On a free-threaded build the GIL came back on in "
            + words.listed(sorted(f"`{name}`" for name in back_on["series"].unique()))
            + " (`gil_enabled`: an extension module without free-threading support); "
            "they are flagged, not dropped."))
    return blocks
