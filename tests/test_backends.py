"""Each backend, really started, on each workload: results match the serial reference."""

from __future__ import annotations

import math
import os
import time

import psutil
import pytest

from parbench.backends import BACKENDS, BackendSettings, get_backend
from parbench.measure import Combination, JobSettings, limit_threads, measure
from parbench.probes import worker_blas_threads, worker_pid
from parbench.resources import tree_processes
from parbench.workloads import get_workload

WORKERS = 2
CASES = [("exp_sinh", "python", 2_000), ("exp_sinh", "numpy", 2_000),
         ("shared_array", "numpy", 200_000)]


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def started(request):
    limit_threads(1)  # as every job does before starting its backend
    backend = get_backend(request.param, BackendSettings(workers=WORKERS, map_timeout_seconds=120))
    backend.start()
    yield backend
    backend.stop()
    backend.stop()  # idempotent: a second stop is harmless


@pytest.mark.parametrize(("workload_name", "kernel", "size"), CASES)
def test_map_returns_every_result_in_order(started, workload_name, kernel, size):
    workload = get_workload(workload_name)
    shared_input = workload.shared_input(size)
    tasks = 5  # not a multiple of the workers: uneven chunks
    results = started.map(workload.task(kernel, size), tasks, shared_input)
    expected = [workload.expected(index, size, shared_input) for index in range(tasks)]
    assert len(results) == tasks
    for got, want in zip(results, expected):
        assert math.isclose(got, want, rel_tol=workload.rtol)


def test_nothing_listens_beyond_localhost(started):
    pids = {process.pid for process in tree_processes(os.getpid())}
    listening = [
        connection.laddr.ip
        for connection in psutil.net_connections("inet")
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids
    ]
    loopback = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
    assert set(listening) <= loopback, f"{started.name} listens on {set(listening) - loopback}"


def test_parallel_backends_run_tasks_in_other_processes(started):
    if started.single_process:
        pytest.skip("the serial loop runs in the job's own process")
    pids = started.map(worker_pid, 2 * WORKERS, None)
    assert psutil.Process().pid not in pids


def test_ipyparallel_timed_map_includes_the_work():
    """The article timed submission only; our map must wait for the results."""
    workload = get_workload("exp_sinh")
    task, tasks = workload.task("python", 300_000), 4
    began = time.perf_counter()
    for index in range(tasks):
        task(index, None)
    compute_seconds = time.perf_counter() - began

    backend = get_backend("ipyparallel", BackendSettings(workers=WORKERS))
    try:
        backend.start()
        began = time.perf_counter()
        backend.map(task, tasks, None)
        map_seconds = time.perf_counter() - began
    finally:
        backend.stop()
    # Perfectly spread, the work takes compute/WORKERS; submitting alone takes ~ms.
    assert map_seconds >= 0.5 * compute_seconds / WORKERS


def test_thread_settings_reach_the_workers(started):
    """The job's `blas_threads` (1 here) is what every worker's BLAS would use."""
    limits = started.map(worker_blas_threads, 2 * WORKERS, None)
    assert limits == [1.0] * (2 * WORKERS)


@pytest.mark.parametrize("backend_name", ["pool", "ray", "ipyparallel"])
def test_cpu_accounting_sees_every_worker(backend_name):
    """A compute-bound map over W workers uses about W x its wall time of CPU."""
    driver_rss = psutil.Process().memory_info().rss
    rows = measure(Combination("exp_sinh", "python", backend_name, 400_000, 4, WORKERS),
                   JobSettings(min_repeats=3, max_repeats=3, calibration_repeats=0))
    assert (rows["status"] == "ok").all()
    utilization = rows["cpu_utilization"].median()
    # Counting only the driver would give ~0; W workers at full tilt give ~1. The low
    # bound is wide because a busy shared machine stretches the wall time, not the CPU.
    assert 0.3 <= utilization <= 1.3, rows[["seconds", "cpu_seconds", "cpu_utilization"]]
    # The tree, not the driver alone: the test process itself already holds ~150 MB.
    assert rows["peak_rss_bytes"].iloc[0] > driver_rss + WORKERS * 20e6
