"""The docs say what the code does: generated tables are current, every column is
documented, and the README's own-workload example runs under every backend."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from parbench import describe, machine
from parbench.backends import default_series
from parbench.measure import Combination, JobSettings, measure
from tests.conftest import REPO, copy_workflow, run_snakemake

README = (REPO / "README.md").read_text()


@pytest.mark.parametrize("document", ["README.md", "config/README.md", "results/README.md"])
def test_generated_tables_are_current(document):
    text = (REPO / document).read_text()
    assert describe.BLOCK.search(text), f"{document} has no generated table"
    assert describe.refreshed(text) == text, (
        f"{document} is stale: run `parbench describe --write {document}`")


def test_every_series_is_in_the_readme_tables():
    results_readme = (REPO / "results/README.md").read_text()
    for name in default_series():
        assert f"| `{name}` |" in README and f"| `{name}` |" in results_readme, name


def test_every_column_of_a_row_is_documented():
    rows = measure(Combination("shared_array", "numpy", "pool", 10_000, 2, 2),
                   JobSettings(min_repeats=1, max_repeats=1, calibration_repeats=1))
    documented = (REPO / "results/README.md").read_text()
    generic = {f"{package}_version" for package in machine.recorded_packages()}
    for column in rows.columns:
        if column in generic or column.startswith("option_"):
            continue  # documented as `<package>_version` and `option_<name>`
        assert f"`{column}`" in documented, column
    assert "`<package>_version`" in documented and "`option_<name>`" in documented


def readme_examples() -> dict[str, str]:
    return dict(re.findall(r"<!-- example: (\S+) -->\n```\w+\n(.*?)```", README, re.DOTALL))


def test_the_own_workload_example_runs_under_every_backend(tmp_path: Path):
    examples = readme_examples()
    assert {"my_bench.py", "my_design.yaml", "command"} <= set(examples)
    workdir = copy_workflow(tmp_path)
    for name in ("my_bench.py", "my_design.yaml"):
        (workdir / name).write_text(examples[name])
    command = examples["command"].split()
    assert command[0] == "PYTHONPATH=$PWD" and command[1] == "snakemake"
    result = run_snakemake(workdir, *command[2:], env={"PYTHONPATH": str(workdir)},
                           timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    timings = pd.read_csv(workdir / "results/timings.csv")
    assert set(timings["workload"]) == {"pi"}
    assert set(timings["backend"]) == set(default_series())
    assert (timings["status"] == "ok").all() and timings["verified"].all()
    assert (workdir / "results/figures/scaling_pi.png").stat().st_size > 0
