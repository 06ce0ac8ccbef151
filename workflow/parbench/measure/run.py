"""One combination on one started backend: its inputs, its timed maps, its
per-worker state and its stop (parbench.measure.rows makes its rows).

The backend starts (timed), runs `warmups` untimed maps (the first timed as the
cold map), chooses how many consecutive maps make one timed sample (k, so that a
sample lasts at least `min_sample_seconds`), takes timed samples until the 95 % CI
of their median is within `ci_target` (between `min_repeats` and `max_repeats`,
within `job_budget_seconds`), then `calibration_repeats` maps of empty tasks (the
per-task dispatch cost), and stops (timed), on errors and SIGTERM too. Every map's
results are checked against the workload's serial reference, and a stateful
workload's per-worker states after the maps. A failure becomes the row's `error`;
a backend with no idiomatic way to run the combination an `unsupported` row.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from typing import Any

import psutil

from parbench import machine, resources
from parbench.columns.statuses import ERROR, OK, UNSUPPORTED
from parbench.identity import Job
from parbench.measure.sampling import (
    MAX_MAPS_PER_SAMPLE,
    dispatch_overhead,
    map_timed_out,
    stop_reason,
)
from parbench.measure.verify import max_relative_error
from parbench.settings import JobSettings


class Unsupported(Exception):
    """The backend has no idiomatic way to run this combination: a row says so."""


class WrongResults(Exception):
    """A backend's maps returned other results than the serial reference."""


def _stop_asked_again(signum: int, frame: Any) -> None:
    """A stop signal during the teardown of a job already stopping: nothing more to do."""


