"""Many tasks of a chosen duration: where dispatch cost decides everything.

`size` is the length of one task in microseconds of the reference machine (a spin
loop of a fixed number of rounds: workloads/spin.py), from about 1 µs to 10 ms;
sweep it with thousands of tasks. How each backend chunks or batches the
tasks decides the result, and is recorded (`chunksize`), as is the loop length
each task ran (`workload_task_iterations`).
"""

from __future__ import annotations

import functools

from parbench.workloads.base import Task, Workload
from parbench.workloads.spin import TASK_ITERATIONS, iterations_for, spin, spin_result


class TinyTasks(Workload):
    name = "tiny_tasks"
    kernels = ("python",)
    size_unit = "µs per task (reference machine)"
    summary = ("µs of work per task (a Python loop sized on the reference machine), for "
               "thousands of tasks: dispatch-bound")
    regime = "dispatch"
    smoke_size = 20

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(spin, iterations_for(size))

    def expected(self, index: int, size: int, shared_input: None) -> float:
        return spin_result(iterations_for(size), index)

    columns = (TASK_ITERATIONS,)

    def recorded(self, kernel: str, size: int) -> dict[str, int]:
        return {"task_iterations": iterations_for(size)}
