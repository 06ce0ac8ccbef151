"""Fitting the cost model from a sweep's summary rows: per series, a fixed cost per
map, a cost per byte shipped and a compute efficiency (non-negative least squares on
relative errors, with bootstrap intervals); the dispatch per task, the slope of the
series' calibrated empty maps against the task count; the start-up, the series'
measured median; the serial work per task, per workload and kernel, a straight line in
the size through the serial loop's times."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from parbench.columns.statuses import OK
from parbench.identity import LOCAL, SERIAL
from parbench.model.parameters import BOUNDS, FITTED
from parbench.model.terms import Problem, Terms, gil_of_row, options_of_row, terms

RESAMPLES = 200
SEED = 20_261_206


def _nnls(matrix: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    """scipy's non-negative least squares, imported when first fitted: scipy.optimize
    costs every process that imports the model (each workload's aggregation, the
    figures) about 0.2 s, and only the combining step fits."""
    from scipy.optimize import nnls

    return nnls(matrix, target)


# The fitted parameters' bounds, in the order of the design matrix's columns: the
# least squares fits each one's excess over its bound.
OFFSETS = np.array([BOUNDS[name] for name in FITTED])


@dataclass(frozen=True)
class SeriesModel:
    series: str
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)

    def seconds(self, term: Terms) -> float:
        """The model's warm time of one map (nan where it needs a parameter the series'
        rows could not fit: bytes shipped by a series fitted on none)."""
        values = self.values
        # A dispatch never calibrated (nan) is in the fitted cost per map: none apart.
        return (values["per_map_seconds"]
                + _times(measured_or_zero(values["dispatch_seconds"]), term.tasks)
                + _times(values["per_byte_seconds"], term.shipped_bytes)
                + _times(values["compute_factor"], term.compute_seconds))


def measured_or_zero(value: float) -> float:
    """A measured parameter, 0 where it was not measured (nan): what the fit took."""
    return 0.0 if math.isnan(value) else value


def _times(parameter: float, multiplier: float) -> float:
    """parameter × multiplier, 0 where the multiplier is (an unfitted parameter, nan,
    costs nothing where nothing needs it)."""
    return parameter * multiplier if multiplier else 0.0


@dataclass(frozen=True)
class Model:
    series: dict[str, SeriesModel]
    # (workload, kernel) -> (seconds, seconds per unit of size) of one serial task.
    compute: dict[tuple[str, str], tuple[float, float]]
    cores: int
    machine: dict[str, object] = field(default_factory=dict)

    def task_seconds(self, workload: str, kernel: str, size: float) -> float:
        intercept, slope = self.compute.get((workload, kernel), (math.nan, math.nan))
        return max(intercept + slope * size, 0.0)


def problem_of(row: Mapping) -> Problem:
    """A summary row's problem, with the options its series ran with."""
    return Problem(row["workload"], row["kernel"], row["series"], float(row["size"]),
                   int(row["tasks"]), int(row["workers"]), options_of_row(row),
                   gil_of_row(row))


