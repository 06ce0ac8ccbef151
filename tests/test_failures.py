"""Nothing lost, nothing left behind: each failure a user met, as they meet it.

Covered here: hard-killed jobs (SIGKILL) and what they leave, measuring processes
killed outright (the kernel's OOM killer, a crash in C code), workers that die
during a map, Ray's and Dask's silent retries, peak memory that counted shared
pages once per process, inputs that do not fit in /dev/shm, empty logs of
crashed jobs, and Snakemake interrupted by SIGINT alone.

Covered where the code they test lives:
- a sweep without a serial baseline or without successes draws every figure:
  test_pipeline.py::test_a_design_without_a_serial_baseline_still_draws_every_figure
- corrupt per-job CSVs are named, or skipped and listed:
  test_aggregate.py::test_a_corrupt_job_csv_stops_aggregation_naming_the_file (and
  the tests after it)
- an input too large for memory is an error row before any allocation:
  test_workloads.py::test_a_size_too_large_for_memory_is_an_error_row_before_any_allocation
- list overrides from --config:
  test_config.py::test_a_list_override_from_the_command_line_reaches_the_jobs;
  nonsense values refused by key: test_config.py::test_invalid_values_name_the_key
- result files readable:
  test_aggregate.py::test_result_files_are_readable_by_others_as_any_file
- a killed job's forked workers no longer keep the timing slot (every later job
  waited for them): test_measure.py::test_a_killed_jobs_forked_workers_do_not_keep_the_timing_slot
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from parbench import guard, resources
from parbench.aggregate.validate import read_job_csv
from parbench.backends import BACKENDS
from parbench.measure import Job, exclusive_timing_slot, measure
from tests.conftest import (
    REPO,
    measuring_process,
    run_snakemake,
    start_job_and_wait_for_its_map,
)
from tests.failing_workloads import LEFT_RUNNING_VARIABLE, MARK_VARIABLE
from tests.unwaiting import UNWAITING, job_settings

pytestmark = [pytest.mark.engine, pytest.mark.heavy]

# One series per engine that starts processes of its own (threads and the serial
# loop run inside the job: a killed job takes them with it).
PROCESS_ENGINES = [name for name, backend in BACKENDS.items() if not backend.in_job_process]


def alive(processes: list[psutil.Process]) -> list[str]:
    found = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                found.append(f"{process.pid} {' '.join(process.cmdline()[:3])}")
        except psutil.NoSuchProcess:
            continue
    return found


def listed_by_the_guard(job_pid: int, token: str) -> list[psutil.Process]:
    """The job's descendants, once its guard has listed every one of them. (A process
    younger than the guard's refresh, 0.1 s while the tree changes, could be missed
    by a kill at that very moment.)"""
    deadline = time.time() + 30
    while True:
        descendants = psutil.Process(job_pid).children(recursive=True)
        listed = {process.pid for process in guard.listed_processes(token)}
        if {process.pid for process in descendants} <= listed or time.time() > deadline:
            return descendants
        time.sleep(0.1)


def guard_of(job_pid: int) -> psutil.Process:
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if "parbench.guard" in command and any(part.startswith(f"{job_pid}-")
                                               for part in command):
            return process
    raise AssertionError(f"job {job_pid} has no guard")


@pytest.mark.parametrize("engine", PROCESS_ENGINES)
def test_a_job_killed_outright_leaves_no_process(tmp_path: Path, engine):
    """SIGKILL (the OOM killer, a time limit) skips every `finally`: the job's guard
    must stop its engines, say so in the job's log, and forget the job."""
    log = tmp_path / "job.log"
    job, _ = start_job_and_wait_for_its_map(engine, tmp_path / "job.csv", log)
    token = guard.job_token(job.pid)
    descendants = listed_by_the_guard(job.pid, token)
    assert descendants, "the backend started processes"
    # ipyparallel's own profile (its connection keys) is in the job's scratch folder.
    assert guard.scratch_path(token).is_dir() == (engine == "ipyparallel")
    job.kill()
    job.wait()
    psutil.wait_procs(descendants, timeout=30)
    assert alive(descendants) == []
    deadline = time.time() + 30  # the guard writes once everything has stopped
    while "ended without finishing" not in log.read_text() and time.time() < deadline:
        time.sleep(0.2)
    text = log.read_text()
    assert f"parbench job {job.pid}" in text  # the log says which job it was
    stopped = re.search(r"ended without finishing .*; stopped (\d+) process\(es\) it had "
                        r"started", text)
    assert stopped, text[-2000:]
    # The job's measuring process, and Pool's and the executor's workers mid-task,
    # ipyparallel's engines in sessions of their own: none ends by itself, so the guard
    # stopped them. (Ray's, Dask's and loky's may notice their driver's death first.)
    if engine in ("pool", "process_pool", "ipyparallel"):
        assert int(stopped.group(1)) >= 2, text[-2000:]
    assert not guard.lifeline_path(token).exists() and not guard.list_path(token).exists()
    assert not guard.scratch_path(token).exists()
    # Nor anything started while the guard stopped the rest (a Pool replacing its
    # workers), which no listing saw: it still holds the job's removed lifeline.
    late = guard.marked_processes(lambda mark: mark == token)
    psutil.wait_procs(late, timeout=10)
    assert alive(late) == []


