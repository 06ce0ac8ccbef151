"""The findings page: every number from the aggregates, a sentence for every workload,
and valid reStructuredText for the report's front page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from docutils.core import publish_parts
from matplotlib import pyplot

from parbench.findings import write_findings
from parbench.findings.sections import regime_table
from parbench.findings.words import crossover, crossover_cell, size
from parbench.migrations import read_table
from parbench.workloads import WORKLOADS


@pytest.fixture(scope="module")
def written(aggregates, tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("findings")
    # The headline's figure, embedded in the reST as the report shows it (a real PNG:
    # its base64 is far longer than a line docutils accepts, unless wrapped).
    figure = folder / "scaling_shared_array.png"
    pyplot.figure(figsize=(6, 4))
    pyplot.plot(range(100), [value ** 0.5 for value in range(100)])
    pyplot.savefig(figure, dpi=100)
    pyplot.close("all")
    text = write_findings(aggregates["summary"], aggregates["crossover"],
                          aggregates["machines"], folder / "findings.md",
                          folder / "findings.rst", {"shared_array": figure})
    assert (folder / "findings.md").read_text() == text
    return text, (folder / "findings.rst").read_text()


def test_the_headline_states_the_crossover_with_the_tables_numbers(aggregates, written):
    text, _ = written
    crossover = read_table(aggregates["crossover"])
    row = crossover[(crossover["workload"] == "shared_array")
                    & (crossover["challenger"] == "ray") & (crossover["baseline"] == "pool")
                    & (crossover["time_basis"] == "warm")].iloc[0]
    headline = text.split("\n\n")[1]
    assert headline.startswith("**The answer, on `shared_array`")
    unit = row["size_unit"]
    if row["crossover_status"] == "found":
        for column in ("crossover_size", "crossover_ci_low", "crossover_ci_high"):
            assert size(row[column], unit) in headline, column
    else:
        assert "overtakes" not in headline.split(":**")[1] or "does not" in headline


def test_every_workload_has_its_section_and_the_machine_is_named(aggregates, written):
    text, _ = written
    summary = read_table(aggregates["summary"])
    for workload in summary["workload"].unique():
        assert f"### `{workload}`" in text, workload
    machines = read_table(aggregates["machines"])
    assert machines["cpu_model"].iloc[0] in text
    assert "What this run could not decide" in text
    # The fixture's failed ipyparallel job is said, not hidden (one: "was").
    assert "1 combination failed or was left out: error" in text


def test_the_report_twin_is_valid_restructured_text(written):
    _, rst = written
    html = publish_parts(rst, writer_name="html",
                         settings_overrides={"halt_level": 2, "report_level": 5})["html_body"]
    assert "What this run found" in html and "<table" in html
    # reST cannot nest code in bold: the headline's series names show without backquotes.
    assert "<strong>The answer, on shared_array" in html and "``" not in html
    assert '<img alt="shared_array: time per map against size" src="data:image/png;base64,' \
        in html


def test_a_run_without_compared_pairs_says_so(aggregates, tmp_path: Path):
    crossover = read_table(aggregates["crossover"]).iloc[:0]
    crossover.to_csv(tmp_path / "crossover.csv", index=False)
    text = write_findings(aggregates["summary"], tmp_path / "crossover.csv",
                          aggregates["machines"], tmp_path / "findings.md")
    assert "compared no pair of series" in text


def test_the_regime_table_has_each_curve_and_each_pairs_crossover(aggregates):
    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    table = regime_table(summary, crossover)
    warm = crossover[crossover["time_basis"] == "warm"]
    pairs = list(dict.fromkeys(zip(warm["challenger"], warm["baseline"])))
    curves = warm[["workload", "kernel", "tasks", "workers"]].drop_duplicates()
    assert len(table.rows) == len(curves) and len(table.header) == 5 + len(pairs)
    for cells, (_, curve) in zip(table.rows, curves.iterrows()):
        assert cells[1] == f"`{curve['workload']}`" and cells[2] == str(curve["kernel"])
        assert cells[0] == WORKLOADS[curve["workload"]].regime
        for (challenger, baseline), cell in zip(pairs, cells[4:-1]):
            row = warm[(warm["workload"] == curve["workload"])
                       & (warm["kernel"] == curve["kernel"])
                       & (warm["challenger"] == challenger) & (warm["baseline"] == baseline)]
            both_ran = {challenger, baseline} <= set(
                summary.loc[(summary["workload"] == curve["workload"])
                            & (summary["kernel"] == curve["kernel"])
                            & summary["status"].isin(["ok", "partial"]), "series"])
            assert cell == (crossover_cell(row.iloc[0]) if len(row) and both_ran else "—")
        measured = summary[(summary["workload"] == curve["workload"])
                           & (summary["kernel"] == curve["kernel"])
                           & (summary["tasks"] == curve["tasks"])
                           & (summary["status"] == "ok")]
        largest = measured[measured["size"] == measured["size"].max()]
        fastest = largest.loc[largest["median_seconds"].idxmin(), "series"]
        assert cells[-1].startswith(f"`{fastest}` ")


def test_the_fastest_series_names_the_ones_it_cannot_be_told_from(aggregates):
    summary = read_table(aggregates["summary"])
    crossover = read_table(aggregates["crossover"])
    rows = summary[(summary["workload"] == "shared_array") & (summary["status"] == "ok")]
    largest = rows[rows["size"] == rows["size"].max()].sort_values("median_seconds")
    best, runner_up = largest.index[0], largest.index[1]
    assert (largest["replicates"] >= 2).all()  # told apart over replicates (stats.compare)
    apart, overlapping = summary.copy(), summary.copy()
    low, high = largest.loc[best, ["replicate_ci_low", "replicate_ci_high"]]
    # Far slower, with the same scatter between replicates: told apart.
    apart.loc[largest.index[1:], ["replicate_ci_low", "replicate_ci_high"]] = \
        [low * 1000, high * 1000]
    # The best's very replicates: not told apart, whatever the bootstrap's intervals.
    overlapping.loc[runner_up, ["replicate_ci_low", "replicate_ci_high", "replicates"]] = \
        [low, high, largest.loc[best, "replicates"]]

    def fastest_cell(table_summary):
        table = regime_table(table_summary, crossover)
        return next(cells[-1] for cells in table.rows if cells[1] == "`shared_array`")

    assert "tied" not in fastest_cell(apart)
    assert f"tied with `{summary.loc[runner_up, 'series']}`" in fastest_cell(overlapping)


def test_the_readme_says_why_with_the_models_costs_and_its_crossing():
    """The headline's `why`: each series' fitted cost per byte, the copies its class
    says a map makes (the naive Pool: one per chunk, 8 chunks of 16 tasks on 2
    workers; Ray: once), and the model's crossing beside the measured one."""
    from parbench.findings.headline import DATA, REGIMES_RUN, headline_row, headline_run, why

    row = headline_row(read_table(DATA / headline_run() / "crossover.csv"))
    sentence = why(row)
    model = read_table(DATA / REGIMES_RUN / "model.csv").set_index(["series", "parameter"])
    for series in (row["challenger"], row["baseline"]):
        per_byte = model.loc[(series, "per_byte_seconds"), "value"] * 1e9
        assert f"`{series}` ships it" in sentence and f"{per_byte:.3g} ns" in sentence
    assert "`pool` ships it 8 times a map" in sentence
    assert "`ray` ships it once a map" in sentence
    crossover = read_table(DATA / REGIMES_RUN / "crossover.csv")
    curve = crossover[(crossover["workload"] == row["workload"])
                      & (crossover["challenger"] == row["challenger"])
                      & (crossover["baseline"] == row["baseline"])
                      & (crossover["tasks"] == row["tasks"])
                      & (crossover["time_basis"] == "warm")].iloc[0]
    unit = curve["size_unit"]
    assert f"above {size(curve['predicted_crossover_size'], unit)} by the model" in sentence
    assert f"measured {size(curve['crossover_size'], unit)}" in sentence


