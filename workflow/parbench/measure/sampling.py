"""How a job's timed samples are taken and when they stop: how many maps a sample
may hold, the stopping rule, a map that ran out of its time, and the calibration of the
dispatch per task (parbench.measure.run applies them)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from typing import Any

from parbench import stats
from parbench.probes import empty_task
from parbench.settings import JobSettings

# A timed sample of maps of a few microseconds still ends.
MAX_MAPS_PER_SAMPLE = 10_000




def stop_reason(seconds: Sequence[float], elapsed_seconds: float,
                settings: JobSettings, last_sample_seconds: float | None = None) -> str | None:
    """Why the timed samples should stop now, or None to go on. `seconds` are the
    per-map times; `last_sample_seconds` how long the last sample (k maps) took."""
    count = len(seconds)
    if count >= settings.max_repeats:
        return "max_repeats"
    # One sample has no spread to test: the CI target is tested from two on.
    if count >= max(2, settings.min_repeats) and (
        stats.spread(seconds).relative_half_width <= settings.ci_target
    ):
        return "ci_target"
    # Another sample would probably end past the budget.
    last = seconds[-1] if last_sample_seconds is None else last_sample_seconds
    if count >= 1 and elapsed_seconds + last > settings.job_budget_seconds:
        return "budget"
    return None


def map_timed_out(engine_said: Exception, seconds: float,
                  limit_seconds: float) -> TimeoutError | None:
    """One wording for a map that ran out of `map_timeout_seconds`, whichever engine
    says so and how (Ray's GetTimeoutError, ipyparallel's "Result not ready", joblib's
    multiprocessing.TimeoutError, an empty concurrent.futures one), the engine's words
    kept. None where the words are parbench's already, or where the timeout came
    sooner (then it is the task's own)."""
    if seconds < limit_seconds or "map_timeout_seconds" in str(engine_said):
        return None
    said = f"{type(engine_said).__name__}: {engine_said}".strip().rstrip(":")
    return TimeoutError(f"the map was still running after {limit_seconds:g} s "
                        f"(map_timeout_seconds); the engine said {said}")


def dispatch_overhead(backend: Any, tasks: int, calibration_repeats: int) -> float:
    """Median time of a map of `tasks` empty tasks, per task: the harness's dispatch cost."""
    if calibration_repeats < 1:
        return math.nan
    timings = []
    for _ in range(calibration_repeats):
        began = time.perf_counter()
        backend.map(empty_task, tasks, None)
        timings.append(time.perf_counter() - began)
    return statistics.median(timings) / tasks
