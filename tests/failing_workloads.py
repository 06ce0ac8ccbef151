"""Workloads that break on purpose, for tests of how failures become rows.

Loaded by import path (`workload_plugin="tests.failing_workloads:DiesOnce"`),
exactly as a user's own workload would be.
"""

from __future__ import annotations

import functools
import os
import signal
from pathlib import Path
from typing import Any

from parbench.workloads.base import Task, Workload
from parbench.workloads.exp_sinh import ExpSinh, python_kernel

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


_maps_begun = {"count": 0}


def wrong_then_fails(index: int, shared_input: Any) -> float:
    if index == 0:  # the serial loop runs one map's tasks in order: index 0 begins it
        _maps_begun["count"] += 1
    if _maps_begun["count"] >= 5:
        raise RuntimeError("the fifth map fails")
    return float(index + (_maps_begun["count"] == 3))


class WrongThenFails(_IndexExpected):
    """The third map returns wrong results, the fifth raises (serial only: the count
    of maps lives in the measuring process)."""

    name = "wrong_then_fails"
    run = wrong_then_fails

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        _maps_begun["count"] = 0  # a job's maps counted from its first


def times_out_silently(index: int, shared_input: Any) -> float:
    raise TimeoutError  # as multiprocessing's and concurrent.futures' do: no message


class TimesOutSilently(_IndexExpected):
    """Every task raises a TimeoutError that says nothing."""

    name = "times_out_silently"
    run = times_out_silently


class _KillsItsJob(_IndexExpected):
    """Preparing its input, the job's own measuring process dies: `signal_number` at
    once, as the kernel's out-of-memory killer or a crash in C code ends it."""

    signal_number: signal.Signals
    run = off_by_one  # never runs

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        os.kill(os.getpid(), self.signal_number)


class KilledOutright(_KillsItsJob):
    name = "killed_outright"
    signal_number = signal.SIGKILL


class CrashesInC(_KillsItsJob):
    name = "crashes_in_c"
    signal_number = signal.SIGSEGV


class AllocatesTooMuch(_IndexExpected):
    """Preparing its input, the job's own measuring process fills 1 GiB, page by page
    (more than the memory cgroup a test runs it in)."""

    name = "allocates"
    run = off_by_one  # never runs

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        self._filled = bytearray(2**30)
        for offset in range(0, len(self._filled), 4096):
            self._filled[offset] = 1


class ExitsQuietly(_IndexExpected):
    """Preparing its input, the job's measuring process exits 0 at once, as a library
    calling os._exit(0) would: no rows written."""

    name = "exits_quietly"
    run = off_by_one  # never runs

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        os._exit(0)


class TerminatedByOthers(_IndexExpected):
    """Preparing its input, the job's measuring process gets a SIGTERM the job did not
    pass on, as a user-space out-of-memory killer (earlyoom) or a kill by hand sends."""

    name = "terminated_by_others"
    run = off_by_one  # never runs

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        os.kill(os.getpid(), signal.SIGTERM)


class RecordsUndeclared(_IndexExpected):
    """Measures, then records a column it never declared: the rows fail to build after
    the measurement, outside it."""

    name = "records_undeclared"
    run = off_by_one

    def expected(self, index: int, size: int, shared_input: Any) -> float:
        return float(index + 1)

    def recorded(self, kernel: str, size: int) -> dict[str, Any]:
        return {"never_declared": 1}


def index_of(index: int, shared_input: Any) -> float:
    return float(index)


# Where LeavesAFork writes the PID of the process it leaves running.
LEFT_RUNNING_VARIABLE = "PARBENCH_TEST_LEFT_RUNNING"


class LeavesAFork(_IndexExpected):
    """Measures correctly, then, after its backend has stopped and its leftovers are
    gone (as it records its columns), forks a process that lives on, as a Pool worker
    forked while its pool stops would."""

    name = "leaves_a_fork"
    run = index_of

    def recorded(self, kernel: str, size: int) -> dict[str, Any]:
        left = os.fork()
        if left == 0:
            quiet = os.open(os.devnull, os.O_WRONLY)
            os.dup2(quiet, 1)
            os.dup2(quiet, 2)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            import time

            time.sleep(60)
            os._exit(0)
        Path(os.environ[LEFT_RUNNING_VARIABLE]).write_text(str(left))
        return {}


# Where MarksItsMap's tasks leave their mark: a test waits for it to know the map runs.
MAP_MARK_VARIABLE = "PARBENCH_TEST_MAP_MARK"


def marked_python_kernel(size: int, index: int, shared_input: Any = None) -> float:
    Path(os.environ[MAP_MARK_VARIABLE]).touch()
    return python_kernel(size, index, shared_input)


class MarksItsMap(ExpSinh):
    """exp_sinh's python kernel, each task first touching the file MAP_MARK_VARIABLE
    names: a test that stops a job mid-map waits for it instead of guessing."""

    name = "marks_its_map"
    kernels = ("python",)

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(marked_python_kernel, size)
