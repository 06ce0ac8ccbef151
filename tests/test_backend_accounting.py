"""Each series' timed map, measured by a real job: CPU and memory of its whole
process tree, and (ipyparallel) the work itself rather than its submission; and
every series started with a workload's per-worker set-up.

Apart from test_backends.py, whose module-wide started backends (Ray among them)
must be stopped before these start their own.
"""

from __future__ import annotations

import time

import psutil
import pytest

from parbench.backends import BACKENDS, default_series, get_backend, resolve_series
from parbench.measure import Combination, JobSettings, limit_threads, max_relative_error, measure
from parbench.workloads import WORKLOADS, get_workload

WORKERS = 2


def engine_of(series_name: str):
    return BACKENDS[resolve_series(series_name).engine]


PARALLEL = [name for name in default_series() if not engine_of(name).single_process]


@pytest.mark.parametrize("series_name", PARALLEL)
def test_cpu_accounting_sees_every_worker(series_name):
    """A compute-bound map over W workers uses about W x its wall time of CPU."""
    driver_rss = psutil.Process().memory_info().rss
    # NumPy's loops release the GIL, so threads can keep W cores busy too.
    rows = measure(Combination("exp_sinh", "numpy", series_name, 2_000_000, 8, WORKERS),
                   JobSettings(min_repeats=3, max_repeats=3, calibration_repeats=0))
    assert (rows["status"] == "ok").all(), rows["error"].iloc[-1]
    utilization = rows["cpu_utilization"].median()
    # Counting only the driver would give ~1/W; W workers at full tilt give ~1. The
    # low bound is wide because a busy machine stretches the wall time, not the CPU.
    assert 0.3 <= utilization <= 1.3, rows[["seconds", "cpu_seconds", "cpu_utilization"]]
    peak = rows["peak_rss_bytes"].iloc[0]
    if engine_of(series_name).in_job_process:
        assert peak >= driver_rss
    else:  # the tree, not the driver alone: the test process itself holds ~150 MB
        assert peak > driver_rss + WORKERS * 20e6


def test_ipyparallel_timed_map_includes_the_work():
    """The article timed submission only; our map must wait for the results."""
    workload = get_workload("exp_sinh")
    task, tasks = workload.task("python", 300_000), 4
    began = time.perf_counter()
    for index in range(tasks):
        task(index, None)
    compute_seconds = time.perf_counter() - began

    backend = get_backend("ipyparallel", WORKERS)
    try:
        backend.start()
        began = time.perf_counter()
        backend.map(task, tasks, None)
        map_seconds = time.perf_counter() - began
    finally:
        backend.stop()
    # Perfectly spread, the work takes compute/WORKERS; submitting alone takes ~ms.
    assert map_seconds >= 0.5 * compute_seconds / WORKERS


SETUP_CASES = [(series_name, name, kernel) for series_name in default_series()
               for name, workload in WORKLOADS.items() for kernel in workload.kernels
               if workload().worker_setup(kernel, workload.smoke_size) is not None]


@pytest.mark.parametrize(("series_name", "workload_name", "kernel"), SETUP_CASES)
def test_every_series_runs_a_per_worker_setup_its_own_way(series_name, workload_name, kernel):
    """The set-up runs once per worker during start-up; tasks find its state; a stateful
    kernel's states come back from every worker and add up, or the series says it
    cannot reach its workers."""
    limit_threads(1)
    workload = get_workload(workload_name)
    size, tasks = workload.smoke_size, 5
    workload.prepare(kernel, size, tasks)
    shared_input = workload.shared_input(size)
    backend = get_backend(series_name, WORKERS)
    try:
        backend.start(workload.worker_setup(kernel, size))
        results = backend.map(workload.task(kernel, size), tasks, shared_input)
        expected = [workload.expected(index, size, shared_input) for index in range(tasks)]
        assert max_relative_error(results, expected) <= workload.rtol
        if workload.stateful(kernel):
            if backend.supports_worker_states:
                assert workload.states_agree(backend.worker_states(), 1, tasks, size)
            else:
                with pytest.raises(NotImplementedError):
                    backend.worker_states()
    finally:
        backend.stop()
