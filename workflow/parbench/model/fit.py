"""Fitting the cost model from a sweep's summary rows: per series, a fixed cost per
map, a cost per byte shipped and a compute efficiency (non-negative least squares on
relative errors, with bootstrap intervals); the dispatch per task and the start-up are
the series' measured medians; the serial work per task, per workload and kernel, a
straight line in the size through the serial loop's times."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from parbench.columns.statuses import OK
from parbench.identity import LOCAL, SERIAL
from parbench.model.parameters import BOUNDS, FITTED
from parbench.model.terms import Problem, Terms, options_of_row, terms

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
        return (values["per_map_seconds"] + term.tasks * values["dispatch_seconds"]
                + _times(values["per_byte_seconds"], term.shipped_bytes)
                + _times(values["compute_factor"], term.compute_seconds))


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
                   int(row["tasks"]), int(row["workers"]), options_of_row(row))


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
        scale = sizes.max()
        coefficients, _ = _nnls(np.column_stack([np.ones_like(sizes), sizes / scale])
                               / per_task[:, None], np.ones_like(per_task))
        found[(workload, kernel)] = (float(coefficients[0]), float(coefficients[1] / scale))
    return found


def serial_task_seconds(summary: pd.DataFrame) -> dict[tuple, float]:
    """The serial loop's measured seconds per task on each problem it ran."""
    serial = summary[(summary["series"] == SERIAL) & (summary["status"] == OK)]
    return {(row["workload"], row["kernel"], float(row["size"]), int(row["tasks"])):
            row["median_seconds"] / row["tasks"] for row in serial.to_dict("records")}


def _design(rows: pd.DataFrame, model_compute: Model, measured: dict,
            dispatch: float) -> tuple[np.ndarray, np.ndarray]:
    """The least-squares system of one series: each row's time less its dispatch and
    its scheduled compute, against [1, bytes shipped, scheduled compute] (the last
    coefficient is the compute factor less 1: a worker is never faster than the serial
    loop), both relative to the time."""
    columns, targets = [], []
    for row in rows.to_dict("records"):
        problem = problem_of(row)
        task = measured.get((problem.workload, problem.kernel, problem.size, problem.tasks))
        if task is None:
            task = model_compute.task_seconds(problem.workload, problem.kernel, problem.size)
        term = terms(problem, task, model_compute.cores)
        seconds = float(row["median_seconds"])
        columns.append([1.0, term.shipped_bytes, term.compute_seconds])
        targets.append(seconds - term.tasks * dispatch - term.compute_seconds)
    design = np.array(columns, dtype=float).reshape(-1, 3)
    times = rows["median_seconds"].to_numpy(dtype=float)
    return design / times[:, None], np.array(targets) / times


def _solve(design: np.ndarray, target: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(design).max(axis=0), 1e-300)
    solution, _ = _nnls(design / scale, target)
    return solution / scale


def fit_series(rows: pd.DataFrame, base: Model, measured: dict) -> SeriesModel:
    """One series' parameters from its rows (ok, warm medians), with intervals from
    resampling the rows."""
    series = rows["series"].iloc[0]
    dispatch = float(np.nan_to_num(rows["overhead_per_task_seconds"].median()))
    startup = float(np.nan_to_num(rows["startup_seconds"].median()))
    design, target = _design(rows, base, measured, dispatch)
    solution = _solve(design, target) + OFFSETS  # the factor is 1 + its excess
    # A parameter whose term is zero in every row (bytes, for a series that ships none
    # or was fitted on no shared input) is not fitted: nan, not a measured 0.
    fitted = np.any(design != 0, axis=0)
    values = {name: float(value) if known else math.nan
              for name, value, known in zip(FITTED, solution, fitted)}
    values.update(dispatch_seconds=dispatch, startup_seconds=startup)
    rng = np.random.default_rng(SEED)
    draws = []
    for _ in range(RESAMPLES if len(rows) > 2 else 0):
        pick = rng.integers(0, len(rows), len(rows))
        draws.append(_solve(design[pick], target[pick]) + OFFSETS)
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
