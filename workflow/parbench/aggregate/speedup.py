"""Speedup over the serial loop on the same problem and target, with its interval."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from parbench import stats
from parbench.backends import target_of
from parbench.identity import PROBLEM, SERIAL


def speedups(summary: pd.DataFrame, medians: Sequence[np.ndarray]) -> list[tuple]:
    """(speedup, CI low, CI high) per combination: the serial loop's median on the
    same problem over its own; the interval from the ratios of both sides' bootstrap
    medians (stats.ratio_interval: the serial side's are its `medians`, drawn with the
    same seed; the other side's are drawn again with the next seed), widened by both
    sides' replicate errors where each ran twice or more (stats.widened)."""
    # On the series' own target: a cluster's times are never divided by the local loop's.
    problems = list(zip(*(summary[column] for column in PROBLEM),
                        summary["series"].map(target_of)))
    backend, repeats = summary["series"].to_numpy(), summary["repeats"].to_numpy()
    serial = {problem: position for position, problem in enumerate(problems)
              if backend[position] == SERIAL and repeats[position] > 0}
    compared = [position for position, problem in enumerate(problems)
                if problem in serial and repeats[position] > 0 and backend[position] != SERIAL]
    drawn_again = dict(zip(compared, stats.bootstrap_medians_many(
        [summary["_samples"].iat[position] for position in compared], seed=stats.SEED + 1)))
    speedups = []
    for position, problem in enumerate(problems):
        reference = serial.get(problem)
        if reference is None or repeats[position] == 0:
            speedups.append((np.nan, np.nan, np.nan))
        elif backend[position] == SERIAL:
            speedups.append((1.0, 1.0, 1.0))  # the reference itself: exactly 1
        else:
            reference_samples = summary["_samples"].iat[reference]
            samples = summary["_samples"].iat[position]
            speedup = (stats.pooled_median(reference_samples)
                       / summary["median_seconds"].iat[position])
            low, high = stats.widened(
                speedup, stats.percentile_interval(medians[reference] / drawn_again[position]),
                [stats.replicate_error(reference_samples), stats.replicate_error(samples)])
            speedups.append((speedup, low, high))
    return speedups