def test_a_measuring_process_killed_outright_is_an_error_row_and_leaves_no_process(
        tmp_path: Path):
    """The OOM killer picks the biggest process, often the one holding the job's inputs:
    the job that watches it die writes the row that says so (the sweep goes on), and
    stops what it had started, here ipyparallel's engines, in sessions of their own."""
    output, log = tmp_path / "job.csv", tmp_path / "job.log"
    job, _ = start_job_and_wait_for_its_map("ipyparallel", output, log)
    measuring = measuring_process(job.pid, time.time() + 10)
    token = guard.job_token(job.pid)
    descendants = listed_by_the_guard(job.pid, token)
    assert len(descendants) > 2, "the backend started processes"
    assert guard.scratch_path(token).is_dir()  # ipyparallel's profile, with its keys
    # Whatever it starts goes to the OOM killer before the job, which writes the row.
    volunteers = min(1000, oom_score_adj(job.pid) + 500)
    for process in (measuring, *measuring.children(recursive=True)):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # ended meanwhile
            assert oom_score_adj(process.pid) >= volunteers, process
    measuring.kill()
    assert job.wait(timeout=60) == 0, log.read_text()[-2000:]
    psutil.wait_procs(descendants, timeout=30)
    assert alive(descendants) == []
    rows = read_job_csv(output)  # checked as aggregation checks every per-job CSV
    assert list(rows["status"]) == ["error"] and not rows["verified"].iloc[0]
    assert re.fullmatch(rf"JobKilled: the job's measuring process {measuring.pid} was killed "
                        r"by SIGKILL: kill -9, .*", rows["error"].iloc[0])
    assert rows["series"].iloc[0] == "ipyparallel" and rows["workers"].iloc[0] == 2
    stopped = re.search(r"killed by SIGKILL.*; stopped (\d+) process\(es\) it had started",
                        log.read_text())
    assert stopped and int(stopped.group(1)) >= 2, log.read_text()[-2000:]
    assert rows["leftover_processes_stopped"].iloc[0] == int(stopped.group(1))  # it said 0
    # The measuring process's stop() never ran: the job, finishing, removed the profile.
    assert not guard.scratch_path(token).exists()


def oom_score_adj(pid: int) -> int:
    return int(Path(f"/proc/{pid}/oom_score_adj").read_text())


KILLED_JOB = """
import sys
from parbench.backends import resolve_series
from parbench.measure import Job, run_job
from tests.unwaiting import job_settings
workload, plugin = sys.argv[2:4]
run_job(Job(workload, "python", "pool", 1000, 4, 2), job_settings(min_repeats=1, max_repeats=1),
        resolve_series("pool"), sys.argv[1], workload_plugin=f"tests.failing_workloads:{plugin}")
"""


OUTLIVED_BY_ITS_FORK = """
import os, signal, sys, time
from pathlib import Path
from parbench.measure.supervised import measured_in_a_child

def measure():
    grandchild = os.fork()  # as a Pool's forked worker: it holds every inherited fd
    if grandchild == 0:
        quiet = os.open(os.devnull, os.O_WRONLY)  # the test reads the script's output
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        time.sleep(60)
        os._exit(0)
    Path(sys.argv[2]).write_text(str(grandchild))
    os.kill(os.getpid(), signal.SIGKILL)

began = time.monotonic()
print(measured_in_a_child(measure, sys.argv[1]))
print(time.monotonic() - began)
"""


def test_what_a_measuring_process_leaves_running_is_stopped_after_its_rows(tmp_path: Path):
    """A process forked after the backend's stop and its leftovers' (a Pool worker
    forked while its pool stops) lived on beside the next job: the job sees that it
    still holds the measuring process's pipe, and stops what it had started."""
    left = tmp_path / "left"
    output = tmp_path / "job.csv"
    ended = subprocess.run([sys.executable, "-c", KILLED_JOB, str(output), "leaves_a_fork",
                            "LeavesAFork"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, LEFT_RUNNING_VARIABLE: str(left)})
    try:
        assert ended.returncode == 0, ended.stderr[-2000:]
        rows = read_job_csv(output)
        assert (rows["status"] == "ok").all()
        assert re.search(r"left 1 process\(es\) running; stopped", ended.stderr), \
            ended.stderr[-2000:]
        # The rows count it, beside what the backend's own stop left (they said none).
        stopped = int(re.search(r"; stopped (\d+) process", ended.stderr).group(1))
        assert stopped >= 1 and (rows["leftover_processes_stopped"] >= stopped).all()
        forked = int(left.read_text())
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(forked).wait(timeout=10)
        assert not psutil.pid_exists(forked) or \
            psutil.Process(forked).status() == psutil.STATUS_ZOMBIE
    finally:
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(left.read_text()), signal.SIGKILL)


def test_a_measuring_process_killed_while_its_forked_workers_run_is_said_at_once(
        tmp_path: Path):
    """The job learns how its measuring process ended without waiting for the workers
    it forked, which inherit the pipe it reports through (the job waited for their
    tasks, SIGTERM blocked, holding the timing slot)."""
    forked = tmp_path / "grandchild"
    ended = subprocess.run([sys.executable, "-c", OUTLIVED_BY_ITS_FORK,
                            str(tmp_path / "job.csv"), str(forked)],
                           capture_output=True, text=True, timeout=120)
    try:
        assert ended.returncode == 0, ended.stderr[-2000:]
        death, seconds = ended.stdout.split("\n")[:2]
        assert "killed by SIGKILL" in death and float(seconds) < 20, ended.stdout
    finally:
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(forked.read_text()), signal.SIGKILL)