def fit_compute(summary: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """Per workload and kernel, the serial loop's seconds per task against the size:
    a straight line through its points (non-negative; one size: through zero)."""
    serial = summary[(summary["series"] == SERIAL) & (summary["status"] == OK)]
    found = {}
    for (workload, kernel), rows in serial.groupby(["workload", "kernel"]):
        per_task = (rows["median_seconds"] / rows["tasks"]).to_numpy()
        sizes = rows["size"].to_numpy(dtype=float)
        if len(set(sizes)) < 2:
            size = max(float(sizes[0]), 1.0)
            found[(workload, kernel)] = (0.0, float(np.median(per_task)) / size)
            continue
        found[(workload, kernel)] = _relative_line(sizes, per_task)
    return found


def _relative_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(intercept, slope) of the straight line through (x, y), both non-negative, fitted
    on relative errors (a point's miss over its own y): small and large points weigh
    alike."""
    scale = x.max()
    (intercept, slope), _ = _nnls(np.column_stack([np.ones_like(x), x / scale])
                                  / y[:, None], np.ones_like(y))
    return float(intercept), float(slope / scale)


def serial_task_seconds(summary: pd.DataFrame) -> dict[tuple, float]:
    """The serial loop's measured seconds per task on each problem it ran."""
    serial = summary[(summary["series"] == SERIAL) & (summary["status"] == OK)]
    return {(row["workload"], row["kernel"], float(row["size"]), int(row["tasks"])):
            row["median_seconds"] / row["tasks"] for row in serial.to_dict("records")}


def dispatch_per_task(rows: pd.DataFrame) -> float:
    """One series' dispatch per task: the slope of its empty maps' time (its rows'
    calibration, `overhead_per_task_seconds` × tasks) against the task count, a straight
    line through the median at each count (non-negative). An empty map also pays a
    fixed cost per map, which the fitted cost per map takes in: the calibration's
    time per task, T-fold, charged that fixed cost again per task at every other
    count (joblib's empty map costs about the same at 8 tasks as at 1000). nan where
    fewer than two task counts were calibrated: one count's time per task holds its
    fixed cost too, and the cost per map takes the whole empty map in instead."""
    return _dispatch_slope(*_empty_maps(rows))


def _empty_maps(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's task count and its calibrated empty map's time."""
    counts = rows["tasks"].to_numpy(dtype=float)
    return counts, rows["overhead_per_task_seconds"].to_numpy(dtype=float) * counts


def _dispatch_slope(counts: np.ndarray, empty: np.ndarray) -> float:
    """dispatch_per_task of arrays (each bootstrap resample draws it again: pandas'
    groupby there doubled the time of a run's aggregation)."""
    known = np.isfinite(empty) & (empty > 0)
    counts, empty = counts[known], empty[known]
    distinct = np.unique(counts)
    if len(distinct) < 2:
        return math.nan
    medians = np.array([np.median(empty[counts == count]) for count in distinct])
    return _relative_line(distinct, medians)[1]


@dataclass(frozen=True)
class _System:
    """The least-squares system of one series, each row relative to its time: the
    design [1, bytes shipped, scheduled compute] (the last coefficient is the compute
    factor less 1: a worker is never faster than the serial loop), the time less the
    scheduled compute, and the tasks by which a dispatch per task lowers it."""

    design: np.ndarray
    target: np.ndarray
    tasks: np.ndarray

    def solve(self, dispatch: float, pick: np.ndarray | slice = slice(None)) -> np.ndarray:
        return _solve(self.design[pick], self.target[pick] - dispatch * self.tasks[pick])


def _system(rows: pd.DataFrame, model_compute: Model, measured: dict) -> _System:
    columns, targets, tasks = [], [], []
    for row in rows.to_dict("records"):
        problem = problem_of(row)
        task = measured.get((problem.workload, problem.kernel, problem.size, problem.tasks))
        if task is None:
            task = model_compute.task_seconds(problem.workload, problem.kernel, problem.size)
        term = terms(problem, task, model_compute.cores)
        columns.append([1.0, term.shipped_bytes, term.compute_seconds])
        targets.append(float(row["median_seconds"]) - term.compute_seconds)
        tasks.append(term.tasks)
    times = rows["median_seconds"].to_numpy(dtype=float)
    return _System(np.array(columns, dtype=float).reshape(-1, 3) / times[:, None],
                   np.array(targets) / times, np.array(tasks, dtype=float) / times)


def _solve(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(design).max(axis=0), 1e-300)
    solution, _ = _nnls(design / scale, target)
    return solution / scale


def fit_series(rows: pd.DataFrame, base: Model, measured: dict) -> SeriesModel:
    """One series' parameters from its rows (ok, warm medians), with intervals from
    resampling the rows, the dispatch per task drawn again from each resample's."""
    series = rows["series"].iloc[0]
    # Never calibrated (`calibration_repeats: 0`): the fit's cost per map takes the
    # dispatch in, and model.csv says it was not measured (nan), not 0.
    counts, empty = _empty_maps(rows)
    dispatch = _dispatch_slope(counts, empty)
    startup = float(rows["startup_seconds"].median())
    # A measured cold time is the start-up plus the *first* map, which pays once what
    # the warm ones do not (Ray's workers import the task's modules): its excess over
    # the warm map, never below none.
    extra = (float((rows["first_map_seconds"] - rows["median_seconds"]).median())
             if "first_map_seconds" in rows else math.nan)  # rows that do not say
    first_map_extra = max(0.0, extra) if math.isfinite(extra) else math.nan
    system = _system(rows, base, measured)
    solution = system.solve(measured_or_zero(dispatch)) + OFFSETS  # the factor: 1 + excess
    # A parameter whose term is zero in every row (bytes, for a series that ships none
    # or was fitted on no shared input) is not fitted: nan, not a measured 0.
    fitted = np.any(system.design != 0, axis=0)
    values = {name: float(value) if known else math.nan
              for name, value, known in zip(FITTED, solution, fitted)}
    values.update(dispatch_seconds=dispatch, startup_seconds=startup,
                  first_map_extra_seconds=first_map_extra)
    rng = np.random.default_rng(SEED)
    draws = []
    for _ in range(RESAMPLES if len(rows) > 2 else 0):
        pick = rng.integers(0, len(rows), len(rows))
        drawn = _dispatch_slope(counts[pick], empty[pick])
        drawn = measured_or_zero(dispatch if math.isnan(drawn) else drawn)  # one count drawn
        draws.append(system.solve(drawn, pick) + OFFSETS)
    intervals = {}
    if draws:
        low, high = np.percentile(np.array(draws), [2.5, 97.5], axis=0)
        intervals = {name: (float(a), float(b))
                     for name, a, b, known in zip(FITTED, low, high, fitted) if known}
    return SeriesModel(series, values, intervals)


def fit_model(summary: pd.DataFrame, fit_workloads: tuple[str, ...], cores: int,
              machine: dict | None = None) -> Model:
    """The model of every series from the rows of `fit_workloads` (local, measured)."""
    ok = summary[(summary["status"] == OK) & summary["median_seconds"].notna()]
    if "target" in ok:
        ok = ok[ok["target"].fillna(LOCAL) == LOCAL]
    base = Model({}, fit_compute(ok), cores, machine or {})
    measured = serial_task_seconds(ok)
    # Compute is known only where the serial loop ran: a design without it (the
    # reference's) fits no series, and predicts nothing, rather than guess.
    known = [key in base.compute for key in zip(ok["workload"], ok["kernel"])]
    fitting = ok[ok["workload"].isin(fit_workloads) & np.array(known, dtype=bool)]
    series = {name: fit_series(rows, base, measured)
              for name, rows in fitting.groupby("series") if name != SERIAL}
    return Model(series, base.compute, cores, base.machine)
