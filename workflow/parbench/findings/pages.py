"""The docs' pages of findings, generated from the committed runs (docs/data/<run>):
the README's headline (parbench.findings.headline), its regime table, a page per run
and the cost model's pages, refreshed by `parbench describe --write` (`make docs`) and
checked current by a test, so that no result number in the docs is typed by hand."""

from __future__ import annotations

from parbench.columns.statuses import MEASURED
from parbench.findings import words
from parbench.findings.document import Heading, Paragraph, Table, markdown
from parbench.findings.headline import headline
from parbench.findings.runs import DATA, REGIMES_RUN, model_of, tables_of
from parbench.findings.sections import findings, regime_table
from parbench.migrations import read_table


def run_findings(run: str) -> str:
    """docs/data/<run>'s findings, one heading level down (the page has its own title)."""
    blocks = findings(*tables_of(run), model=model_of(run))
    shifted = [Heading(block.text, min(block.level + 1, 3)) if isinstance(block, Heading)
               else block for block in blocks]
    return markdown(shifted).rstrip()


def regimes_page(run: str = REGIMES_RUN) -> str:
    """The README's answer regime by regime: the regimes run's crossovers and fastest
    series, with the machine and the replicates they rest on."""
    summary, crossover, machines = tables_of(run)
    table = regime_table(summary, crossover)
    if table is None:
        return f"`docs/data/{run}` compared no pair of series."
    machine = machines.iloc[0]
    measured = summary[summary["status"].isin(MEASURED)]
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
               "range*, no crossing in the sizes measured; *`<challenger>` faster "
               "throughout*, the challenger faster at every size measured; *not "
               "significant*, the medians "
               "cross but the lead above is within the noise; *no clear winner*, the two "
               "cannot be told apart at any size; *smallest size within the noise* or "
               "*largest size within the noise*, no crossing in the sizes measured, but "
               "none ruled out at that end; "
               "*no sign change told from noise*, *unbounded interval*, *interval beyond "
               "the fitted sizes* or *poor fit*, they cross but the replicates or sizes "
               "cannot place where; *outside the fitted sizes*, the lines fitted near the "
               "crossing meet beyond the sizes they were fitted on; *too few sizes* or "
               "*too few replicates*, too few measured both to tell ([method](docs/method.md)); "
               "*unsupported*: one of the pair cannot run that kernel; —: the pair did not "
               "run on that curve.")
    return markdown([table, Paragraph(caption)]).rstrip()


def model_page(run: str) -> str:
    """docs/data/<run>'s cost model: every series' fitted and measured costs with their
    intervals, and how well it predicts the workloads it was not fitted on."""
    model = model_of(run)
    if model is None:
        return f"`docs/data/{run}` has no model.csv."
    table = Table(["series", "per map", "per byte shipped (ns)", "compute factor",
                   "dispatch per task", "start-up", "first map's extra"])
    for series, rows in model[model["workload"].fillna("") == ""].groupby("series",
                                                                          sort=False):
        values = rows.set_index("parameter")

        def cell(name: str, scale: float = 1.0, seconds: bool = False) -> str:
            if name not in values.index:  # a model.csv from before it was fitted
                return "—"
            return words.estimate(name, *values.loc[name, ["value", "ci_low", "ci_high"]],
                                  words.seconds if seconds
                                  else (lambda one: f"{one * scale:.3g}"))

        table.rows.append([f"`{series}`", cell("per_map_seconds", seconds=True),
                           cell("per_byte_seconds", 1e9), cell("compute_factor"),
                           cell("dispatch_seconds", seconds=True),
                           cell("startup_seconds", seconds=True),
                           cell("first_map_extra_seconds", seconds=True)])
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
