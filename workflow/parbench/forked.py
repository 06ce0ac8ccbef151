"""Independent pieces of work side by side, on forked processes: every workload's tables
(parbench.aggregate.tables), every scope's figures (parbench.figures.draw).

A fork inherits the function and its inputs, so nothing is pickled on the way there
(only the results come back), and the function may be a closure.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from parbench.machine import available_cores

Item = TypeVar("Item")

# What the forked processes of forked_map work from (set only while one runs).
_WORK: dict[str, Any] = {}


def _call(position: int) -> Any:
    return _WORK["function"](_WORK["items"][position])


# prctl(2)'s option: the signal a process gets when the thread that forked it ends.
PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """A forked worker ends with the process that forked it: its queues' other ends are
    held by the workers themselves, so a parent killed outright (SIGTERM, no handler)
    left them waiting for work for good."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request above: nobody to answer
        os._exit(1)


def forked_map(function: Callable[[Item], Any], items: Sequence[Item],
               first: Callable[[Item], float] | None = None) -> list[Any]:
    """`function(item)` of each of `items`, in their order, on as many forked processes
    as there are items and cores, those with the largest `first` (their cost) started
    first so that the cores end together. In this process, one at a time, where a fork
    is unsafe (another thread may hold a lock the child needs), pointless (one core or
    one item), or where a worker ended before it answered (killed; or an at-fork hook
    of a library ended it): the same results rather than a hang."""
    global _WORK
    processes = min(len(items), available_cores())
    if processes < 2 or threading.active_count() > 1:
        return [function(item) for item in items]
    order = sorted(range(len(items)), key=lambda i: -first(items[i]) if first else 0)
    _WORK = {"function": function, "items": items}
    try:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_die_with, initargs=(os.getpid(),)) as pool:
            found = dict(zip(order, pool.map(_call, order)))
    except BrokenProcessPool:
        return [function(item) for item in items]
    finally:
        _WORK = {}
    return [found[position] for position in range(len(items))]