@pytest.mark.parametrize(("workload", "plugin", "words"), [
    ("killed_outright", "KilledOutright", "SIGKILL: kill -9, a time limit"),
    ("crashes_in_c", "CrashesInC", "SIGSEGV: a crash in C code"),
])
def test_a_measuring_process_that_dies_of_a_signal_says_which(tmp_path: Path, workload, plugin,
                                                              words):
    output = tmp_path / "job.csv"
    ended = subprocess.run([sys.executable, "-c", KILLED_JOB, str(output), workload, plugin],
                           capture_output=True, text=True, timeout=120)
    assert ended.returncode == 0, ended.stderr[-2000:]
    rows = read_job_csv(output)
    assert list(rows["status"]) == ["error"] and words in rows["error"].iloc[0]
    assert rows["workload"].iloc[0] == workload and rows["orphans_stopped"].iloc[0] == 0


@pytest.mark.parametrize(("workload", "plugin", "words"), [
    # A library that calls os._exit(0) in the measuring process: no rows, no success.
    ("exits_quietly", "ExitsQuietly", r"status 0 before writing its rows: it exited "
                                      "without writing them"),
    # A user-space out-of-memory killer's SIGTERM (the measuring process volunteers).
    ("terminated_by_others", "TerminatedByOthers",
     r"status 1 before writing its rows: Terminated: signal 15: a SIGTERM the job did not "
     r"pass on, .*earlyoom"),
    # A failure after the measurement, outside it: the rows cannot be built.
    ("records_undeclared", "RecordsUndeclared", r"status 1 before writing its rows: "
                                                r"\w+Error: .*never_declared"),
    # A workload plug-in that cannot be imported where the job runs.
    ("no_such_workload", "NoSuchClass", r"status 1 before writing its rows: ValueError: "
                                        r"module 'tests.failing_workloads' has no "
                                        r"'NoSuchClass'"),
])
def test_a_measuring_process_that_fails_before_its_rows_is_an_error_row(
        tmp_path: Path, workload, plugin, words):
    """Every failure of a combination is a row: these ended the job with a traceback
    in its log and no row, so the combination vanished from the aggregates and every
    rerun tried it again."""
    output = tmp_path / "job.csv"
    ended = subprocess.run([sys.executable, "-c", KILLED_JOB, str(output), workload, plugin],
                           capture_output=True, text=True, timeout=120)
    assert ended.returncode == 0, ended.stderr[-2000:]
    rows = read_job_csv(output)
    assert list(rows["status"]) == ["error"] and rows["workload"].iloc[0] == workload
    assert re.search(r"^JobFailed: the job's measuring process \d+ ended with " + words,
                     rows["error"].iloc[0]), rows["error"].iloc[0]


def test_a_measuring_process_the_kernels_oom_killer_ends_is_said_to_be(tmp_path: Path):
    """A real out-of-memory kill: the job runs in a memory cgroup of its own, smaller
    than what its workload allocates, without swap."""
    output = tmp_path / "job.csv"
    with memory_limited_cgroup(300 * 2**20) as procs:
        # Enters the cgroup, then becomes the job (no preexec_fn: the test process
        # has threads).
        ended = subprocess.run(["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(procs),
                                sys.executable, "-c", KILLED_JOB, str(output), "allocates",
                                "AllocatesTooMuch"], capture_output=True, text=True,
                               timeout=120)
    assert ended.returncode == 0, ended.stderr[-2000:]
    rows = read_job_csv(output)
    assert list(rows["status"]) == ["error"]
    assert re.search(r"killed by SIGKILL: the kernel's out-of-memory killer killed [1-9]\d* "
                     r"process\(es\) of the job's cgroup", rows["error"].iloc[0]), \
        rows["error"].iloc[0]


@contextlib.contextmanager
def memory_limited_cgroup(limit_bytes: int) -> Iterator[Path]:
    """A memory cgroup (v2, or v1's memory hierarchy) limited to `limit_bytes` and kept
    off swap; yields its `cgroup.procs`, where a process writes its PID to enter."""
    root = Path("/sys/fs/cgroup")
    v2 = (root / "cgroup.controllers").exists() and \
        "memory" in (root / "cgroup.controllers").read_text().split()
    folder = (root if v2 else root / "memory") / f"parbench-test-{os.getpid()}"
    try:
        folder.mkdir()
        limits = ({"memory.max": limit_bytes, "memory.swap.max": 0} if v2 else
                  {"memory.limit_in_bytes": limit_bytes, "memory.swappiness": 0})
        for name, value in limits.items():
            if name == "memory.swap.max" and not (folder / name).exists() \
                    and psutil.swap_memory().total == 0:
                continue  # a kernel without swap accounting, on a machine without swap
            (folder / name).write_text(str(value))
    except OSError as failure:
        with contextlib.suppress(OSError):
            folder.rmdir()
        pytest.skip(f"no memory cgroup without swap can be made here ({failure}): run as "
                    "root on Linux")
    try:
        yield folder / "cgroup.procs"
    finally:
        for _ in range(50):  # empty once its processes are reaped
            with contextlib.suppress(OSError):
                folder.rmdir()
                break
            time.sleep(0.1)


