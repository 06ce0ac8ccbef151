"""The cost model checked on committed runs (docs/data/<run>), against the targets it
is held to: fitted on a run's data, compute and dispatch workloads, how well does it
predict the workloads it did not see (warm times; crossovers against their measured
intervals)? And on 16 cores: fitted there on the workers sweep, or carried over from
each 2-core run with the core count changed? docs/model.md's verdicts come from here
(`parbench describe`), and `python -m benchmarks.model_check` prints them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from parbench.columns.statuses import OK
from parbench.identity import SERIAL
from parbench.migrations import read_table
from parbench.model.fit import fit_model, problem_of
from parbench.model.tables import FIT_WORKLOADS, predict

# The targets: held-out warm times within this median relative error, and each held-out
# crossover the data finds predicted this near it, or inside its measured interval where
# that is no wider than ±this (a wider one cannot test the model).
MEDIAN_ERROR_TARGET = 0.20
CROSSOVER_NEAR_TARGET = 0.25


@dataclass(frozen=True)
class Errors:
    """Relative errors of predicted warm times: how many, their median and worst."""

    count: int
    median: float
    worst: float
    worst_where: str  # `workload series` of the worst

    @property
    def met(self) -> bool:
        return self.median <= MEDIAN_ERROR_TARGET

    def sentence(self) -> str:
        return (f"{self.count} predicted, median |error| {self.median:.0%}, worst "
                f"{self.worst:.0%} ({self.worst_where})")


@dataclass(frozen=True)
class CrossoverCheck:
    """A held-out crossover the data found, beside the model's."""

    curve: str  # `workload kernel challenger vs baseline`
    measured: float
    low: float
    high: float
    predicted: float  # nan: the model's two curves do not cross in its grid
    unit: str  # the workload's size unit

    @property
    def off(self) -> float:
        """How far the prediction is from the measured size, relative to it."""
        return abs(self.predicted / self.measured - 1) if self.predicted > 0 else math.nan

    @property
    def narrow(self) -> bool:
        """Whether the measured interval can test the model at all: no wider than
        ±CROSSOVER_NEAR_TARGET (a bracket between grid points can span ten times)."""
        return (self.high - self.low) / 2 / self.measured <= CROSSOVER_NEAR_TARGET

    @property
    def inside(self) -> bool:
        return self.low <= self.predicted <= self.high

    @property
    def met(self) -> bool:
        return self.off <= CROSSOVER_NEAR_TARGET or (self.inside and self.narrow)

    @property
    def verdict(self) -> str:
        if not self.predicted > 0:
            return "no crossing predicted"
        where = "inside its interval" if self.inside else "outside its interval"
        if self.met:
            return f"{where}, {self.off:.0%} off, met"
        if self.inside:
            return (f"{where} but {self.off:.0%} off, undecided: the interval is too wide "
                    "to test it")
        return f"{where}, {self.off:.0%} off, **missed**"


@dataclass(frozen=True)
class RunCheck:
    run: str
    machine: str
    cores: int
    fitted_on: list[str]
    held_out: list[str]
    errors: Errors | None  # None: no held-out combination predicted
    crossovers: list[CrossoverCheck]


def errors_of(measured: pd.Series, predicted: pd.Series, where: pd.Series) -> Errors | None:
    """The relative errors of the finite predictions (None where there are none)."""
    finite = predicted.notna() & (predicted.abs() != math.inf)
    if not finite.any():
        return None
    size = (predicted[finite] / measured[finite] - 1).abs()
    return Errors(len(size), float(size.median()), float(size.max()),
                  str(where[finite].loc[size.idxmax()]))


def held_out_rows(predictions: pd.DataFrame) -> pd.DataFrame:
    """A predictions.csv's held-out rows that the model predicted (the serial loop is the
    reference the model is given, not a prediction)."""
    return predictions[predictions["held_out"].astype(bool)
                       & (predictions["series"] != SERIAL)
                       & predictions["predicted_seconds"].notna()]


