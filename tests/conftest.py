"""Shared helpers. Every test uses real engines, on sizes small enough to be quick."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

# With `-n` (pytest-xdist), each worker has a temporary directory of its own, and with
# it its own timing slot and its own list of jobs to sweep orphans from (both live
# there): one worker's jobs then neither wait for nor stop another's. Set before
# parbench is imported, which reads it once.
if os.environ.get("PYTEST_XDIST_WORKER"):
    import tempfile

    WORKER = os.environ["PYTEST_XDIST_WORKER"]
    WORKER_TMPDIR = Path(tempfile.gettempdir()) / f"parbench-tests-{WORKER}"
    WORKER_TMPDIR.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(WORKER_TMPDIR)
    tempfile.tempdir = None

from parbench import guard
from parbench.aggregate import aggregate
from parbench.backends import BACKENDS
from parbench.resources import is_helper
from parbench.tables import write_csv_atomically
from parbench.workflow_copy import copy_workflow
from tests.no_skips import fail_on_skips

REPO = Path(__file__).resolve().parents[1]
# The tests' own workloads (tests/failing_workloads.py, waiting_workload.py) load in the jobs and
# the CLI they start, as a user's do with PYTHONPATH=$PWD.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
PARBENCH = str(Path(sys.executable).with_name("parbench"))
# Command-line fragments of the long-lived processes every registered backend starts.
ENGINE_PROCESS_MARKERS = tuple(marker for backend in BACKENDS.values()
                               for marker in backend.process_markers)
SESSION_STARTED = time.time()
# A small real run's per-job CSVs (tests/data/small_run/README.md).
SMALL_RUN = REPO / "tests/data/small_run/raw"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts an engine or Snakemake is slow: `-m "not slow"` is the quick
    loop. With `-n` (`--dist loadfile`: a module's tests on one worker, so that its
    fixtures run once and its clusters' fixed names and ports never meet another's),
    the modules with a `heavy` test go first: the longest start while the rest fill in."""
    for item in items:
        if item.get_closest_marker("engine") or item.get_closest_marker("snakemake"):
            item.add_marker(pytest.mark.slow)
    heavy_modules = {item.path for item in items if item.get_closest_marker("heavy")}
    items.sort(key=lambda item: item.path not in heavy_modules)


# Interpreter-wide helpers (multiprocessing's and loky's resource trackers, the
# forkserver) live until the interpreter exits: not leaks.
HELPERS = [helper for backend in BACKENDS.values() for helper in backend.helper_processes]


