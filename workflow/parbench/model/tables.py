"""The model's tables: its parameters (model.csv), its prediction of every measured
combination beside the measurement (predictions.csv), and the crossover it predicts for
every compared pair (crossover.csv's `predicted_crossover_size`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from parbench import columns
from parbench.columns.statuses import OK
from parbench.identity import LOCAL, SERIAL
from parbench.model.fit import Model, SeriesModel, measured_or_zero, problem_of
from parbench.model.parameters import FITTED, UNITS
from parbench.model.terms import Problem, crossing, gil_of_row, options_of_row, terms

# The workloads the model is fitted on; it predicts the others (held out): data, compute
# and dispatch teach it the costs, and balance, set-up and data-with-compute test them.
FIT_WORKLOADS = ("shared_array", "exp_sinh", "tiny_tasks")
MACHINE = ("hostname", "cpu_model", "available_cores")


def predict(model: Model, problem: Problem, task_seconds: float | None = None,
            basis: str = "warm") -> float:
    """The model's time of one map (`cold`: with the start-up); nan for a series it
    has no parameters of."""
    if task_seconds is None:
        task_seconds = model.task_seconds(problem.workload, problem.kernel, problem.size)
    term = terms(problem, task_seconds, model.cores)
    if problem.series == SERIAL:
        return term.compute_seconds
    fitted = model.series.get(problem.series)
    if fitted is None or not math.isfinite(task_seconds):
        return math.nan
    seconds = fitted.seconds(term)
    if basis != "cold":
        return seconds
    # Cold as measured: the start-up and the first map (a model.csv from before the
    # first map's extra was fitted, or a run that did not measure one: the warm one).
    return (seconds + measured_or_zero(fitted.values["startup_seconds"])
            + measured_or_zero(fitted.values.get("first_map_extra_seconds", math.nan)))


def predictions(summary: pd.DataFrame, model: Model,
                fit_workloads: tuple[str, ...] = FIT_WORKLOADS) -> pd.DataFrame:
    """Every measured local combination: measured and predicted warm time, the serial
    work per task from the model's line in the size (as `parbench predict` has it for a
    design never measured), not the serial loop's own time on that problem: a held-out
    prediction then tests every term, the work's too."""
    ok = summary[(summary["status"] == OK) & summary["median_seconds"].notna()]
    if "target" in ok:
        ok = ok[ok["target"].fillna(LOCAL) == LOCAL]
    rows = []
    # As dicts: a row Series' lookups cost more than the predictions (about 100k of them
    # at 10k jobs).
    for row in ok.to_dict("records"):
        predicted = predict(model, problem_of(row))
        rows.append({**{name: row[name] for name in ("workload", "kernel", "series", "size",
                                                       "tasks", "workers")},
                     "measured_seconds": row["median_seconds"],
                     "predicted_seconds": predicted,
                     "relative_error": predicted / row["median_seconds"] - 1,
                     "held_out": row["workload"] not in fit_workloads})
    return pd.DataFrame(rows, columns=columns.names(columns.PREDICTIONS)).assign(
        format_version=columns.FORMAT_VERSION)


def predicted_crossovers(crossover: pd.DataFrame, summary: pd.DataFrame,
                         model: Model) -> np.ndarray:
    """Per crossover row, where the model puts it: its times of both series on a grid
    from a quarter of the smallest size measured to four times the largest."""
    # The sizes measured per curve, looked up once (not a mask over summary per row),
    # and the rows as dicts (a Series' lookups cost as much as the predictions).
    positive = summary[summary["size"] > 0]
    # Each series' first measured row (a failed one may not record its options or GIL).
    firsts = summary.sort_values("status", key=lambda status: status != OK, kind="stable") \
        .drop_duplicates("series").to_dict("records")
    options = {row["series"]: options_of_row(row) for row in firsts}
    gils = {row["series"]: gil_of_row(row) for row in firsts}
    size_range = positive.groupby(["workload", "kernel", "tasks"])["size"].agg(["min", "max"])
    found = []
    for row in crossover.to_dict("records"):
        key = (row["workload"], row["kernel"], row["tasks"])
        if key not in size_range.index:
            found.append(math.nan)
            continue
        smallest, largest = size_range.loc[key]
        grid = np.geomspace(smallest / 4, largest * 4, 64)
        times = {}
        for side in ("challenger", "baseline"):
            times[side] = [predict(model, Problem(row["workload"], row["kernel"], row[side],
                                                  float(size), int(row["tasks"]),
                                                  int(row["workers"]), options.get(row[side]),
                                                  gils.get(row[side])),
                                   basis=row["time_basis"]) for size in grid]
        found.append(crossing(grid, times["challenger"], times["baseline"]))
    return np.array(found, dtype=float)


def model_table(model: Model) -> pd.DataFrame:
    """model.csv: one row per parameter, with its interval, unit and the machine."""
    machine = {name: model.machine.get(name, np.nan) for name in MACHINE}
    machine["available_cores"] = model.cores
    rows = []
    for name, fitted in model.series.items():
        for parameter, value in fitted.values.items():
            low, high = fitted.intervals.get(parameter, (np.nan, np.nan))
            rows.append({"series": name, "workload": "", "kernel": "",
                         "parameter": parameter, "value": value, "ci_low": low,
                         "ci_high": high, "unit": UNITS[parameter], **machine})
    for (workload, kernel), (intercept, slope) in model.compute.items():
        for parameter, value in (("serial_task_seconds", intercept),
                                 ("serial_task_seconds_per_size", slope)):
            rows.append({"series": SERIAL, "workload": workload, "kernel": kernel,
                         "parameter": parameter, "value": value, "ci_low": np.nan,
                         "ci_high": np.nan, "unit": UNITS[parameter], **machine})
    return pd.DataFrame(rows, columns=columns.names(columns.MODEL)).assign(
        format_version=columns.FORMAT_VERSION)


def model_from_table(table: pd.DataFrame) -> Model:
    """The model a model.csv describes (`parbench predict`)."""
    series: dict[str, SeriesModel] = {}
    compute: dict[tuple[str, str], list[float]] = {}
    for _, row in table.iterrows():
        if row["parameter"].startswith("serial_task"):
            pair = compute.setdefault((row["workload"], row["kernel"]), [0.0, 0.0])
            pair[row["parameter"].endswith("_per_size")] = float(row["value"])
            continue
        fitted = series.setdefault(row["series"], SeriesModel(row["series"], {}, {}))
        fitted.values[row["parameter"]] = float(row["value"])
        if row["parameter"] in FITTED and pd.notna(row["ci_low"]):
            fitted.intervals[row["parameter"]] = (float(row["ci_low"]), float(row["ci_high"]))
    cores = int(table["available_cores"].dropna().iloc[0]) if len(table) else 1
    machine = table.iloc[0][list(MACHINE)].to_dict() if len(table) else {}
    return Model(series, {key: tuple(value) for key, value in compute.items()}, cores,
                 machine)
