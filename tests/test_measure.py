"""One job end to end without Snakemake: rows, verification, failures as data."""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from parbench import columns, machine, resources
from parbench.backends import BACKENDS, default_series, get_backend, resolve_series
from parbench.measure import (
    Job,
    exclusive_timing_slot,
    measure,
    try_lock,
)
from parbench.resources import is_helper
from parbench.tables import write_csv_atomically
from parbench.workloads import get_workload
from tests.conftest import REPO, start_job_and_wait_for_its_map
from tests.unwaiting import job_settings

pytestmark = [pytest.mark.engine, pytest.mark.heavy]


def work_cpu_seconds(workload_name: str, kernel: str, size: int, tasks: int) -> float:
    """CPU seconds the map's tasks take in this process, one after another, warm (the
    fastest of three: the first pays for this process's first allocations)."""
    workload = get_workload(workload_name)
    workload.prepare(kernel, size, tasks)
    task, shared_input = workload.task(kernel, size), workload.shared_input(size)
    spent = []
    for _ in range(3):
        began = time.process_time()
        for index in range(tasks):
            task(index, shared_input)
        spent.append(time.process_time() - began)
    return min(spent)


@pytest.mark.parametrize("series_name", default_series())
def test_every_series_measures_verified_rows_and_leaves_nothing(series_name):
    """The job-level contract: declared columns, verified maps, start-up and teardown
    timed, the series' options and every recorded package's version in its rows,
    the CPU and memory of the job's whole process tree, and nothing left for the
    job to kill."""
    series = resolve_series(series_name)
    driver_rss = psutil.Process().memory_info().rss
    # Compute-bound: NumPy's loops release the GIL, so threads can keep 2 cores busy too.
    rows = measure(Job("exp_sinh", "numpy", series_name, 2_000_000, 8, 2),
                   job_settings(min_repeats=3, max_repeats=3, calibration_repeats=1))
    assert (rows["status"] == "ok").all(), rows["error"].iloc[-1]
    assert list(rows["repeat"]) == [0, 1, 2]
    # Every declared column, in the table's order, and nothing undeclared.
    assert list(rows.columns) == columns.ordered(list(rows.columns))
    assert set(columns.names(columns.JOB)) - {"orphans_stopped"} <= set(rows.columns)
    assert all(columns.family_of(name) for name in rows.columns)
    assert rows["verified"].all() and rows["warmups_verified"].all()
    assert (rows["seconds"] > 0).all()
    first = rows.iloc[0]
    assert first["startup_seconds"] >= 0 and first["teardown_seconds"] >= 0
    assert first["overhead_per_task_seconds"] > 0
    assert first["leftover_processes_stopped"] == 0
    assert (first["engine"], first["workers"]) == (
        series.engine, 1 if BACKENDS[series.engine].single_process else 2)
    for name in series.options:
        assert f"option_{name}" in rows.columns
    for package in machine.recorded_packages():
        assert first[f"{package}_version"] != "not installed", package
    # The CPU of the job's whole tree: a map's is at least about the work's own (timed
    # here, in this process), whoever else keeps the machine busy (load stretches the
    # wall time, and with it utilization, not the CPU); and no more than W workers'
    # worth of the map's wall time.
    work_cpu = work_cpu_seconds("exp_sinh", "numpy", 2_000_000, 8)
    table = rows[["seconds", "cpu_seconds", "cpu_utilization"]]
    assert rows["cpu_seconds"].median() >= 0.5 * work_cpu, (work_cpu, table)
    assert rows["cpu_utilization"].median() <= 1.3, table
    if BACKENDS[series.engine].in_job_process:
        assert first["peak_rss_bytes"] >= driver_rss
    else:  # the tree, not the driver alone: the test process itself holds ~150 MB
        assert first["peak_rss_bytes"] > driver_rss + 2 * 20e6


# A process whose one thread spins 0.3 s of CPU and ends, then says its own CPU time.
SPINS_IN_A_THREAD_THAT_ENDS = """
import sys, threading, time
def spin():
    end = time.thread_time() + 0.3
    while time.thread_time() < end:
        pass
thread = threading.Thread(target=spin)
thread.start()
thread.join()
print(time.process_time(), flush=True)
sys.stdin.read()
"""