@pytest.fixture(scope="session", autouse=True)
def no_child_outlives_the_suite():
    """The test process is guarded as a timing job is (parbench.guard): killed outright
    (a CI time limit, `kill -9`), its guard stops the clusters and engines its tests
    started. After its last test, whichever it is: no child of it is left (a failure
    is reported at the last test's teardown)."""
    with guard.guarded_job():
        yield
    children = [child for child in psutil.Process().children(recursive=True)
                if child.status() != psutil.STATUS_ZOMBIE and not is_helper(child, HELPERS)]
    assert children == [], [" ".join(child.cmdline()[:3]) for child in children]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every test of every worker: no backend process started since the suite
    began is left. Checked once, in the process that began the suite (with `-n`,
    xdist's controller), because a worker would see the others' engines at work."""
    if hasattr(session.config, "workerinput"):
        return
    leftovers = wait_until_gone(SESSION_STARTED)
    if leftovers:
        names = [command_line(process)[:120] for process in leftovers]
        session.config.get_terminal_writer().line(
            f"FAILED: engine processes outlived the suite: {names}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    fail_on_skips(session)  # under CI


def engine_processes(since: float = SESSION_STARTED) -> list[psutil.Process]:
    """Backend processes (Ray, ipyparallel, loky, ...) started after `since` and still alive."""
    found, uid = [], os.getuid()
    for process in psutil.process_iter(["name", "cmdline", "create_time", "status", "uids"]):
        try:
            if (process.info["create_time"] < since or process.info["status"] == "zombie"
                    or process.info["uids"].real != uid):  # another user's are not ours
                continue
            text = " ".join([process.info["name"] or ""] + (process.info["cmdline"] or []))
            if any(marker in text for marker in ENGINE_PROCESS_MARKERS):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_until_gone(since: float, timeout: float = 20.0) -> list[psutil.Process]:
    """Engines exit asynchronously after stop(); give them a moment."""
    deadline = time.time() + timeout
    leftovers = engine_processes(since)
    while leftovers and time.time() < deadline:
        time.sleep(0.5)
        leftovers = engine_processes(since)
    return leftovers


def run_snakemake(workdir: Path, *arguments: str, timeout: float = 600,
                  env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [SNAKEMAKE, *arguments], cwd=workdir, capture_output=True, text=True,
        timeout=timeout, env=environment,
    )


# One timing job in a process of its own, as Snakemake runs it: a long map of
# exp_sinh on the series given (argv[2]), argv[3] iterations a task, its CSV at argv[1].
JOB_SCRIPT = """
import sys
from parbench.backends import resolve_series
from parbench.measure import Job, run_job
from tests.unwaiting import job_settings
run_job(Job("marks_its_map", "python", sys.argv[2], int(sys.argv[3]), 4, 2),
        job_settings(min_repeats=1, max_repeats=1, warmups=0), resolve_series(sys.argv[2]),
        sys.argv[1], workload_plugin="tests.failing_workloads:MarksItsMap")
"""


def measuring_process(job_pid: int, deadline: float) -> psutil.Process:
    """The process a timing job measures in: its child forked from it, with its command
    line (parbench.measure.supervised). Seen twice, 0.2 s apart: the guard's launcher,
    also the job's child, has that command line too until it executes the guard."""
    job = psutil.Process(job_pid)
    seen = None
    while True:
        forked = [child for child in job.children()
                  if command_line(child) == command_line(job)]
        if len(forked) == 1 and forked[0] == seen:
            return seen
        assert time.time() < deadline, f"job {job_pid} measures in no process: {forked}"
        seen = forked[0] if len(forked) == 1 else None
        time.sleep(0.2)


def command_line(process: psutil.Process) -> str:
    """Its command line; empty for a process that has just ended (a zombie's is gone)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def start_job_and_wait_for_its_map(series_name: str, output: Path,
                                   log: Path | None = None) -> tuple[subprocess.Popen, type]:
    """JOB_SCRIPT on `series_name`, returned once its long map runs."""
    from parbench.backends import resolve_series

    backend = BACKENDS[resolve_series(series_name).engine]
    stderr = open(log, "w") if log else None  # noqa: SIM115 - the job's to keep
    # A task in the job's own process (threads) cannot be interrupted: a job stopped
    # mid-map waits for it to end, so those tasks are shorter (about 1.5 s here).
    iterations = 10_000_000 if backend.in_job_process else 50_000_000
    from tests.failing_workloads import MAP_MARK_VARIABLE

    mark = output.with_name(output.name + ".map-started")
    job = subprocess.Popen([sys.executable, "-c", JOB_SCRIPT, str(output), series_name,
                            str(iterations)], stderr=stderr,
                           env={**os.environ, MAP_MARK_VARIABLE: str(mark)})
    deadline = time.time() + 120
    # A task has begun: the map runs (its tasks last seconds).
    while not mark.exists():
        assert time.time() < deadline and job.poll() is None, "the job's map never began"
        time.sleep(0.05)
    time.sleep(0.2)  # and the other workers' tasks with it
    return job, backend


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path)


@pytest.fixture(scope="session")
def job_csvs(tmp_path_factory) -> list[Path]:
    """The small run's per-job CSVs, and one of a job that failed (a real row's job,
    failed as a backend's failure is recorded)."""
    paths = sorted(SMALL_RUN.rglob("*.csv"))
    rows = pd.read_csv(paths[0])
    failed = rows.iloc[[0]].assign(series="ipyparallel", engine="ipyparallel",
                                   status="error", seconds=math.nan,
                                   verified=False, error="RuntimeError: engines died",
                                   stop_reason="error")
    folder = tmp_path_factory.mktemp("failed")
    write_csv_atomically(failed, folder / "ipyparallel_failed.csv")
    return [*paths, folder / "ipyparallel_failed.csv"]


@pytest.fixture(scope="session")
def aggregates(job_csvs, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("results")
    return aggregate(job_csvs, out)
