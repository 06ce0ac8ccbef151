"""The findings page: every number from the aggregates, a sentence for every workload,
and valid reStructuredText for the report's front page."""

from __future__ import annotations

from pathlib import Path

import pytest
from docutils.core import publish_parts
from matplotlib import pyplot

from parbench.findings import write_findings
from parbench.findings.words import size
from parbench.migrations import read_table


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
    # The fixture's failed ipyparallel job is said, not hidden.
    assert "failed or were left out" in text


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
