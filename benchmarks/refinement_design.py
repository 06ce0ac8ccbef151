"""The default design's headline crossover on synthetic runs whose truth is a measured
run's curves: how often it gives a number, within ±20 %, and how often its 95 % interval
covers the truth.

    python -m benchmarks.refinement_design docs/data/reference [RUN ...] [--runs 300]

The truth is a run's two series on `shared_array` (its per-size medians of the naive
Pool and Ray, joined by straight lines on log-log axes), so it carries that run's bends:
the naive Pool's step where the pickled array outgrows some buffer. Each synthetic run
measures it as the default design does (config/config.yaml: its `shared_array` sizes
and replicates, then its `refine` rounds: each round `replicates` new replicates where
parbench.refine.planner.where_to_measure puts them: inside a wide bracket, else around
the latest estimate), each job's time drawn with a factor it shares with its pair (the
machine's drift), one of its own per series, and its samples' own noise. Its answer is
the headline crossover.csv would give (parbench.crossover.choose: the fit where it
holds, else the bracket). The truth's crossing is where the two lines meet.

Prints, per run folder: the truth, how often the headline is a number (`found`), how
often that number has a half-width within 20 %, the median half-width, the share of
found intervals that contain the truth (95 % if the interval is honest there), and the
share of them that are brackets.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from parbench.crossover import BRACKET, FOUND, choose, find_crossover, fit_crossover, sign_bracket
from parbench.crossover.fitted import (
    TOO_FEW_SIZES,
    FittedCrossover,
    JobValues,
)
from parbench.migrations import read_table
from parbench.refine import Refinement
from parbench.refine.planner import where_to_measure, within_target
from parbench.workflow_copy import REPO

CHALLENGER, BASELINE = "ray", "pool"
SAMPLES = 6  # timed samples a job keeps (the default's 5 to 8)


class Truth:
    """Both series' times against the size: medians per size, joined by log-log lines."""

    def __init__(self, sizes, challenger_seconds, baseline_seconds):
        self.sizes = np.asarray(sizes, dtype=float)
        self.log_seconds = {CHALLENGER: np.log(np.asarray(challenger_seconds, dtype=float)),
                            BASELINE: np.log(np.asarray(baseline_seconds, dtype=float))}
        grid = np.geomspace(self.sizes[0], self.sizes[-1], 4000)
        above = np.flatnonzero(self.seconds(BASELINE, grid) > self.seconds(CHALLENGER, grid))
        self.crossing = float(grid[above[0]]) if len(above) else math.nan

    @classmethod
    def of_run(cls, run: Path) -> Truth:
        """A run folder's (its summary.csv) `shared_array` medians of both series."""
        summary = read_table(run / "summary.csv")
        rows = summary[(summary["workload"] == "shared_array") & (summary["status"] == "ok")]
        medians = {name: rows[rows["series"] == name].groupby("size")["median_seconds"]
                   .median() for name in (CHALLENGER, BASELINE)}
        sizes = sorted(set(medians[CHALLENGER].index) & set(medians[BASELINE].index))
        return cls(sizes, medians[CHALLENGER].reindex(sizes), medians[BASELINE].reindex(sizes))

    def seconds(self, series: str, size):
        return np.exp(np.interp(np.log(size), np.log(self.sizes), self.log_seconds[series]))


def headline(challenger: JobValues, baseline: JobValues, around: float,
             ci_target: float) -> dict:
    """What the aggregation's crossover.csv would say of these values: the headline's
    method, status, size and interval (parbench.crossover.choose), and the fitted
    sizes' ends (what the planner reuses)."""
    fitted = (fit_crossover(challenger, baseline, around, max_residual=ci_target)
              if math.isfinite(around) and around > 0 else FittedCrossover(TOO_FEW_SIZES))
    bracket = sign_bracket(challenger, baseline)
    method = choose(fitted, bracket)
    chosen = bracket if method == BRACKET else fitted
    return {"method": method, "crossover_status": chosen.status,
            "crossover_size": chosen.size, "crossover_ci_low": chosen.ci_low,
            "crossover_ci_high": chosen.ci_high,
            "crossover_relative_half_width": chosen.relative_half_width,
            "fit_size_low": fitted.size_low, "fit_size_high": fitted.size_high}


