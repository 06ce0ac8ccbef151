"""A crossover from straight lines fitted near the crossing, on log-log axes, with an
interval that is honest for the replicates it rests on.

Near where they cross, each series' time is close to a power of the size (a straight
line on log-log axes, as the interpolated estimate assumes between two grid points):
the naive Pool pickles the shared input into every chunk and grows with it, Ray puts it
once and reads it zero-copy, nearly flat. The log of their ratio is then a straight
line in log(size), zero at the crossover. Far from the crossing the curves bend (Pool
is flat up to a few hundred kB, Ray passes arguments under 100 KiB inline), so only
the sizes within `WINDOW` of the interpolated estimate are fitted, and each series' own
straight line is checked against its medians: while a residual is above
`max_residual` (the curve's `ci_target`), an end size is dropped (the one whose
removal straightens the lines most), down to three; a line that still misses is a
poor fit, said in the status instead of a number.

The unit of evidence is the replicate. The jobs of a compared pair at one size and
replicate run next to each other (parbench.sweep.run_order), so the machine's drift,
a factor on both, cancels in their ratio y_r(n) = log(baseline / challenger). Each
replicate r gives a line y_r = a_r + b_r·x, x = log(n / estimate), through its sizes;
the crossover is x* = −ā/b̄ of the mean line, and its interval is Fieller's for that
ratio with the covariance of (ā, b̄) taken between replicates and Student's t with
k − 1 degrees of freedom: the x with (ā + b̄·x)² ≤ t²·(V_aa + 2x·V_ab + x²·V_bb). It is
bounded only when the slope is clearly positive (b̄² > t²·V_bb); otherwise the status
says `unbounded interval` and no interval is given. A bounded interval that reaches
past the sizes fitted rests there on lines nothing checked: `interval beyond the
fitted sizes`, no interval given either. Two replicates (t = 12.7) rarely
bound it: refinement measures more (config `refine`).

Residuals below `max_residual` do not prove the lines straight: `lack_of_fit_p` tests
the size means of the paired log ratios against their line, with the scatter between
replicates as the yardstick; parbench.crossover.bracket decides with it whether the fit
is the headline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from parbench.crossover.interpolated import (
    FOUND,
    TOO_FEW_SIZES,
    relative_half_width,
)

# Sizes within this factor of the interpolated estimate are fitted; with fewer than
# MIN_SIZES that close, no fit is tried (a line through two points cannot be checked).
WINDOW = 2.5
MIN_SIZES = 3
POOR_FIT = "poor fit"
UNBOUNDED = "unbounded interval"
TOO_FEW_REPLICATES = "too few replicates"
OUTSIDE = "outside the fitted sizes"
REACHES_PAST = "interval beyond the fitted sizes"
FITTED_STATUSES = (FOUND, UNBOUNDED, POOR_FIT, TOO_FEW_SIZES, TOO_FEW_REPLICATES, OUTSIDE,
                   REACHES_PAST)

# One series' per-job values on one curve: {size: {replicate: seconds}}.
JobValues = Mapping[float, Mapping[int, float]]


@dataclass(frozen=True)
class FittedCrossover:
    status: str
    size: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    replicates: int = 0  # replicates whose paired line the interval rests on
    sizes: int = 0  # sizes fitted
    size_low: float = math.nan  # the smallest and largest of them
    size_high: float = math.nan
    residual_challenger: float = math.nan  # relative RMS residual of each straight line
    residual_baseline: float = math.nan
    lack_of_fit_p: float = math.nan  # lack_of_fit_p at the fitted sizes

    @property
    def relative_half_width(self) -> float:
        return relative_half_width(self.ci_low, self.ci_high, self.size)

    @property
    def tried(self) -> bool:
        """Whether there were sizes and replicates enough to try a fit at all."""
        return self.status not in (TOO_FEW_SIZES, TOO_FEW_REPLICATES)


def window_sizes(sizes: Sequence[float], around: float,
                 window: float = WINDOW) -> list[float]:
    """The sizes within `window` of `around` (as factors)."""
    return sorted(size for size in sizes
                  if size > 0 and max(size / around, around / size) <= window)


def relative_residual(sizes: Sequence[float], seconds: Sequence[float]) -> float:
    """The residual standard error of a straight line through (log size, log seconds):
    relative, as log differences are; nan with fewer than three points (a line fits two
    exactly)."""
    sizes, seconds = np.asarray(sizes, float), np.asarray(seconds, float)
    if len(sizes) < 3 or not np.all(seconds > 0):
        return math.nan
    x, y = np.log(sizes), np.log(seconds)
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (intercept + slope * x)
    return float(math.sqrt(np.sum(residuals**2) / (len(sizes) - 2)))


def fieller_interval(intercept: float, slope: float, covariance: np.ndarray,
                     t: float) -> tuple[float, float]:
    """The set of n with (a + b·n)² ≤ t²·(V_aa + 2n·V_ab + n²·V_bb), for the root of
    a + b·n: (nan, nan) where it is not a bounded interval."""
    v_aa, v_ab, v_bb = covariance[0, 0], covariance[0, 1], covariance[1, 1]
    a_coef = slope**2 - t**2 * v_bb
    b_coef = intercept * slope - t**2 * v_ab
    c_coef = intercept**2 - t**2 * v_aa
    if a_coef <= 0:
        return (math.nan, math.nan)
    discriminant = b_coef**2 - a_coef * c_coef
    if discriminant < 0:  # cannot happen when a_coef > 0 and the point lies inside
        return (math.nan, math.nan)
    root = math.sqrt(discriminant)
    return ((-b_coef - root) / a_coef, (-b_coef + root) / a_coef)


def fit_crossover(challenger: JobValues, baseline: JobValues, around: float,
                  max_residual: float, confidence: float = 0.95,
                  window: float = WINDOW) -> FittedCrossover:
    """The crossover of two series' per-job values on one curve (see the module),
    fitted on the sizes near `around` (the interpolated estimate)."""
    common = sorted(set(challenger) & set(baseline))
    if not common or not (math.isfinite(around) and around > 0):
        return FittedCrossover(TOO_FEW_SIZES)
    chosen = window_sizes(common, around, window)
    if len(chosen) < MIN_SIZES:
        return FittedCrossover(TOO_FEW_SIZES, sizes=len(chosen))
    residuals = _residuals(challenger, baseline, chosen)
    # Where a curve bends inside the window (Pool's cost per byte jumps at some size),
    # the straight line holds on the rest: drop the end size (smallest or largest)
    # whose removal straightens the lines most, while one is left to check them with.
    while max(residuals.values()) > max_residual and len(chosen) > MIN_SIZES:
        trimmed = min((chosen[1:], chosen[:-1]), key=lambda sizes: max(
            _residuals(challenger, baseline, sizes).values()))
        chosen, residuals = trimmed, _residuals(challenger, baseline, trimmed)
    extent = {"sizes": len(chosen), "size_low": chosen[0], "size_high": chosen[-1],
              "lack_of_fit_p": lack_of_fit_p(challenger, baseline, chosen)}
    lines = _replicate_lines(challenger, baseline, chosen, around)
    if len(lines) < 2:
        return FittedCrossover(TOO_FEW_REPLICATES, replicates=len(lines), **extent,
                               **residuals)
    if max(residuals.values()) > max_residual:
        return FittedCrossover(POOR_FIT, replicates=len(lines), **extent, **residuals)
    intercept, slope = lines.mean(axis=0)
    covariance = np.cov(lines, rowvar=False, ddof=1) / len(lines)
    # Student's t quantile from scipy.special (what scipy.stats.t.ppf computes, the
    # same bits): scipy.stats takes about a second to import, in every process that
    # aggregates; and here, not at the top, as the workflow imports this when it parses.
    from scipy.special import stdtrit

    t = float(stdtrit(len(lines) - 1, 0.5 + confidence / 2))
    found = {"replicates": len(lines), **extent, **residuals}
    if slope <= 0:
        # The fit is tried only where the medians cross; lines that do not gain there
        # cannot place that crossing (its interval would be unbounded), nor deny it.
        return FittedCrossover(UNBOUNDED, **found)
    size = _scaled(around, -intercept / slope)
    low, high = (_scaled(around, bound)
                 for bound in fieller_interval(intercept, slope, covariance, t))
    size = size if math.isfinite(size) else math.nan
    # A bound beyond the largest float is no bound: a slope barely told from zero.
    if not (math.isfinite(low) and math.isfinite(high)):
        return FittedCrossover(UNBOUNDED, size, **found)
    if not chosen[0] <= size <= chosen[-1]:
        return FittedCrossover(OUTSIDE, size, low, high, **found)
    # A bound beyond the sizes fitted rests on lines nothing checked there.
    if not chosen[0] <= low <= high <= chosen[-1]:
        return FittedCrossover(REACHES_PAST, size, **found)
    return FittedCrossover(FOUND, size, low, high, **found)


def paired_log_ratios(challenger: JobValues, baseline: JobValues,
                      sizes: Iterable[float] | None = None) -> dict[float, np.ndarray]:
    """{size: log(baseline / challenger) of each replicate measured on both sides}, at
    every size both measured, or at those of `sizes`."""
    found = {}
    common = set(challenger) & set(baseline)
    for size in sorted(common if sizes is None else common & set(sizes)):
        values = [math.log(baseline[size][replicate] / challenger[size][replicate])
                  for replicate in sorted(set(challenger[size]) & set(baseline[size]))
                  if baseline[size][replicate] > 0 and challenger[size][replicate] > 0]
        if values:
            found[size] = np.array(values)
    return found


def lack_of_fit_p(challenger: JobValues, baseline: JobValues, sizes: Iterable[float]) -> float:
    """The p-value of an F test of lack of fit: the size means of the paired log ratios
    at `sizes` against their least-squares line in log(size), with the scatter between
    replicates at each size as pure error; nan where either has no degree of freedom."""
    ratios = paired_log_ratios(challenger, baseline, sizes)
    counts = np.array([len(values) for values in ratios.values()])
    lack_freedom, pure_freedom = len(ratios) - 2, int(counts.sum()) - len(ratios)
    if lack_freedom < 1 or pure_freedom < 1:
        return math.nan
    x = np.concatenate([np.full(len(values), math.log(size)) for size, values in ratios.items()])
    y = np.concatenate(list(ratios.values()))
    slope, intercept = np.polyfit(x, y, 1)
    means = np.array([values.mean() for values in ratios.values()])
    line = intercept + slope * np.log(np.array(list(ratios)))
    lack = float(np.sum(counts * (means - line) ** 2)) / lack_freedom
    pure = sum(float(((values - values.mean()) ** 2).sum())
               for values in ratios.values()) / pure_freedom
    if pure <= 0:
        return 0.0 if lack > 0 else 1.0
    from scipy.special import fdtrc

    return float(fdtrc(lack_freedom, pure_freedom, lack / pure))


def _scaled(around: float, log_factor: float) -> float:
    """around · e^log_factor: inf beyond the largest float, nan for nan."""
    try:
        return around * math.exp(log_factor)
    except OverflowError:
        return math.inf


def _residuals(challenger: JobValues, baseline: JobValues,
               sizes: Sequence[float]) -> dict[str, float]:
    """Each series' straight-line residual through its medians over the replicates."""
    return {f"residual_{name}": relative_residual(
                sizes, [float(np.median(list(side[size].values()))) for size in sizes])
            for name, side in (("challenger", challenger), ("baseline", baseline))}


def _replicate_lines(challenger: JobValues, baseline: JobValues, sizes: Sequence[float],
                     around: float) -> np.ndarray:
    """(intercept, slope) of each replicate's straight line through its paired log
    ratios log(baseline / challenger) against log(size / around); replicates with fewer
    than two such sizes are left out."""
    replicates = sorted({replicate for size in sizes
                         for replicate in set(challenger[size]) & set(baseline[size])})
    lines = []
    for replicate in replicates:
        points = [(math.log(size / around),
                   _log_ratio(baseline[size][replicate], challenger[size][replicate]))
                  for size in sizes
                  if replicate in challenger[size] and replicate in baseline[size]]
        points = [(x, y) for x, y in points if math.isfinite(y)]
        if len({x for x, _ in points}) < 2:
            continue
        x, y = np.array(points).T
        dx = x - x.mean()
        slope = float(dx @ (y - y.mean()) / (dx @ dx))  # least squares, in closed form
        lines.append((y.mean() - slope * x.mean(), slope))
    return np.array(lines).reshape(-1, 2)


def _log_ratio(baseline: float, challenger: float) -> float:
    return math.log(baseline / challenger) if baseline > 0 and challenger > 0 else math.nan
