"""The machine a job measures on: the same BLAS threads in every process, and
waiting until others leave it quiet."""

from __future__ import annotations

import os
import sys
import time

import psutil

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
    of the machine. Returns (seconds waited, the last background fraction seen).
    Nothing of this job runs yet: whatever keeps the CPUs busy is someone else."""
    began = time.perf_counter()
    background = psutil.cpu_percent(interval=BACKGROUND_WINDOW_SECONDS) / 100
    while (background > settings.quiet_cpu_fraction
           and time.perf_counter() - began < settings.quiet_wait_seconds):
        background = psutil.cpu_percent(interval=QUIET_POLL_SECONDS) / 100
    waited = time.perf_counter() - began - BACKGROUND_WINDOW_SECONDS
    if background > settings.quiet_cpu_fraction:
        print(f"warning: the machine is still {background:.0%} busy with other work after "
              f"{waited:.0f} s; measuring anyway", file=sys.stderr)
    return max(0.0, waited), background