def one_run(truth: Truth, rng: np.random.Generator, grid: list[float], replicates: int,
            refinement: Refinement, ci_target: float, pair_sd: float, own_sd: float,
            within_sd: float) -> dict:
    """One synthetic default run: the grid, the refinement rounds (planned as
    parbench.refine.planner plans them), the last headline (its straight lines checked
    against `ci_target`, as the aggregation does)."""
    values: dict[str, dict[float, dict[int, float]]] = {CHALLENGER: {}, BASELINE: {}}

    def measure(size: float, replicate: int) -> None:
        drift = rng.normal(0.0, pair_sd)
        for series, side in values.items():
            job = truth.seconds(series, size) * math.exp(drift + rng.normal(0.0, own_sd))
            side.setdefault(size, {})[replicate] = float(
                np.median(job * rng.lognormal(0.0, within_sd, SAMPLES)))

    def estimate() -> tuple[float, dict]:
        sizes = sorted(values[CHALLENGER])
        medians = {series: [np.median(list(side[size].values())) for size in sizes]
                   for series, side in values.items()}
        around = find_crossover(sizes, medians[CHALLENGER], medians[BASELINE]).size
        return around, headline(values[CHALLENGER], values[BASELINE], around, ci_target)

    for replicate in range(replicates):
        for size in grid:
            measure(size, replicate)
    interpolated, found = estimate()
    following = replicates
    for _ in range(refinement.rounds):
        if within_target(found, refinement.target):
            break
        around = found["crossover_size"] if math.isfinite(found["crossover_size"]) \
            else interpolated
        if not (math.isfinite(around) and around > 0):
            break
        sizes, count = where_to_measure(found, around, refinement,
                                        pd.Series(sorted(values[CHALLENGER])))
        for replicate in range(following, following + count):
            for size in sizes:
                measure(float(size), replicate)
        following += count
        interpolated, found = estimate()
    return found


def score(truth: Truth, runs: int, pair_sd: float = 0.10, own_sd: float = 0.10,
          within_sd: float = 0.05, seed: int = 1) -> dict[str, float]:
    """`runs` synthetic default runs (config/config.yaml) on `truth`: the share that gives
    a number, the share within ±20 %, the median half-width, and the share of the found
    intervals that contain the truth."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    grid = [float(size) for size in config["workloads"]["shared_array"]["sizes"]]
    refinement = Refinement.from_config(config.get("refine"))
    rng = np.random.default_rng(seed)
    fits = [one_run(truth, rng, grid, int(config["replicates"]), refinement,
                    float(config["ci_target"]), pair_sd, own_sd, within_sd)
            for _ in range(runs)]
    found = [fit for fit in fits if fit["crossover_status"] == FOUND]
    widths = pd.Series([fit["crossover_relative_half_width"] for fit in found], dtype=float)
    return {"found": len(found) / runs, "within_20": float((widths <= 0.2).sum()) / runs,
            "median_half_width": float(widths.median()),
            "coverage": sum(fit["crossover_ci_low"] <= truth.crossing <= fit["crossover_ci_high"]
                            for fit in found) / max(len(found), 1),
            "bracket": sum(fit["method"] == BRACKET for fit in found) / max(len(found), 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_folders", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--pair-sd", type=float, default=0.10,
                        help="log-scale SD of the drift a pair's two jobs share")
    parser.add_argument("--own-sd", type=float, default=0.10,
                        help="log-scale SD of each job's own factor (the paired log "
                             "ratio's SD is sqrt(2) times it)")
    parser.add_argument("--within-sd", type=float, default=0.05,
                        help="log-scale SD of one sample within a job")
    arguments = parser.parse_args(argv)
    for folder in arguments.run_folders:
        truth = Truth.of_run(folder)
        found = score(truth, arguments.runs, arguments.pair_sd, arguments.own_sd,
                      arguments.within_sd)
        print(f"{folder}: truth {truth.crossing:.4g}; {arguments.runs} synthetic default runs: "
              f"found {found['found']:.0%}, within ±20 % {found['within_20']:.0%}, median "
              f"half-width {found['median_half_width']:.1%}, the 95 % interval covers the "
              f"truth in {found['coverage']:.0%} of those found ({found['bracket']:.0%} of "
              f"them a bracket)")


if __name__ == "__main__":
    main()
