"""Where one backend's time drops below another's, and stays below.

Given the median times of a `challenger` (Ray) and a `baseline` (Pool) on a
grid of sizes, the crossover is the size at which the challenger becomes
faster and remains faster for every larger size. Between the last grid point
where it is not faster and the next one, the crossing of log(time) curves is
interpolated linearly in log(size). `crossover_with_confidence` adds a
bootstrap interval, and says "no clear winner" instead of a number when the
two backends cannot be told apart anywhere in the range, or "not significant"
when the medians cross but the challenger's lead above the crossing is noise
(told by paired t-tests over replicates where there are several).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parbench import stats

# Where Ray overtakes the naive Pool (the array pickled into every chunk) and the
# idiomatic ones (the array in shared memory; one task per dispatch): this
# project's question, compared by default wherever both series ran.
DEFAULT_PAIRS = (("ray", "pool"), ("ray", "pool-shm"), ("ray", "pool-c1"))


def default_pairs(present) -> list[list[str]]:
    """The default pairs whose two series are both among `present`."""
    present = set(present)
    return [list(pair) for pair in DEFAULT_PAIRS if set(pair) <= present]

FOUND = "found"
NONE_IN_RANGE = "none in range"
FASTER_THROUGHOUT = "{challenger} faster throughout"
# The medians do not cross in the range, but at its end where a crossing would be the
# two are not told apart: a crossing there is not ruled out. The challenger's median
# below the baseline's everywhere, at the smallest size; above it at the largest.
START_WITHIN_NOISE = "smallest size within the noise"
END_WITHIN_NOISE = "largest size within the noise"
TOO_FEW_SIZES = "too few sizes"


def relative_half_width(ci_low: float, ci_high: float, size: float) -> float:
    """`(ci_high − ci_low) / 2 / size` of an interval around `size`; nan where it has no
    finite bounds."""
    if not (math.isfinite(ci_low) and math.isfinite(ci_high) and size > 0):
        return math.nan
    return (ci_high - ci_low) / 2 / size


@dataclass(frozen=True)
class Crossover:
    status: str
    size: float = math.nan
    # Grid points around the crossing, for readers who distrust interpolation.
    size_below: float = math.nan
    size_above: float = math.nan


def find_crossover(
    sizes: Sequence[float],
    challenger_seconds: Sequence[float],
    baseline_seconds: Sequence[float],
    challenger: str = "ray",
) -> Crossover:
    points = sorted(
        (float(size), float(chal), float(base))
        for size, chal, base in zip(sizes, challenger_seconds, baseline_seconds)
        if size > 0 and chal > 0 and base > 0 and math.isfinite(chal) and math.isfinite(base)
    )
    if len(points) < 2:
        return Crossover(TOO_FEW_SIZES)
    # log ratio < 0 where the challenger is faster
    log_ratio = [math.log(chal / base) for _, chal, base in points]
    not_faster = [index for index, value in enumerate(log_ratio) if value >= 0]
    if not not_faster:
        return Crossover(FASTER_THROUGHOUT.format(challenger=challenger))
    last_slower = not_faster[-1]
    if last_slower == len(points) - 1:
        return Crossover(NONE_IN_RANGE)
    size_below, size_above = points[last_slower][0], points[last_slower + 1][0]
    ratio_below, ratio_above = log_ratio[last_slower], log_ratio[last_slower + 1]
    # Linear in log(size): ratio_below >= 0 > ratio_above, so the fraction is in [0, 1).
    fraction = ratio_below / (ratio_below - ratio_above)
    log_size = math.log(size_below) + fraction * (math.log(size_above) - math.log(size_below))
    return Crossover(FOUND, math.exp(log_size), size_below, size_above)


def resampled_crossovers(sizes: Sequence[float], challenger_medians: np.ndarray,
                         baseline_medians: np.ndarray) -> list[float]:
    """`find_crossover` on every resample at once (medians: sizes x resamples, sizes
    ascending), to the same bits: a resample whose challenger wins throughout (or
    with fewer than two usable sizes) gives the smallest size, one where it never
    wins at the top the largest."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (challenger_medians / baseline_medians).T  # resamples x sizes
    usable = ((np.asarray(sizes) > 0)[None, :] & (challenger_medians.T > 0)
              & (baseline_medians.T > 0) & np.isfinite(challenger_medians.T)
              & np.isfinite(baseline_medians.T))
    # log(ratio) >= 0 exactly where ratio >= 1: the challenger is not faster there.
    not_faster = usable & (ratio >= 1)
    # Per resample: the last size where the challenger is not faster, the last usable
    # size, and the first usable size after the former (on arrays: a thousand resamples).
    last = len(sizes) - 1
    last_slower = last - np.argmax(not_faster[:, ::-1], axis=1)
    last_point = last - np.argmax(usable[:, ::-1], axis=1)
    next_point = np.argmax(usable & (np.arange(len(sizes)) > last_slower[:, None]), axis=1)
    enough = (usable.sum(axis=1) >= 2) & not_faster.any(axis=1)
    found = [sizes[-1] if has_both else sizes[0] for has_both in enough.tolist()]
    # The crossing, interpolated as find_crossover does (math.log: the same bits).
    for resample in np.flatnonzero(enough & (last_slower != last_point)).tolist():
        below, above = last_slower[resample], next_point[resample]
        ratio_below = math.log(float(challenger_medians[below, resample])
                               / float(baseline_medians[below, resample]))
        ratio_above = math.log(float(challenger_medians[above, resample])
                               / float(baseline_medians[above, resample]))
        size_below, size_above = float(sizes[below]), float(sizes[above])
        fraction = ratio_below / (ratio_below - ratio_above)
        log_size = math.log(size_below) + fraction * (math.log(size_above)
                                                      - math.log(size_below))
        found[resample] = math.exp(log_size)
    return found


