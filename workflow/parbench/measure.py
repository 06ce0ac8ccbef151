"""One job = one combination = one tidy CSV of timings.

A job starts its backend (timed), runs `warmups` untimed maps (the first is
timed as the cold map), then timed maps until the 95 % CI of their median is
within `ci_target` (between `min_repeats` and `max_repeats`, within
`job_budget_seconds`), then `calibration_repeats` maps of empty tasks (the
per-task dispatch overhead), and stops the backend (timed) -- on errors and
SIGTERM too. Every map's results are checked against the workload's serial
reference. A backend that fails writes an `error` row with the message instead
of failing the job. Columns: results/README.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import signal
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from parbench import machine, resources, stats
from parbench.backends import Limits, Series, get_backend, resolve_series
from parbench.probes import empty_task
from parbench.tables import write_csv_atomically
from parbench.workloads import get_workload

# Thread-pool variables every BLAS/OpenMP flavour reads; set identically for
# every backend's workers (Ray would otherwise set OMP_NUM_THREADS on its own).
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Timing jobs hold this lock, so two never overlap on one machine, whatever
# --cores or profile the sweep runs with (and across concurrent sweeps).
TIMING_LOCK = Path(tempfile.gettempdir()) / f"parbench-timing-{os.getuid()}.lock"
# How long the machine is watched, idle, before a job starts, to see whether
# something else is using it.
BACKGROUND_WINDOW_SECONDS = 0.2


@dataclass(frozen=True)
class Combination:
    """What one job measures: its identity columns."""

    workload: str
    kernel: str
    backend: str
    size: int
    tasks: int
    workers: int

    @classmethod
    def from_wildcards(cls, wildcards: Any) -> Combination:
        """From Snakemake's wildcards (all strings) to typed fields."""
        return cls(
            workload=wildcards["workload"], kernel=wildcards["kernel"],
            backend=wildcards["backend"], size=int(wildcards["size"]),
            tasks=int(wildcards["tasks"]), workers=int(wildcards["workers"]),
        )


@dataclass(frozen=True)
class JobSettings:
    """How a job measures; comes from the validated config."""

    min_repeats: int = 5
    max_repeats: int = 30
    ci_target: float = 0.05  # stop once the median's 95 % CI is within ±5 %
    job_budget_seconds: float = 60.0  # no new repeat starts past this
    warmups: int = 1
    calibration_repeats: int = 3
    blas_threads: int = 1
    map_timeout_seconds: float = 300.0
    sample_interval_seconds: float = 0.05
    config_hash: str = ""


def stop_reason(seconds: Sequence[float], elapsed_seconds: float,
                settings: JobSettings) -> str | None:
    """Why the timed repeats should stop now, or None to go on."""
    count = len(seconds)
    if count >= settings.max_repeats:
        return "max_repeats"
    if count >= settings.min_repeats and (
        stats.spread(seconds).relative_half_width <= settings.ci_target
    ):
        return "ci_target"
    # Another repeat would probably end past the budget.
    if count >= 1 and elapsed_seconds + seconds[-1] > settings.job_budget_seconds:
        return "budget"
    return None


def limit_threads(blas_threads: int) -> None:
    """Same BLAS/OpenMP thread count here and in every worker process we start."""
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(blas_threads)
    from threadpoolctl import threadpool_limits

    # Already-loaded libraries ignore the variables; limit them directly.
    threadpool_limits(limits=blas_threads)


def max_relative_error(results: list[float], expected: list[float]) -> float:
    if len(results) != len(expected):
        return math.inf
    worst = 0.0
    for got, want in zip(results, expected):
        scale = max(abs(want), 1e-300)
        worst = max(worst, abs(float(got) - want) / scale)
    return worst


