"""The README's headline, from the committed runs: the figure and its caption (the
answer, with its interval), how reruns stand to it, and the cost model's reason for it
(parbench.findings.pages writes it into the README as the block `headline`)."""

from __future__ import annotations

import pandas as pd

from parbench.figures.registry import headline_figure
from parbench.findings import words
from parbench.findings.document import Paragraph, markdown
from parbench.findings.interpreters import interpreter_sentence
from parbench.findings.reason import model_reason
from parbench.findings.runs import (
    DATA,
    FREE_THREADING_RUN,
    HEADLINE_RUNS,
    REGIMES_RUN,
    model_of,
    tables_of,
)
from parbench.findings.sections import headline_row
from parbench.findings.words import crossover


def headline_run() -> str:
    return next(run for run in HEADLINE_RUNS if (DATA / run / "crossover.csv").is_file())


def headline() -> str:
    """The README's figure and its caption, from the headline run."""
    run = headline_run()
    summary, table, machines = tables_of(run)
    row = headline_row(table)
    if row is None:  # a run that compared no pair: nothing to headline, said so
        return f"Run `{run}` (`docs/data/{run}`) compared no pair of series."
    machine = machines.iloc[0]
    figure = headline_figure(row["workload"], f"docs/figures/{run}")
    caption = (f"*`{row['workload']}`, {row['tasks']:.0f} tasks, {row['workers']:.0f} "
               f"workers, run `{run}` (`docs/data/{run}`: {machine['cpu_model']}, "
               f"{machine['available_cores']:.0f} cores, {str(machine['first_utc'])[:10]}): "
               + crossover(row) + reruns(run, row) + "*")
    blocks = [Paragraph(f"![Where Ray overtakes Pool]({figure})"), Paragraph(caption)]
    reason = why(row)
    if reason:
        blocks.append(Paragraph(reason))
    if (DATA / FREE_THREADING_RUN / "summary.csv").is_file():
        summary, _, machines = tables_of(FREE_THREADING_RUN)
        sentence = interpreter_sentence(summary, machines)
        if sentence:
            blocks.append(Paragraph(
                f"**Without the GIL.** {sentence} Run `{FREE_THREADING_RUN}` "
                f"([docs/free-threading.md](docs/free-threading.md))."))
    return markdown(blocks).rstrip()


def reruns(run: str, first: pd.Series) -> str:
    """The headline run's reruns (committed as `<run>-<date>`: the same design on the
    same machine another day), each with its crossover on the curve of the first's
    headline (`first`) and how it stands to the first's interval: what a rerun moves."""
    found = []
    for folder in sorted(DATA.glob(f"{run}-*/crossover.csv")):
        other = folder.parent.name
        _, table, machines = tables_of(other)
        curve = ["workload", "kernel", "tasks", "workers", "challenger", "baseline",
                 "time_basis"]
        same = table[(table[curve] == first[curve]).all(axis=1)]
        # The first run's curve, measured again; else the rerun's own headline, not
        # set against a curve it is not.
        again = same.iloc[0] if len(same) else headline_row(table)
        if again is None:  # a rerun that compared no pair
            continue
        found.append(f"`{other}` on {str(machines.iloc[0]['first_utc'])[:10]}, "
                     + words.crossover_cell(again)
                     + (agreement(first, again) if len(same) else ""))
    return " Rerun on the same machine: " + "; ".join(found) + "." if found else ""


def agreement(first: pd.Series, again: pd.Series) -> str:
    """How a rerun's crossover stands to the first run's: inside its interval, outside
    it with the two intervals overlapping, or apart (the runs disagree)."""
    if not (first["crossover_status"] == again["crossover_status"] == "found"):
        return ""
    if first["crossover_ci_low"] <= again["crossover_size"] <= first["crossover_ci_high"]:
        return ", inside the first's interval"
    if (again["crossover_ci_low"] <= first["crossover_ci_high"]
            and first["crossover_ci_low"] <= again["crossover_ci_high"]):
        return (", outside the first's interval, the two intervals overlapping (each "
                "covers its own run's replicates, not the machine's day)")
    return ", its interval apart from the first's: the two runs disagree"


def why(headline: pd.Series, run: str = REGIMES_RUN) -> str:
    """The cost model's reason for the headline's crossing, from the regimes run's
    fitted costs (the reference has no serial loop to fit a model on), beside where
    that run measured it (parbench.findings.reason)."""
    model, crossover = model_of(run), DATA / run / "crossover.csv"
    if model is None or not crossover.is_file():
        return ""
    summary, rows, _ = tables_of(run)
    same = rows[(rows["workload"] == headline["workload"]) & (rows["kernel"] == headline["kernel"])
                & (rows["tasks"] == headline["tasks"]) & (rows["workers"] == headline["workers"])
                & (rows["challenger"] == headline["challenger"])
                & (rows["baseline"] == headline["baseline"]) & (rows["time_basis"] == "warm")]
    if same.empty:
        return ""
    reason = model_reason(same.iloc[0], model, summary, measured_by=f"run `{run}`")
    return (f"**Why** ([the cost model](docs/model.md), fitted on run `{run}`). " + reason
            if reason else "")
