"""The contract every series must keep, really started, on every registered workload.

Parametrised over the registry: a backend (or a declared variant) is tested here
the moment it is registered.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pytest

from parbench.backends import default_series, get_backend
from parbench.measure import limit_threads, max_relative_error
from parbench.probes import (
    MOMENT_SECONDS,
    start_after_a_moment,
    worker_blas_threads,
    worker_pid,
    worker_thread,
)
from parbench.resources import tree_processes
from parbench.workloads import WORKLOADS, get_workload
from parbench.workloads.shared_array import sum_kernel

pytestmark = [pytest.mark.engine]

WORKERS = 2
# Kernels whose workers need a set-up first are tested on backends started with it
# (test_worker_setup.py); these run on one started backend per series.
CASES = [(name, kernel) for name, workload in WORKLOADS.items() for kernel in workload.kernels
         if workload().worker_setup(kernel, workload.smoke_size) is None]


@pytest.fixture(scope="module", params=default_series())
def started(request):
    limit_threads(1)  # as every job does before starting its backend
    backend = get_backend(request.param, WORKERS)
    backend.start()
    yield backend
    backend.stop()
    backend.stop()  # idempotent: a second stop is harmless


@pytest.mark.parametrize(("workload_name", "kernel"), CASES)
def test_map_returns_every_result_in_order(started, workload_name, kernel):
    workload = get_workload(workload_name)
    size, tasks = workload.smoke_size, 5  # not a multiple of the workers: uneven chunks
    workload.prepare(kernel, size, tasks)
    shared_input = workload.shared_input(size)
    results = started.map(workload.task(kernel, size), tasks, shared_input)
    expected = [workload.expected(index, size, shared_input) for index in range(tasks)]
    assert max_relative_error(results, expected) <= workload.rtol


def test_each_map_ships_the_shared_input_as_it_is_then(started):
    """Every map moves its data, as a new problem's would be: a backend that kept what
    an earlier map shipped (joblib's file of an array object it has seen) would time
    warm maps that move nothing, and here return the old data's sums."""
    array = np.arange(250_000, dtype=np.float64)  # 2 MB: over joblib's max_nbytes
    before = started.map(sum_kernel, 3, array)
    array += 1.0
    after = started.map(sum_kernel, 3, array)
    started.between_samples()
    assert after == [float(array.sum()) + index for index in range(3)] != before


def test_joblib_frees_its_copies_between_samples():
    backend = get_backend("joblib", WORKERS)
    backend.start()
    try:
        array = np.ones(250_000)  # 2 MB: memory-mapped
        for _ in range(3):
            backend.map(sum_kernel, 2, array)
        assert len(joblib_memmaps()) == 3  # one per map
        batching = backend._parallel._backend
        batching._effective_batch_size = 4  # as if auto batching had learnt it
        backend.between_samples()
        deadline = time.monotonic() + 10  # joblib's resource tracker unlinks them
        while joblib_memmaps() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert joblib_memmaps() == []
        # What auto batching learnt is kept: a sample does not start it again from 1.
        assert backend._parallel._backend._effective_batch_size == 4
        assert backend.map(sum_kernel, 2, array) == [250_000.0, 250_001.0]
    finally:
        backend.stop()


def joblib_memmaps() -> list[Path]:
    """This process's joblib memory-mapped files, wherever joblib put its folder."""
    return [path for folder in {Path("/dev/shm"), Path(tempfile.gettempdir())}
            for path in folder.glob(f"joblib_memmapping_folder_{os.getpid()}_*/*.pkl")]


LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def test_nothing_listens_beyond_localhost(started):
    pids = {process.pid for process in tree_processes(os.getpid())}
    listening = [
        connection.laddr.ip
        for connection in psutil.net_connections("inet")
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids
    ]
    assert set(listening) <= LOOPBACK, f"{started.name} listens on {set(listening) - LOOPBACK}"
    if started.name in {"ray", "dask", "ipyparallel"}:  # the engines that talk by sockets
        assert listening, f"{started.name}'s listening sockets were not found to check"


def listening_addresses(pids: set[int]) -> set[str]:
    return {connection.laddr.ip for connection in psutil.net_connections("inet")
            if connection.status == psutil.CONN_LISTEN and connection.pid in pids}


def test_a_local_ipyparallel_cluster_takes_nothing_from_the_users_ipython_profile(
        tmp_path: Path, monkeypatch):
    """A user's IPython profile that has controllers listen everywhere must not reach a
    job's cluster, and the job leaves no connection file in it."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipcluster_config.py").write_text("c.Cluster.controller_ip = '0.0.0.0'\n")
    (profile / "ipcontroller_config.py").write_text("c.IPController.ip = '0.0.0.0'\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    backend = get_backend("ipyparallel", WORKERS)
    backend.start()
    try:
        assert len(set(backend.map(worker_pid, 2 * WORKERS, None))) == WORKERS
        listening = listening_addresses({process.pid for process in tree_processes(os.getpid())})
        assert listening and listening <= LOOPBACK, listening
    finally:
        backend.stop()
    written = [path.relative_to(profile) for path in profile.rglob("*") if path.is_file()]
    assert sorted(map(str, written)) == [  # IPython's skeleton of a profile aside
        "ipcluster_config.py", "ipcontroller_config.py", "startup/README"]


def test_a_local_dask_cluster_serves_no_web_page():
    """The dashboard off, Dask's scheduler and workers still answered on HTTP (worker
    lists, health, metrics): the job turns their routes off."""
    backend = get_backend("dask", WORKERS)
    backend.start()
    try:
        ports = [backend._cluster.scheduler.http_server.port, *backend._client.run(
            lambda dask_worker: dask_worker.http_server.port).values()]
        for port in ports:
            for path in ("/info/main/workers.html", "/health", "/metrics", "/status"):
                with pytest.raises(urllib.error.HTTPError) as answer:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10)
                assert answer.value.code == 404, (port, path)
    finally:
        backend.stop()


def test_tasks_run_where_the_backend_says(started):
    """Other processes, other threads of the job, or (the serial loop) the job itself."""
    tasks = 2 * WORKERS
    pids = started.map(worker_pid, tasks, None)
    threads = started.map(worker_thread, tasks, None)
    if started.single_process:
        assert set(pids) == {os.getpid()} and set(threads) == {threading.get_ident()}
    elif started.in_job_process:
        assert set(pids) == {os.getpid()} and threading.get_ident() not in threads
    else:
        assert os.getpid() not in pids


def test_dask_workers_keep_the_jobs_blas_threads_other_than_one():
    """Dask's nannies set the BLAS variables to 1 in the workers they start: a job's
    `blas_threads: 2` must reach them as it reaches every other backend's."""
    limit_threads(2)
    backend = get_backend("dask", WORKERS)
    try:
        backend.start()
        assert backend.map(worker_blas_threads, 2 * WORKERS, None) == [2.0] * (2 * WORKERS)
    finally:
        backend.stop()
        limit_threads(1)


