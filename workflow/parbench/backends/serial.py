"""The baseline: a plain loop in the job's own process."""

from __future__ import annotations

from typing import Any

from parbench.backends.base import Backend
from parbench.workloads.base import Task


class SerialBackend(Backend):
    name = "serial"
    single_process = True

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        return [task(index, shared_input) for index in range(tasks)]