RESAMPLES = 1_000
NO_CLEAR_WINNER = "no clear winner"
# The medians cross, but above the crossing the challenger is never clearly faster.
NOT_SIGNIFICANT = "not significant"


@dataclass(frozen=True)
class CrossoverEstimate(Crossover):
    """A crossover with its bootstrap 95 % interval."""

    ci_low: float = math.nan
    ci_high: float = math.nan
    found_fraction: float = math.nan  # share of bootstrap resamples with a crossover in range
    # Where the medians cross, significant or not: where a fit or more jobs should look.
    medians_cross: float = math.nan
    # Sizes where the two are told apart, either way (None: not tested).
    told_apart: int | None = None


Interval = tuple[float, float]


@dataclass(frozen=True)
class PairedTests:
    """Per size, what paired t-tests over replicates tell (parbench.crossover.bracket.
    paired_tests): whether the two series differ, either way (two-sided), and whether
    the challenger is faster, or slower (one-sided); each at 1 − confidence over all
    the sizes."""

    apart: Mapping[float, bool]
    ahead: Mapping[float, bool]
    behind: Mapping[float, bool]


def _intervals_overlap(first: Interval, second: Interval) -> bool:
    """Whether two intervals overlap; one that is unknown (a size without data) does
    not tell them apart either."""
    if not all(math.isfinite(end) for end in (*first, *second)):
        return True
    return first[0] <= second[1] and second[0] <= first[1]


def _clearly_faster(challenger: Interval, baseline: Interval) -> bool:
    """The challenger's 95 % interval lies wholly below the baseline's."""
    return challenger[1] < baseline[0]


def _bootstrap_medians(groups: list[np.ndarray], resamples: int, seed: int,
                       drawn: dict | None) -> np.ndarray:
    """stats.bootstrap_medians of replicates (stats.as_replicates); with `drawn`, once
    per samples and seed: a series compared with several others (Ray with each Pool)
    would draw the same medians again."""
    if drawn is None:
        return stats.bootstrap_medians(groups, resamples, seed)
    key = (resamples, seed, tuple(group.tobytes() for group in groups))
    if key not in drawn:
        drawn[key] = stats.bootstrap_medians(groups, resamples, seed)
    return drawn[key]


