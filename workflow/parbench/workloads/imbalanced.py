"""Unequal tasks, the same total work: where static chunks leave workers idle.

Task durations are drawn once, seeded, from a log-normal distribution whose σ is
`size` / 10, and scaled so that every map holds the same total work (MEAN_TASK_US
per task on average). `size` 0 is the control: every task equal. Static partitions
(Pool's chunks, ipyparallel's even split) against dynamic dispatch (one task at a
time: Ray, Dask, process_pool, `pool-c1`).
"""

from __future__ import annotations

import functools

import numpy as np

from parbench.workloads.base import Task, Workload
from parbench.workloads.spin import TASK_ITERATIONS, iterations_for, spin, spin_result

MEAN_TASK_US = 2_000
SEED = 7


def task_microseconds(tail_weight: int, tasks: int) -> np.ndarray:
    """Each task's target duration: log-normal(σ = tail_weight / 10), mean MEAN_TASK_US."""
    weights = np.random.default_rng(SEED).lognormal(0.0, tail_weight / 10, size=tasks)
    return weights / weights.mean() * MEAN_TASK_US


def spin_by_index(iterations: tuple[int, ...], index: int, shared_input: object = None) -> float:
    return spin(iterations[index], index)


class Imbalanced(Workload):
    name = "imbalanced"
    kernels = ("python",)
    size_unit = "tail weight (σ×10 of log-normal task times)"
    summary = ("tail weight: σ×10 of log-normal task durations, total work constant "
               "(0: equal tasks)")
    regime = "load balance"
    smoke_size = 10
    min_size = 0

    def __init__(self) -> None:
        self._iterations: tuple[int, ...] = ()

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        self._iterations = tuple(iterations_for(us) for us in task_microseconds(size, tasks))

    def task_weights(self, kernel: str, size: int, tasks: int) -> list[float]:
        return list(task_microseconds(size, tasks))

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(spin_by_index, self._iterations)

    def expected(self, index: int, size: int, shared_input: None) -> float:
        return spin_result(self._iterations[index], index)

    columns = (TASK_ITERATIONS,)

    def recorded(self, kernel: str, size: int) -> dict[str, int]:
        return {"task_iterations": sum(self._iterations)}
