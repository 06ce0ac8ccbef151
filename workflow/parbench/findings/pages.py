"""The docs' pages of findings, generated from the committed runs (docs/data/<run>):
the README's headline (figure and caption) and a page per run, refreshed by
`parbench describe --write` (`make docs`) and checked current by a test, so that no
result number in the docs is typed by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from parbench.figures.registry import headline_figure
from parbench.findings import words
from parbench.findings.document import Heading, Paragraph, Table, markdown
from parbench.findings.interpreters import interpreter_sentence
from parbench.findings.sections import findings, headline_row, regime_table
from parbench.findings.words import crossover
from parbench.migrations import read_table

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "docs/data"
# The run the README leads with: the reference (dense, slow, the method of today),
# else the first committed one.
HEADLINE_RUNS = ("reference", "2cpu")
# The run of threads on a free-threaded CPython beside Pool and Ray (its sentence
# follows the headline's figure).
FREE_THREADING_RUN = "freethreaded"
# The run of a size grid per regime (config/regimes.yaml): the README's regime table.
REGIMES_RUN = "regimes"


def _tables(run: str):
    folder = DATA / run
    return (read_table(folder / "summary.csv"), read_table(folder / "crossover.csv"),
            read_table(folder / "machines.csv"))


def _model(run: str):
    path = DATA / run / "model.csv"
    return read_table(path) if path.is_file() else None


def run_findings(run: str) -> str:
    """docs/data/<run>'s findings, one heading level down (the page has its own title)."""
    blocks = findings(*_tables(run), model=_model(run))
    shifted = [Heading(block.text, min(block.level + 1, 3)) if isinstance(block, Heading)
               else block for block in blocks]
    return markdown(shifted).rstrip()


def headline_run() -> str:
    return next(run for run in HEADLINE_RUNS if (DATA / run / "crossover.csv").is_file())


def headline() -> str:
    """The README's figure and its caption, from the headline run."""
    run = headline_run()
    summary, table, machines = _tables(run)
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
        summary, _, machines = _tables(FREE_THREADING_RUN)
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
        _, table, machines = _tables(other)
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

    model, crossover = _model(run), DATA / run / "crossover.csv"
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
             f"{cost(series, 'dispatch_seconds', 'a task')} (empty tasks' dispatch, the median "
             "over the fitted workloads)" for series in pair]
    return (f"**Why** ([the cost model](docs/model.md), fitted on run `{run}`). A map's warm "
            f"time is the fixed costs per map and per task, plus the bytes of the shared "
            f"input times the copies the series makes, plus the work: {sides[0]}; "
            f"{sides[1]}. `{pair[1]}`'s copies outweigh `{pair[0]}`'s fixed costs above "
            f"{words.size(measured['predicted_crossover_size'], unit)} by the model; run "
            f"`{run}` measured {words.size(measured['crossover_size'], unit)} "
            f"[{words.size(measured['crossover_ci_low'], unit)}, "
            f"{words.size(measured['crossover_ci_high'], unit)}].")


def regimes_page(run: str = REGIMES_RUN) -> str:
    """The README's answer regime by regime: the regimes run's crossovers and fastest
    series, with the machine and the replicates they rest on."""
    summary, crossover, machines = _tables(run)
    table = regime_table(summary, crossover)
    if table is None:
        return f"`docs/data/{run}` compared no pair of series."
    machine = machines.iloc[0]
    measured = summary[summary["status"].isin(["ok", "partial"])]
    replicates = measured["replicates"].min(), measured["replicates"].max()
    replicate_words = (f"{replicates[0]:.0f}" if replicates[0] == replicates[1]
                       else f"{replicates[0]:.0f} to {replicates[1]:.0f}")
    caption = (f"Run `{run}` (`docs/data/{run}`, [its findings](docs/findings-{run}.md): "
               f"{machine['cpu_model']}, {machine['available_cores']:.0f} cores, "
               f"{str(machine['first_utc'])[:10]}; {measured['series'].nunique()} series, "
               f"{replicate_words} replicates a combination). A size is a crossover with "
               "its 95 % interval, fitted where the lines through the sizes near the "
               "crossing meet; a bracket, between the two measured sizes where the paired "
               "times change sign, where those lines do not hold; or interpolated between "
               "two sizes; otherwise: *none in "
               "range*, no crossing in the sizes measured; *not significant*, the medians "
               "cross but the lead above is within the noise; *no clear winner*, the two "
               "cannot be told apart at any size; *unbounded interval*, *interval beyond the "
               "fitted sizes* or *poor fit*, they cross but the replicates or sizes cannot "
               "place where; *too few sizes*, fewer than two sizes measured both "
               "([method](docs/method.md)); —: the pair did not run on that curve.")
    return markdown([table, Paragraph(caption)]).rstrip()


