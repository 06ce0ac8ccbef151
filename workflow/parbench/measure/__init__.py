"""One job = one combination in one replicate = one tidy CSV of timings.

  slot         the entry point: one timing job at a time, guarded, rows written
  supervised   the job measured in a forked child, whose death by a signal is a row
  rows         the job's rows, every column as parbench.columns declares it
  run          the backend started, the timed samples, the stop
  sampling     how many maps a sample holds, when samples stop, the dispatch calibration
  environment  BLAS threads, and waiting for a quiet machine
  verify       a map's results against the serial reference

A timing job imports neither pandas nor matplotlib.
"""

from parbench.identity import Job
from parbench.measure.environment import THREAD_ENV_VARS, limit_threads, wait_until_quiet
from parbench.measure.rows import measure, measure_rows
from parbench.measure.run import JobRun, Unsupported
from parbench.measure.sampling import MAX_MAPS_PER_SAMPLE, dispatch_overhead, stop_reason
from parbench.measure.slot import (
    TIMING_LOCK,
    exclusive_timing_slot,
    run_job,
    try_lock,
)
from parbench.measure.verify import max_relative_error, relative_error
from parbench.settings import JobSettings

__all__ = ["MAX_MAPS_PER_SAMPLE", "THREAD_ENV_VARS", "TIMING_LOCK", "Job", "JobRun",
           "JobSettings", "Unsupported", "dispatch_overhead", "exclusive_timing_slot",
           "limit_threads", "max_relative_error", "measure", "measure_rows",
           "relative_error", "run_job", "stop_reason", "try_lock", "wait_until_quiet"]
