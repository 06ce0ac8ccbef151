"""The terms of the cost model for one series on one problem: what its classes
declare (copies of the shared input per map, how tasks are handed out, whether threads
take turns on the GIL), and the schedule of the tasks' compute over the workers."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from parbench.backends import BACKENDS, Series, get_backend, resolve_series
from parbench.backends.base import make_options, option_fields
from parbench.workloads import workload_class

# A series' backend and the options it ran with: (engine, ((option, value), ...)).
Options = tuple[str, tuple[tuple[str, Any], ...]]


@dataclass(frozen=True)
class Problem:
    """One combination, as the model sees it."""

    workload: str
    kernel: str
    series: str
    size: float
    tasks: int
    workers: int
    # The series' backend and options (`options_of_row`, `options_of_series`); None:
    # the registry's, by the series' name. A series of the user's own options
    # (`pool-mine: {chunksize: 1}`) copies and schedules as those options say.
    options: Options | None = None
    # Whether the interpreter ran with the GIL (the rows' `gil_enabled`); None: as the
    # project's, with it. Threads take turns on a kernel that holds it only where it is.
    gil_enabled: bool | None = None


def options_of_series(series: Series) -> Options:
    """Problem.options of a series the config resolved."""
    return series.engine, tuple(sorted(series.options.items()))


def gil_of_row(row: Mapping[str, Any]) -> bool | None:
    """Problem.gil_enabled from a table row's `gil_enabled` (None: not recorded)."""
    cell = row.get("gil_enabled")
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return None
    if isinstance(cell, str):
        return {"true": True, "false": False}.get(cell.strip().lower())
    return bool(cell)


def options_of_row(row: Mapping[str, Any]) -> Options | None:
    """Problem.options from a table row's `engine` and `option_<name>` cells (written as
    text, `null` for none: read back as YAML would, an empty one as none); None where the
    row has no engine the registry knows."""
    engine = row.get("engine")
    if not isinstance(engine, str) or engine not in BACKENDS:
        return None
    values = {}
    for option in option_fields(BACKENDS[engine]):
        column = f"option_{option.name}"
        if column not in row:
            continue  # not recorded (a file from before the option): the default
        cell = row[column]
        if isinstance(cell, float) and math.isnan(cell):
            # Rows write a series' every option, None as `null`, which a table read
            # with pandas' missing values gives back as NaN.
            values[option.name] = None
            continue
        if isinstance(cell, str):
            try:
                cell = yaml.safe_load(cell)
            except yaml.YAMLError:
                pass
        if isinstance(cell, float) and cell.is_integer():
            cell = int(cell)  # a column of whole numbers and empty cells reads as floats
        values[option.name] = cell
    return engine, tuple(sorted(values.items()))


class _Unregistered:
    """What the model assumes of a workload it cannot load (a plug-in named by path in
    its design): no shared input, equal tasks, a `python` kernel holds the GIL."""

    def shared_input_bytes(self, size: int) -> int:
        return 0

    def task_weights(self, kernel: str, size: int, tasks: int) -> list[float]:
        return [1.0] * tasks

    def holds_gil(self, kernel: str) -> bool:
        return kernel == "python"


@lru_cache(maxsize=256)
def _workload(name: str):
    try:
        return workload_class(name)()
    except ValueError:
        return _Unregistered()


@lru_cache(maxsize=4096)
def _backend(series: str, workers: int, options: Options | None = None):
    """The series' backend, not started (its declarations): with `options` where they
    are known and valid; else the registry's series of that name; else, for a series of
    the user's own options whose options are not known, its backend's defaults."""
    if options is not None:
        engine, values = options
        try:
            backend = BACKENDS[engine]
            return backend(workers, make_options(backend, dict(values), series))
        except (KeyError, TypeError, ValueError):
            pass
    try:
        return get_backend(resolve_series(series), workers)
    except ValueError:
        return get_backend(resolve_series(series.partition("-")[0]), workers)


def makespan(durations: Sequence[float], workers: int, chunk: int, scheduling: str) -> float:
    """When the last task ends: `dynamic`, each free worker takes the next `chunk`
    tasks in order; `static`, each worker its even, contiguous share, fixed up front."""
    workers = max(1, workers)
    if scheduling == "static":
        share = -(-len(durations) // workers)
        return max(sum(durations[start:start + share])
                   for start in range(0, len(durations), share))
    chunks = [sum(durations[start:start + chunk])
              for start in range(0, len(durations), max(1, chunk))]
    free = [0.0] * workers
    for seconds in chunks:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


@dataclass(frozen=True)
class Terms:
    """What multiplies each fitted parameter in the model's time of one map."""

    tasks: int  # × dispatch per task (measured)
    shipped_bytes: float  # × seconds per byte
    compute_seconds: float  # × 1 / efficiency: the tasks' serial work, scheduled


# The predicted crossovers ask for the same series at the same sizes once per pair it is
# in and per time basis: the schedule of its tasks is worked out once.
@lru_cache(maxsize=65_536)
def terms(problem: Problem, task_seconds: float, cores: int) -> Terms:
    """The terms for `problem`, where one task takes `task_seconds` in the serial loop
    (on average: the workload's weights share it out)."""
    backend = _backend(problem.series, problem.workers, problem.options)
    backend_class = type(backend)
    workload = _workload(problem.workload)
    nbytes = workload.shared_input_bytes(int(problem.size))
    weights = workload.task_weights(problem.kernel, int(problem.size), problem.tasks)
    mean = sum(weights) / len(weights)
    durations = [task_seconds * weight / mean for weight in weights]
    if backend_class.single_process:
        return Terms(problem.tasks, 0.0, sum(durations))
    parallel = min(problem.workers, cores)
    if (backend_class.shares_the_gil and workload.holds_gil(problem.kernel)
            and problem.gil_enabled is not False):
        parallel = 1  # threads take turns on the GIL
    chunk = backend.chunksize(problem.tasks) or 1
    return Terms(problem.tasks, float(backend.shared_input_copies(problem.tasks, nbytes)
                                      * nbytes),
                 makespan(durations, parallel, int(chunk), backend_class.scheduling))


def crossing(sizes: Sequence[float], challenger: Sequence[float],
             baseline: Sequence[float]) -> float:
    """The size above which the challenger's predicted time stays below the
    baseline's (log-interpolated between the grid points; nan: none in the range)."""
    points = [(size, c, b) for size, c, b in zip(sizes, challenger, baseline)
              if c > 0 and b > 0]
    slower = [index for index, (_, c, b) in enumerate(points) if c >= b]
    if not points or not slower or slower[-1] == len(points) - 1:
        return math.nan
    below, above = points[slower[-1]], points[slower[-1] + 1]
    ratio_below = math.log(below[1] / below[2])
    ratio_above = math.log(above[1] / above[2])
    fraction = ratio_below / (ratio_below - ratio_above)
    return math.exp(math.log(below[0]) + fraction * (math.log(above[0]) - math.log(below[0])))
