"""Confidence intervals of medians and of their ratios.

Samples come in replicates: each replicate is one job (own process, own backend
start) and holds that job's timed repeats. The bootstrap is two-level
(hierarchical, Davison & Hinkley 1997, section 3.8): each resample draws the
replicates with replacement, then the repeats within each drawn replicate, and
takes the median of everything drawn, so that it carries the variance between jobs
as well as within them (Kalibera & Jones, "Rigorous benchmarking in reasonable
time", 2013). Over few replicates it draws from too few jobs to see how far they
scatter: its "95 %" interval covered the truth 64 % of the time at 2 replicates, 75 %
at 3, 88 % at 5 (jobs 15 % apart, 5 % within). Where there are two replicates or
more, a median's interval (`spread`) is therefore the wider, side by side, of the
bootstrap's and Student's t with k − 1 degrees of freedom over the replicates'
medians on log axes, centred on the median (`replicate_error`): 95 % at every k.
One replicate is the ordinary bootstrap of its repeats, within-job noise only. A
fixed seed makes the same rows give the same interval. Ratios (speedup) resample
each side independently and take the ratio of the resampled medians, widened the
same way by both sides' replicate errors (Welch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from parbench import resampling

RESAMPLES = 2_000
CONFIDENCE = 0.95
SEED = 20_211_126
Z_95 = 1.959964

# One replicate's repeats, or one sequence of repeats per replicate.
Samples = Union[Sequence[float], Sequence[Sequence[float]], np.ndarray]


def as_replicates(samples: Samples) -> list[np.ndarray]:
    """The finite repeats of each replicate that has any."""
    if isinstance(samples, np.ndarray) and samples.dtype != object:
        groups = [samples] if samples.ndim <= 1 else list(samples)
    else:
        items = list(samples)
        nested = bool(items) and all(np.ndim(item) == 1 for item in items)
        groups = items if nested else [items]
    finite = [np.asarray(group, dtype=float) for group in groups]
    finite = [group[np.isfinite(group)] for group in finite]
    return [group for group in finite if group.size]


def pooled_median(samples: Samples) -> float:
    """The median of every repeat of every replicate: the point estimate."""
    groups = as_replicates(samples)
    return float(np.median(np.concatenate(groups))) if groups else math.nan


def bootstrap_medians(samples: Samples, resamples: int = RESAMPLES,
                      seed: int = SEED) -> np.ndarray:
    """Medians of `resamples` two-level resamples of `samples` (see the module)."""
    return bootstrap_medians_many([samples], resamples, seed)[0]


def bootstrap_medians_many(many_samples: Sequence[Samples], resamples: int = RESAMPLES,
                           seed: int = SEED) -> list[np.ndarray]:
    """`bootstrap_medians` of each of `many_samples`, to the same bits, at once: a
    large sweep has thousands of combinations of the same shape (replicates x
    repeats), whose resamples (same seed, same shape) draw the same positions, so
    those are drawn once and every such combination's medians taken together. Shapes
    of as many replicates, the same largest, share their random numbers
    (parbench.resampling)."""
    groups_of = [as_replicates(samples) for samples in many_samples]
    medians: list[np.ndarray] = [np.full(resamples, np.nan)] * len(groups_of)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for position, groups in enumerate(groups_of):
        if groups:
            by_shape.setdefault(tuple(group.size for group in groups), []).append(position)
    for shape, positions in by_shape.items():
        picks, keep = resampling.resample_positions(shape, resamples, seed)
        # A few combinations at a time: their resamples stay in the CPU's cache.
        at_once = max(1, resampling.VALUES_AT_ONCE // picks.size)
        for chunk in range(0, len(positions), at_once):
            some = positions[chunk:chunk + at_once]
            values = np.stack([np.concatenate(groups_of[position]) for position in some]
                              )[:, picks]
            found = (resampling.medians_along_last_axis(values) if keep is None
                     else resampling.medians_of_kept(values, keep))
            for position, one in zip(some, found):
                medians[position] = one
    return medians


def percentile_interval(distribution: np.ndarray,
                        confidence: float = CONFIDENCE) -> tuple[float, float]:
    finite = distribution[np.isfinite(distribution)]
    if finite.size == 0:
        return (np.nan, np.nan)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def median_interval(samples: Samples, confidence: float = CONFIDENCE,
                    seed: int = SEED) -> tuple[float, float]:
    """The bootstrap confidence interval of the median of `samples`."""
    return percentile_interval(bootstrap_medians(samples, seed=seed), confidence)


def ratio_interval(numerator_samples: Samples, denominator_samples: Samples,
                   confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Interval of median(numerator) / median(denominator), e.g. a speedup."""
    ratios = bootstrap_medians(numerator_samples, seed=SEED) / bootstrap_medians(
        denominator_samples, seed=SEED + 1)
    return percentile_interval(ratios, confidence)


@dataclass(frozen=True)
class Spread:
    median: float
    ci_low: float
    ci_high: float
    iqr: float
    cv: float  # coefficient of variation of every repeat: std / mean

    @property
    def relative_half_width(self) -> float:
        """Half the CI's width relative to the median: 0.05 means ±5 % (nan: no samples)."""
        if np.isnan(self.median):
            return np.nan
        return (self.ci_high - self.ci_low) / 2 / self.median if self.median > 0 else np.inf


