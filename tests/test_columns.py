"""The column table, the job identity and the formats: every column declared once,
every row built from the declarations, older files read, newer ones named."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from parbench import columns, identity, migrations
from parbench.aggregate import summarise
from parbench.aggregate.validate import InvalidJobCsv, read_job_csv
from parbench.settings import JobSettings
from parbench.workloads import WORKLOADS
from tests.conftest import REPO, SMALL_RUN

PACKAGE = REPO / "workflow/parbench"
# How a column is declared: a Column(...) call, a row of a table of declarations, or
# a field of the identity or the settings.
DECLARATION = re.compile(r'Column\(\s*"(\w+)"|^\s*\("(\w+)", (?:TEXT|INTEGER|NUMBER|FLAG)\b',
                         re.MULTILINE)


def test_every_column_is_declared_once_in_the_package():
    found: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        for match in DECLARATION.finditer(path.read_text()):
            name = match.group(1) or match.group(2)
            found.setdefault(name, []).append(str(path.relative_to(PACKAGE)))
    twice = {name: places for name, places in found.items() if len(places) > 1}
    assert twice == {}
    declared = {column.name for column in columns.COLUMNS}
    assert set(found) - declared == {"task_iterations"}  # a workload's own (prefixed)
    # Identity and settings columns are their dataclasses' fields, not declared again.
    for field in (*identity.FIELDS, *dataclasses.fields(JobSettings)):
        assert field.name not in found, field.name
        assert field.name in columns.BY_NAME


def test_a_real_row_has_exactly_the_declared_columns():
    rows = pd.read_csv(SMALL_RUN / "shared_array/numpy/ray/size100000_tasks16_workers2_rep0.csv")
    undeclared = [name for name in rows.columns if columns.family_of(name) is None]
    assert undeclared == []
    assert set(columns.names(columns.JOB)) <= set(rows.columns)
    assert list(rows.columns) == columns.ordered(list(rows.columns))
    assert set(rows["format_version"]) == {columns.FORMAT_VERSION}


def test_a_row_with_an_undeclared_column_is_refused():
    with pytest.raises(ValueError, match="not declared"):
        columns.row({"workload": "w", "speed_of_light": 1.0})


def test_the_job_path_and_its_parse_come_from_one_pattern():
    job = identity.Job("shared_array", "numpy", "ray@lab", 1_000, 16, 2, 3)
    path = identity.job_csv(job)
    assert path == "results/raw/shared_array/numpy/ray@lab/size1000_tasks16_workers2_rep3.csv"
    assert identity.parse_job_csv(path) == job
    assert identity.parse_job_csv("docs/data/x/raw/" + path.removeprefix("results/raw/")) == job
    # Files of one job per combination had no replicate in their name.
    assert identity.parse_job_csv("raw/w/k/pool/size1_tasks2_workers3.csv") == identity.Job(
        "w", "k", "pool", 1, 2, 3, 0)
    assert identity.parse_job_csv("raw/w/k/pool/notes.txt") is None
    wildcards = {name: str(value) for name, value in dataclasses.asdict(job).items()}
    assert identity.Job.from_wildcards(wildcards) == job


def test_planning_does_without_the_measuring_code():
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, parbench.sweep; "
         "print(sorted(m for m in sys.modules if m.startswith(('parbench.measure', 'pandas', "
         "'matplotlib'))))"], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_settings_defaults_are_the_schemas():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    for field in dataclasses.fields(JobSettings):
        assert schema["properties"][field.name]["default"] == field.default, field.name


def test_a_format_1_file_is_read_in_todays_format():
    old = next((REPO / "docs/data/2cpu/raw").rglob("*.csv"))  # measured in format 1
    assert "backend" in pd.read_csv(old).columns  # as it was written
    rows = read_job_csv(old)
    assert "series" in rows and "backend" not in rows
    assert set(rows["format_version"]) == {columns.FORMAT_VERSION}
    assert {"engine", "variant", "target", "replicate"} <= set(rows.columns)


def test_a_file_of_a_newer_format_is_named_not_guessed(tmp_path: Path):
    rows = pd.read_csv(SMALL_RUN / "exp_sinh/numpy/pool/size1000_tasks4_workers2_rep0.csv")
    newer = tmp_path / "newer.csv"
    rows.assign(format_version=columns.FORMAT_VERSION + 1).to_csv(newer, index=False)
    with pytest.raises(InvalidJobCsv, match=f"format version {columns.FORMAT_VERSION + 1}"):
        read_job_csv(newer)
    summary = tmp_path / "summary.csv"
    pd.DataFrame({"workload": ["w"], "format_version": [9]}).to_csv(summary, index=False)
    with pytest.raises(migrations.UnknownFormat, match="format version 9, newer"):
        migrations.read_table(summary)


def test_a_plug_ins_own_column_reaches_the_summary():
    """tiny_tasks declares `task_iterations`: its rows write `workload_task_iterations`,
    and summary.csv carries it without a list that names it."""
    assert any(column.name == "task_iterations" for column in WORKLOADS["tiny_tasks"].columns)
    rows = pd.DataFrame({
        "workload": "tiny_tasks", "kernel": "python", "series": "pool", "size": 10,
        "tasks": 4, "workers": 2, "repeat": [0, 1], "seconds": [1.0, 1.1], "status": "ok",
        "error": "", "verified": True, "size_unit": "µs", "startup_seconds": 0.1,
        "first_map_seconds": 1.0, "ci_target": 0.05, "workload_task_iterations": 184})
    assert summarise(rows)["workload_task_iterations"].tolist() == [184]


def test_every_table_is_documented_from_the_declarations():
    readme = (REPO / "results/README.md").read_text()
    for table in columns.TABLES:
        assert f"<!-- parbench describe: columns-{table} -->" in readme, table


def test_every_status_is_declared_once_and_each_one_not_measured_has_a_mark():
    """The figures mark, instead of drawing, exactly the statuses whose times do not
    stand; the validator accepts exactly those a per-job row may carry."""
    from parbench.aggregate.validate import STATUSES as ACCEPTED
    from parbench.columns import statuses
    from parbench.figures.style import NOT_MEASURED

    names = [status.name for status in statuses.STATUSES]
    assert len(names) == len(set(names))
    assert set(NOT_MEASURED) == set(names) - set(statuses.MEASURED)
    # Spelled out: derived from the same declarations, a comparison of the sets would
    # hold whatever they declared.
    assert ACCEPTED == {"ok", "error", "unsupported"}
    assert set(statuses.MEASURED) == {"ok", "partial"}


def test_a_plugins_own_column_asks_nothing_aggregation_would_ignore(tmp_path, monkeypatch):
    """Aggregation reads a plug-in's columns by their family (it may run without the
    plug-in): each registered one asks for nothing else, and a workload named by path
    that asks for a median is refused before any job, naming its key."""
    import copy

    from parbench import config_checks
    from parbench.backends import BACKENDS
    from parbench.workloads import WORKLOADS

    for name, plugin in [*BACKENDS.items(), *WORKLOADS.items()]:
        assert columns.plugin_column_problems(name, plugin.columns) == [], name
    (tmp_path / "median_plugin.py").write_text(
        "from parbench.columns import JOB, NUMBER, Column\n"
        "from parbench.workloads.exp_sinh import ExpSinh\n"
        "class Mine(ExpSinh):\n"
        "    name = 'mine'\n"
        "    columns = (Column('rate', NUMBER, '', 'a rate', (JOB,), 'job', "
        "to_summary='median'),)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {"workloads": {"mine": {"sizes": [10], "plugin": "median_plugin:Mine"}},
              "min_repeats": 5, "max_repeats": 30, "compare": None, "refine": {}}
    with pytest.raises(ValueError) as refused:
        config_checks.check_consistency(copy.deepcopy(config))
    assert str(refused.value) == (
        "config key workloads.mine.plugin: workload mine's column 'rate' asks "
        "to_summary='median', but a plug-in's column reaches summary.csv as its first job's "
        "value: declare to_summary='first', or none")


def test_settings_of_no_warm_up_run_and_record_one():
    """The first map is timed alone, as the cold one: settings built in code with
    `warmups=0` ran one anyway and recorded 0 (a config's schema refuses 0)."""
    assert JobSettings(warmups=0).warmups == 1 == JobSettings(warmups=0).recorded()["warmups"]
    assert JobSettings(warmups=3).warmups == 3
