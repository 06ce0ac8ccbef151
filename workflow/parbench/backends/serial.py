"""The baseline: a plain loop in the job's own process."""

from __future__ import annotations

import time
from typing import Any

from parbench import worker_state
from parbench.backends.base import Backend
from parbench.backends.in_job_loop import LoopTimeout
from parbench.identity import SERIAL
from parbench.workloads.base import Task


class SerialBackend(Backend):
    name = SERIAL  # every speedup's reference (parbench.identity)
    summary = "a plain loop in the job's process (every speedup is over this)"
    startup_covers = "nothing to start"
    shared_input_travels = "an argument (no copy)"
    colour = "#0173b2"
    marker = "o"
    single_process = True
    in_job_process = True
    supports_worker_states = True

    def start(self, worker_setup=None) -> None:
        if worker_setup is not None:
            worker_state.install(worker_setup)
        self._timeout = LoopTimeout(self.limits.map_timeout_seconds)
        self._timeout.start()

    def worker_states(self) -> list:
        return [worker_state.snapshot()]

    def stop(self) -> None:
        timeout = getattr(self, "_timeout", None)
        if timeout is not None:
            timeout.stop()
        worker_state.clear()

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        timeout = self._timeout
        began = timeout.map_began = time.perf_counter()  # one clock read per map
        try:
            results = [task(index, shared_input) for index in range(tasks)]
        finally:
            timeout.map_began = None
        timeout.refuse_late(began)
        return results
