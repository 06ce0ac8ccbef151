"""Per-size variances of the paired log ratios, moderated towards the sweep's own.

The bracket and the paired verdicts test each size's mean paired log ratio against the
scatter between its replicates. One size's own scatter rests on a degree of freedom or
two (replicates − 1); the scatter pooled over every size of a curve (as before) lets a
noisy size near the crossing lend its noise to quiet sizes (a clear lead there then goes
untold) and borrow theirs (its own sign then told wrongly: 16 % of the time against 1 %
asked, in a simulation with one size 25 times noisier).

Between the two stands empirical Bayes (Smyth 2004, the `limma` package's moderated t):
the sizes' variances s_i² (d_i degrees of freedom) of every curve a compared pair ran
in a workload (its kernels, task and worker counts), per time basis, are taken as
drawn from a scaled inverse chi-square prior with d₀ degrees of freedom and scale s₀²,
which their spread estimates (`variance_prior`);
each size is then tested against

  s̃_i² = (d₀·s₀² + d_i·s_i²) / (d₀ + d_i),  with d₀ + d_i degrees of freedom

(at most the degrees of freedom of every variance the prior was estimated from). Where
the sizes' variances scatter no more than chi-square noise around one value, d₀ is
infinite and each curve keeps its pooled variance, as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

# Fewer sizes with a variance than this tell nothing of how variances spread.
MIN_VARIANCES = 3


@dataclass(frozen=True)
class VariancePrior:
    """The prior of the sizes' variances: `freedom` (d₀; inf: the variances are alike,
    pool each curve's) and `variance` (s₀²), estimated from variances with
    `total_freedom` degrees of freedom in all."""

    freedom: float = math.inf
    variance: float = math.nan
    total_freedom: float = 0.0

    @property
    def moderates(self) -> bool:
        return math.isfinite(self.freedom) and self.freedom > 0

    def moderated(self, variance: float, freedom: float) -> tuple[float, float]:
        """One size's variance (`freedom` degrees of freedom) moderated, with the
        degrees of freedom its test has."""
        moderated = ((self.freedom * self.variance + freedom * variance)
                     / (self.freedom + freedom))
        return moderated, min(self.freedom + freedom, self.total_freedom)


def scatter_of(values: np.ndarray) -> float:
    """The sum of squares about the mean; exactly 0 where the values agree to the bit
    (their mean, rounded, would leave some 1e-35 of it, and a t statistic of 1e16)."""
    return float(((values - values.mean()) ** 2).sum()) if np.ptp(values) > 0 else 0.0


def size_variance(values: np.ndarray) -> float:
    """One size's variance between its replicates (0: they agree to the bit, or one
    ran)."""
    return scatter_of(values) / (len(values) - 1) if len(values) > 1 else 0.0


def variance_prior(ratios_of_curves: Iterable[dict[float, np.ndarray]]) -> VariancePrior:
    """The prior of the variances between replicates at every size of the curves
    (`ratios_of_curves`: per curve, {size: paired log ratios}), by Smyth's moments of
    log variances; no moderation (infinite d₀) where too few sizes have a variance."""
    from scipy.special import digamma, polygamma

    variances, freedoms = [], []
    for ratios in ratios_of_curves:
        for values in ratios.values():
            if len(values) > 1:
                # Replicates that agree to the bit (a coarse timer) say nothing of how
                # noise spreads: exactly 0, left out below (a rounding residue of 1e-35
                # would have pulled the prior's scale to nothing).
                variances.append(size_variance(values))
                freedoms.append(len(values) - 1)
    variance, freedom = np.array(variances), np.array(freedoms, dtype=float)
    # A variance of exactly zero (replicates that agree to the bit) has no logarithm.
    usable = variance > 0
    variance, freedom = variance[usable], freedom[usable]
    total = float(freedom.sum())
    if len(variance) < MIN_VARIANCES:
        return VariancePrior(total_freedom=total)
    # log s² less its expectation's offset under chi-square noise: their mean is log
    # s₀² (plus the prior's own offset), their excess spread over chi-square noise the
    # prior's.
    logs = np.log(variance) - digamma(freedom / 2) + np.log(freedom / 2)
    mean = float(logs.mean())
    excess = float(((logs - mean) ** 2).sum() / (len(logs) - 1)
                   - polygamma(1, freedom / 2).mean())
    if excess <= 0:
        return VariancePrior(total_freedom=total)
    prior_freedom = 2 * _trigamma_inverse(excess)
    return VariancePrior(prior_freedom,
                         math.exp(mean + digamma(prior_freedom / 2)
                                  - math.log(prior_freedom / 2)), total)


def _trigamma_inverse(value: float) -> float:
    """The y > 0 with trigamma(y) = `value`, by Smyth's Newton iteration (limma's
    trigammaInverse): trigamma is convex and falls from inf to 0."""
    from scipy.special import polygamma

    if value > 1e7:
        return 1 / math.sqrt(value)
    if value < 1e-6:
        return 1 / value
    y = 0.5 + 1 / value
    for _ in range(50):
        trigamma = float(polygamma(1, y))
        step = trigamma * (1 - trigamma / value) / float(polygamma(2, y))
        y += step
        if -step / y < 1e-8:
            break
    return y