def measure(combination: Combination, settings: JobSettings, series: Series | None = None,
            workload_plugin: str | None = None) -> pd.DataFrame:
    """Run one combination and return its rows (one per timed repeat, or an error row).

    `series` gives the backend's options (default: the series named by
    `combination.backend`, with its declared options); `workload_plugin` an
    import path (`module:Class`) for a workload that is not registered.
    """
    job_start_unix = time.time()
    limit_threads(settings.blas_threads)
    load_avg_1m = os.getloadavg()[0]
    # Nothing of ours runs yet: whatever keeps the CPUs busy now is someone else.
    background_cpu_fraction = psutil.cpu_percent(interval=BACKGROUND_WINDOW_SECONDS) / 100
    workload = get_workload(combination.workload, workload_plugin)
    series = series or resolve_series(combination.backend)
    backend = get_backend(series, combination.workers,
                          Limits(map_timeout_seconds=settings.map_timeout_seconds))
    cores = machine.available_cores()
    oversubscribed = backend.workers > cores
    if oversubscribed:
        print(f"warning: {backend.workers} workers on {cores} available "
              "cores; rows are flagged `oversubscribed`", file=sys.stderr)
    shared_input = workload.shared_input(combination.size)
    task = workload.task(combination.kernel, combination.size)
    expected = [
        workload.expected(index, combination.size, shared_input)
        for index in range(combination.tasks)
    ]
    job_pid = os.getpid()
    sampler = resources.MemorySampler(job_pid, settings.sample_interval_seconds)
    # Processes that exist before the backend starts are not its own (in a
    # Snakemake job there are none but the sampler; in a library or test there may be).
    not_workers = [process.pid for process in resources.tree_processes(job_pid)]

    def timed_map() -> dict[str, Any]:
        workers_before = resources.cpu_snapshot(job_pid, exclude=not_workers)
        # The job's own CPU is read at the timer's edges, so the snapshots'
        # cost is not billed to the map.
        driver_before = time.process_time()
        began = time.perf_counter()
        results = backend.map(task, combination.tasks, shared_input)
        seconds = time.perf_counter() - began
        driver_cpu = time.process_time() - driver_before
        cpu = driver_cpu + resources.cpu_seconds_between(
            workers_before, resources.cpu_snapshot(job_pid, exclude=not_workers))
        error_size = max_relative_error(results, expected)
        return {
            "seconds": seconds, "cpu_seconds": cpu,
            "cpu_utilization": cpu / (seconds * backend.workers),
            "max_relative_error": error_size, "verified": error_size <= workload.rtol,
        }

    repeats: list[dict[str, Any]] = []
    startup_seconds = first_map_seconds = overhead_per_task_seconds = math.nan
    reason, error = "", ""
    warmups_verified = True
    try:
        began = time.perf_counter()
        backend.start()
        startup_seconds = time.perf_counter() - began
        measuring_since = time.perf_counter()
        for warmup in range(settings.warmups):
            result = timed_map()
            warmups_verified = warmups_verified and result["verified"]
            if warmup == 0:
                first_map_seconds = result["seconds"]
        while reason == "":
            repeat = {"repeat": len(repeats), **timed_map()}
            repeats.append(repeat)
            if len(repeats) == 1 and settings.warmups == 0:
                first_map_seconds = repeat["seconds"]
            reason = stop_reason([r["seconds"] for r in repeats],
                                 time.perf_counter() - measuring_since, settings) or ""
        overhead_per_task_seconds = dispatch_overhead(backend, combination.tasks,
                                                      settings.calibration_repeats)
    except Exception as failure:  # any backend failure becomes data, not a crash
        error = f"{type(failure).__name__}: {failure}".strip()
        traceback.print_exc(file=sys.stderr)
    finally:
        # Everything the backend started, listed before it is asked to stop.
        started = [process for process in resources.tree_processes(job_pid, exclude=not_workers)
                   if not resources.is_helper(process, backend.helper_processes)]
        began = time.perf_counter()
        try:
            backend.stop()
        except Exception as failure:
            error = error or f"stop failed: {type(failure).__name__}: {failure}"
            traceback.print_exc(file=sys.stderr)
        # Teardown lasts until the machine is free again: some backends return
        # from stop() before their processes exit (ipyparallel's engine nannies
        # take seconds). Whatever outlives a grace period is killed and reported.
        leftovers = resources.stop_leftovers(started)
        teardown_seconds = time.perf_counter() - began
        if leftovers:
            print(f"warning: stopped {len(leftovers)} process(es) the backend left behind: "
                  f"{leftovers}", file=sys.stderr)
        memory = sampler.stop()

    if error:
        repeats.append({"repeat": len(repeats), "seconds": math.nan, "verified": False,
                        "status": "error", "error": error[:500]})
    job_columns = {
        **asdict(combination),
        "workers": backend.workers,
        "engine": series.engine,
        "variant": series.variant,
        "single_process": backend.single_process,
        **{f"option_{name}": _cell(value) for name, value in series.options.items()},
        "size_unit": workload.size_unit,
        "status": "ok",
        "error": "",
        "startup_seconds": startup_seconds,
        "first_map_seconds": first_map_seconds,
        "cold_seconds": startup_seconds + first_map_seconds,
        "teardown_seconds": teardown_seconds,
        "overhead_per_task_seconds": overhead_per_task_seconds,
        "peak_rss_bytes": memory["peak_rss_bytes"],
        "leftover_processes_stopped": len(leftovers),
        "warmups_verified": warmups_verified,
        "stop_reason": reason or "error",
        "min_repeats": settings.min_repeats,
        "max_repeats": settings.max_repeats,
        "ci_target": settings.ci_target,
        "warmups": settings.warmups,
        **backend.recorded(combination.tasks),
        "map_timeout_seconds": settings.map_timeout_seconds,
        "oversubscribed": oversubscribed,
        "load_avg_1m": load_avg_1m,
        "background_cpu_fraction": background_cpu_fraction,
        **machine.provenance(settings.blas_threads),
        "config_hash": settings.config_hash or machine.config_hash(asdict(settings)),
        # Wall-clock span of the job, to show timing jobs never overlapped.
        "job_start_unix": job_start_unix,
        "job_end_unix": time.time(),
    }
    return pd.DataFrame([{**job_columns, **repeat} for repeat in repeats])


