"""The docs say what the code does: generated tables are current, every column is
documented, and the README's own-workload example runs under every backend."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from parbench import describe
from parbench.backends import default_series
from parbench.workflow_copy import copy_workflow
from tests.conftest import REPO, run_snakemake
from tests.unwaiting import UNWAITING

README = (REPO / "README.md").read_text()


DOCUMENTS = ["README.md", "config/README.md", "results/README.md",
             *sorted(str(path.relative_to(REPO)) for path in (REPO / "docs").rglob("*.md"))]


GENERATED = [name for name in DOCUMENTS if describe.BLOCK.search((REPO / name).read_text())]


def test_the_pages_that_quote_the_registries_and_the_runs_have_generated_blocks():
    assert {"README.md", "config/README.md", "results/README.md", "docs/model.md",
            "docs/free-threading.md", "docs/findings-regimes.md"} <= set(GENERATED)


@pytest.mark.parametrize("document", GENERATED)
def test_generated_tables_are_current(document):
    text = (REPO / document).read_text()
    assert describe.refreshed(text) == text, (
        f"{document} is stale: run `parbench describe --write {document}`")


# A measured quantity: a number with a unit of time or size, a speed-up or a share.
MEASURED = re.compile(r"(?<![\w.`-])\d[\d.,]*\s?(?:ns|µs|ms|s|kB|MB|GB|×)(?![\w`])")


def hand_typed_numbers(text: str) -> list[str]:
    """Measured-looking numbers outside generated blocks and code."""
    text = describe.BLOCK.sub("", text)
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return MEASURED.findall(text)


@pytest.mark.parametrize("document", ["README.md", *[name for name in DOCUMENTS
                                                     if name.startswith("docs/")]])
def test_no_result_number_is_typed_by_hand(document):
    """Every measured number of the README and docs/ is generated from the committed
    runs (`make docs`), where the freshness test above holds it to the data."""
    assert hand_typed_numbers((REPO / document).read_text()) == []


def test_the_check_sees_a_number_typed_by_hand():
    assert hand_typed_numbers("Ray overtakes Pool above 1.99 MB, 3.2× faster.") == [
        "1.99 MB", "3.2×"]
    assert hand_typed_numbers("<!-- parbench describe: headline -->\n1.99 MB\n<!-- end -->") == []


def test_every_series_is_in_the_readme_tables():
    results_readme = (REPO / "results/README.md").read_text()
    for name in default_series():
        assert f"| `{name}` |" in README and f"| `{name}` |" in results_readme, name


def readme_examples() -> dict[str, str]:
    return dict(re.findall(r"<!-- example: (\S+) -->\n```\w+\n(.*?)```", README, re.DOTALL))


@pytest.mark.snakemake
@pytest.mark.heavy
def test_the_own_workload_example_runs_as_written(tmp_path: Path):
    examples = readme_examples()
    assert {"my_bench.py", "my_design.yaml", "command"} <= set(examples)
    workdir = copy_workflow(tmp_path)
    (workdir / "my_bench.py").write_text(examples["my_bench.py"])
    # As written, but measuring at once, as every test does (tests/unwaiting.py).
    (workdir / "my_design.yaml").write_text(examples["my_design.yaml"]
                                            + yaml.safe_dump(UNWAITING))
    command = examples["command"].split()
    assert command[0] == "PYTHONPATH=$PWD" and command[1] == "snakemake"
    result = run_snakemake(workdir, *command[2:], env={"PYTHONPATH": str(workdir)},
                           timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    timings = pd.read_csv(workdir / "results/timings.csv")
    assert set(timings["workload"]) == {"pi"}
    assert set(timings["series"]) == set(yaml.safe_load(examples["my_design.yaml"])["backends"])
    assert (timings["status"] == "ok").all() and timings["verified"].all()
    assert (workdir / "results/figures/scaling_pi.png").stat().st_size > 0