def spread(samples: Samples, medians: np.ndarray | None = None) -> Spread:
    """Median, its 95 % interval, IQR and CV of `samples`; `medians`: their
    `bootstrap_medians`, when already drawn (bootstrap_medians_many). The interval is
    the bootstrap's, widened where the replicates scatter more than it saw (see the
    module)."""
    groups = as_replicates(samples)
    if not groups:
        return Spread(np.nan, np.nan, np.nan, np.nan, np.nan)
    values = np.concatenate(groups)
    median = float(np.median(values))
    low, high = (median_interval(groups) if medians is None
                 else percentile_interval(medians))
    low, high = widened(median, (low, high), [replicate_error(groups)])
    q1, q3 = np.percentile(values, [25, 75])
    mean = values.mean()
    cv = float(values.std(ddof=1) / mean) if values.size > 1 and mean > 0 else np.nan
    return Spread(median, low, high, float(q3 - q1), cv)


@dataclass(frozen=True)
class LogError:
    """A mean of logs, its standard error and its degrees of freedom."""

    mean: float
    error: float
    freedom: int


def replicate_error(samples: Samples) -> LogError | None:
    """The mean of log(median) over the replicates, its standard error, with k − 1
    degrees of freedom (None with fewer than two replicates)."""
    medians = np.array([np.median(group) for group in as_replicates(samples)])
    logs = np.log(medians[medians > 0])
    if logs.size < 2:
        return None
    return LogError(float(logs.mean()), float(logs.std(ddof=1) / math.sqrt(logs.size)),
                    logs.size - 1)


def widened(centre: float, interval: tuple[float, float], errors: Sequence[LogError | None],
            confidence: float = CONFIDENCE) -> tuple[float, float]:
    """`interval` around `centre`, each side widened to Student's t half-width of the
    combined `errors` on log axes (Welch's degrees of freedom), where every one of them
    is known: the t interval of a ratio of medians whose replicates say how far jobs
    scatter (one error: of one median)."""
    low, high = interval
    if not errors or any(error is None for error in errors) or not centre > 0:
        return low, high
    from scipy.special import stdtrit  # scipy.stats is slow to import

    variance = sum(error.error**2 for error in errors)
    if variance == 0:
        return low, high
    freedom = variance**2 / sum(error.error**4 / error.freedom for error in errors
                                if error.error > 0)
    half = float(stdtrit(freedom, 1 - (1 - confidence) / 2)) * math.sqrt(variance)
    return (float(np.fmin(low, centre * math.exp(-half))),
            float(np.fmax(high, centre * math.exp(half))))


def replicate_interval(samples: Samples, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The `confidence` interval of the geometric mean of the replicates' medians, by
    Student's t with k − 1 degrees of freedom on their logs: the rerun's unit of
    evidence is the job, and over few of them a bootstrap's interval is too narrow
    (z·√((k−1)/k)/t as wide: a tenth at k = 2). (nan, nan) with fewer than two."""
    logs = replicate_error(samples)
    if logs is None:
        return math.nan, math.nan
    from scipy.special import stdtrit  # scipy.stats is slow to import

    half = float(stdtrit(logs.freedom, 1 - (1 - confidence) / 2)) * logs.error
    return math.exp(logs.mean - half), math.exp(logs.mean + half)


def compare(first: Any, second: Any, confidence: float = CONFIDENCE) -> int:
    """−1 where summary row `first` is told faster than `second`, +1 slower, 0 where the
    two cannot be told apart: Welch's t-test on the logs of their replicates' medians,
    two-sided at 1 − `confidence`, from what each row records of them (the centre and
    half-width of `replicate_ci_low`/`_high` on log axes, Student's t with k − 1 degrees
    of freedom, k = `replicates`). Where either ran once (no such interval), whether
    their bootstrap intervals (`ci_low`/`ci_high`) lie apart."""
    from scipy.special import stdtrit  # scipy.stats is slow to import

    summaries = []
    for row in (first, second):
        low, high = row.get("replicate_ci_low", math.nan), row.get("replicate_ci_high", math.nan)
        replicates = row.get("replicates", 0)
        if not (low > 0 and high > 0 and replicates >= 2):
            summaries = None
            break
        # replicate_interval's quantile (its default confidence) gives back the error.
        quantile = stdtrit(replicates - 1, 1 - (1 - CONFIDENCE) / 2)
        summaries.append((math.log(low * high) / 2, math.log(high / low) / 2 / quantile,
                          replicates - 1))
    if summaries is None:  # the bootstrap's intervals, apart or not
        if first["ci_high"] < second["ci_low"]:
            return -1
        return 1 if first["ci_low"] > second["ci_high"] else 0
    (centre, error, freedom), (other_centre, other_error, other_freedom) = summaries
    variance = error**2 + other_error**2
    if variance == 0:
        return int(np.sign(centre - other_centre))
    welch_freedom = variance**2 / (error**4 / freedom + other_error**4 / other_freedom)
    statistic = (centre - other_centre) / math.sqrt(variance)
    if abs(statistic) <= stdtrit(welch_freedom, 1 - (1 - confidence) / 2):
        return 0
    return int(np.sign(statistic))


def compared_by(replicates: Any) -> str:
    """How `compare` told the rows with these `replicates` counts apart, in words: the
    test it used, which the words must name (one replicate: no scatter between jobs)."""
    counts = [count for count in replicates if count == count and count > 0]
    if counts and min(counts) >= 2:
        return "Welch's t-test over replicates at 5 %"
    if counts and max(counts) < 2:
        return ("their 95 % intervals lying apart (one replicate each: within-job noise "
                "only, too narrow for a rerun)")
    return ("Welch's t-test over replicates at 5 %, or, where a series ran once, their "
            "95 % intervals lying apart (within-job noise only)")
