"""Workloads that break on purpose, for tests of how failures become rows.

Loaded by import path (`workload_plugin="tests.failing_workloads:DiesOnce"`),
exactly as a user's own workload would be.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from parbench.workloads.base import Task, Workload

# Where DiesOnce leaves its mark: the first task to find none kills its worker.
MARK_VARIABLE = "PARBENCH_TEST_DIES_ONCE_MARK"


def die_once(index: int, shared_input: Any) -> float:
    mark = Path(os.environ[MARK_VARIABLE])
    if index == 0 and not mark.exists():
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return float(index)


class _IndexExpected(Workload):
    """Each task's serial reference is its index; `run` is what the task does."""

    kernels = ("python",)
    size_unit = "unused"
    run: Task

    def task(self, kernel: str, size: int) -> Task:
        return type(self).run

    def expected(self, index: int, size: int, shared_input: Any) -> float:
        return float(index)


class DiesOnce(_IndexExpected):
    """Task 0 of the first map kills the worker running it (as the OOM killer
    would); every other task, and task 0 run again, returns its index."""

    name = "dies_once"
    run = die_once


def off_by_one(index: int, shared_input: Any) -> float:
    return float(index + 1)


class OffByOne(_IndexExpected):
    """Every task returns its index plus one, where the serial reference is the index:
    a kernel that computes the wrong thing, quickly."""

    name = "off_by_one"
    run = off_by_one
