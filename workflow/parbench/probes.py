"""Tiny tasks that measure the harness itself rather than a workload.

Module-level, so every backend can ship them by reference.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any


def empty_task(index: int, shared_input: Any = None) -> float:
    """Does nothing: a map of these measures per-task dispatch overhead."""
    return float(index)


def worker_pid(index: int, shared_input: Any = None) -> float:
    return float(os.getpid())


def worker_thread(index: int, shared_input: Any = None) -> float:
    """The thread a task runs on (threads backends run tasks in the job's process)."""
    return float(threading.get_ident())


# How long `start_after_a_moment`'s tasks last: long enough that every free worker
# takes one before the first ends.
MOMENT_SECONDS = 0.3


def start_after_a_moment(index: int, shared_input: Any = None) -> float:
    """When a task lasting MOMENT_SECONDS started (the monotonic clock, one for every
    process of a Linux machine): how many ran at once."""
    started = time.monotonic()
    time.sleep(MOMENT_SECONDS)
    return started


def worker_blas_threads(index: int, shared_input: Any = None) -> float:
    """The largest thread count any BLAS/OpenMP pool in this worker would use."""
    import numpy  # noqa: F401 - loads the BLAS that threadpoolctl inspects
    from threadpoolctl import threadpool_info

    return float(max((pool["num_threads"] for pool in threadpool_info()), default=0))


def worker_sigterm_is_default(index: int, shared_input: Any = None) -> float:
    """1.0 when SIGTERM kills this worker outright (what Pool.terminate relies on)."""
    return float(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