# A job's guarded block left by an exception before its teardown stopped everything
# (a SIGTERM landing in a backend's stop() is one): an engine in a session of its own
# is still running as the job exits.
LEFT_BY_AN_EXCEPTION = """
import subprocess, time
from parbench import guard
with guard.guarded_job():
    engine = subprocess.Popen(["sleep", "300"], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(engine.pid, flush=True)
    time.sleep(1.0)  # the guard lists it (every 0.1 s while the job's tree changes)
    raise KeyboardInterrupt("signal 15, in the backend's stop()")
"""


def test_a_guarded_block_left_by_an_exception_has_its_guard_stop_what_is_left():
    job = subprocess.run([sys.executable, "-c", LEFT_BY_AN_EXCEPTION], capture_output=True,
                         text=True, timeout=60)
    assert job.returncode != 0 and "KeyboardInterrupt" in job.stderr
    assert "never said it watched" not in job.stderr, job.stderr  # its guard did
    engine_pid = int(job.stdout.split()[0])
    deadline = time.time() + 30
    while psutil.pid_exists(engine_pid) and time.time() < deadline:
        time.sleep(0.1)
    if psutil.pid_exists(engine_pid):  # a test that failed stops what it started
        psutil.Process(engine_pid).kill()
        pytest.fail("the engine outlived its job")


# A test of this suite that starts a cluster the way tests/clusters.py does (in a
# session of its own, so that no kill of the test's process group reaches it).
STARTS_A_CLUSTER = """
import time
from tests.clusters import start

def test_starts_a_cluster_and_waits(tmp_path):
    engine = start(["sleep", "300"], tmp_path / "engine.log")
    print(engine.pid, flush=True)
    time.sleep(300)
"""


def test_a_test_process_killed_outright_leaves_no_cluster(tmp_path: Path):
    """CI's time limit or a `kill -9` ends a test process without its fixtures'
    teardown: the guard it runs under, as a timing job does, stops what it started."""
    (tmp_path / "test_killed.py").write_text(STARTS_A_CLUSTER)
    # Not an xdist worker: its guard keeps its list where this test reads it (this
    # worker's temporary folder, inherited).
    environment = {name: value for name, value in os.environ.items()
                   if name != "PYTEST_XDIST_WORKER"}
    suite = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "tests.conftest",
         "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "test_killed.py")],
        cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        started, _, _ = select.select([suite.stdout], [], [], 120)
        assert started, "the test process did not start its cluster"
        engine = psutil.Process(int(suite.stdout.readline()))
        listed = listed_by_the_guard(suite.pid, guard.job_token(suite.pid))
        assert engine.pid in {process.pid for process in guard.listed_processes(
            guard.job_token(suite.pid))}, [process.pid for process in listed]
    finally:
        suite.kill()
        suite.wait()
    psutil.wait_procs([engine], timeout=30)
    if alive([engine]):  # (a zombie no one reaps is gone all the same)
        engine.kill()  # a test that failed stops what it started
        pytest.fail("the cluster outlived its killed test process")


def test_a_runtime_folder_others_can_write_to_is_not_trusted(tmp_path: Path, monkeypatch):
    """The guard kills what a dead job's list names: a list planted in a folder that
    someone else made, or may write to, must never be read."""
    planted = tmp_path / "parbench-jobs"
    planted.mkdir()
    (planted / "job-1-1.00.processes").write_text("[[1, \"0.00\"]]")
    monkeypatch.setattr(guard, "RUNTIME_DIR", planted)
    planted.chmod(0o777)
    with pytest.raises(RuntimeError, match="not a private folder"):
        guard.stop_orphans()
    if os.geteuid() == 0:
        planted.chmod(0o700)
        os.chown(planted, 65534, 65534)  # nobody's
        with pytest.raises(RuntimeError, match="not a private folder"):
            guard.stop_orphans()


# A parent that never reaps its child: the child, once exited, is a zombie that only
# its parent (or, once that is gone, PID 1) can clear.
LEAVES_A_ZOMBIE = """
import subprocess, time
child = subprocess.Popen(["true"])
print(child.pid, flush=True)
time.sleep(120)
"""


# A job whose child, asked to stop, starts another process before it ends, as a Pool
# replaces the workers stopped beside it while its own stop runs.
FORKS_WHEN_STOPPED = """
import os, signal, sys, time
from parbench import guard
with guard.guarded_job():
    child = os.fork()
    if child == 0:
        def replace(signum, frame):
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                with open(sys.argv[1], "w") as started:
                    started.write(str(os.getpid()))
                time.sleep(60)
            os._exit(0)
        signal.signal(signal.SIGTERM, replace)
        while True:
            time.sleep(1)
    print(child, flush=True)
    time.sleep(120)
"""