def test_the_cpu_of_a_thread_that_has_ended_still_counts():
    """A thread of a worker that ends within a sample (an engine's helper) used CPU the
    sample must count: another process's CPU is read from its CPU clock, which keeps
    the time of ended threads (a sum over the threads still there lost it)."""
    child = subprocess.Popen([sys.executable, "-c", SPINS_IN_A_THREAD_THAT_ENDS],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        own = float(child.stdout.readline())
        counted = resources.process_cpu_seconds(psutil.Process(child.pid))
        # From the process's CPU clock itself, not a fallback that happens to agree.
        clock = time.clock_gettime(resources.process_cpu_clock(child.pid))
    finally:
        child.stdin.close()
        child.wait()
    assert own >= 0.3 and counted >= 0.9 * own and clock >= 0.9 * own, (own, counted, clock)


@pytest.mark.parametrize(("workload", "kernel", "size"), [
    ("exp_sinh", "python", 1_000), ("exp_sinh", "numpy", 1_000),
])
def test_rows_of_both_kernels_are_verified(workload, kernel, size):
    rows = measure(Job(workload, kernel, "pool", size, 4, 2),
                   job_settings(min_repeats=2, max_repeats=2))
    assert (rows["status"] == "ok").all() and rows["verified"].all()


def test_pool_records_its_default_chunksize():
    rows = measure(Job("exp_sinh", "numpy", "pool", 100, 16, 2),
                   job_settings(min_repeats=1, max_repeats=1))
    assert rows["chunksize"].iloc[0] == 2  # ceil(16 / (4 * 2)), Pool's own rule


def test_ray_job_is_verified_and_stops_its_instance():
    import ray

    rows = measure(Job("shared_array", "numpy", "ray", 100_000, 4, 2),
                   job_settings(min_repeats=2, max_repeats=2))
    assert (rows["status"] == "ok").all() and rows["verified"].all()
    # Start-up is measured apart from the maps, and is not free.
    assert (rows["startup_seconds"] > rows["seconds"].median()).all()
    assert not ray.is_initialized()


def test_a_backend_that_cannot_start_writes_an_error_row():
    rows = measure(Job("exp_sinh", "python", "pool", 100, 4, 0),
                   job_settings(min_repeats=3, max_repeats=3))
    assert list(rows["status"]) == ["error"]
    assert "Number of processes must be at least 1" in rows["error"].iloc[0]
    assert math.isnan(rows["seconds"].iloc[0]) and not rows["verified"].iloc[0]


# Tasks that would wait two minutes: a backend that waited for them fails the test.
HANGING_TASK_MICROSECONDS = 120_000_000


@pytest.mark.parametrize(("series_name", "workers"),
                         [(name, 2) for name in default_series() if name != "threads"]
                         + [("joblib", 1)])
def test_a_map_that_hangs_is_an_error_row_and_the_backend_is_stopped(series_name, workers):
    # The serial loop, and joblib on one worker (a loop in the job too), interrupt the
    # task in the job's own process; every other backend stops the workers that run it.
    # Threads cannot be stopped: a separate process tests them (the next test).
    began = time.monotonic()
    rows = measure(
        Job("waits", "python", series_name, HANGING_TASK_MICROSECONDS, 4, workers),
        job_settings(min_repeats=2, max_repeats=2, warmups=0, map_timeout_seconds=1),
        workload_plugin="tests.waiting_workload:Waits",
    )
    assert rows["status"].iloc[-1] == "error"
    # One wording whichever engine timed out, with the engine's own words.
    assert rows["error"].iloc[-1].startswith(
        "TimeoutError: the map was still running after 1 s (map_timeout_seconds)")
    # Nothing waited for a task (ipyparallel's start and stop take 20 s here).
    assert time.monotonic() - began < HANGING_TASK_MICROSECONDS / 1e6 / 2
    # The backend's own stop ended everything: the job had nothing left to kill.
    assert rows["leftover_processes_stopped"].iloc[0] == 0
    if series_name == "ray":
        import ray

        assert not ray.is_initialized()


def test_a_tasks_own_timeout_is_not_worded_as_the_maps():
    """The limit is a map's: a sample of several maps that lasts past it, whose task
    raises a TimeoutError of its own, keeps the task's words."""
    # 0.4 s maps; a sample must last 1.5 s, so the calibration's second trial runs
    # about five maps, from 0.8 s; the task's own timeout comes at 2 s, in its fourth
    # map, 1.2 s into a sample that has outlasted the 1 s limit of one map.
    rows = measure(
        Job("times_out_itself", "python", "serial", 100_000, 4, 1),
        job_settings(min_repeats=1, max_repeats=1, warmups=0, map_timeout_seconds=1,
                     min_sample_seconds=1.5),
        workload_plugin="tests.waiting_workload:TimesOutItself",
    )
    assert list(rows["status"]) == ["error"]
    assert rows["error"].iloc[0] == "TimeoutError: the task's own timeout"


def test_a_job_whose_thread_hangs_writes_its_row_and_ends(tmp_path: Path):
    """A thread cannot be stopped, and Python waits for a ThreadPoolExecutor's threads
    at exit: the job, run as Snakemake runs it (its own process), writes its error row
    and ends without waiting for the task."""
    output = tmp_path / "job.csv"
    arguments = {
        "job": dataclasses.asdict(Job("waits", "python", "threads",
                                      HANGING_TASK_MICROSECONDS, 4, 2)),
        "settings": dataclasses.asdict(job_settings(min_repeats=1, max_repeats=1, warmups=0,
                                                    map_timeout_seconds=1)),
        "series": dataclasses.asdict(resolve_series("threads")),
        "output": str(output), "workload_plugin": "tests.waiting_workload:Waits",
        "timing_lock": str(tmp_path / "timing.lock"), "config_hash": "",
        "planned_round": 0,
    }
    ended = subprocess.run(
        [sys.executable, "-m", "parbench.measure.elsewhere", json.dumps(arguments)],
        capture_output=True, text=True, timeout=HANGING_TASK_MICROSECONDS / 1e6 / 2,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "workflow"), str(REPO)])})
    assert ended.returncode == 0, ended.stderr[-2000:]
    assert "threads still run a task that cannot be stopped" in ended.stderr
    rows = pd.read_csv(output)
    assert list(rows["status"]) == ["error"]
    assert rows["error"].iloc[0].startswith(
        "TimeoutError: the map was still running after 1 s (map_timeout_seconds)")