def crossover_with_confidence(
    sizes: Sequence[float],
    challenger_samples: Sequence[stats.Samples],
    baseline_samples: Sequence[stats.Samples],
    challenger: str = "ray",
    resamples: int = RESAMPLES,
    drawn: dict | None = None,
    paired: PairedTests | None = None,
) -> CrossoverEstimate:
    """The crossover of the medians, with a bootstrap 95 % interval.

    Each size's samples are one sequence of repeats, or one per replicate (job).
    Each bootstrap resample draws every combination's replicates and the repeats
    within them (stats.bootstrap_medians), recomputes both medians at every size
    and the crossover from them. A resample where the
    challenger wins throughout counts as a crossover at the smallest size, one
    where it never wins at the top as one at the largest size, so the interval
    can say "at or below / at or above the range". When the two medians' own
    95 % intervals overlap at every size, there is no clear winner anywhere and
    no number is given. When the medians cross but the challenger is not clearly
    faster (intervals apart) at any size above the crossing, the crossing and its
    interval are given with the status "not significant". `drawn`: bootstrap medians
    already drawn by earlier calls, shared by the calls given the same dict.

    `paired` decides those two verdicts instead, where there are replicates to pair:
    paired t-tests over replicates, which the bootstrap's intervals, too narrow over
    few replicates, stand in for only where every size ran once.
    """
    order = np.argsort(np.asarray(sizes, dtype=float))
    sizes = [float(sizes[i]) for i in order]
    challenger_samples = [stats.as_replicates(challenger_samples[i]) for i in order]
    baseline_samples = [stats.as_replicates(baseline_samples[i]) for i in order]
    point = find_crossover(sizes, [stats.pooled_median(s) for s in challenger_samples],
                           [stats.pooled_median(s) for s in baseline_samples], challenger)
    if point.status == TOO_FEW_SIZES:
        return CrossoverEstimate(point.status)
    challenger_medians = [_bootstrap_medians(s, resamples, stats.SEED + 2 * i, drawn)
                          for i, s in enumerate(challenger_samples)]
    baseline_medians = [_bootstrap_medians(s, resamples, stats.SEED + 2 * i + 1, drawn)
                        for i, s in enumerate(baseline_samples)]
    # The 95 % interval of each median, per size: (challenger's, baseline's).
    intervals = [(stats.percentile_interval(c), stats.percentile_interval(b))
                 for c, b in zip(challenger_medians, baseline_medians)]
    if paired is None:
        apart = [not _intervals_overlap(c, b) for c, b in intervals]
        ahead = [_clearly_faster(c, b) for c, b in intervals]
        behind = [_clearly_faster(b, c) for c, b in intervals]
    else:
        apart = [paired.apart.get(size, False) for size in sizes]
        ahead = [paired.ahead.get(size, False) for size in sizes]
        behind = [paired.behind.get(size, False) for size in sizes]
    told_apart = int(sum(apart))
    if not told_apart:
        return CrossoverEstimate(NO_CLEAR_WINNER, found_fraction=0.0, medians_cross=point.size,
                                 told_apart=told_apart)
    resample_sizes = resampled_crossovers(sizes, np.array(challenger_medians),
                                          np.array(baseline_medians))
    found_fraction = sum(sizes[0] < size < sizes[-1] for size in resample_sizes) / resamples
    if point.status != FOUND:  # an interval of a crossover that is not there means nothing
        # Told only where the range's end that a crossing would be next to is told.
        if point.status == NONE_IN_RANGE:
            status = NONE_IN_RANGE if behind[-1] else END_WITHIN_NOISE
        else:
            status = point.status if ahead[0] else START_WITHIN_NOISE
        return CrossoverEstimate(status, found_fraction=found_fraction, told_apart=told_apart)
    # "Overtakes" needs a size above the crossing where the challenger is clearly
    # faster; a lead inside the noise is reported with its number, but not as found.
    significant = any(ahead[index]
                      for index, size in enumerate(sizes) if size >= point.size_above)
    low, high = stats.percentile_interval(np.log(resample_sizes))
    return CrossoverEstimate(
        FOUND if significant else NOT_SIGNIFICANT, point.size, point.size_below,
        point.size_above, ci_low=math.exp(low), ci_high=math.exp(high),
        found_fraction=found_fraction, medians_cross=point.size, told_apart=told_apart,
    )
