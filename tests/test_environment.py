"""The pinned environment agrees everywhere it is written down, and CI runs `make test`."""

import re
import subprocess
import tomllib

import yaml

from tests.conftest import REPO


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
    assert "make test" in (REPO / "README.md").read_text()
    assert "make test" in (REPO / ".ci/run").read_text()


def test_only_the_placeholder_of_results_is_tracked():
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
    assert "results/README.md" in tracked
    assert all(path.endswith((".gitkeep", "README.md")) for path in tracked)