def test_what_a_killed_job_starts_while_its_guard_stops_it_is_stopped_too(tmp_path: Path):
    """The guard stopped what it found once: a process started meanwhile (in CI, a
    Pool worker forked after the guard's SIGTERM to its siblings) outlived the job, and
    once the job's lifeline was removed, no later sweep knew it. The guard stops round
    after round until none is found, and a removed lifeline still marks its holders."""
    started = tmp_path / "started"
    with (tmp_path / "job.log").open("w") as log:
        job = subprocess.Popen([sys.executable, "-c", FORKS_WHEN_STOPPED, str(started)],
                               stdout=subprocess.PIPE, stderr=log, text=True)
    child = None
    try:
        child = psutil.Process(int(job.stdout.readline()))
        token = guard.job_token(job.pid)
        listed_by_the_guard(job.pid, token)
        watcher = guard_of(job.pid)
        job.kill()
        job.wait()
        watcher.wait(timeout=60)
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
        deadline = time.monotonic() + 10  # the child made it when stopped
        while not (started.exists() and started.read_text().strip()) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        late = int(started.read_text())
        with contextlib.suppress(psutil.NoSuchProcess):  # stopped, and already reaped
            psutil.wait_procs([psutil.Process(late)], timeout=5)
        assert not psutil.pid_exists(late) or psutil.Process(late).status() == \
            psutil.STATUS_ZOMBIE, "a process the job's child started when stopped lives on"
        assert alive(guard.marked_processes(lambda mark: mark == token)) == []
    finally:
        job.kill()
        for pid in (child.pid if child else None,
                    started.read_text().strip() if started.exists() else None):
            with contextlib.suppress(ValueError, TypeError, OSError):
                os.kill(int(pid), signal.SIGKILL)


def test_a_guard_given_a_token_whose_pid_went_to_another_process_watches_nothing():
    """The token is the job's PID and start time: a guard that starts after its job
    ended, its PID taken by another process (here, this test's), must not watch that
    one, and stop what it starts when it ends."""
    stale = f"{os.getpid()}-1.00"
    ended = subprocess.run([sys.executable, "-c", "import sys; from parbench import guard; "
                            "sys.exit(guard.guard(sys.argv[1]))", stale],
                           stdin=subprocess.PIPE, capture_output=True, timeout=60)
    assert ended.returncode == 0 and not guard.list_path(stale).exists()


def test_a_zombie_that_someone_else_must_reap_is_not_waited_for():
    """Exited processes that only another can reap (a container's PID 1 may never) are
    over: teardown must not wait out its grace period for them."""
    parent = subprocess.Popen([sys.executable, "-c", LEAVES_A_ZOMBIE], stdout=subprocess.PIPE,
                              text=True)
    try:
        zombie = psutil.Process(int(parent.stdout.readline()))
        deadline = time.monotonic() + 30
        while zombie.status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert zombie.status() == psutil.STATUS_ZOMBIE
        grace = 60.0
        began = time.monotonic()
        assert resources.stop_leftovers([zombie], grace_seconds=grace) == []
        assert time.monotonic() - began < grace / 4
    finally:
        parent.kill()
        parent.wait()


def test_a_timing_lock_that_is_a_link_is_refused(tmp_path: Path):
    """In a shared /tmp another user could put a link where the lock goes, to a file
    of this user's."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    link = tmp_path / "linked.lock"
    link.symlink_to(elsewhere)
    with pytest.raises(RuntimeError, match="cannot use .*linked.lock as the timing lock"), \
            exclusive_timing_slot(link):
        pass


def test_a_timing_lock_another_user_owns_is_refused(tmp_path: Path):
    """In a shared /tmp another user could make the lock first and hold it: every
    timing job would wait for ever."""
    if os.geteuid() != 0:
        pytest.skip("making a file another user's needs root")
    theirs = tmp_path / "theirs.lock"
    theirs.write_text("")
    theirs.chmod(0o666)
    os.chown(theirs, 65534, 65534)  # nobody's
    with pytest.raises(RuntimeError, match="owned by user 65534"), \
            exclusive_timing_slot(theirs):
        pass
    with exclusive_timing_slot(tmp_path / "mine.lock"):  # made here, the user's own
        assert (tmp_path / "mine.lock").stat().st_uid == os.getuid()


def test_a_dead_jobs_list_stops_a_process_only_where_pid_and_start_time_match(
        tmp_path: Path, monkeypatch):
    """PIDs are reused: a process whose PID a dead job's list names, but which started
    at another time, is someone else's and must survive; the one that matches is the
    job's and is stopped."""
    runtime = tmp_path / "parbench-jobs"
    runtime.mkdir(mode=0o700)
    monkeypatch.setattr(guard, "RUNTIME_DIR", runtime)
    bystander = subprocess.Popen(["sleep", "120"])
    left_behind = subprocess.Popen(["sleep", "120"])
    try:
        started = {process.pid: psutil.Process(process.pid).create_time()
                   for process in (bystander, left_behind)}
        dead_job = "999999999-1.00"  # no such PID: the job is gone
        guard.list_path(dead_job).write_text(json.dumps([
            [bystander.pid, f"{started[bystander.pid] - 5:.2f}"],  # the PID, reused
            [left_behind.pid, f"{started[left_behind.pid]:.2f}"]]))
        assert not guard.token_alive(dead_job)
        stopped = guard.stop_orphans()
        assert left_behind.wait(timeout=30) is not None
        assert bystander.poll() is None, stopped
        assert [entry.split()[0] for entry in stopped] == [str(left_behind.pid)]
        assert not guard.list_path(dead_job).exists()  # the dead job is forgotten
    finally:
        for process in (bystander, left_behind):
            process.kill()
            process.wait()