def _cell(value: Any) -> Any:
    """An option's value as a CSV cell: `null` is written as the word, not left empty."""
    return "null" if value is None else value


def dispatch_overhead(backend: Any, tasks: int, calibration_repeats: int) -> float:
    """Median time of a map of `tasks` empty tasks, per task: the harness's dispatch cost."""
    if calibration_repeats < 1:
        return math.nan
    timings = []
    for _ in range(calibration_repeats):
        began = time.perf_counter()
        backend.map(empty_task, tasks, None)
        timings.append(time.perf_counter() - began)
    return statistics.median(timings) / tasks


@contextlib.contextmanager
def exclusive_timing_slot(lock_path: Path = TIMING_LOCK) -> Iterator[None]:
    with open(lock_path, "a") as lock:
        if not _try_lock(lock):
            print(f"waiting for the timing slot ({lock_path})", file=sys.stderr, flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _try_lock(lock: Any) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    # Snakemake stops jobs with SIGTERM; raising runs the `finally` that stops
    # the backend, so no Ray/ipcluster/Pool is left behind. (Pool workers reset
    # SIGTERM to its default: see backends/pool.py; Ray's own handler is
    # replaced by this one: see backends/ray_tasks.py.)
    raise KeyboardInterrupt(f"signal {signum}")


def run_job(combination: Combination, settings: JobSettings, series: Series,
            output: str | Path, workload_plugin: str | None = None) -> None:
    """Entry point of one Snakemake timing job."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    with exclusive_timing_slot():
        rows = measure(combination, settings, series, workload_plugin)
    write_csv_atomically(rows, output)
