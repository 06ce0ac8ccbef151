"""A crossover between two measured sizes, and which estimate a curve's headline is.

A straight line cannot follow a curve that bends or steps at the crossing: where the
naive Pool's cost per byte jumps (the pickled array outgrowing some buffer) right above
it, the fitted line puts the crossing too high with an interval far too narrow
(benchmarks.refinement_design: 7 % coverage on such a step). What holds whatever the
curves' shape, as long as the challenger gains on the baseline as the size grows, is
the sign of their paired log ratio y = log(baseline / challenger) at each measured size:

  the bracket  the largest size A where y is below zero and the smallest size B above A
               where it is above zero, each told from noise by a one-sided t-test at
               (1 − confidence) / m for a curve of m sizes, against each size's
               variance between replicates moderated towards the pair's in the
               workload (parbench.crossover.variances: pooled over the curve's sizes where
               the sizes' variances are alike). A bracket misses only where some size is told
               the wrong sign, a size below the crossing positive or one above it
               negative: at most m tests' errors, (1 − confidence) together
               (Bonferroni), so over repeated runs a bracket that misses the crossing
               comes out at most 1 − `confidence` of the time, whatever the curves do
               between the sizes (of the brackets given where the curves barely part,
               more may miss). Its estimate is where the size means of y cross
               zero the last time in [A, B], on log axes, as the bracket's ends are
               the last crossing's.

The headline (`choose`) is the fit where it holds (found, its lines not told from a
straight line by a lack-of-fit test, its estimate inside the bracket), else the
bracket, else what the fit said. Refinement then measures inside the bracket (`inside`:
its thirds on log axes, parbench.refine.planner.where_to_measure) instead of around an
estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from parbench.crossover.fitted import FittedCrossover, JobValues, paired_log_ratios
from parbench.crossover.interpolated import (
    FOUND,
    TOO_FEW_SIZES,
    PairedTests,
    relative_half_width,
)
from parbench.crossover.variances import VariancePrior, scatter_of, size_variance

# Below this p-value of the fit's lack-of-fit test (FittedCrossover.lack_of_fit_p) its
# line is not to be believed. Lenient on purpose: a missed bend costs coverage, a false
# alarm only width (the bracket is honest but wider).
LACK_OF_FIT_ALPHA = 0.2
NO_SIGN_CHANGE = "no sign change told from noise"
FIT, BRACKET, INTERPOLATED = "fit", "bracket", "interpolated"
# A bracket wider than this factor is worth measuring inside (planner).
NARROW_ENOUGH = 1.3


@dataclass(frozen=True)
class SignBracket:
    status: str
    size: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan

    @property
    def relative_half_width(self) -> float:
        return relative_half_width(self.ci_low, self.ci_high, self.size)


@dataclass(frozen=True)
class PairedT:
    """The paired log ratios y = log(baseline / challenger) of one curve, tested once:
    per size, their mean, its t statistic against the size's variance between
    replicates (moderated, or pooled over the curve's sizes: parbench.crossover.
    variances), and that variance's degrees of freedom. Pooled, a curve whose
    replicates agree to the bit everywhere tells nothing: no noise to tell a difference
    from (moderated, such a size is tested against the prior)."""

    means: dict[float, float]
    statistics: dict[float, float]
    freedoms: dict[float, float]

    def told(self, confidence: float) -> dict[float, int]:
        """Per size, the sign the one-sided t-test of the module tells at
        `confidence` (+1: the challenger faster, −1: slower, 0: not told)."""
        from scipy.special import stdtrit  # as in fitted: scipy.stats is slow to import

        # Bonferroni over the curve's sizes (see the module): refinement piles sizes
        # up near the crossing, where each test errs nearly at its level.
        level = 1 - (1 - confidence) / len(self.means)
        return {size: int(np.sign(mean)) * bool(
                    abs(self.statistics[size]) > float(stdtrit(self.freedoms[size], level)))
                for size, mean in self.means.items()}


def paired_t(challenger: JobValues, baseline: JobValues,
             prior: VariancePrior = VariancePrior()) -> PairedT | None:
    """Two series' per-job values on one curve as PairedT (`paired_t_of`)."""
    return paired_t_of(paired_log_ratios(challenger, baseline), prior)


def paired_t_of(ratios: dict[float, np.ndarray],
                prior: VariancePrior = VariancePrior()) -> PairedT | None:
    """One curve's paired log ratios ({size: one per replicate}) as PairedT, each
    size's variance moderated by `prior` (the default: pooled over the curve's sizes);
    None where no size has two replicates to pair, so there is no scatter between them
    to test against."""
    freedom = sum(len(values) - 1 for values in ratios.values())
    if not ratios or freedom < 1:
        return None
    means = {size: float(values.mean()) for size, values in ratios.items()}
    if prior.moderates:
        # A size whose replicates agree to the bit (or that ran once) has no variance
        # of its own: the prior's, with its degrees of freedom.
        own = {size: size_variance(values) for size, values in ratios.items()}
        variances = {size: prior.moderated(own[size], len(values) - 1) if own[size] > 0
                     else prior.moderated(0.0, 0) for size, values in ratios.items()}
    else:
        pooled = sum(scatter_of(values) for values in ratios.values()) / freedom
        variances = {size: (pooled, freedom) for size in ratios}
    statistics = {size: (mean / math.sqrt(variances[size][0] / len(ratios[size]))
                         if variances[size][0] > 0 else 0.0)
                  for size, mean in means.items()}
    return PairedT(means, statistics, {size: variances[size][1] for size in ratios})