class JobRun:
    """One combination on one started backend: its inputs, its timed maps, its
    per-worker state and its stop. Every failure ends as the row's `error`."""

    def __init__(self, job: Job, settings: JobSettings, workload: Any,
                 backend: Any, job_pid: int | None = None) -> None:
        """`job_pid`: the job's own process, where this one was forked from it
        (parbench.measure.supervised); None: this process is the job's."""
        self.job, self.settings = job, settings
        self.workload, self.backend = workload, backend
        self.repeats: list[dict[str, Any]] = []
        self.startup_seconds = self.first_map_seconds = math.nan
        self.overhead_per_task_seconds = self.teardown_seconds = math.nan
        self.stop_reason, self.error, self.status = "", "", OK
        self.maps_per_sample = 1
        self.background_cpu_fraction_during = math.nan
        self.warmups_verified = True
        self.state_verified: bool | None = None
        self.maps_run = 0
        self.leftovers: list[str] = []
        self.interrupted = ""  # what ended the job before its rows, if anything
        self.cluster: dict[str, Any] = {}
        self.measuring_pid = os.getpid()
        # Log lines name the job by its own process (the one the log's first line names).
        self.job_pid = job_pid or self.measuring_pid
        # Processes that exist before the backend starts are not its own: the job
        # itself, its memory sampler and, in a test, whatever else runs there.
        self.not_workers = [process.pid for process in resources.tree_processes(self.measuring_pid)]

    def run(self) -> None:
        stopping: dict[int, Any] = {}  # the stop signals' handlers, while they are ignored
        phase = ""  # what the job was doing, for an error that says nothing itself
        try:
            phase = "preparing the inputs"
            self._prepare_inputs()
            phase = f"starting {self.backend.name}"
            self._start()
            phase = "the maps"
            self._repeat_until_stopped()
            phase = "gathering the workers' states"
            self._check_worker_states()
            self._refuse_wrong_results()
            phase = "calibrating the dispatch (empty maps)"
            self.overhead_per_task_seconds = dispatch_overhead(
                self.backend, self.job.tasks, self.settings.calibration_repeats)
        except Unsupported as reason:
            self.status, self.error = UNSUPPORTED, str(reason)
        except Exception as failure:  # any failure becomes data, not a crash
            self.status = ERROR
            # Some say nothing (multiprocessing's and concurrent.futures' TimeoutError).
            self.error = f"{type(failure).__name__}: {str(failure) or 'while ' + phase}"
            # Samples before the failure whose results were wrong stay failures too.
            wrong = "" if isinstance(failure, WrongResults) else self._wrong_results()
            if wrong:
                self.error += f"; before it, {wrong}"
            traceback.print_exc(file=sys.stderr)
        except BaseException as interrupted:  # SIGTERM (Terminated), Ctrl-C: no row
            # A second stop (`timeout` and Snakemake both send SIGTERM at a deadline, a
            # second Ctrl-C) must not cut short the teardown, which is what stops the
            # engines while the job still holds the timing slot (left to the guard, they
            # would outlive it, beside the next job's measurement). First thing, and a
            # handler that does nothing rather than SIG_IGN, which processes started
            # meanwhile would inherit.
            if threading.current_thread() is threading.main_thread():
                stopping = {number: signal.signal(number, _stop_asked_again)
                            for number in (signal.SIGTERM, signal.SIGINT)}
            self.interrupted = f"{type(interrupted).__name__} ({interrupted})"
            print(f"parbench job {self.job_pid}: {self.interrupted}; stopping "
                  f"{self.backend.name}", file=sys.stderr, flush=True)
            raise
        finally:
            self._stop()
            for number, handler in stopping.items():
                signal.signal(number, handler)

    def _prepare_inputs(self) -> None:
        """Inputs and the serial reference, after checking they fit in memory."""
        workload, job = self.workload, self.job
        needed = workload.bytes_needed(job.size, job.tasks,
                                       self.backend.workers)
        available = psutil.virtual_memory().available
        if needed > available:
            raise MemoryError(f"size {job.size} needs about {needed / 1e9:.3g} GB; "
                              f"{available / 1e9:.3g} GB available (nothing was allocated)")
        shared = workload.shared_input_bytes(job.size)
        in_shared_memory = self.backend.shared_memory_bytes(shared)
        shm_free = machine.shm_free_bytes()
        if in_shared_memory and shm_free is not None and in_shared_memory > shm_free:
            raise MemoryError(f"the shared input ({shared / 1e9:.3g}"
                              f" GB) does not fit in /dev/shm, where {self.backend.name} "
                              f"keeps it: up to {in_shared_memory / 1e9:.3g} GB held there at "
                              f"once, {shm_free / 1e9:.3g} GB free (nothing was allocated)")
        workload.prepare(job.kernel, job.size, job.tasks)
        if workload.stateful(job.kernel) and not self.backend.supports_worker_states:
            raise Unsupported(f"{self.backend.name} has no way to reach every worker after "
                              "a map, so per-worker state cannot be gathered")
        self.shared_input = workload.shared_input(job.size)
        self.task = workload.task(job.kernel, job.size)
        self.expected = [workload.expected(index, job.size, self.shared_input)
                         for index in range(job.tasks)]
        self.setup = workload.worker_setup(job.kernel, job.size)

    def _start(self) -> None:
        began = time.perf_counter()
        self.backend.start(self.setup)
        self.startup_seconds = time.perf_counter() - began
        self.cluster = self.backend.cluster_resources()

    def timed_sample(self, maps: int = 1) -> dict[str, Any]:
        """`maps` consecutive maps under one timer; times are per map. Every map's
        results are checked after the timer stops."""
        backend, measuring_pid, not_workers = self.backend, self.measuring_pid, self.not_workers
        workers_before = resources.cpu_snapshot(measuring_pid, exclude=not_workers)
        # The job's own CPU is read at the timer's edges, so the snapshots'
        # cost is not billed to the maps.
        driver_before = time.process_time()
        began = time.perf_counter()
        results = []
        try:
            for _ in range(maps):
                # Each map's own start, for a timeout's wording (one clock read a
                # map, tens of nanoseconds): the limit is a map's, not a sample's.
                map_began = time.perf_counter()
                results.append(backend.map(self.task, self.job.tasks, self.shared_input))
        except (TimeoutError, multiprocessing.TimeoutError) as engine_said:
            worded = map_timed_out(engine_said, time.perf_counter() - map_began,
                                   backend.limits.map_timeout_seconds)
            if worded is None:
                raise
            raise worded from engine_said
        sample_seconds = time.perf_counter() - began
        driver_cpu = time.process_time() - driver_before
        self.maps_run += maps
        cpu = driver_cpu + resources.cpu_seconds_between(
            workers_before, resources.cpu_snapshot(measuring_pid, exclude=not_workers))
        backend.between_samples()  # after the CPU is read: its work is not the maps'
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
        for warmup in range(settings.warmups):  # one at least (JobSettings)
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
        tree_before = resources.tree_cpu_seconds(self.measuring_pid)
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
                resources.tree_cpu_seconds(self.measuring_pid) - tree_before,
                time.perf_counter() - sampling_since)

    def _check_worker_states(self) -> None:
        """A stateful workload's per-worker states, gathered and checked (not timed)."""
        job = self.job
        if self.workload.stateful(job.kernel):
            self.state_verified = self.workload.states_agree(
                self.backend.worker_states(), self.maps_run, job.tasks,
                job.size)

    def _refuse_wrong_results(self) -> None:
        """Times of maps that returned something other than the serial reference's
        results are no measurement of the problem: every repeat becomes a failure,
        and the job's error row says how far the results were off."""
        wrong = self._wrong_results()
        if wrong:
            raise WrongResults(wrong)

    def _wrong_results(self) -> str:
        """Where the results differed from the serial reference, with how far (every
        repeat then marked a failure); empty where they never did."""
        wrong = [repeat for repeat in self.repeats if not repeat["verified"]]
        if not wrong and self.warmups_verified and self.state_verified is not False:
            return ""
        for repeat in self.repeats:
            repeat["status"] = ERROR
        worst = max((repeat["max_relative_error"] for repeat in wrong), default=math.nan)
        where = (f"{len(wrong)} of {len(self.repeats)} timed samples" if wrong
                 else "the warm-up maps" if not self.warmups_verified
                 else "the workers' gathered states")
        return (f"results differ from the serial reference in {where} (max relative error "
                f"{worst:.3g}, tolerance {self.workload.rtol:g})")

    def _stop(self) -> None:
        # Everything the backend started, listed before it is asked to stop.
        started = [process for process in resources.tree_processes(
                       self.measuring_pid, exclude=self.not_workers)
                   if not resources.is_helper(process, self.backend.helper_processes)]
        began = time.perf_counter()
        try:
            self.backend.stop()
        except Exception as failure:
            self.error = self.error or f"stop failed: {type(failure).__name__}: {failure}"
            self.status = ERROR if self.status == OK else self.status
            traceback.print_exc(file=sys.stderr)
        # Teardown lasts until the machine is free again: some backends return
        # from stop() before their processes exit (ipyparallel's engine nannies
        # take seconds). Whatever outlives a grace period is killed and reported.
        self.leftovers = resources.stop_leftovers(started)
        self.teardown_seconds = time.perf_counter() - began
        if self.leftovers:
            print(f"warning: stopped {len(self.leftovers)} process(es) the backend left "
                  f"behind: {self.leftovers}", file=sys.stderr)
        if self.interrupted:
            print(f"parbench job {self.job_pid}: {self.backend.name} stopped after "
                  f"{self.interrupted}", file=sys.stderr, flush=True)

    def repeat_rows(self) -> list[dict[str, Any]]:
        """One row per timed repeat, then one for the failure, if any."""
        rows = list(self.repeats)
        if self.status != OK:
            rows.append({"repeat": len(rows), "seconds": math.nan, "verified": False,
                         "status": self.status, "error": self.error[:500]})
        return rows
