"""The workflow as files: a runnable copy of it in another folder, and what a dry run
of it plans. For running a design apart from `results/` (the tests, `make bench`)."""

from __future__ import annotations

import shutil
from pathlib import Path

# The repository holding the workflow this package belongs to (a checkout: the
# package lives in its workflow/ folder).
REPO = Path(__file__).resolve().parents[2]
WORKFLOW_FILES = ("Snakefile", "workflow", "config", "envs")


def copy_workflow(destination: Path, repo: Path = REPO) -> Path:
    """A runnable copy of the workflow (sources only) in `destination`."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in WORKFLOW_FILES:
        source = repo / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


def planned_jobs(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run's output: {rule: job count}."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Job stats:")), None)
    if start is None:
        return {}
    counts = {}
    for line in lines[start + 3:]:
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit() or fields[0] == "total":
            break
        counts[fields[0]] = int(fields[1])
    return counts
