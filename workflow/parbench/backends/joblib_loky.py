"""joblib.Parallel on its default loky backend (scikit-learn's engine).

Workers start by fork+exec, so they inherit nothing of the job's memory. Arrays
larger than `max_nbytes` are memory-mapped to the workers instead of pickled:
dumped to a temporary folder on each map, as a new array would be. (Within one
`Parallel` context joblib dumps an array object once and hands its file to later
calls: the same object every map here, so warm maps would have moved no data.) The
files are freed between timed samples, outside the timer. The batch size joblib
settles on is recorded as `chunksize`. The reusable executor is shut down at stop,
so each job's start-up is cold.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from parbench import worker_state
from parbench.backends.base import MAX_TASKS, Backend, option
from parbench.backends.in_job_loop import LoopTimeout
from parbench.workloads.base import Task

# What joblib's auto batching has learnt (joblib.parallel's AutoBatchingMixin).
LEARNT_BATCHING = ("_effective_batch_size", "_smoothed_batch_duration")
# How long each start-up probe task lasts: long enough that idle workers, not one
# fast worker, answer them; counted in the start-up time.
PROBE_SECONDS = 0.02


def _pid_after_a_moment(index: int) -> int:
    import os

    time.sleep(PROBE_SECONDS)
    return os.getpid()


@dataclass(frozen=True)
class JoblibOptions:
    batch_size: int | str = option("auto", "tasks per dispatch; `auto`: joblib adapts it "
                                   "to last 0.2–2 s", choices=("auto",), kind=int, minimum=1,
                                   maximum=MAX_TASKS)
    max_nbytes: str | None = option("1M", "arrays larger than this are memory-mapped to the "
                                    "workers (joblib's default `1M`); `null`: never",
                                    choices=(None,), kind=str,
                                    pattern=r"[0-9]+(\.[0-9]+)?[KMG]")


class JoblibBackend(Backend):
    name = "joblib"
    summary = ("`joblib.Parallel(n_jobs=workers, backend='loky')`, one `delayed` call per "
               "index (1 worker: joblib runs the loop in the job's process)")
    startup_covers = "loky executor and all workers up"
    shared_input_travels = ("an argument; arrays over `max_nbytes` written to a memory-mapped "
                            "file once per call")
    colour = "#cc78bc"
    marker = "v"
    packages = ("joblib",)
    process_markers = ("loky.backend.popen_loky",)
    # Loky's resource tracker serves every executor of the process and lives until it exits.
    helper_processes = ("loky.backend.resource_tracker",)
    Options = JoblibOptions

    def start(self, worker_setup=None) -> None:
        from joblib import Parallel, delayed

        self._delayed = delayed
        # A per-worker set-up goes to loky's initializer (through Parallel's backend kwargs).
        setup = {"initializer": worker_state.install, "initargs": (worker_setup,)} \
            if worker_setup is not None else {}
        # On one worker joblib runs a loop here, where its timeout cannot apply (it
        # warns): LoopTimeout does the job's.
        timeout = {"timeout": self.limits.map_timeout_seconds} if self.workers > 1 else {}
        self._parallel = Parallel(n_jobs=self.workers, backend="loky",
                                  batch_size=self.options.batch_size,
                                  max_nbytes=self.options.max_nbytes, **timeout, **setup)
        self._parallel.__enter__()  # one pool of workers for every call of this job
        self._batch_size: int | None = None
        self._files_left = False
        # Arrays above this many bytes are memory-mapped (joblib does not on one worker).
        limit = self.options.max_nbytes
        self._memory_mapped_above = _bytes(limit) if limit is not None and self.workers > 1 \
            else math.inf
        # On more workers, joblib's own timeout ends a task (a batch) running past the
        # limit; a map of many batches, each within it, that ends past the limit fails
        # once it returns (refuse_late), as a loop's would.
        self._loop_timeout = LoopTimeout(self.limits.map_timeout_seconds)
        if self.workers == 1:  # joblib falls back to a loop in this process
            if worker_setup is not None:
                worker_state.install(worker_setup)
            self._loop_timeout.start()
            return
        deadline = time.monotonic() + self.limits.start_timeout_seconds
        answered: set[int] = set()
        # The start has the start's limit, not a map's: joblib reads its timeout at
        # each call (loky's workers booting on a busy machine outlasted a 1 s map limit).
        map_timeout, self._parallel.timeout = (self._parallel.timeout,
                                               self.limits.start_timeout_seconds)
        try:
            while len(answered) < self.workers:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only {len(answered)} of {self.workers} loky "
                                       "workers started in time")
                answered |= set(self._parallel(delayed(_pid_after_a_moment)(index)
                                               for index in range(self.workers)))
        finally:
            self._parallel.timeout = map_timeout

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        loop_timeout = self._loop_timeout
        if isinstance(shared_input, np.ndarray):
            # A new object each map (a view: no copy), so joblib dumps it again.
            shared_input = shared_input.view()
            self._files_left |= shared_input.nbytes > self._memory_mapped_above
        began = loop_timeout.map_began = time.perf_counter()
        try:
            results = self._parallel(self._delayed(task)(index, shared_input)
                                     for index in range(tasks))
        finally:
            loop_timeout.map_began = None
        self._batch_size = getattr(self._parallel._backend, "_effective_batch_size", None)
        loop_timeout.refuse_late(began)
        return results

    def between_samples(self) -> None:
        """joblib deletes a context's memory-mapped files when it ends (waiting while
        workers still hold them): a new context on the same warm workers and states,
        with the batch size joblib had learnt (ending a context forgets it, and every
        sample would learn it again from one task a batch)."""
        if self._files_left:
            self._files_left = False
            learnt = {name: getattr(self._parallel._backend, name) for name in LEARNT_BATCHING
                      if hasattr(self._parallel._backend, name)}
            self._parallel.__exit__(None, None, None)
            self._parallel.__enter__()
            for name, value in learnt.items():
                setattr(self._parallel._backend, name, value)

    def shared_input_copies(self, tasks: int, nbytes: int) -> int:
        """Memory-mapped once per call above `max_nbytes`; below, pickled per batch."""
        limit = self.options.max_nbytes
        if limit is not None and nbytes > _bytes(limit):
            return 1
        return -(-tasks // (self.chunksize(tasks) or 1))

    def chunksize(self, tasks: int) -> int | None:
        if self.options.batch_size != "auto":
            return int(self.options.batch_size)
        return getattr(self, "_batch_size", None)

    def stop(self) -> None:
        loop_timeout, parallel = (getattr(self, "_loop_timeout", None),
                                  getattr(self, "_parallel", None))
        self._loop_timeout = self._parallel = None
        if loop_timeout is not None:
            loop_timeout.stop()
        if parallel is not None:
            parallel.__exit__(None, None, None)  # also removes its memory-mapped files
        from joblib.externals.loky import reusable_executor

        executor = reusable_executor._executor
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=True)
        worker_state.clear()


def _bytes(size: str) -> int:
    """joblib's size strings (`1M`, `500K`, a plain number) in bytes."""
    factors = {"K": 1024, "M": 1024**2, "G": 1024**3}
    text = str(size).strip().upper()
    if text and text[-1] in factors:
        return int(float(text[:-1]) * factors[text[-1]])
    return int(float(text))
