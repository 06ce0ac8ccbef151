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

# Asked for 10 µs, time.sleep takes about 80 here (the kernel's timer slack and the
# call), so eight of them in the loop cost what two Pool workers took for them with
# their dispatch, and the loop's win at the small size came and went (CI-like run).
# Short waits are kept to the clock instead; long ones sleep, so that two workers
# halve them whatever load the other test worker adds.
SLEEP_FROM_MICROSECONDS = 1_000


def wait(microseconds: int, index: int, shared_input: Any) -> float:
    if microseconds >= SLEEP_FROM_MICROSECONDS:
        time.sleep(microseconds / 1e6)
    else:
        until = time.perf_counter() + microseconds / 1e6
        while time.perf_counter() < until:
            pass
    return float(index)


class Waits(Workload):
    """Each task waits `size` µs (sleeping, from a millisecond) and returns its index."""

    name = "waits"
    kernels = ("python",)
    size_unit = "µs each task waits"

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(wait, size)

    def expected(self, index: int, size: int, shared_input: Any) -> float:
        return float(index)


# The task's own TimeoutError, raised from this many seconds into the job's maps.
OWN_TIMEOUT_AFTER_SECONDS = 2.0
_first_call: list[float] = []


def wait_then_time_out(microseconds: int, index: int, shared_input: Any) -> float:
    now = time.perf_counter()
    _first_call[:] = _first_call or [now]
    if now - _first_call[0] > OWN_TIMEOUT_AFTER_SECONDS:
        raise TimeoutError("the task's own timeout")
    return wait(microseconds, index, shared_input)


class TimesOutItself(Waits):
    """Waits whose tasks raise their own TimeoutError (not the map's limit) once the
    job's maps have run `OWN_TIMEOUT_AFTER_SECONDS`. In the serial loop only: the
    clock starts at the first task in the job's process."""

    name = "times_out_itself"

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        _first_call.clear()

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(wait_then_time_out, size)
