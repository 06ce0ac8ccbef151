"""One job end to end without Snakemake: rows, verification, failures as data."""

from __future__ import annotations

import math
import multiprocessing
import re
from pathlib import Path

import pandas as pd
import pytest

from parbench import machine
from parbench.measure import (
    Combination,
    JobSettings,
    exclusive_timing_slot,
    measure,
)
from parbench.tables import write_csv_atomically

REQUIRED_COLUMNS = [
    "workload", "kernel", "backend", "size", "tasks", "workers", "repeat", "seconds",
    "startup_seconds", "teardown_seconds", "first_map_seconds", "status", "verified", "error",
    "chunksize", "start_method", "blas_threads", "python_version", "ray_version", "cpu_model",
    "available_cores", "git_commit", "timestamp_utc", "warmups_verified",
]


@pytest.mark.parametrize("backend", ["serial", "pool"])
@pytest.mark.parametrize(("workload", "kernel", "size"), [
    ("exp_sinh", "python", 1_000), ("exp_sinh", "numpy", 1_000), ("shared_array", "numpy", 80_000),
])
def test_rows_have_the_documented_columns_and_are_verified(backend, workload, kernel, size):
    rows = measure(Combination(workload, kernel, backend, size, 4, 2),
                   JobSettings(min_repeats=3, max_repeats=3))
    assert list(rows["repeat"]) == [0, 1, 2]
    assert set(REQUIRED_COLUMNS) <= set(rows.columns)
    assert (rows["status"] == "ok").all() and rows["verified"].all()
    assert rows["warmups_verified"].all()  # the untimed maps are checked too
    assert (rows["seconds"] > 0).all()
    assert rows["startup_seconds"].notna().all() and rows["teardown_seconds"].notna().all()
    assert rows["workers"].iloc[0] == (1 if backend == "serial" else 2)


def test_pool_records_its_default_chunksize():
    rows = measure(Combination("exp_sinh", "numpy", "pool", 100, 16, 2),
                   JobSettings(min_repeats=1, max_repeats=1))
    assert rows["chunksize"].iloc[0] == 2  # ceil(16 / (4 * 2)), Pool's own rule


def test_ray_job_is_verified_and_stops_its_instance():
    import ray

    rows = measure(Combination("shared_array", "numpy", "ray", 100_000, 4, 2),
                   JobSettings(min_repeats=2, max_repeats=2))
    assert (rows["status"] == "ok").all() and rows["verified"].all()
    # Start-up is measured apart from the maps, and is not free.
    assert (rows["startup_seconds"] > rows["seconds"].median()).all()
    assert not ray.is_initialized()


def test_a_backend_that_cannot_start_writes_an_error_row():
    rows = measure(Combination("exp_sinh", "python", "pool", 100, 4, 0),
                   JobSettings(min_repeats=3, max_repeats=3))
    assert list(rows["status"]) == ["error"]
    assert "Number of processes must be at least 1" in rows["error"].iloc[0]
    assert math.isnan(rows["seconds"].iloc[0]) and not rows["verified"].iloc[0]


def test_a_map_that_times_out_is_an_error_row_and_ray_is_stopped():
    import ray

    rows = measure(
        Combination("exp_sinh", "python", "ray", 2_000_000, 4, 1),
        JobSettings(min_repeats=2, max_repeats=2, warmups=0, map_timeout_seconds=0.05),
    )
    assert rows["status"].iloc[-1] == "error"
    assert "Timeout" in rows["error"].iloc[-1]
    assert not ray.is_initialized()
    # Ray's own shutdown stopped everything: the job had nothing left to kill.
    assert rows["leftover_processes_stopped"].iloc[0] == 0


def test_ipyparallel_without_engines_is_an_error_row():
    rows = measure(Combination("exp_sinh", "python", "ipyparallel", 100, 2, 0),
                   JobSettings(min_repeats=1, max_repeats=1, map_timeout_seconds=30))
    assert rows["status"].iloc[-1] == "error"
    assert "NoEnginesRegistered" in rows["error"].iloc[-1]


def test_csv_is_written_atomically(tmp_path: Path):
    rows = pd.DataFrame({"a": [1, 2]})
    target = tmp_path / "deep" / "job.csv"
    write_csv_atomically(rows, target)
    assert pd.read_csv(target)["a"].tolist() == [1, 2]
    assert [p.name for p in target.parent.iterdir()] == ["job.csv"]  # no temporaries left


def _try_slot(lock_path, answer):
    import fcntl

    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            answer.put("acquired")
        except BlockingIOError:
            answer.put("blocked")


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


def test_pool_workers_die_on_sigterm_even_under_the_jobs_handler():
    """Pool.terminate() hangs on a worker that inherited a Python SIGTERM handler."""
    import signal

    from parbench.backends import BackendSettings, get_backend
    from parbench.measure import _stop_on_sigterm
    from parbench.probes import worker_sigterm_is_default

    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    backend = get_backend("pool", BackendSettings(workers=2, start_method="fork"))
    try:
        backend.start()
        assert backend.map(worker_sigterm_is_default, 4, None) == [1.0] * 4
    finally:
        backend.stop()
        signal.signal(signal.SIGTERM, previous)


JOB_SCRIPT = """
import sys
from parbench.measure import Combination, JobSettings, run_job
run_job(Combination("exp_sinh", "python", "ray", 50_000_000, 4, 2),
        JobSettings(min_repeats=1, max_repeats=1, warmups=0), sys.argv[1])
"""


def test_sigterm_stops_the_jobs_ray_instance(tmp_path: Path):
    """Snakemake stops jobs with SIGTERM: the job must stop Ray and write nothing."""
    import subprocess
    import sys
    import time

    import psutil

    output = tmp_path / "job.csv"
    job = subprocess.Popen([sys.executable, "-c", JOB_SCRIPT, str(output)])
    try:
        deadline = time.time() + 120
        parent = psutil.Process(job.pid)

        def ray_workers_running() -> bool:
            return any(
                "ray::" in " ".join(child.cmdline()) or "default_worker" in " ".join(
                    child.cmdline())
                for child in parent.children(recursive=True) if child.is_running()
            )

        # Wait until Ray's workers run the (long) map. (The job's memory sampler is
        # a child too, so "has children" would not show that Ray started.)
        while time.time() < deadline and not ray_workers_running():
            time.sleep(0.5)
        assert ray_workers_running(), "the job never started Ray's workers"
        time.sleep(1.0)
        descendants = parent.children(recursive=True)
        job.terminate()
        assert job.wait(timeout=60) != 0
        gone, alive = psutil.wait_procs(descendants, timeout=30)
        assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
        assert not output.exists()
    finally:
        if job.poll() is None:
            job.kill()


def test_rows_carry_overheads_resources_and_provenance():
    rows = measure(Combination("shared_array", "numpy", "pool", 100_000, 8, 2),
                   JobSettings(min_repeats=2, max_repeats=2))
    first = rows.iloc[0]
    assert first["overhead_per_task_seconds"] > 0
    assert math.isclose(first["cold_seconds"],
                        first["startup_seconds"] + first["first_map_seconds"])
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

    rows = measure(Combination("exp_sinh", "numpy", "pool", 100, 4, available_cores() + 1),
                   JobSettings(min_repeats=1, max_repeats=1))
    assert rows["oversubscribed"].all() and (rows["status"] == "ok").all()
    fitting = measure(Combination("exp_sinh", "numpy", "pool", 100, 4, 1),
                      JobSettings(min_repeats=1, max_repeats=1))
    assert not fitting["oversubscribed"].any()
