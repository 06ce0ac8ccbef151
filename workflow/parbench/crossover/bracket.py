"""A crossover between two measured sizes, and which estimate a curve's headline is.

A straight line cannot follow a curve that bends or steps at the crossing: where the
naive Pool's cost per byte jumps (the pickled array outgrowing some buffer) right above
it, the fitted line puts the crossing too high with an interval far too narrow
(benchmarks.refinement_design: 7 % coverage on such a step). What holds whatever the
curves' shape, as long as the challenger gains on the baseline as the size grows, is
the sign of their paired log ratio y = log(baseline / challenger) at each measured size:

  the bracket  the largest size A where y is below zero and the smallest size B above A
               where it is above zero, each told from noise by a one-sided t-test at
               (1 − confidence) / m for a curve of m sizes (the variance between
               replicates pooled over every size of the curve: noise on log axes is
               alike at every size). A bracket misses only where some size is told
               the wrong sign, a size below the crossing positive or one above it
               negative: at most m tests' errors, (1 − confidence) together
               (Bonferroni), so over repeated runs a bracket that misses the crossing
               comes out at most 1 − `confidence` of the time, whatever the curves do
               between the sizes (of the brackets given where the curves barely part,
               more may miss). Its estimate is where the size means of y cross zero in
               [A, B], on log axes.

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


def told_signs(challenger: JobValues, baseline: JobValues, confidence: float = 0.95
               ) -> tuple[dict[float, float], dict[float, int]] | None:
    """Per size, the mean paired log ratio y = log(baseline / challenger) and its sign
    where the one-sided t-test of the module tells it from noise (+1: the challenger
    faster, −1: slower, 0: not told); None where no size has two replicates to pair,
    so there is no scatter between them to test against."""
    ratios = paired_log_ratios(challenger, baseline)
    freedom = sum(len(values) - 1 for values in ratios.values())
    if not ratios or freedom < 1:
        return None
    scatter = sum(float(((values - values.mean()) ** 2).sum()) for values in ratios.values())
    spread = math.sqrt(scatter / freedom)
    from scipy.special import stdtrit  # as in fitted: scipy.stats is slow to import

    # Bonferroni over the curve's sizes (see the module): refinement piles sizes up
    # near the crossing, where each test errs nearly at its level.
    critical = float(stdtrit(freedom, 1 - (1 - confidence) / len(ratios)))
    means = {size: float(values.mean()) for size, values in ratios.items()}
    if spread == 0:
        told = {size: int(np.sign(mean)) for size, mean in means.items()}
    else:
        told = {size: int(np.sign(mean)) * bool(
                    abs(mean) / (spread / math.sqrt(len(ratios[size]))) > critical)
                for size, mean in means.items()}
    return means, told


def paired_tests(challenger: JobValues, baseline: JobValues, confidence: float = 0.95
                 ) -> PairedTests | None:
    """`told_signs` as PairedTests: apart, both signs tested at once (each at half the
    level: where the two series are alike at every size, some size comes out told
    apart at most 1 − `confidence` of the time), and ahead, one-sided as the bracket's
    tests; None where no replicates pair."""
    either_way = told_signs(challenger, baseline, 1 - (1 - confidence) / 2)
    one_way = told_signs(challenger, baseline, confidence)
    if either_way is None or one_way is None:
        return None
    return PairedTests(apart={size: sign != 0 for size, sign in either_way[1].items()},
                       ahead={size: sign > 0 for size, sign in one_way[1].items()})


def sign_bracket(challenger: JobValues, baseline: JobValues,
                 confidence: float = 0.95) -> SignBracket:
    """The bracket of two series' per-job values on one curve (see the module)."""
    tested = told_signs(challenger, baseline, confidence)
    if tested is None:
        return SignBracket(TOO_FEW_SIZES)
    means, told = tested
    # The last crossing: above the largest size where the challenger is told slower,
    # it never is again. (The first would leave sizes above it where it still loses:
    # Ray's small arguments travel inline, so a curve can cross, and cross back.)
    low = max((size for size in means if told[size] < 0), default=-math.inf)
    high = min((size for size in means if size > low and told[size] > 0), default=math.inf)
    if low == -math.inf or high == math.inf:
        return SignBracket(NO_SIGN_CHANGE if len(means) > 1 else TOO_FEW_SIZES)
    between = [size for size in means if low <= size <= high]
    for left, right in zip(between, between[1:]):
        if means[left] < 0 <= means[right]:  # the first crossing of the means, log-linear
            share = -means[left] / (means[right] - means[left])
            size = math.exp(math.log(left) + share * math.log(right / left))
            return SignBracket(FOUND, size, low, high)
    return SignBracket(FOUND, math.sqrt(low * high), low, high)


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
    headline with its status (poor fit, unbounded, ...) rather than a number."""
    if fit_holds(fitted, bracket):
        return FIT
    if bracket.status == FOUND:
        return BRACKET
    return FIT if fitted.tried else INTERPOLATED


def inside(low: float, high: float, parts: int = 4) -> list[float]:
    """Sizes that cut [low, high] into `parts` equal steps on log axes (the ends left
    out: they are measured)."""
    return [low * (high / low) ** (step / parts) for step in range(1, parts)]