def test_the_readme_headline_names_each_rerun_of_its_design_with_its_crossing():
    from parbench.findings.headline import DATA, headline, headline_row, headline_run

    run = headline_run()
    reruns = sorted(path.parent.name for path in DATA.glob(f"{run}-*/crossover.csv"))
    assert reruns, "no committed rerun of the headline run"
    text = headline()
    for rerun in reruns:
        row = headline_row(read_table(DATA / rerun / "crossover.csv"))
        assert f"`{rerun}` on" in text and crossover_cell(row) in text


def _pair(**columns) -> pd.Series:
    return pd.Series({"challenger": "ray", "baseline": "pool", "size_unit": "bytes",
                      **columns})


def test_a_lead_told_apart_at_some_sizes_only_is_not_faster_at_every_size():
    told_everywhere = _pair(crossover_status="ray faster throughout", sizes_compared=3,
                            sizes_told_apart=3)
    assert crossover(told_everywhere) == "`ray` is faster than `pool` at every size measured."
    told_once = _pair(crossover_status="ray faster throughout", sizes_compared=3,
                      sizes_told_apart=1)
    assert "faster than" not in crossover(told_once)
    assert "told apart at 1 of the 3" in crossover(told_once)


@pytest.mark.parametrize("fit, says", [
    ({"fit_status": "found", "fit_lack_of_fit_p": 0.015, "fit_size": 2e6}, "lack-of-fit p"),
    ({"fit_status": "found", "fit_lack_of_fit_p": 0.6, "fit_size": 9e6}, "9 MB, outside"),
    ({"fit_status": "too few sizes"}, "too few sizes"),
    ({"fit_status": "unbounded interval"}, "cannot bound"),
    ({"fit_status": "interval beyond the fitted sizes"}, "reaches past the sizes fitted"),
])
def test_a_bracket_says_what_the_fit_said_instead(fit, says):
    """A bracket is the headline for one of several reasons; its sentence gives the one
    that holds (it said 'a straight line does not hold there' whatever the fit said)."""
    row = _pair(crossover_status="found", method="bracket", crossover_size=3.2e6,
                crossover_ci_low=1e6, crossover_ci_high=4.6e6, **fit)
    sentence = crossover(row)
    assert says in sentence and "overtakes `pool` above **3.2 MB**" in sentence
    if fit["fit_status"] != "found" or fit["fit_lack_of_fit_p"] >= 0.2:
        assert "straight line" not in sentence


