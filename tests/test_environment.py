"""The pinned environment agrees everywhere it is written down, and CI runs `make test`."""

import os
import re
import subprocess
import sys
import tomllib

import yaml

from tests.conftest import REPO
from tests.no_skips import NO_SKIPS_VARIABLE


def pins(requirements):
    return dict(re.match(r"^([A-Za-z0-9_.-]+)==(.+)$", item).groups() for item in requirements)


def test_conda_env_pins_equal_pyproject_pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    conda = yaml.safe_load((REPO / "envs/parbench.yaml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert pins(pip_section) == pins(project["dependencies"])


def test_constraints_pin_the_same_versions():
    project = pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    lines = (REPO / "envs/constraints.txt").read_text().split()
    constraints = {k.lower(): v for k, v in pins(lines).items()}
    for name, version in project.items():
        assert constraints[name.lower()] == version, name


def test_ci_runs_the_readme_test_command():
    # `make test` itself, not `make test-quick`, with every test run (no skips).
    command = re.compile(r"(?m)^\s*make test(?![\w-])")
    assert command.search((REPO / "README.md").read_text())
    ci = (REPO / ".ci/run").read_text()
    assert command.search(ci)
    assert re.search(rf"(?m)^export {NO_SKIPS_VARIABLE}=1$", ci)


def test_a_skipped_test_fails_the_suite_where_ci_forbids_skips(tmp_path):
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n\ndef test_skipped():\n    pytest.skip('cannot run here')\n")
    suite = [sys.executable, "-m", "pytest", "-q", "-p", "tests.no_skips", "-p",
             "no:cacheprovider", "-p", "no:randomly", "--rootdir", str(tmp_path),
             str(tmp_path / "test_skips.py")]
    environment = {name: value for name, value in os.environ.items()
                   if name not in (NO_SKIPS_VARIABLE, "PYTEST_XDIST_WORKER")}
    allowed = subprocess.run(suite, cwd=REPO, env=environment, capture_output=True, text=True)
    assert allowed.returncode == 0, allowed.stdout[-2000:]
    forbidden = subprocess.run(suite, cwd=REPO, env={**environment, NO_SKIPS_VARIABLE: "1"},
                               capture_output=True, text=True)
    assert forbidden.returncode == 1 and "1 test(s) skipped" in forbidden.stdout, \
        forbidden.stdout[-2000:]


def test_only_the_placeholder_of_results_is_tracked():
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    assert "results/README.md" in tracked
    assert all(path.endswith((".gitkeep", "README.md")) for path in tracked)
