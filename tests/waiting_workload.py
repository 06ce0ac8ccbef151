"""A workload whose tasks wait instead of computing, for the pipeline test's
refinement: two Pool workers halve eight waits whether or not the other test worker
leaves them a free core, so the loop-versus-Pool crossing is there under any load.
A computing workload's is not: with 3 ms `tiny_tasks` the Pool lost to the other
worker's load and there was no crossing to refine; 30 ms ones won by 16 % beside it,
and lost on three workers.

Loaded by import path (`plugin: tests.waiting_workload:Waits`), as a user's own
workload is.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from parbench.workloads.base import Task, Workload


def wait(microseconds: int, index: int, shared_input: Any) -> float:
    time.sleep(microseconds / 1e6)
    return float(index)


class Waits(Workload):
    """Each task sleeps `size` µs and returns its index."""

    name = "waits"
    kernels = ("python",)
    size_unit = "µs each task waits"

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(wait, size)

    def expected(self, index: int, size: int, shared_input: Any) -> float:
        return float(index)
