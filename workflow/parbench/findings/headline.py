"""The README's headline, from the committed runs: the figure and its caption (the
answer, with its interval), how reruns stand to it, and the cost model's reason for it
(parbench.findings.pages writes it into the README as the block `headline`)."""

from __future__ import annotations

import pandas as pd

from parbench.figures.registry import headline_figure
from parbench.findings import words
from parbench.findings.document import Paragraph, markdown
from parbench.findings.interpreters import interpreter_sentence
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
from parbench.migrations import read_table


def headline_run() -> str:
    return next(run for run in HEADLINE_RUNS if (DATA / run / "crossover.csv").is_file())


def headline() -> str:
    """The README's figure and its caption, from the headline run."""
    run = headline_run()
    summary, table, machines = tables_of(run)
    row = headline_row(table)
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
    fitted costs (the reference has no serial loop to fit a model on): what each series
    pays per map, per task and per byte, how many copies of the input a map makes, and
    where the model puts the crossing beside where that run measured it."""
    from parbench.model.terms import Problem, terms
    from parbench.workloads import workload_class

    model, crossover = model_of(run), DATA / run / "crossover.csv"
    if model is None or not crossover.is_file():
        return ""
    pair = headline["challenger"], headline["baseline"]
    costs = model[model["workload"].fillna("") == ""].set_index(["series", "parameter"])
    if not all((series, "per_byte_seconds") in costs.index for series in pair):
        return ""
    rows = read_table(crossover)
    same = rows[(rows["workload"] == headline["workload"]) & (rows["kernel"] == headline["kernel"])
                & (rows["tasks"] == headline["tasks"]) & (rows["workers"] == headline["workers"])
                & (rows["challenger"] == pair[0]) & (rows["baseline"] == pair[1])
                & (rows["time_basis"] == "warm")]
    if same.empty:
        return ""
    measured = same.iloc[0]
    nbytes = workload_class(headline["workload"])().shared_input_bytes(1_000_000)
    if not nbytes:  # a headline without shared input: no bytes to explain it by
        return ""

    def copies(series: str) -> str:
        shipped = terms(Problem(headline["workload"], headline["kernel"], series, 1e6,
                                int(headline["tasks"]), int(headline["workers"])), 0.0,
                        int(headline["workers"])).shipped_bytes
        return "once" if shipped == nbytes else f"{shipped / nbytes:.0f} times"

    def cost(series: str, parameter: str, per: str, scale: float = 1.0,
             unit: str = "") -> str:
        value, low, high = costs.loc[(series, parameter), ["value", "ci_low", "ci_high"]]
        return words.estimate(
            parameter, value, low, high,
            (lambda one: f"{one * scale:.3g}") if unit else words.seconds,
            "(at the fit's bound in every resample: none told from none)", unit, per)

    unit = measured["size_unit"]
    sides = [f"`{series}` ships it {copies(series)} a map at "
             f"{cost(series, 'per_byte_seconds', 'a byte', 1e9, 'ns')}, and pays "
             f"{cost(series, 'per_map_seconds', 'a map')} and "
             f"{cost(series, 'dispatch_seconds', 'a task')} (the slope of its empty maps' "
             "time against the task count)" for series in pair]
    return (f"**Why** ([the cost model](docs/model.md), fitted on run `{run}`). A map's warm "
            f"time is the fixed costs per map and per task, plus the bytes of the shared "
            f"input times the copies the series makes, plus the work: {sides[0]}; "
            f"{sides[1]}. `{pair[1]}`'s copies outweigh `{pair[0]}`'s fixed costs above "
            f"{words.size(measured['predicted_crossover_size'], unit)} by the model; run "
            f"`{run}` measured {words.size(measured['crossover_size'], unit)} "
            f"[{words.size(measured['crossover_ci_low'], unit)}, "
            f"{words.size(measured['crossover_ci_high'], unit)}].")