def paired_tests(challenger: JobValues, baseline: JobValues, confidence: float = 0.95
                 ) -> PairedTests | None:
    """PairedT's verdicts as PairedTests (`tests_of`); None where no replicates pair."""
    return tests_of(paired_t(challenger, baseline), confidence)


def tests_of(tested: PairedT | None, confidence: float = 0.95) -> PairedTests | None:
    """A curve's PairedT as PairedTests: apart, both signs tested at once (each at half
    the level: where the two series are alike at every size, some size comes out told
    apart at most 1 − `confidence` of the time), and ahead, one-sided as the bracket's
    tests, and behind, the same the other way; None where no replicates pair (`tested`
    None)."""
    if tested is None:
        return None
    either_way, one_way = tested.told(1 - (1 - confidence) / 2), tested.told(confidence)
    return PairedTests(apart={size: sign != 0 for size, sign in either_way.items()},
                       ahead={size: sign > 0 for size, sign in one_way.items()},
                       behind={size: sign < 0 for size, sign in one_way.items()})


def sign_bracket(challenger: JobValues, baseline: JobValues,
                 confidence: float = 0.95) -> SignBracket:
    """The bracket of two series' per-job values on one curve (see the module)."""
    return bracket_of(paired_t(challenger, baseline), confidence)


def bracket_of(tested: PairedT | None, confidence: float = 0.95) -> SignBracket:
    """The bracket of a curve's PairedT (`sign_bracket`; None: no replicates pair)."""
    if tested is None:
        return SignBracket(TOO_FEW_SIZES)
    means, told = tested.means, tested.told(confidence)
    # The last crossing: above the largest size where the challenger is told slower,
    # it never is again. (The first would leave sizes above it where it still loses:
    # Ray's small arguments travel inline, so a curve can cross, and cross back.)
    low = max((size for size in means if told[size] < 0), default=-math.inf)
    high = min((size for size in means if size > low and told[size] > 0), default=math.inf)
    if low == -math.inf or high == math.inf:
        return SignBracket(NO_SIGN_CHANGE if len(means) > 1 else TOO_FEW_SIZES)
    between = [size for size in sorted(means) if low <= size <= high]
    # The last crossing of the means, as the bracket's ends (log-linear between sizes).
    for left, right in reversed(list(zip(between, between[1:]))):
        if means[left] < 0 <= means[right]:
            share = -means[left] / (means[right] - means[left])
            return SignBracket(FOUND, between_sizes(left, right, share), low, high)
    return SignBracket(FOUND, between_sizes(low, high, 0.5), low, high)


def between_sizes(low: float, high: float, share: float) -> float:
    """The size `share` of the way from `low` to `high`: on log axes, as the sizes are
    spaced, but linearly from a size of 0 (imbalanced's equal tasks), which has no log."""
    if low <= 0:
        return low + share * (high - low)
    return math.exp(math.log(low) + share * math.log(high / low))


def fit_holds(fitted: FittedCrossover, bracket: SignBracket) -> bool:
    """Whether the fit is to be believed: found, its lines not told from straight ones,
    and its estimate inside the bracket where there is one."""
    if fitted.status != FOUND:
        return False
    if math.isfinite(fitted.lack_of_fit_p) and fitted.lack_of_fit_p < LACK_OF_FIT_ALPHA:
        return False
    return bracket.status != FOUND or bracket.ci_low <= fitted.size <= bracket.ci_high


def choose(fitted: FittedCrossover, bracket: SignBracket) -> str:
    """Which estimate is a curve's headline: FIT, BRACKET or INTERPOLATED (see the
    module); a fit that was tried and does not hold, with no bracket either, stays the
    headline with its status (poor fit, unbounded, ...) rather than a number: one found
    whose lines the lack-of-fit test told from straight ones is a poor fit there
    (parbench.aggregate.crossovers.headline)."""
    if fit_holds(fitted, bracket):
        return FIT
    if bracket.status == FOUND:
        return BRACKET
    return FIT if fitted.tried else INTERPOLATED


def inside(low: float, high: float, parts: int = 4) -> list[float]:
    """Sizes that cut [low, high] into `parts` equal steps on log axes (linear ones from
    a size of 0), the ends left out: they are measured."""
    return [between_sizes(low, high, step / parts) for step in range(1, parts)]


