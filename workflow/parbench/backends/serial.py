"""The baseline: a plain loop in the job's own process."""

from __future__ import annotations

from typing import Any

from parbench.backends.base import Backend
from parbench.workloads.base import Task


class SerialBackend(Backend):
    name = "serial"
    summary = "a plain loop in the job's process (every speedup is over this)"
    startup_covers = "nothing to start"
    shared_input_travels = "an argument (no copy)"
    colour = "#0173b2"
    marker = "o"
    single_process = True
    in_job_process = True

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        return [task(index, shared_input) for index in range(tasks)]
