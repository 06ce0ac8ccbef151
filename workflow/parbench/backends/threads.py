"""concurrent.futures.ThreadPoolExecutor: workers are threads of the job's process.

NumPy releases the GIL in its loops, so the numpy kernel can scale; the python
kernel shows the GIL. Every row records whether the interpreter has a GIL
(`gil_enabled`), so a free-threaded Python shows up as one.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from typing import Any

from parbench import worker_state
from parbench.backends.base import Backend
from parbench.workloads.base import Task

# Names of the executor's threads: one still alive after stop() runs a task that a
# timed-out map left behind (threads_left_running).
THREAD_NAME_PREFIX = "parbench-threads"


def threads_left_running() -> list[str]:
    """The threads backend's threads still running a task of a map that timed out
    (nothing can stop a thread; stop() no longer waits for them)."""
    return [thread.name for thread in threading.enumerate()
            if thread.name.startswith(THREAD_NAME_PREFIX) and thread.is_alive()]


def _wait_for_all(all_started: threading.Barrier, timeout: float) -> int:
    all_started.wait(timeout)
    return threading.get_ident()


class ThreadsBackend(Backend):
    name = "threads"
    summary = ("`concurrent.futures.ThreadPoolExecutor(workers)` in the job's process, "
               "`Executor.map`")
    startup_covers = "all threads up"
    shared_input_travels = "a reference (threads share memory: no copy)"
    colour = "#949494"
    marker = "X"
    in_job_process = True
    shares_the_gil = True
    supports_worker_states = True

    def start(self, worker_setup=None) -> None:
        timeout = self.limits.start_timeout_seconds
        if worker_setup is not None:
            # Threads share memory: the idiomatic way builds one state for all of them.
            worker_state.install(worker_setup)
        self._tasks_left_running = False
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix=THREAD_NAME_PREFIX)
        # Threads start on demand: W tasks that wait for each other start all W.
        all_started = threading.Barrier(self.workers)
        list(self._executor.map(_wait_for_all, repeat(all_started, self.workers),
                                repeat(timeout, self.workers), timeout=timeout))

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        # Executor.map's own loop, keeping the futures: however the map ends early (its
        # limit, a task's error, a stop asked), a task still running is one stop() must
        # not wait for: it may never end.
        deadline = time.monotonic() + self.limits.map_timeout_seconds
        futures = [self._executor.submit(task, index, shared_input) for index in range(tasks)]
        try:
            return [future.result(deadline - time.monotonic()) for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            if not all(future.done() for future in futures):
                self._tasks_left_running = True
            raise

    def worker_states(self) -> list:
        return [worker_state.snapshot()]

    def stop(self) -> None:
        executor = getattr(self, "_executor", None)
        self._executor = None
        if executor is not None:
            # A running task cannot be interrupted; queued ones are dropped. Waiting
            # for the task of a map that timed out could take forever: the job ends
            # without it (parbench.measure.supervised).
            executor.shutdown(wait=not self._tasks_left_running, cancel_futures=True)
        worker_state.clear()