def test_a_second_sigterm_during_the_backends_stop_leaves_no_process(tmp_path: Path):
    """At a deadline both `timeout` and Snakemake send SIGTERM: the second lands in the
    job's teardown (ipyparallel's takes seconds, its engines in sessions of their own),
    which goes on to its end: nothing the job started is left (what a teardown cut
    short by a SIGKILL leaves, the guard stops:
    test_a_guarded_block_left_by_an_exception_has_its_guard_stop_what_is_left)."""
    log = tmp_path / "job.log"
    job, _ = start_job_and_wait_for_its_map("ipyparallel", tmp_path / "job.csv", log)
    descendants = listed_by_the_guard(job.pid, guard.job_token(job.pid))
    assert descendants, "the backend started processes"
    job.terminate()
    time.sleep(0.3)  # into the teardown
    job.terminate()
    assert job.wait(timeout=90) != 0
    psutil.wait_procs(descendants, timeout=30)
    assert alive(descendants) == []
    assert not (tmp_path / "job.csv").exists()
    # The second did not cut the teardown short: the job stopped its engines itself,
    # while it still held the timing slot.
    assert "ipyparallel stopped after Terminated" in log.read_text(), log.read_text()[-3000:]


# Not Ray: its own fate sharing sometimes ends every process of a killed driver within
# 2 s (CI saw it), so nothing may be left to sweep; the guard's list, which finds
# Ray's agents, is tested by test_a_job_killed_outright_leaves_no_process[ray].
@pytest.mark.parametrize("engine", ["pool", "ipyparallel"])
def test_the_next_job_stops_what_a_killed_job_and_its_guard_left(tmp_path: Path, engine):
    """Killed together (a process group, a cgroup), neither the job nor its guard
    cleans up: the next timing job must, before it measures, and say so in its rows.
    Pool's forked workers carry the job's lifeline, ipyparallel's engines its
    environment mark."""
    job, _ = start_job_and_wait_for_its_map(engine, tmp_path / "killed.csv")
    descendants = listed_by_the_guard(job.pid, guard.job_token(job.pid))
    guard_of(job.pid).kill()
    job.kill()
    job.wait()
    time.sleep(2)
    left = alive(descendants)
    assert left, "without a guard, the killed job's engines live on"

    # A job of another timing slot (another temporary folder: another test worker, a
    # sweep with a TMPDIR of its own) runs beside the killed job's by design: it
    # leaves them be.
    elsewhere = tmp_path / "another-slot"
    elsewhere.mkdir()
    subprocess.run([sys.executable, "-c", NEXT_JOB, str(tmp_path / "elsewhere.csv")],
                   check=True, timeout=120, env={**os.environ, "TMPDIR": str(elsewhere)})
    assert pd.read_csv(tmp_path / "elsewhere.csv")["orphans_stopped"].iloc[0] == 0
    assert alive(descendants)

    output = tmp_path / "next.csv"
    subprocess.run([sys.executable, "-c", NEXT_JOB, str(output)], check=True, timeout=120)
    rows = pd.read_csv(output)
    # Some exit on their own once a sibling is stopped (ipyparallel's controller
    # processes): the next job stopped the rest, and says how many.
    assert rows["orphans_stopped"].iloc[0] >= 1
    psutil.wait_procs(descendants, timeout=10)
    assert alive(descendants) == []


NEXT_JOB = """
import sys
from parbench.backends import resolve_series
from parbench.measure import Job, run_job
from tests.unwaiting import job_settings
run_job(Job("exp_sinh", "numpy", "serial", 1000, 2, 1),
        job_settings(min_repeats=1, max_repeats=1, warmups=0, min_sample_seconds=0),
        resolve_series("serial"), sys.argv[1])
"""


def test_wrong_results_are_failures_not_times(tmp_path: Path):
    """Maps that return other results than the serial reference time another problem:
    the job's rows are errors saying by how much, and the combination's summary has no
    time to put in medians, speed-ups or crossovers."""
    from parbench.aggregate import summarise

    rows = measure(Job("off_by_one", "python", "pool", 1, 4, 2),
                   job_settings(min_repeats=2, max_repeats=2),
                   workload_plugin="tests.failing_workloads:OffByOne")
    assert (rows["status"] == "error").all() and not rows["verified"].any()
    assert rows["seconds"].notna().sum() == 2  # the samples were timed, and are kept
    assert "differ from the serial reference" in rows["error"].iloc[-1]
    assert "tolerance" in rows["error"].iloc[-1]
    summary = summarise(rows).iloc[0]
    assert summary["status"] == "error" and summary["repeats"] == 0
    assert "differ from the serial reference" in summary["error"]


def test_a_failure_that_says_nothing_is_said_with_what_the_job_was_doing():
    rows = measure(Job("times_out_silently", "python", "serial", 1, 2, 1),
                   job_settings(min_repeats=1, max_repeats=1),
                   workload_plugin="tests.failing_workloads:TimesOutSilently")
    assert rows["error"].iloc[-1] == "TimeoutError: while the maps"