def test_a_sentence_about_the_medians_names_where_the_medians_cross_not_the_fit():
    """A poor fit keeps its fitted crossing (3 MB); the medians cross at 1.9 MB, and
    the sentence that says "their medians cross near" names that one."""
    poor = _pair(crossover_status="poor fit", method="fit", fit_status="found",
                 fit_lack_of_fit_p=0.01, fit_size=3e6, interpolated_size=1.9e6)
    assert crossover(poor).endswith("their medians cross near 1.9 MB.")
    unbounded = _pair(crossover_status="unbounded interval", method="fit", fit_size=3e6,
                      fit_replicates=3, interpolated_size=1.9e6)
    assert "cross near 3 MB" in crossover(unbounded)  # the fit's own verdict: its crossing


def test_a_rerun_says_how_its_crossover_stands_to_the_first_runs_interval():
    """The reference's rerun put the crossing outside the first's interval: the README
    said both numbers, not that one lies outside the other."""
    from parbench.findings.headline import agreement

    def found(size: float, low: float, high: float) -> pd.Series:
        return _pair(crossover_status="found", crossover_size=size, crossover_ci_low=low,
                     crossover_ci_high=high)

    first = found(1.88e6, 1.56e6, 2.09e6)
    assert agreement(first, found(2.0e6, 1.4e6, 4e6)) == ", inside the first's interval"
    assert "outside the first's interval, the two intervals overlapping" in agreement(
        first, found(2.2e6, 1.4e6, 4e6))
    assert "the two runs disagree" in agreement(first, found(3e6, 2.5e6, 4e6))
    assert agreement(first, _pair(crossover_status="poor fit")) == ""


def test_a_workloads_table_counts_the_series_that_measured_each_cell(aggregates):
    """An unsupported or failed series ran, but measured nothing: "3 of 4", not 4."""
    from parbench.findings.detail import workload_section

    summary, crossover = read_table(aggregates["summary"]), read_table(aggregates["crossover"])
    rows = summary[summary["workload"] == "exp_sinh"]
    smallest = rows[rows["size"] == rows["size"].min()]
    tasks = smallest["tasks"].min()
    cell = smallest[smallest["tasks"] == tasks]
    ran = cell["series"].nunique()

    def counted(table_summary):
        table = next(block for block in workload_section("exp_sinh", table_summary, crossover)
                     if hasattr(block, "rows"))
        return {tuple(cells[:3]): cells[-1] for cells in table.rows}

    before = counted(summary)
    key = (str(cell["kernel"].iloc[0]), size(cell["size"].iloc[0], cell["size_unit"].iloc[0]),
           f"{tasks:.0f}")
    assert before[key] == str(ran)
    summary.loc[cell.index[0], ["status", "median_seconds"]] = ["unsupported", float("nan")]
    after = counted(summary)
    assert after == {**before, key: f"{ran - 1} of {ran}"}


def test_the_regime_tables_key_explains_every_status_a_crossover_can_have():
    from parbench.crossover import STATUSES
    from parbench.findings.pages import regimes_page

    caption = regimes_page("regimes")
    for status in STATUSES:
        explained = status.replace("{challenger}", "`<challenger>`")
        assert f"*{explained}*" in caption or (status == "found"), status
    # A pair whose series cannot run a kernel says so (it read "did not run").
    assert "| unsupported |" in caption


def test_a_headline_run_that_compared_no_pair_says_so(monkeypatch):
    """`make docs` on a headline run without a warm crossover says so (it raised a
    TypeError on the missing row)."""
    from parbench.findings import headline as headline_module

    real = headline_module.tables_of

    def without_crossovers(run):
        summary, crossover, machines = real(run)
        return summary, crossover.iloc[:0], machines

    monkeypatch.setattr(headline_module, "tables_of", without_crossovers)
    run = headline_module.headline_run()
    assert headline_module.headline() == (f"Run `{run}` (`docs/data/{run}`) compared no pair "
                                          "of series.")