def test_a_map_runs_as_many_tasks_at_once_as_it_has_workers(started):
    """A backend started on fewer workers than asked (Ray's `num_cpus`, Dask's
    `n_workers`, joblib's `n_jobs`) would pass every other contract test: tasks that
    last a moment show how many ran side by side."""
    # Four waves: a worker slow to take its first task on a busy machine still joins.
    starts = started.map(start_after_a_moment, 4 * WORKERS, None)
    at_once = max(sum(other <= start < other + MOMENT_SECONDS for other in starts)
                  for start in starts)
    assert at_once == (1 if started.single_process else WORKERS), starts


def test_thread_settings_reach_the_workers(started):
    """The job's `blas_threads` (1 here) is what every worker's BLAS would use."""
    limits = started.map(worker_blas_threads, 2 * WORKERS, None)
    assert limits == [1.0] * (2 * WORKERS)


def test_a_map_returns_once_the_work_is_done(started):
    """The article timed ipyparallel's submission only (a view's map returns at once):
    every series' map must wait for the results."""
    workload = get_workload("exp_sinh")
    task, tasks = workload.task("python", 300_000), 4
    began = time.perf_counter()
    for index in range(tasks):
        task(index, None)
    compute_seconds = time.perf_counter() - began
    began = time.perf_counter()
    started.map(task, tasks, None)
    map_seconds = time.perf_counter() - began
    # Perfectly spread, the work takes compute / workers; submitting alone takes ~ms.
    assert map_seconds >= 0.5 * compute_seconds / WORKERS


def test_a_loop_in_the_job_is_interrupted_at_its_limit_and_gives_sigalrm_back():
    """The serial loop's and joblib-on-one-worker's timeout (backends/in_job_loop.py):
    ticking while started, a task past the limit interrupted wherever it waits, and
    SIGALRM as it was once stopped. The jobs' own test: test_measure.py's hanging maps."""
    import signal

    from parbench.backends.in_job_loop import LoopTimeout

    timeout = LoopTimeout(0.2)
    timeout.start()
    try:
        assert signal.getitimer(signal.ITIMER_REAL)[1] > 0  # ticking
        timeout.map_began = began = time.perf_counter()
        with pytest.raises(TimeoutError, match="map_timeout_seconds"):
            time.sleep(60)
        assert time.perf_counter() - began < 30
    finally:
        timeout.stop()
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is signal.SIG_DFL
    with pytest.raises(TimeoutError, match="longer than map_timeout_seconds"):
        timeout.refuse_late(began)


def test_joblibs_start_has_the_start_limit_not_a_maps():
    """loky's workers booting on a busy machine outlasted a 1 s map limit, and the
    job's row said `TimeoutError: while starting joblib`: the start waits as long as
    `start_timeout_seconds`, the maps after it no longer than `map_timeout_seconds`."""
    from parbench.backends import Limits

    backend = get_backend("joblib", WORKERS, Limits(map_timeout_seconds=0.001))
    backend.start()  # its probes alone last 0.02 s, and loky's workers far longer
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - joblib's own TimeoutError
            backend.map(_sleeps_a_second, 2, None)
        assert type(raised.value).__name__ == "TimeoutError"
    finally:
        backend.stop()


def _sleeps_a_second(index: int, shared_input) -> float:
    time.sleep(1.0)
    return float(index)


def test_a_joblib_map_of_many_batches_each_within_the_limit_fails_past_it():
    """joblib's timeout is each batch's: a map of batches each within the limit, that
    ends past it, is a failure as any backend's map past the limit is (it was a sample)."""
    from parbench.backends import Limits, Series

    series = Series("joblib-one", "joblib", "one", {"batch_size": 1})
    backend = get_backend(series, WORKERS, Limits(map_timeout_seconds=1.0))
    backend.start()
    try:
        # Eight tasks of 0.3 s on two workers: 1.2 s at the least, each batch 0.3 s.
        with pytest.raises(TimeoutError, match="longer than map_timeout_seconds"):
            backend.map(_sleeps_three_tenths, 4 * WORKERS, None)
    finally:
        backend.stop()


def _sleeps_three_tenths(index: int, shared_input) -> float:
    time.sleep(0.3)
    return float(index)