def model_page(run: str) -> str:
    """docs/data/<run>'s cost model: every series' fitted and measured costs with their
    intervals, and how well it predicts the workloads it was not fitted on."""
    model = _model(run)
    if model is None:
        return f"`docs/data/{run}` has no model.csv."
    table = Table(["series", "per map", "per byte shipped (ns)", "compute factor",
                   "dispatch per task", "start-up"])
    for series, rows in model[model["workload"].fillna("") == ""].groupby("series",
                                                                          sort=False):
        values = rows.set_index("parameter")

        def cell(name: str, scale: float = 1.0, seconds: bool = False) -> str:
            return words.estimate(name, *values.loc[name, ["value", "ci_low", "ci_high"]],
                                  words.seconds if seconds
                                  else (lambda one: f"{one * scale:.3g}"))

        table.rows.append([f"`{series}`", cell("per_map_seconds", seconds=True),
                           cell("per_byte_seconds", 1e9), cell("compute_factor"),
                           cell("dispatch_seconds", seconds=True),
                           cell("startup_seconds", seconds=True)])
    blocks = [table]
    predictions = DATA / run / "predictions.csv"
    if predictions.is_file():
        from parbench.model.check import held_out_errors, held_out_rows

        rows = read_table(predictions)
        errors = held_out_errors(rows)
        if errors:
            held = held_out_rows(rows)
            workload, series = errors.worst_where.split()
            blocks.append(Paragraph(
                f"Held out ({', '.join(sorted(held['workload'].unique()))}): "
                f"{errors.count} combinations, median |error| {errors.median:.0%}, worst "
                f"{errors.worst:.0%} (`{workload}`, `{series}`)."))
    return markdown(blocks).rstrip()


def _names(names: list[str]) -> str:
    return words.listed([f"`{name}`" for name in names]) if names else "none"


def _verdict(errors) -> str:
    """A check's errors against the median target: met, missed, or — (none predicted)."""
    return "—" if errors is None else "met" if errors.met else "**missed**"


def model_check_page() -> str:
    """The cost model against its targets on every committed run (parbench.model.check):
    held-out warm times and crossovers, and the 16-core rows predicted two ways."""
    from parbench.model import check

    table = Table(["run", "fitted on", "held out", "held-out warm times",
                   f"median within {check.MEDIAN_ERROR_TARGET:.0%}", "held-out crossovers"])
    runs = [check.check_run(run) for run in check.committed_runs(DATA)]
    for run in runs:
        crossings = "; ".join(
            f"{found.curve}: measured {words.size(found.measured, found.unit)} "
            f"[{words.size(found.low, found.unit)}, {words.size(found.high, found.unit)}], "
            f"predicted {words.size(found.predicted, found.unit)}, {found.verdict}"
            for found in run.crossovers) or "none found"
        table.rows.append([f"`{run.run}` ({run.cores} cores)", _names(run.fitted_on),
                           _names(run.held_out),
                           run.errors.sentence() if run.errors else "none predicted",
                           _verdict(run.errors), crossings])
    blocks = [Paragraph(
        f"The targets: held-out warm times within a median relative error of "
        f"{check.MEDIAN_ERROR_TARGET:.0%}, and each held-out crossover the data finds "
        f"predicted within {check.CROSSOVER_NEAR_TARGET:.0%} of the measured size, or inside "
        f"its measured interval where that is no wider than "
        f"±{check.CROSSOVER_NEAR_TARGET:.0%}: inside a wider one (a bracket between grid "
        "points can span ten times), the check is undecided."), table]
    for sixteen, answers in check.many_core_checks(runs, DATA):
        rows = Table(["model", "held-out warm times", f"median within "
                      f"{check.MEDIAN_ERROR_TARGET:.0%}"])
        for name, errors in answers:
            rows.rows.append([name, errors.sentence() if errors else
                              "none predicted (no serial loop of these workloads to fit "
                              "compute on)", _verdict(errors)])
        blocks += [Paragraph(f"`{sixteen.run}` ({sixteen.cores} cores): the "
                             "combinations outside its workers sweep, predicted by a model "
                             "fitted on that sweep, and by each 2-core run's model with the "
                             "cores changed."), rows]
    return markdown(blocks).rstrip()


def block(name: str) -> str | None:
    """A generated block of this module, by name (None: not one of them)."""
    if name == "headline":
        return headline()
    if name == "regimes":
        return regimes_page()
    if name.startswith("findings-"):
        return run_findings(name.removeprefix("findings-"))
    if name == "model-check":
        return model_check_page()
    if name.startswith("model-"):
        return model_page(name.removeprefix("model-"))
    return None
