"""multiprocessing.Pool: the shared input travels as a task argument.

Pool pickles the argument once per chunk of tasks it sends (pickle memoises the
repeated array within a chunk), so the chunksize decides how often large inputs
are copied: it is computed here exactly as Pool would, and recorded.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
import threading
from itertools import repeat
from typing import Any

from parbench.backends.base import Backend
from parbench.probes import worker_pid
from parbench.workloads.base import Task


def _prepare_worker(all_started: threading.Barrier, timeout: float) -> None:
    # A forked worker inherits the job's Python SIGTERM handler, which cannot
    # run while the worker waits on the pool's queue lock: Pool.terminate()
    # would then wait on it forever. Workers must die on SIGTERM outright.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # No worker takes a task before every worker is up, so the start-up map
    # below ends only once all of them exist (with spawn, one fast worker
    # could otherwise answer every start-up task while the others still boot).
    try:
        all_started.wait(timeout)
    except threading.BrokenBarrierError:
        pass  # a worker died while starting; the start-up map's timeout reports it


def default_chunksize(tasks: int, workers: int) -> int:
    """multiprocessing.Pool.map's own default: ceil(tasks / (4 * workers))."""
    return max(1, math.ceil(tasks / (4 * max(1, workers))))


class PoolBackend(Backend):
    name = "pool"

    def start(self) -> None:
        context = multiprocessing.get_context(self.settings.start_method)
        timeout = self.settings.start_timeout_seconds
        self._pool = context.Pool(self.workers, initializer=_prepare_worker,
                                  initargs=(context.Barrier(self.workers), timeout))
        # Pool() returns before spawned workers exist; waiting for a first task
        # makes the start-up time include them all, as it does for Ray and ipyparallel.
        self._pool.map_async(worker_pid, range(self.workers), chunksize=1).get(timeout)

    def chunksize(self, tasks: int) -> int:
        return self.settings.pool_chunksize or default_chunksize(tasks, self.workers)

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        arguments = zip(range(tasks), repeat(shared_input))
        pending = self._pool.starmap_async(task, arguments, chunksize=self.chunksize(tasks))
        return pending.get(timeout=self.settings.map_timeout_seconds)

    def stop(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.terminate()
            pool.join()
            self._pool = None