def test_samples_with_wrong_results_stay_failures_when_a_later_map_fails():
    """A failure after a sample whose results were wrong must not leave the samples
    before it `ok`: the wrong one's time would reach the medians."""
    rows = measure(Job("wrong_then_fails", "python", "serial", 1, 4, 1),
                   job_settings(warmups=1, min_repeats=8, max_repeats=8, min_sample_seconds=0),
                   workload_plugin="tests.failing_workloads:WrongThenFails")
    timed = rows[rows["seconds"].notna()]
    assert len(timed) == 3 and not timed["verified"].all()  # maps 2 to 4; map 3 wrong
    assert (rows["status"] == "error").all()
    assert "the fifth map fails" in rows["error"].iloc[-1]
    assert "differ from the serial reference in 1 of 3 timed samples" in rows["error"].iloc[-1]


@pytest.mark.parametrize("engine", PROCESS_ENGINES)
def test_a_worker_that_dies_mid_map_is_an_error_row_naming_it(tmp_path: Path, monkeypatch,
                                                              engine):
    """Task 0 kills its worker once. Pool would wait out the map's timeout; Ray and
    Dask would re-run the task and time the map as if nothing happened. Every
    backend must instead end the map with an error that says a worker died."""
    mark = tmp_path / "killed-once"
    monkeypatch.setenv(MARK_VARIABLE, str(mark))
    rows = measure(Job("dies_once", "python", engine, 1, 4, 2),
                   job_settings(min_repeats=1, max_repeats=1, map_timeout_seconds=120),
                   workload_plugin="tests.failing_workloads:DiesOnce")
    assert mark.exists(), "a worker was killed"
    failure = rows.iloc[-1]
    assert failure["status"] == "error" and not failure["verified"]
    assert "Timeout" not in failure["error"]
    death_words = {"pool": "died (SIGKILL)", "process_pool": "terminated abruptly",
                   "joblib": "SIGKILL", "dask": "workers died", "ray": "worker died",
                   "ipyparallel": "died"}
    assert death_words[engine] in failure["error"], failure["error"]


def test_peak_memory_counts_a_shared_page_once():
    """pool-shm maps one shared block into the job and every worker: summed RSS
    counts it once per process, PSS once in all."""
    size = 200_000_000
    rows = measure(Job("shared_array", "numpy", "pool-shm", size, 4, 2),
                   job_settings(min_repeats=1, max_repeats=1, sample_interval_seconds=0.02))
    job = rows.iloc[0]
    assert job["status"] == "ok"
    # The input array, and the block in the job and in each of 2 workers:
    # RSS sees about 4 copies, PSS about 2 (plus interpreters for both).
    assert job["peak_rss_bytes"] > 3.5 * size
    assert size < job["peak_pss_bytes"] < 0.75 * job["peak_rss_bytes"]


SHM_JOB = """
import sys
from parbench.measure import Job, measure
from tests.unwaiting import job_settings
rows = measure(Job("shared_array", "numpy", sys.argv[1], 64_000_000, 2, 1),
               job_settings(min_repeats=1, max_repeats=1))
print("ROW", rows.iloc[-1]["status"], rows.iloc[-1]["error"])
"""


SPAWNED_WORKERS_ATTACH = """
import multiprocessing
import numpy as np
from parbench.backends.shared_blocks import SharedBlock, call_with_block
from tests.failing_workloads import index_of

if __name__ == "__main__":
    block = SharedBlock(np.arange(1000.0))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        print(pool.starmap(call_with_block, [(index_of, i, block.handle) for i in range(8)]))
    block.close()
"""


def test_spawned_workers_attaching_the_shared_block_leave_the_drivers_claim(tmp_path):
    """Spawned workers share the driver's resource tracker: before Python 3.13 a
    worker that registered its attach and unregistered it took the driver's claim
    away (the tracker's KeyError on the next unregister), so a killed driver's block
    stayed in /dev/shm. Attached untracked, the driver's claim is the one there."""
    script = tmp_path / "attach.py"
    script.write_text(SPAWNED_WORKERS_ATTACH)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]" in result.stdout
    assert "KeyError" not in result.stderr and "leaked" not in result.stderr, result.stderr