def test_ipyparallel_without_engines_is_an_error_row():
    rows = measure(Job("exp_sinh", "python", "ipyparallel", 100, 2, 0),
                   job_settings(min_repeats=1, max_repeats=1, map_timeout_seconds=30))
    assert rows["status"].iloc[-1] == "error"
    assert "NoEnginesRegistered" in rows["error"].iloc[-1]


def test_csv_is_written_atomically(tmp_path: Path):
    rows = pd.DataFrame({"a": [1, 2]})
    target = tmp_path / "deep" / "job.csv"
    write_csv_atomically(rows, target)
    assert pd.read_csv(target)["a"].tolist() == [1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["job.csv"]  # no temporaries left


def _try_slot(lock_path, answer):
    with open(lock_path, "a") as lock:
        answer.put("acquired" if try_lock(lock) else "blocked")


def _hold_slot_and_fork(lock_path, ready):
    """Take the slot, fork a child that lives on (as a Pool worker would), and wait."""
    import os
    import time

    with exclusive_timing_slot(lock_path):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        ready.put("holding")
        time.sleep(60)


def test_a_killed_jobs_forked_workers_do_not_keep_the_timing_slot(tmp_path: Path):
    """A job killed outright must free the slot, even while a worker it forked lives on."""
    lock_path = tmp_path / "timing.lock"
    spawn = multiprocessing.get_context("spawn")
    ready, answer = spawn.Queue(), spawn.Queue()
    holder = spawn.Process(target=_hold_slot_and_fork, args=(lock_path, ready))
    holder.start()
    assert ready.get(timeout=60) == "holding"
    holder_process = psutil.Process(holder.pid)
    orphan = holder_process.children()[0]
    try:
        holder.kill()
        holder_process.wait(30)  # not join(): the orphan holds its sentinel pipe open
        assert orphan.is_running()
        other = spawn.Process(target=_try_slot, args=(lock_path, answer))
        other.start()
        other.join(30)
        assert answer.get(timeout=5) == "acquired"
    finally:
        orphan.kill()


def test_timing_slot_excludes_a_second_job(tmp_path: Path):
    lock_path = tmp_path / "timing.lock"
    answer = multiprocessing.get_context("spawn").Queue()
    with exclusive_timing_slot(lock_path):
        other = multiprocessing.get_context("spawn").Process(target=_try_slot,
                                                             args=(lock_path, answer))
        other.start()
        other.join(30)
        assert answer.get(timeout=5) == "blocked"
    other = multiprocessing.get_context("spawn").Process(target=_try_slot, args=(lock_path, answer))
    other.start()
    other.join(30)
    assert answer.get(timeout=5) == "acquired"


# A SIGTERM handled inside an at-fork hook, as logging's is when a Pool forks its
# workers: the job's exception is raised there, where Python ignores it.
SIGTERM_IN_AN_AT_FORK_HOOK = """
import os, signal, sys, time
from parbench.measure import slot

if sys.argv[1] == "redelivered":
    slot.stop_on_sigterm_even_where_exceptions_are_ignored()
else:
    signal.signal(signal.SIGTERM, slot.stop_on_sigterm)

def sigterm_during_the_hook():
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(1000):  # handled here, inside the hook
        pass

os.register_at_fork(after_in_parent=sigterm_during_the_hook)
try:
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        time.sleep(0.01)
    print("ran on")
except slot.Terminated:
    print("stopped")
"""


@pytest.mark.parametrize("handling, outcome", [("redelivered", "stopped"),
                                               ("raised once", "ran on")])
def test_a_sigterm_lost_where_exceptions_are_ignored_is_delivered_again(handling, outcome):
    """Raised once, the SIGTERM is lost (the job ran on until SIGKILL); the job's
    handling delivers it again, and the job stops."""
    run = subprocess.run([sys.executable, "-c", SIGTERM_IN_AN_AT_FORK_HOOK, handling],
                         capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == outcome, run.stderr
    assert "Exception ignored" in run.stderr and "Terminated: signal 15" in run.stderr


def test_pool_workers_die_on_sigterm_even_under_the_jobs_handler():
    """Pool.terminate() hangs on a worker that inherited a Python SIGTERM handler."""
    import signal

    from parbench.measure.slot import stop_on_sigterm as _stop_on_sigterm
    from parbench.probes import worker_sigterm_is_default

    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    backend = get_backend(resolve_series("pool", {"start_method": "fork"}), 2)
    try:
        backend.start()
        assert backend.map(worker_sigterm_is_default, 4, None) == [1.0] * 4
    finally:
        backend.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.parametrize("series_name", default_series())
def test_sigterm_stops_every_backend_and_writes_nothing(tmp_path: Path, series_name):
    """Snakemake stops jobs with SIGTERM: the job must stop its backend's processes,
    all of them, and write no CSV."""
    output, log = tmp_path / "job.csv", tmp_path / "job.log"
    job, backend = start_job_and_wait_for_its_map(series_name, output, log)
    try:
        descendants = psutil.Process(job.pid).children(recursive=True)
        job.terminate()
        assert job.wait(timeout=90) != 0
        gone, alive = psutil.wait_procs(descendants, timeout=30)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE
                and not is_helper(p, backend.helper_processes)] == []
        assert not output.exists()
        # The job's own stop ran (the backend's stop() and its wait for leftovers),
        # not only the guard's kill once the job was gone. (While `ray.init` runs, its
        # own handler has SIGTERM exit the job: SystemExit, stopped the same way. Mid
        # `ray.get`, Ray raises the handler's Terminated again as a bare
        # KeyboardInterrupt.)
        said = log.read_text()
        # Named by the job's own process, as the log's first line names the job.
        assert re.search(rf"parbench job {job.pid}: {backend.name} stopped after "
                         r"(Terminated \(signal 15\)|SystemExit \(15\)|KeyboardInterrupt \(\))",
                         said), said[-2000:]
    finally:
        if job.poll() is None:
            job.kill()


def test_rows_carry_overheads_resources_and_provenance():
    rows = measure(Job("shared_array", "numpy", "pool", 100_000, 8, 2),
                   job_settings(min_repeats=2, max_repeats=2))
    first = rows.iloc[0]
    assert first["overhead_per_task_seconds"] > 0
    assert (rows["cpu_seconds"] > 0).all() and first["peak_rss_bytes"] > 0
    assert pd.notna(first["background_cpu_fraction"]) and pd.notna(first["load_avg_1m"])
    for column in ("blas_library", "cpu_model", "os", "numpy_version", "git_commit",
                   "config_hash", "hostname", "timestamp_utc", "shm_bytes", "memory_bytes"):
        assert pd.notna(first[column]) and str(first[column]) != "", column


def test_a_shipped_tree_records_the_commit_it_was_shipped_from(monkeypatch):
    commit, _ = machine.git_state()
    assert re.fullmatch(r"[0-9a-f]{40}", commit), "this checkout is a git repository"
    monkeypatch.setenv(machine.SOURCE_COMMIT_VARIABLE, "f" * 40)
    assert machine.git_state() == ("f" * 40, None)


def test_more_workers_than_cores_is_flagged():
    from parbench.machine import available_cores

    rows = measure(Job("exp_sinh", "numpy", "pool", 100, 4, available_cores() + 1),
                   job_settings(min_repeats=1, max_repeats=1))
    assert rows["oversubscribed"].all() and (rows["status"] == "ok").all()
    fitting = measure(Job("exp_sinh", "numpy", "pool", 100, 4, 1),
                      job_settings(min_repeats=1, max_repeats=1))
    assert not fitting["oversubscribed"].any()


def test_a_series_without_an_idiomatic_path_writes_an_unsupported_row():
    """Pool cannot reach every worker after a map: a stateful kernel is `unsupported`,
    said in a row before anything is started, not a crash and not a silent gap."""
    rows = measure(Job("worker_setup", "stateful", "pool", 80_000, 4, 2),
                   job_settings(min_repeats=2, max_repeats=2))
    assert list(rows["status"]) == ["unsupported"]
    assert "cannot be gathered" in rows["error"].iloc[0]
    assert math.isnan(rows["startup_seconds"].iloc[0])  # nothing was started
    rows = measure(Job("worker_setup", "stateful", "serial", 80_000, 4, 1),
                   job_settings(min_repeats=2, max_repeats=2))
    assert (rows["status"] == "ok").all() and rows["verified"].all()
    assert bool(rows["state_verified"].iloc[0])


def test_a_sample_is_k_maps_lasting_at_least_the_minimum():
    # k is chosen on trial maps. Maps of computing tasks run at another speed once the
    # suite's other worker starts or stops beside them (the sample then comes out short,
    # and the check could only be skipped): these tasks sleep 2 ms, as long under any load.
    rows = measure(Job("waits", "python", "pool", 2_000, 4, 2),
                   job_settings(min_repeats=3, max_repeats=3, min_sample_seconds=0.05),
                   workload_plugin="tests.waiting_workload:Waits")
    assert (rows["status"] == "ok").all()
    assert (rows["maps_per_sample"] > 1).all() and rows["maps_per_sample"].nunique() == 1
    # k is chosen with 20 % to spare on the fastest warm-up map: a sample lasts the target,
    # give or take the Pool's dispatch (halved, for a loaded machine's).
    assert (rows["sample_seconds"] >= 0.5 * 0.05).all()
    # Cold start and the first map stay single.
    assert (rows["first_map_seconds"] < rows["sample_seconds"]).all()
    single = measure(Job("exp_sinh", "numpy", "pool", 1_000, 4, 2),
                     job_settings(min_repeats=2, max_repeats=2, min_sample_seconds=0))
    assert (single["maps_per_sample"] == 1).all()


def _others_spinning(count: int) -> list[psutil.Process]:
    """`count` busy loops that are not this process's children (a shell starts them
    and exits, so they belong to no one here), as someone else's load would be."""
    started = subprocess.run(
        ["sh", "-c", " ".join([f"{sys.executable} -c 'while True: pass' >/dev/null 2>&1 &"
                               " echo $!;"] * count)],
        capture_output=True, text=True, check=True)
    return [psutil.Process(int(pid)) for pid in started.stdout.split()]


def test_a_job_on_a_busy_machine_waits_remeasures_and_keeps_its_loaded_flag():
    """Others keep every CPU busy: the job waits for quiet (in vain), measures, sees
    the load while sampling too, measures again, and says it was loaded."""
    spinners = _others_spinning(psutil.cpu_count())
    assert not {spinner.pid for spinner in spinners} & {
        child.pid for child in psutil.Process().children(recursive=True)}
    try:
        rows = measure(Job("exp_sinh", "numpy", "serial", 1_000, 4, 1),
                       job_settings(min_repeats=2, max_repeats=2, quiet_wait_seconds=1.5,
                                   remeasure_loaded=1, min_sample_seconds=0.2))
    finally:
        for spinner in spinners:  # by PID: only what this test started
            spinner.kill()
        psutil.wait_procs(spinners, timeout=10)
    first = rows.iloc[0]
    assert bool(first["loaded"]) and first["attempts"] == 2
    assert first["quiet_waited_seconds"] >= 2 * 1.0  # waited before each attempt
    assert first["background_cpu_fraction"] > 0.25
    assert first["background_cpu_fraction_during"] > 0.25
    assert (rows["status"] == "ok").all() and rows["verified"].all()


def test_the_quiet_gate_does_not_count_the_jobs_own_cpu_as_others_load():
    """Before its backend starts, the job's process is not idle (a BLAS library forked
    into it spins its threads up): the gate reads others' load, not its own. One
    thread of this process spins through the gate's window: the machine is busier than
    the gate says others made it by about that thread's share, whatever else runs."""
    from parbench.measure.environment import others_busy_fraction

    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    machine_before, own_before = resources.machine_busy_seconds(), time.process_time()
    began = time.perf_counter()
    spinner.start()
    try:
        others = others_busy_fraction(0.5)
    finally:
        stop.set()
        spinner.join()
    wall = time.perf_counter() - began
    # In CPU seconds (shares of a 16-CPU machine would be too small to tell apart).
    machine_busy = resources.machine_busy_seconds() - machine_before
    own = time.process_time() - own_before
    others_busy = others * wall * psutil.cpu_count()
    assert own > 0.1, "the spinning thread ran"  # even on a loaded machine
    # Left out of others': all but the ticks' coarseness (10 ms a CPU, at either end).
    assert machine_busy - others_busy >= 0.7 * own - 0.04, (machine_busy, others_busy, own)


def test_a_job_on_a_quiet_machine_says_how_quiet_it_was():
    rows = measure(Job("exp_sinh", "numpy", "serial", 1_000, 4, 1),
                   job_settings(min_repeats=2, max_repeats=2, remeasure_loaded=0))
    first = rows.iloc[0]
    # Measured before and during the job (the suite's other worker may be busy: either).
    assert 0 <= first["background_cpu_fraction"] <= 1
    assert 0 <= first["background_cpu_fraction_during"] <= 1
    assert bool(first["loaded"]) == bool(
        max(first["background_cpu_fraction"], first["background_cpu_fraction_during"]) > 0.25)


def test_a_jobs_rows_are_written_without_pandas_as_pandas_writes_them(tmp_path: Path,
                                                                         monkeypatch):
    """The timing job writes its CSV with the csv module (importing pandas cost each job
    ~0.17 s); the bytes must be pandas', for ok rows, an `unsupported` row and an
    `error` row, or the aggregates would change."""
    from parbench.measure import measure_rows
    from parbench.tables import write_rows_atomically
    from tests.failing_workloads import MARK_VARIABLE

    monkeypatch.setenv(MARK_VARIABLE, str(tmp_path / "killed-once"))
    settings = job_settings(min_repeats=2, max_repeats=2, min_sample_seconds=0)
    jobs = {
        "ok": measure_rows(Job("exp_sinh", "numpy", "serial", 1_000, 4, 1), settings),
        "unsupported": measure_rows(Job("worker_setup", "stateful", "pool", 1_000, 4, 2),
                                    settings),
        "error": measure_rows(Job("dies_once", "python", "pool", 1, 4, 2), settings,
                              workload_plugin="tests.failing_workloads:DiesOnce"),
    }
    assert {rows[-1]["status"] for rows in jobs.values()} == {"ok", "unsupported", "error"}
    for name, rows in jobs.items():
        rows = [{**row, "orphans_stopped": 0} for row in rows]
        ours, theirs = tmp_path / f"{name}.csv", tmp_path / f"{name}_pandas.csv"
        write_rows_atomically(rows, ours)
        write_csv_atomically(pd.DataFrame(rows), theirs)
        assert ours.read_bytes() == theirs.read_bytes(), name


def test_a_timing_job_does_not_import_pandas():
    import subprocess
    import sys

    imported = subprocess.run(
        [sys.executable, "-c", "import sys, parbench.measure; print('pandas' in sys.modules)"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert imported == "False"


def test_a_threads_map_ended_by_a_tasks_error_leaves_its_running_task_behind():
    """One task fails while another still runs: stop() drops the running one, as after
    a timeout (it waited for it, which a task that never ends made forever)."""
    from parbench.backends.threads import threads_left_running

    release, started = threading.Event(), threading.Event()
    blocked: list[threading.Thread] = []

    def fails_or_blocks(index: int, _shared: object) -> float:
        if index == 0:
            started.wait(60)
            raise ValueError("the task's own error")
        blocked.append(threading.current_thread())
        started.set()
        release.wait(120)
        return 0.0

    backend = get_backend("threads", 2)
    backend.start()
    try:
        with pytest.raises(ValueError, match="the task's own error"):
            backend.map(fails_or_blocks, 2, None)
        backend.stop()
        # stop() returned while this map's blocked task still runs: it did not wait.
        assert len(blocked) == 1 and blocked[0].is_alive()
        assert blocked[0].name in threads_left_running()
    finally:
        release.set()
        backend.stop()