def held_out_errors(predictions: pd.DataFrame) -> Errors | None:
    held = held_out_rows(predictions)
    return errors_of(held["measured_seconds"], held["predicted_seconds"],
                     held["workload"] + " " + held["series"])


def check_run(run: Path) -> RunCheck:
    """A run's model against its targets, from what its aggregation wrote: the model
    fitted on its FIT_WORKLOADS rows (predictions.csv, held-out rows marked) and the
    crossover it predicts beside each measured one (crossover.csv)."""
    summary, crossover = read_table(run / "summary.csv"), read_table(run / "crossover.csv")
    machines = read_table(run / "machines.csv")
    held = sorted(set(summary["workload"]) - set(FIT_WORKLOADS))
    found = crossover[(crossover["time_basis"] == "warm") & crossover["workload"].isin(held)
                      & (crossover["crossover_status"] == "found")]
    checks = [CrossoverCheck(f"{row['workload']} {row['kernel']} {row['challenger']} vs "
                             f"{row['baseline']}", row["crossover_size"],
                             row["crossover_ci_low"], row["crossover_ci_high"],
                             row["predicted_crossover_size"], str(row.get("size_unit", "")))
              for row in found.to_dict("records")]
    # A run without the serial loop of a fitted workload has no compute to fit: no model.
    fitted = not read_table(run / "model.csv").empty
    return RunCheck(run.name, str(machines["cpu_model"].iloc[0]),
                    int(machines["available_cores"].iloc[0]),
                    sorted(set(summary["workload"]) & set(FIT_WORKLOADS)) if fitted else [],
                    held,
                    held_out_errors(read_table(run / "predictions.csv")), checks)


def across_machines(sixteen: Path,
                    two_core_runs: list[Path]) -> Iterator[tuple[str, Errors | None]]:
    """The 16-core rows outside the run's workers sweep (`scaling` designs: problems
    measured at several worker counts), predicted by a model fitted on that sweep, then
    by each 2-core run's model with 16 cores: (which model, its errors; None where it
    predicts none of them, such as a run without the serial loop's compute)."""
    summary = read_table(sixteen / "summary.csv")
    cores = int(read_table(sixteen / "machines.csv")["available_cores"].iloc[0])
    ok = summary[(summary["status"] == OK) & (summary["series"] != SERIAL)]
    swept = ok.groupby(["workload", "kernel", "size", "tasks"])["workers"].transform("nunique")
    calibration, rest = ok[swept > 1], ok[swept == 1]
    models = [(f"fitted on {sixteen.name}'s own workers sweep",
               fit_model(summary[summary.index.isin(calibration.index)
                                 | (summary["series"] == SERIAL)], FIT_WORKLOADS, cores))]
    # Each fitted on its own machine's cores (its rows scheduled as they ran), then
    # asked with this machine's.
    models += [(f"{two.name}'s model, cores = {cores}",
                dataclasses.replace(fit_model(read_table(two / "summary.csv"), FIT_WORKLOADS,
                                              _cores_of(two)), cores=cores))
               for two in two_core_runs]
    where = rest["workload"] + " " + rest["series"]
    for name, model in models:
        predicted = pd.Series([predict(model, problem_of(row))
                               for row in rest.to_dict("records")], index=rest.index)
        yield name, errors_of(rest["median_seconds"], predicted, where)


def _cores_of(run: Path) -> int:
    return int(read_table(run / "machines.csv")["available_cores"].iloc[0])


def committed_runs(data: Path) -> list[Path]:
    return sorted(path.parent for path in data.glob("*/summary.csv"))


def many_core_checks(runs: list[RunCheck], folder: Path) -> Iterator[
        tuple[RunCheck, list[tuple[str, Errors | None]]]]:
    """Each run of more than 2 cores (folder/<run>) with `across_machines`' answers, every
    2-core run's model asked."""
    two_core = [folder / run.run for run in runs if run.cores == 2]
    for run in runs:
        if run.cores > 2:
            yield run, list(across_machines(folder / run.run, two_core))
