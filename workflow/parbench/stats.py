"""Bootstrap statistics: confidence intervals of medians and of their ratios.

Percentile bootstrap with a fixed seed, so the same rows always give the same
interval. Ratios (speedup) resample each side independently and take the
ratio of the resampled medians, so their interval carries both sides' noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2_000
CONFIDENCE = 0.95
SEED = 20_211_126


def bootstrap_medians(samples: Sequence[float], resamples: int = RESAMPLES,
                      seed: int = SEED) -> np.ndarray:
    """Medians of `resamples` resamples (with replacement) of `samples`."""
    values = np.asarray(samples, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.full(resamples, np.nan)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, values.size, size=(resamples, values.size))
    return np.median(values[picks], axis=1)


def percentile_interval(distribution: np.ndarray,
                        confidence: float = CONFIDENCE) -> tuple[float, float]:
    finite = distribution[np.isfinite(distribution)]
    if finite.size == 0:
        return (np.nan, np.nan)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def median_interval(samples: Sequence[float], confidence: float = CONFIDENCE,
                    seed: int = SEED) -> tuple[float, float]:
    """The bootstrap confidence interval of the median of `samples`."""
    return percentile_interval(bootstrap_medians(samples, seed=seed), confidence)


def ratio_interval(numerator_samples: Sequence[float], denominator_samples: Sequence[float],
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
    cv: float  # coefficient of variation: std / mean

    @property
    def relative_half_width(self) -> float:
        """Half the CI's width relative to the median: 0.05 means ±5 % (nan: no samples)."""
        if np.isnan(self.median):
            return np.nan
        return (self.ci_high - self.ci_low) / 2 / self.median if self.median > 0 else np.inf


def spread(samples: Sequence[float]) -> Spread:
    values = np.asarray(samples, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Spread(np.nan, np.nan, np.nan, np.nan, np.nan)
    low, high = median_interval(values)
    q1, q3 = np.percentile(values, [25, 75])
    mean = values.mean()
    cv = float(values.std(ddof=1) / mean) if values.size > 1 and mean > 0 else np.nan
    return Spread(float(np.median(values)), low, high, float(q3 - q1), cv)
