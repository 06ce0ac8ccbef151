"""The machine a job measures on: the same BLAS threads in every process, and
waiting until others leave it quiet."""

from __future__ import annotations

import os
import sys
import time

from parbench import resources
from parbench.settings import JobSettings

# Thread-pool variables every BLAS/OpenMP flavour reads; set identically for
# every backend's workers (Ray would otherwise set OMP_NUM_THREADS on its own).
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# How long the machine is watched, idle, before a job starts, to see whether
# something else is using it (and again, while waiting for it to be quiet).
BACKGROUND_WINDOW_SECONDS = 0.2
QUIET_POLL_SECONDS = 1.0


def limit_threads(blas_threads: int) -> None:
    """Same BLAS/OpenMP thread count here and in every worker process we start."""
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(blas_threads)
    from threadpoolctl import threadpool_limits

    # Already-loaded libraries ignore the variables; limit them directly.
    threadpool_limits(limits=blas_threads)


def wait_until_quiet(settings: JobSettings) -> tuple[float, float]:
    """Wait, up to `quiet_wait_seconds`, until others use at most `quiet_cpu_fraction`
    of the machine. Returns (seconds waited, the last background fraction seen)."""
    began = time.perf_counter()
    background = others_busy_fraction(BACKGROUND_WINDOW_SECONDS)
    while (background > settings.quiet_cpu_fraction
           and time.perf_counter() - began < settings.quiet_wait_seconds):
        background = others_busy_fraction(QUIET_POLL_SECONDS)
    waited = time.perf_counter() - began - BACKGROUND_WINDOW_SECONDS
    if background > settings.quiet_cpu_fraction:
        print(f"warning: the machine is still {background:.0%} busy with other work after "
              f"{waited:.0f} s; measuring anyway", file=sys.stderr)
    return max(0.0, waited), background


def others_busy_fraction(window_seconds: float) -> float:
    """The share of the machine's CPUs others kept busy over the next `window_seconds`:
    the machine's busy time less this process's own. (This process is not idle before
    its backend starts: a BLAS library forked into it starts its threads again, and
    they spin a while, about 0.1 s of CPU, which once read as someone else's load.)"""
    machine_before, own_before = resources.machine_busy_seconds(), time.process_time()
    began = time.perf_counter()
    time.sleep(window_seconds)
    return resources.background_fraction(
        resources.machine_busy_seconds() - machine_before, time.process_time() - own_before,
        time.perf_counter() - began)