@pytest.mark.parametrize("series_name", ["ray", "pool-shm"])
def test_an_input_larger_than_dev_shm_is_an_error_row_before_anything_starts(series_name):
    """Ray's object store and multiprocessing.shared_memory live in /dev/shm: with
    16 MB there (a mount namespace of its own), a 64 MB input must be refused."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) to mount a small /dev/shm privately")
    command = ("mount -t tmpfs -o size=16m tmpfs /dev/shm && exec \"$0\" -c \"$1\" \"$2\"")
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", command,
         sys.executable, SHM_JOB, series_name],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith("ROW"))
    assert row.startswith("ROW error") and "does not fit in /dev/shm" in row, row
    assert "nothing was allocated" in row


def test_a_job_that_crashes_says_why_in_its_log(tmp_path: Path):
    """Snakemake points to the log: it must hold the job's identity and traceback,
    even for a failure outside the measurement (here, a workload that does not
    exist), where it used to be empty. The failure is the job's row too."""
    log = tmp_path / "job.log"
    script = (
        "import sys\n"
        "from parbench.backends import resolve_series\n"
        "from parbench.logs import stderr_to\n"
        "from parbench.measure import Job, run_job\n"
        "from tests.unwaiting import job_settings\n"
        "with stderr_to(sys.argv[1]):\n"
        "    run_job(Job('no_such_workload', 'python', 'serial', 1, 1, 1),\n"
        "            job_settings(), resolve_series('serial'), sys.argv[2])\n")
    result = subprocess.run([sys.executable, "-c", script, str(log), str(tmp_path / "x.csv")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, log.read_text()[-2000:]
    text = log.read_text()
    assert "parbench job" in text and "no_such_workload" in text
    assert "Traceback" in text and "unknown workload" in text
    row = read_job_csv(tmp_path / "x.csv").iloc[0]
    assert row["status"] == "error" and "unknown workload" in row["error"]


def _sigint_as_from_a_shell() -> None:
    """In the child, before exec: SIGINT's default disposition, unblocked."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_snakemake_interrupted_alone_resumes_with_make_runs_profile(workflow_copy: Path):
    """`kill -INT` to Snakemake alone marks the outputs of its running jobs incomplete,
    even a CSV already written; the next run with the workflow's profile (what
    `make run` uses) measures those again instead of refusing to start."""
    (workflow_copy / "three_jobs.yaml").write_text(yaml.safe_dump({
        "workloads": {"exp_sinh": {"kernels": ["numpy"], "sizes": [1000, 2000, 4000],
                                   "tasks": [2]}},
        "backends": ["serial"], "workers": [1], "replicates": 1, "min_repeats": 1,
        "max_repeats": 1, "min_sample_seconds": 0, **UNWAITING}))
    design = ["--configfile", "three_jobs.yaml"]
    profile = ["--workflow-profile", "workflow/profiles/default", "--cores", "2"]
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    raw = workflow_copy / "results" / "raw"
    # The interrupt races the job's end on purpose; CI saw Snakemake finish the whole
    # run regardless (exit 0), in the full suite only: SIGINT reaches it with whatever
    # disposition and mask the test process has by then (an ignored or blocked SIGINT
    # survives exec), so Snakemake starts with SIGINT's defaults, as from a shell.
    # A try whose interrupt still loses the race says nothing: start afresh, 3 times.
    log = workflow_copy / "interrupted.log"
    for _ in range(3):
        for leftover in ("results", ".snakemake"):
            shutil.rmtree(workflow_copy / leftover, ignore_errors=True)
        with open(log, "w") as output:
            snakemake = subprocess.Popen(
                [str(Path(sys.executable).with_name("snakemake")), *profile, *design],
                cwd=workflow_copy, env=environment, stdout=output,
                stderr=subprocess.STDOUT, preexec_fn=_sigint_as_from_a_shell)
        try:
            deadline = time.time() + 180
            while time.time() < deadline and not list(raw.rglob("*.csv")):
                time.sleep(0.02)  # interrupt while that job's process is still ending
            assert list(raw.rglob("*.csv")), "a job finished"
            snakemake.send_signal(signal.SIGINT)
            interrupted = snakemake.wait(timeout=120) != 0
        finally:
            if snakemake.poll() is None:
                snakemake.kill()
        if interrupted:
            break
    assert interrupted, f"Snakemake never stopped on SIGINT:\n{log.read_text()[-3000:]}"
    # The defect: without the profile, Snakemake refuses the finished CSV.
    refused = run_snakemake(workflow_copy, "-n", "--cores", "2", *design, timeout=300)
    assert refused.returncode != 0 and "IncompleteFilesException" in refused.stdout
    resumed = run_snakemake(workflow_copy, *profile, *design, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(list(raw.rglob("*.csv"))) == 3
    assert (workflow_copy / "results" / "summary.csv").exists()


def test_a_job_token_is_its_start_in_ticks_since_boot_which_no_clock_step_moves():
    """psutil's create_time adds the boot time, which moves with the wall clock: after
    a step, a live job's token read as dead and its engines as orphans to stop. The
    start in clock ticks since boot does not move; a token of the earlier form still
    reads as alive while its job runs."""
    token = guard.job_token()
    start = Path(f"/proc/{os.getpid()}/stat").read_text().rpartition(")")[2].split()[19]
    assert token == f"{os.getpid()}-{start}" and guard.token_alive(token)
    earlier = f"{os.getpid()}-{psutil.Process().create_time():.2f}"
    assert guard.token_alive(earlier)
    assert not guard.token_alive(f"{os.getpid()}-{int(start) + 1}")


def test_a_guard_that_never_says_it_watches_is_told_from_one_that_does():
    """A guard that could not start (its launcher only forks it: a failure after the
    fork, a full /tmp, no pidfd where it died before polling) leaves SIGKILL
    protection off: the job warns where its guard never said it watched."""
    from parbench.guard.job import _said_watching as said_watching

    read, write = os.pipe()
    with open(read, "rb", buffering=0) as said, open(write, "wb", buffering=0) as saying:
        saying.write(guard.WATCHING)
        assert said_watching(said, timeout=1.0)
    read, write = os.pipe()
    with open(write, "wb", buffering=0):
        assert not said_watching(open(read, "rb", buffering=0), timeout=0.2)  # noqa: SIM115
