"""multiprocessing.Pool, in two ways of shipping the shared input.

`shared_input: argument` (the naive Pool of the article): the input travels as a
task argument, pickled once per chunk of tasks (pickle memoises the repeated array
within a chunk), so the chunksize decides how often large inputs are copied; it is
computed here exactly as Pool would, and recorded.

`shared_input: shared_memory` (the variant `pool-shm`, the idiomatic Pool for big
data): the input is copied once per map into `multiprocessing.shared_memory`, and
each worker attaches to it once.

A worker that dies during a map (the OOM killer, a crash in C code) ends the map
at once with an error that names it and its signal; Pool itself would replace
the worker and wait for the lost tasks until the map's timeout.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from parbench import worker_state
from parbench.backends.base import MAX_TASKS, Backend, Variant, option
from parbench.backends.shared_blocks import SharedBlock, call_with_block
from parbench.probes import worker_pid
from parbench.workloads.base import Task

START_METHODS = ("default", "fork", "spawn", "forkserver")
DEATH_CHECK_SECONDS = 0.2  # how often a waiting map checks that its workers live


def resolved_start_method(start_method: str) -> str:
    """`default` is this interpreter's (Linux: fork before Python 3.14, forkserver after)."""
    if start_method == "default":
        return multiprocessing.get_start_method(allow_none=False)
    return start_method


def prepare_worker(all_started: threading.Barrier, timeout: float,
                   worker_setup: Callable[[], Any] | None = None) -> None:
    """Initializer of process workers forked from a job (and the idiomatic place for a
    workload's per-worker set-up)."""
    # A forked worker inherits the job's Python SIGTERM handler, which cannot
    # run while the worker waits on the pool's queue lock: Pool.terminate()
    # would then wait on it forever. Workers must die on SIGTERM outright.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if worker_setup is not None:
        worker_state.install(worker_setup)
    # No worker takes a task before every worker is up, so the start-up map
    # ends only once all of them exist (with spawn, one fast worker could
    # otherwise answer every start-up task while the others still boot).
    try:
        all_started.wait(timeout)
    except threading.BrokenBarrierError:
        pass  # a worker died while starting; the start-up map's timeout reports it


class WorkerDied(RuntimeError):
    """A worker process ended while a map waited for its tasks."""


def how_it_ended(worker: Any) -> str:
    """`12345 died (SIGKILL)` or `12345 exited with code 3`."""
    code = worker.exitcode
    if code is not None and code < 0:
        return f"{worker.pid} died ({signal.Signals(-code).name})"
    return f"{worker.pid} exited with code {code}"


def default_chunksize(tasks: int, workers: int) -> int:
    """multiprocessing.Pool.map's own default: ceil(tasks / (4 * workers))."""
    return max(1, math.ceil(tasks / (4 * max(1, workers))))


@dataclass(frozen=True)
class PoolOptions:
    chunksize: int | str = option("auto", "tasks per dispatch; `auto`: Pool's own "
                                  "ceil(tasks / (4·workers))", choices=("auto",), kind=int,
                                  minimum=1, maximum=MAX_TASKS)
    start_method: str = option("default", "multiprocessing start method; `default`: "
                               "Python's (Linux: fork before 3.14, forkserver after)",
                               choices=START_METHODS)
    shared_input: str = option("argument", "`argument`: pickled into every chunk; "
                               "`shared_memory`: copied once per map into "
                               "multiprocessing.shared_memory, attached once per worker",
                               choices=("argument", "shared_memory"))


class PoolBackend(Backend):
    name = "pool"
    summary = "`multiprocessing.Pool(workers)`, `starmap` with Pool's chunking"
    startup_covers = "pool and all workers up"
    shared_input_travels = "a task argument, pickled once per chunk"
    colour = "#de8f05"
    marker = "s"
    Options = PoolOptions
    variants = {
        "shm": Variant({"shared_input": "shared_memory"},
                       "copied once per map into `multiprocessing.shared_memory`; each worker "
                       "attaches once"),
        "c1": Variant({"chunksize": 1},
                      "one task per dispatch, as `imap`'s default: dynamic, for unequal tasks"),
    }

    def start(self, worker_setup=None) -> None:
        context = multiprocessing.get_context(resolved_start_method(self.options.start_method))
        timeout = self.limits.start_timeout_seconds
        self._pool = context.Pool(self.workers, initializer=prepare_worker,
                                  initargs=(context.Barrier(self.workers), timeout, worker_setup))
        # Pool() returns before spawned workers exist; waiting for a first task
        # makes the start-up time include them all, as it does for Ray and ipyparallel.
        self._pool.map_async(worker_pid, range(self.workers), chunksize=1).get(timeout)

    def chunksize(self, tasks: int) -> int:
        if self.options.chunksize == "auto":
            return default_chunksize(tasks, self.workers)
        return int(self.options.chunksize)

    def recorded(self, tasks: int) -> dict[str, Any]:
        return {**super().recorded(tasks),
                "start_method": resolved_start_method(self.options.start_method)}

    def shared_input_copies(self, tasks: int, nbytes: int) -> int:
        if self.options.shared_input == "shared_memory":
            return 1  # copied into shared memory once per map
        return -(-tasks // self.chunksize(tasks))  # pickled into every chunk

    def shared_memory_bytes(self, shared_input_bytes: int) -> int:
        # Each worker keeps the last block it attached mapped until its next task, and
        # one that got no task in a map holds an older one still: the map's new block
        # and, at worst, one older block per worker are held together.
        if self.options.shared_input != "shared_memory":
            return 0
        return (self.workers + 1) * shared_input_bytes

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        if self.options.shared_input == "shared_memory" and shared_input is not None:
            block = SharedBlock(shared_input)
            try:
                return self._starmap(call_with_block, zip(repeat(task), range(tasks),
                                                          repeat(block.handle)), tasks)
            finally:
                block.close()
        return self._starmap(task, zip(range(tasks), repeat(shared_input)), tasks)

    def _starmap(self, function: Any, arguments: Any, tasks: int) -> list[float]:
        # Pool quietly replaces a worker that dies and waits forever for its tasks;
        # its Process objects (no public API lists them) say which died, and how.
        workers = list(self._pool._pool)
        pending = self._pool.starmap_async(function, arguments, chunksize=self.chunksize(tasks))
        deadline = time.monotonic() + self.limits.map_timeout_seconds
        while not pending.ready():
            # Returns as soon as the map ends: the polling adds nothing to its time.
            pending.wait(min(DEATH_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))
            dead = [worker for worker in workers if worker.exitcode is not None]
            if dead and not pending.ready():
                raise WorkerDied(f"worker {how_it_ended(dead[0])} during the map")
            if time.monotonic() >= deadline and not pending.ready():
                raise TimeoutError(f"the map was still running after "
                                   f"{self.limits.map_timeout_seconds:g} s (map_timeout_seconds)")
        return pending.get(0)

    def stop(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.terminate()
            pool.join()
            self._pool = None
