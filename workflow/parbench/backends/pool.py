"""multiprocessing.Pool: the shared input travels as a task argument.

Pool pickles the argument once per chunk of tasks it sends (pickle memoises the
repeated array within a chunk), so the chunksize decides how often large inputs
are copied: it is computed here exactly as Pool would, and recorded.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
from itertools import repeat
from typing import Any

from parbench.backends.base import Backend
from parbench.probes import worker_pid
from parbench.workloads.base import Task


def _default_sigterm() -> None:
    # A forked worker inherits the job's Python SIGTERM handler, which cannot
    # run while the worker waits on the pool's queue lock: Pool.terminate()
    # would then wait on it forever. Workers must die on SIGTERM outright.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def default_chunksize(tasks: int, workers: int) -> int:
    """multiprocessing.Pool.map's own default: ceil(tasks / (4 * workers))."""
    return max(1, math.ceil(tasks / (4 * max(1, workers))))


class PoolBackend(Backend):
    name = "pool"

    def start(self) -> None:
        context = multiprocessing.get_context(self.settings.start_method)
        self._pool = context.Pool(self.workers, initializer=_default_sigterm)
        # Pool() returns before spawned workers exist; one task each makes the
        # start-up time include them, as it does for Ray and ipyparallel.
        self._pool.map(worker_pid, range(self.workers), chunksize=1)

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

    def details(self, tasks: int) -> dict[str, Any]:
        return {"chunksize": self.chunksize(tasks)}
