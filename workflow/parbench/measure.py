"""One job = one combination = one tidy CSV of timings.

A job first waits (up to `quiet_wait_seconds`) until the machine's background
CPU use is below `quiet_cpu_fraction`. It starts its backend (timed), runs
`warmups` untimed maps (the first is timed as the cold map), chooses how many
consecutive maps make one timed sample (k, so that a sample lasts at least
`min_sample_seconds`), then takes timed samples until the 95 % CI of their
median is within `ci_target` (between `min_repeats` and `max_repeats`, within
`job_budget_seconds`), then `calibration_repeats` maps of empty tasks (the
per-task dispatch overhead), and stops the backend (timed) -- on errors and
SIGTERM too. A job whose samples were taken while something else kept the
machine busy is measured again, up to `remeasure_loaded` times, or keeps its
`loaded` flag. Every map's results are checked against the workload's serial
reference (and a stateful workload's per-worker states after the maps). A
backend that fails writes an `error` row with the message instead of failing
the job, and one with no idiomatic way to run the combination an `unsupported`
row. Inputs too large for the machine's memory are an `error` row before
anything is allocated. Columns: results/README.md.
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
from typing import TYPE_CHECKING, Any

import numpy as np
import psutil

from parbench import guard, machine, resources, stats
from parbench.backends import Limits, Series, get_backend, resolve_series
from parbench.backends.base import CLUSTER_COLUMNS
from parbench.probes import empty_task
from parbench.tables import write_rows_atomically
from parbench.workloads import get_workload

if TYPE_CHECKING:
    import pandas as pd

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
# something else is using it (and again, while waiting for it to be quiet).
BACKGROUND_WINDOW_SECONDS = 0.2
QUIET_POLL_SECONDS = 1.0
# A timed sample of maps of a few microseconds still ends.
MAX_MAPS_PER_SAMPLE = 10_000


@dataclass(frozen=True)
class Combination:
    """What one job measures: its identity columns."""

    workload: str
    kernel: str
    backend: str
    size: int
    tasks: int
    workers: int
    # Each replicate is its own job: own process, own backend start.
    replicate: int = 0

    @classmethod
    def from_wildcards(cls, wildcards: Any) -> Combination:
        """From Snakemake's wildcards (all strings) to typed fields."""
        return cls(
            workload=wildcards["workload"], kernel=wildcards["kernel"],
            backend=wildcards["backend"], size=int(wildcards["size"]),
            tasks=int(wildcards["tasks"]), workers=int(wildcards["workers"]),
            replicate=int(wildcards["replicate"]),
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
    min_sample_seconds: float = 0.1  # a timed sample is k maps lasting at least this
    quiet_wait_seconds: float = 30.0  # wait this long at most for a quiet machine
    quiet_cpu_fraction: float = 0.25  # others' CPU use above this share is `loaded`
    remeasure_loaded: int = 1  # measure a loaded job again this many times at most
    config_hash: str = ""


def stop_reason(seconds: Sequence[float], elapsed_seconds: float,
                settings: JobSettings, last_sample_seconds: float | None = None) -> str | None:
    """Why the timed samples should stop now, or None to go on. `seconds` are the
    per-map times; `last_sample_seconds` how long the last sample (k maps) took."""
    count = len(seconds)
    if count >= settings.max_repeats:
        return "max_repeats"
    if count >= settings.min_repeats and (
        stats.spread(seconds).relative_half_width <= settings.ci_target
    ):
        return "ci_target"
    # Another sample would probably end past the budget.
    last = seconds[-1] if last_sample_seconds is None else last_sample_seconds
    if count >= 1 and elapsed_seconds + last > settings.job_budget_seconds:
        return "budget"
    return None


def limit_threads(blas_threads: int) -> None:
    """Same BLAS/OpenMP thread count here and in every worker process we start."""
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(blas_threads)
    from threadpoolctl import threadpool_limits

    # Already-loaded libraries ignore the variables; limit them directly.
    threadpool_limits(limits=blas_threads)


def relative_error(got: Any, want: Any) -> float:
    """Largest difference from the reference, relative to its largest magnitude
    (a float, or every element of an array result)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return math.inf
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    return float(np.max(np.abs(got - want), initial=0.0)) / scale


def max_relative_error(results: Sequence[Any], expected: Sequence[Any]) -> float:
    if len(results) != len(expected):
        return math.inf
    return max((relative_error(got, want) for got, want in zip(results, expected)), default=0.0)


class Unsupported(Exception):
    """The backend has no idiomatic way to run this combination: a row says so."""


class JobRun:
    """One combination on one started backend: its inputs, its timed maps, its
    per-worker state and its stop. Every failure ends as the row's `error`."""

    def __init__(self, combination: Combination, settings: JobSettings, workload: Any,
                 backend: Any) -> None:
        self.combination, self.settings = combination, settings
        self.workload, self.backend = workload, backend
        self.repeats: list[dict[str, Any]] = []
        self.startup_seconds = self.first_map_seconds = math.nan
        self.overhead_per_task_seconds = self.teardown_seconds = math.nan
        self.stop_reason, self.error, self.status = "", "", "ok"
        self.maps_per_sample = 1
        self.background_cpu_fraction_during = math.nan
        self.warmups_verified = True
        self.state_verified: bool | None = None
        self.maps_run = 0
        self.leftovers: list[str] = []
        self.cluster: dict[str, Any] = {}
        self.job_pid = os.getpid()
        # Processes that exist before the backend starts are not its own: the job
        # itself, its memory sampler and, in a test, whatever else runs there.
        self.not_workers = [process.pid for process in resources.tree_processes(self.job_pid)]

    def run(self) -> None:
        try:
            self._prepare_inputs()
            self._start()
            self._repeat_until_stopped()
            self._check_worker_states()
            self.overhead_per_task_seconds = dispatch_overhead(
                self.backend, self.combination.tasks, self.settings.calibration_repeats)
        except Unsupported as reason:
            self.status, self.error = "unsupported", str(reason)
        except Exception as failure:  # any failure becomes data, not a crash
            self.status = "error"
            self.error = f"{type(failure).__name__}: {failure}".strip()
            traceback.print_exc(file=sys.stderr)
        finally:
            self._stop()

    def _prepare_inputs(self) -> None:
        """Inputs and the serial reference, after checking they fit in memory."""
        workload, combination = self.workload, self.combination
        needed = workload.bytes_needed(combination.size, combination.tasks,
                                       self.backend.workers)
        available = psutil.virtual_memory().available
        if needed > available:
            raise MemoryError(f"size {combination.size} needs about {needed / 1e9:.3g} GB; "
                              f"{available / 1e9:.3g} GB available (nothing was allocated)")
        in_shared_memory = self.backend.shared_memory_bytes(
            workload.shared_input_bytes(combination.size))
        shm_free = machine.shm_free_bytes()
        if in_shared_memory and shm_free is not None and in_shared_memory > shm_free:
            raise MemoryError(f"the shared input of {in_shared_memory / 1e9:.3g} GB does not "
                              f"fit in /dev/shm ({shm_free / 1e9:.3g} GB free), where "
                              f"{self.backend.name} keeps it (nothing was allocated)")
        workload.prepare(combination.kernel, combination.size, combination.tasks)
        if workload.stateful(combination.kernel) and not self.backend.supports_worker_states:
            raise Unsupported(f"{self.backend.name} has no way to reach every worker after "
                              "a map, so per-worker state cannot be gathered")
        self.shared_input = workload.shared_input(combination.size)
        self.task = workload.task(combination.kernel, combination.size)
        self.expected = [workload.expected(index, combination.size, self.shared_input)
                         for index in range(combination.tasks)]
        self.setup = workload.worker_setup(combination.kernel, combination.size)

    def _start(self) -> None:
        began = time.perf_counter()
        self.backend.start(self.setup)
        self.startup_seconds = time.perf_counter() - began
        self.cluster = self.backend.cluster_resources()

    def timed_sample(self, maps: int = 1) -> dict[str, Any]:
        """`maps` consecutive maps under one timer; times are per map. Every map's
        results are checked after the timer stops."""
        backend, job_pid, not_workers = self.backend, self.job_pid, self.not_workers
        workers_before = resources.cpu_snapshot(job_pid, exclude=not_workers)
        # The job's own CPU is read at the timer's edges, so the snapshots'
        # cost is not billed to the maps.
        driver_before = time.process_time()
        began = time.perf_counter()
        results = [backend.map(self.task, self.combination.tasks, self.shared_input)
                   for _ in range(maps)]
        sample_seconds = time.perf_counter() - began
        driver_cpu = time.process_time() - driver_before
        self.maps_run += maps
        cpu = driver_cpu + resources.cpu_seconds_between(
            workers_before, resources.cpu_snapshot(job_pid, exclude=not_workers))
        error_size = max(max_relative_error(result, self.expected) for result in results)
        if backend.on_cluster:  # the workers' CPU is on other hosts: not measured
            cpu = math.nan
        return {
            "seconds": sample_seconds / maps, "maps_per_sample": maps,
            "sample_seconds": sample_seconds, "cpu_seconds": cpu / maps,
            "cpu_utilization": cpu / (sample_seconds * backend.workers),
            "max_relative_error": error_size, "verified": error_size <= self.workload.rtol,
        }

    def _choose_maps_per_sample(self, warm_map_seconds: float) -> int:
        """Maps per timed sample, so that one lasts at least `min_sample_seconds`
        (as pyperf and asv calibrate their loops), with about 20 % to spare. The trial
        samples are warm-ups. `warm_map_seconds`: a warm map's time, if one was
        timed (the cold first map says nothing: Ray's takes seconds)."""
        target = self.settings.min_sample_seconds
        if target <= 0 or warm_map_seconds >= 2 * target:
            return 1
        maps, fastest_map = 1, math.inf
        while True:
            trial = self.timed_sample(maps)
            self.warmups_verified = self.warmups_verified and trial["verified"]
            # Maps speed up as a backend warms: size k on the fastest one seen so far,
            # with 20 % to spare, so that later samples still last the target.
            fastest_map = min(fastest_map, max(trial["seconds"], 1e-9))
            if trial["sample_seconds"] >= target or maps >= MAX_MAPS_PER_SAMPLE:
                spare = math.ceil(1.2 * target / fastest_map)
                return min(MAX_MAPS_PER_SAMPLE, max(maps, spare))
            # Aim 20 % past the target, so the next trial usually is the last.
            wanted = math.ceil(maps * 1.2 * target / max(trial["sample_seconds"], 1e-9))
            maps = min(MAX_MAPS_PER_SAMPLE, max(maps + 1, wanted))

    def _repeat_until_stopped(self) -> None:
        settings = self.settings
        measuring_since = time.perf_counter()
        warm_map_seconds = math.nan
        for warmup in range(max(1, settings.warmups)):
            # With `warmups: 0` the first map is still timed alone, as the cold one.
            result = self.timed_sample()
            self.warmups_verified = self.warmups_verified and result["verified"]
            if warmup == 0:
                self.first_map_seconds = result["seconds"]
            else:
                warm_map_seconds = result["seconds"]
        self.maps_per_sample = self._choose_maps_per_sample(warm_map_seconds)
        # Who else used the machine while the samples were taken: everything busy
        # on it minus what this job's process tree used.
        machine_before = resources.machine_busy_seconds()
        tree_before = resources.tree_cpu_seconds(self.job_pid)
        sampling_since = time.perf_counter()
        while self.stop_reason == "":
            sample = self.timed_sample(self.maps_per_sample)
            self.repeats.append({"repeat": len(self.repeats), **sample})
            self.stop_reason = stop_reason(
                [repeat["seconds"] for repeat in self.repeats],
                time.perf_counter() - measuring_since, settings,
                sample["sample_seconds"]) or ""
        # On a cluster the workers are not in this job's process tree: where they share
        # this host, their work would read as someone else's. Unknown, not loaded.
        if not self.backend.on_cluster:
            self.background_cpu_fraction_during = resources.background_fraction(
                resources.machine_busy_seconds() - machine_before,
                resources.tree_cpu_seconds(self.job_pid) - tree_before,
                time.perf_counter() - sampling_since)

    def _check_worker_states(self) -> None:
        """A stateful workload's per-worker states, gathered and checked (not timed)."""
        combination = self.combination
        if self.workload.stateful(combination.kernel):
            self.state_verified = self.workload.states_agree(
                self.backend.worker_states(), self.maps_run, combination.tasks,
                combination.size)

    def _stop(self) -> None:
        # Everything the backend started, listed before it is asked to stop.
        started = [process for process in resources.tree_processes(
                       self.job_pid, exclude=self.not_workers)
                   if not resources.is_helper(process, self.backend.helper_processes)]
        began = time.perf_counter()
        try:
            self.backend.stop()
        except Exception as failure:
            self.error = self.error or f"stop failed: {type(failure).__name__}: {failure}"
            self.status = "error" if self.status == "ok" else self.status
            traceback.print_exc(file=sys.stderr)
        # Teardown lasts until the machine is free again: some backends return
        # from stop() before their processes exit (ipyparallel's engine nannies
        # take seconds). Whatever outlives a grace period is killed and reported.
        self.leftovers = resources.stop_leftovers(started)
        self.teardown_seconds = time.perf_counter() - began
        if self.leftovers:
            print(f"warning: stopped {len(self.leftovers)} process(es) the backend left "
                  f"behind: {self.leftovers}", file=sys.stderr)

    def repeat_rows(self) -> list[dict[str, Any]]:
        """One row per timed repeat, then one for the failure, if any."""
        rows = list(self.repeats)
        if self.status != "ok":
            rows.append({"repeat": len(rows), "seconds": math.nan, "verified": False,
                         "status": self.status, "error": self.error[:500]})
        return rows


def wait_until_quiet(settings: JobSettings) -> tuple[float, float]:
    """Wait, up to `quiet_wait_seconds`, until others use at most `quiet_cpu_fraction`
    of the machine. Returns (seconds waited, the last background fraction seen).
    Nothing of this job runs yet: whatever keeps the CPUs busy is someone else."""
    began = time.perf_counter()
    background = psutil.cpu_percent(interval=BACKGROUND_WINDOW_SECONDS) / 100
    while (background > settings.quiet_cpu_fraction
           and time.perf_counter() - began < settings.quiet_wait_seconds):
        background = psutil.cpu_percent(interval=QUIET_POLL_SECONDS) / 100
    waited = time.perf_counter() - began - BACKGROUND_WINDOW_SECONDS
    if background > settings.quiet_cpu_fraction:
        print(f"warning: the machine is still {background:.0%} busy with other work after "
              f"{waited:.0f} s; measuring anyway", file=sys.stderr)
    return max(0.0, waited), background


def measure(combination: Combination, settings: JobSettings, series: Series | None = None,
            workload_plugin: str | None = None) -> pd.DataFrame:
    """Run one combination and return its rows as a table (see `measure_rows`)."""
    import pandas as pd  # here, not at the top: a timing job does without it

    return pd.DataFrame(measure_rows(combination, settings, series, workload_plugin))


def measure_rows(combination: Combination, settings: JobSettings, series: Series | None = None,
                 workload_plugin: str | None = None) -> list[dict[str, Any]]:
    """Run one combination and return its rows (one per timed sample, or a failure row).

    `series` gives the backend's options (default: the series named by
    `combination.backend`, with its declared options); `workload_plugin` an
    import path (`module:Class`) for a workload that is not registered.
    """
    job_start_unix = time.time()
    limit_threads(settings.blas_threads)
    load_avg_1m = os.getloadavg()[0]
    series = series or resolve_series(combination.backend)
    cores = machine.available_cores()
    quiet_waited_seconds = 0.0
    for attempt in range(1, settings.remeasure_loaded + 2):
        waited, background_cpu_fraction = wait_until_quiet(settings)
        quiet_waited_seconds += waited
        workload = get_workload(combination.workload, workload_plugin)
        backend = get_backend(series, combination.workers,
                              Limits(map_timeout_seconds=settings.map_timeout_seconds))
        sampler = resources.MemorySampler(os.getpid(), settings.sample_interval_seconds)
        job = JobRun(combination, settings, workload, backend)
        try:
            job.run()
        finally:
            memory = sampler.stop()
        # Loaded: someone else was busy before the job or while it took its samples.
        loaded = bool(background_cpu_fraction > settings.quiet_cpu_fraction
                      or job.background_cpu_fraction_during > settings.quiet_cpu_fraction)
        if not loaded or job.status != "ok" or attempt > settings.remeasure_loaded:
            break
        print(f"warning: attempt {attempt} ran on a loaded machine (others used "
              f"{background_cpu_fraction:.0%} before, {job.background_cpu_fraction_during:.0%} "
              "during the samples); measuring again", file=sys.stderr)
    # On a cluster, the job's host is not where the workers run.
    oversubscribed = backend.workers > cores and not backend.on_cluster
    if backend.on_cluster:  # the process tree here is the driver alone
        memory = {"peak_rss_bytes": math.nan, "peak_pss_bytes": math.nan}
    if oversubscribed:
        print(f"warning: {backend.workers} workers on {cores} available "
              "cores; rows are flagged `oversubscribed`", file=sys.stderr)
    job_columns = {
        **asdict(combination),
        "workers": backend.workers,
        "engine": series.engine,
        "variant": series.variant,
        "target": series.target,
        "single_process": backend.single_process,
        **{f"option_{name}": _cell(value) for name, value in series.options.items()},
        "size_unit": workload.size_unit,
        "kernel_level": workload.kernel_levels.get(combination.kernel, math.nan),
        "status": "ok",
        "error": "",
        "startup_seconds": job.startup_seconds,
        # Joining a running cluster is not a cold start: never compare the two.
        "startup_kind": "connect" if backend.on_cluster else "start",
        **{column: job.cluster.get(column, math.nan) for column in CLUSTER_COLUMNS},
        "first_map_seconds": job.first_map_seconds,
        "cold_seconds": job.startup_seconds + job.first_map_seconds,
        "teardown_seconds": job.teardown_seconds,
        "overhead_per_task_seconds": job.overhead_per_task_seconds,
        "peak_rss_bytes": memory["peak_rss_bytes"],
        "peak_pss_bytes": memory["peak_pss_bytes"],
        "leftover_processes_stopped": len(job.leftovers),
        "warmups_verified": job.warmups_verified,
        "state_verified": "" if job.state_verified is None else job.state_verified,
        "stop_reason": job.stop_reason or job.status,
        "min_repeats": settings.min_repeats,
        "max_repeats": settings.max_repeats,
        "ci_target": settings.ci_target,
        "warmups": settings.warmups,
        "min_sample_seconds": settings.min_sample_seconds,
        **backend.recorded(combination.tasks),
        **workload.recorded(combination.kernel, combination.size),
        "map_timeout_seconds": settings.map_timeout_seconds,
        "oversubscribed": oversubscribed,
        "load_avg_1m": load_avg_1m,
        "quiet_waited_seconds": quiet_waited_seconds,
        "background_cpu_fraction": background_cpu_fraction,
        "background_cpu_fraction_during": job.background_cpu_fraction_during,
        "loaded": loaded,
        "attempts": attempt,
        **machine.provenance(settings.blas_threads),
        "config_hash": settings.config_hash or machine.config_hash(asdict(settings)),
        # Wall-clock span of the job, to show timing jobs never overlapped (and in
        # which order the replicates ran).
        "job_start_unix": job_start_unix,
        "job_end_unix": time.time(),
    }
    return [{**job_columns, **repeat} for repeat in job.repeat_rows()]


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
    # A POSIX record lock (lockf), not flock: it belongs to this process alone.
    # An flock is shared with every forked child (Pool workers), so a job killed
    # outright left its orphaned workers holding the slot, and every later job waited.
    with open(lock_path, "a") as lock:
        if not try_lock(lock):
            print(f"waiting for the timing slot ({lock_path})", file=sys.stderr, flush=True)
            fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


def try_lock(lock: Any) -> bool:
    """Take the timing slot's lock on the open file `lock` if it is free."""
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:  # EACCES or EAGAIN: someone holds it
        return False


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    # Snakemake stops jobs with SIGTERM; raising runs the `finally` that stops
    # the backend, so no Ray/ipcluster/Pool is left behind. (Pool workers reset
    # SIGTERM to its default: see backends/pool.py; Ray's own handler is
    # replaced by this one: see backends/ray_tasks.py.)
    raise KeyboardInterrupt(f"signal {signum}")


def run_job(combination: Combination, settings: JobSettings, series: Series,
            output: str | Path, workload_plugin: str | None = None,
            timing_lock: str | Path | None = None) -> None:
    """Entry point of one Snakemake timing job. `timing_lock`: the file whose lock
    keeps timing jobs apart (None: TIMING_LOCK, this machine's); jobs on several
    nodes need one on a filesystem they share."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    print(f"parbench job {os.getpid()}: {combination}", file=sys.stderr, flush=True)
    with exclusive_timing_slot(Path(timing_lock) if timing_lock else TIMING_LOCK):
        # Whatever a killed job and its guard left must not run beside this one.
        orphans = guard.stop_orphans()
        if orphans:
            print(f"warning: stopped {len(orphans)} process(es) that an earlier, killed job "
                  f"left running: {orphans}", file=sys.stderr)
        with guard.guarded_job():
            rows = measure_rows(combination, settings, series, workload_plugin)
    write_rows_atomically([{**row, "orphans_stopped": len(orphans)} for row in rows], output)
