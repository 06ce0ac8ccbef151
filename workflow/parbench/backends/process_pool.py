"""concurrent.futures.ProcessPoolExecutor: the standard library's other process pool.

Its `map` sends one task per dispatch unless told otherwise (chunksize 1, unlike
Pool's ceil(tasks / (4·workers))), so every task pickles the shared input again.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from parbench.backends.base import MAX_TASKS, Backend, option
from parbench.backends.pool import START_METHODS, prepare_worker, resolved_start_method
from parbench.probes import worker_pid
from parbench.workloads.base import Task


@dataclass(frozen=True)
class ProcessPoolOptions:
    chunksize: int = option(1, "tasks per dispatch (`Executor.map`'s own default: 1)",
                            kind=int, minimum=1, maximum=MAX_TASKS)
    start_method: str = option("default", "multiprocessing start method; `default`: "
                               "Python's", choices=START_METHODS)


class ProcessPoolBackend(Backend):
    name = "process_pool"
    summary = ("`concurrent.futures.ProcessPoolExecutor(workers)`, `Executor.map` "
               "(chunksize recorded)")
    startup_covers = "executor and all workers up"
    shared_input_travels = "a task argument, pickled once per chunk (one task by default)"
    colour = "#ca9161"
    marker = "P"
    Options = ProcessPoolOptions

    def start(self, worker_setup=None) -> None:
        context = multiprocessing.get_context(resolved_start_method(self.options.start_method))
        timeout = self.limits.start_timeout_seconds
        self._executor = ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=prepare_worker,
            initargs=(context.Barrier(self.workers), timeout, worker_setup))
        # The executor starts a worker per task submitted while none is idle: one
        # task per worker, each held at the barrier until all exist, starts them all.
        list(self._executor.map(worker_pid, range(self.workers), timeout=timeout))

    def chunksize(self, tasks: int) -> int:
        return self.options.chunksize

    def shared_input_copies(self, tasks: int, nbytes: int) -> int:
        return -(-tasks // self.chunksize(tasks))  # pickled into every chunk

    def recorded(self, tasks: int) -> dict[str, Any]:
        return {**super().recorded(tasks),
                "start_method": resolved_start_method(self.options.start_method)}

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        return list(self._executor.map(task, range(tasks), repeat(shared_input),
                                       chunksize=self.options.chunksize,
                                       timeout=self.limits.map_timeout_seconds))

    def stop(self) -> None:
        executor = getattr(self, "_executor", None)
        if executor is None:
            return
        self._executor = None
        # shutdown() waits for running tasks (a timed-out map's would run on):
        # end the workers first. Python 3.14 has terminate_workers() for this.
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
