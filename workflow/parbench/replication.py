"""How many replicates (jobs) of how many samples a combination needs: the variance
between and within replicates (a one-way random-effects ANOVA on log time) and the
cheapest design reaching a CI target (Kalibera & Jones, "Rigorous benchmarking in
reasonable time", 2013), sized by Student's t over replicates as the intervals of
parbench.stats are."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from parbench.stats import CONFIDENCE, Z_95, Samples, as_replicates


@dataclass(frozen=True)
class VarianceComponents:
    """Variances of log(time) (so relative: 0.05² is a 5 % spread), from a one-way
    random-effects ANOVA: between replicates (jobs) and within them (repeats)."""

    between: float
    within: float
    # The typical samples per replicate the components rest on (nan: unknown).
    repeats: float = math.nan

    @property
    def for_design(self) -> float:
        """`between` as a design may rest on it: at least within / n, the variance of a
        replicate's mean its own samples leave. Over few replicates a smaller between is
        not told from it, and the ANOVA cuts one to zero, which is no measurement of
        none: on it, a design asked for 100 samples a job. Continuous in `between`."""
        if not (self.repeats > 0 and self.within >= 0):
            return self.between
        return max(self.between, self.within / self.repeats)

    @property
    def between_cv(self) -> float:
        return math.sqrt(self.between) if self.between >= 0 else math.nan

    @property
    def within_cv(self) -> float:
        return math.sqrt(self.within) if self.within >= 0 else math.nan


def variance_components(samples: Samples) -> VarianceComponents:
    """Between- and within-replicate variance of log(time); nan where the data
    cannot tell (one replicate: no between; one repeat each: no within)."""
    groups = [np.log(group[group > 0]) for group in as_replicates(samples)]
    groups = [group for group in groups if group.size]
    counts = np.array([group.size for group in groups])
    total = counts.sum() if groups else 0
    within = (sum(((group - group.mean()) ** 2).sum() for group in groups) / (total - len(groups))
              if total > len(groups) else math.nan)
    if len(groups) < 2:
        return VarianceComponents(math.nan, within)
    grand = np.concatenate(groups).mean()
    between_mean_square = sum(count * (group.mean() - grand) ** 2
                              for count, group in zip(counts, groups)) / (len(groups) - 1)
    # The effective repeats per replicate when replicates differ in repeats.
    typical_count = (total - (counts**2).sum() / total) / (len(groups) - 1)
    within_for_between = 0.0 if math.isnan(within) else within
    between = max(0.0, (between_mean_square - within_for_between) / typical_count)
    return VarianceComponents(float(between), float(within), float(typical_count))


@dataclass(frozen=True)
class Design:
    """How many replicates (jobs) of how many repeats reach a CI target at least cost."""

    repeats: int
    replicates: int
    seconds: float  # the measuring time this costs per combination


def allowed_log_variance(ci_target: float) -> float:
    """The variance of a mean of log(time) whose 95 % half-width is ±ci_target."""
    return (math.log1p(ci_target) / Z_95) ** 2


# More replicates than this are not recommended: a combination that needs them is
# noisy for a reason to look at.
MOST_REPLICATES = 1000


def half_width(between: float, within: float, repeats: float, replicates: int,
               confidence: float = CONFIDENCE) -> float:
    """The 95 % half-width, on log axes, of the mean log(time) of `replicates` replicates
    of `repeats` samples each: its variance is between/R + within/(R n) (Kalibera &
    Jones), its quantile Student's t with R − 1 degrees of freedom, as the interval over
    replicates is (inf with fewer than two)."""
    if replicates < 2:
        return math.inf
    from scipy.special import stdtrit  # scipy.stats is slow to import

    return float(stdtrit(replicates - 1, 1 - (1 - confidence) / 2)) * math.sqrt(
        (between + within / repeats) / replicates)


def replicates_needed(between: float, within: float, repeats: float,
                      ci_target: float) -> int | None:
    """The fewest replicates (two at least) of `repeats` samples each whose mean of
    log(time) has a 95 % half-width (`half_width`) within ±ci_target; None where none
    up to MOST_REPLICATES does, or the inputs are unknown."""
    if not all(math.isfinite(value) for value in (between, within, repeats, ci_target)) \
            or repeats <= 0 or ci_target <= 0:
        return None
    allowed = math.log1p(ci_target)
    # The normal quantile's answer is a lower bound: t's is never smaller.
    fewest = max(2, math.ceil((between + within / repeats) / allowed_log_variance(ci_target)))
    for replicates in range(fewest, MOST_REPLICATES + 1):
        if half_width(between, within, repeats, replicates) <= allowed:
            return replicates
    return None


# A bootstrap interval of a median from fewer samples than this spans nearly
# their whole range, whatever the formula for means says.
MIN_REPEATS_FOR_A_MEDIAN = 5


def cheapest_design(components: VarianceComponents, replicate_cost_seconds: float,
                    repeat_cost_seconds: float, ci_target: float,
                    max_repeats: int = 100) -> Design | None:
    """Kalibera & Jones' rule for a two-level experiment: the variance of the mean
    is between/R + within/(R n), and a replicate costs c_R + n c_n, so the cost of
    a target is least at n = sqrt(c_R within / (c_n between)) repeats; then R is
    the fewest replicates whose 95 % half-width, by Student's t, is within ±ci_target
    (on the log scale; medians are treated as means, with at least
    MIN_REPEATS_FOR_A_MEDIAN repeats; the between-replicate variance at least what a
    replicate's own samples leave, VarianceComponents.for_design). None
    when the components are unknown, or no number of replicates up to MOST_REPLICATES
    reaches the target."""
    between, within = components.for_design, components.within
    # Costs come from the rows' job times, which an older or partial run may lack.
    if (math.isnan(between) or math.isnan(within) or not math.isfinite(replicate_cost_seconds)
            or not math.isfinite(repeat_cost_seconds) or repeat_cost_seconds <= 0):
        return None
    if between <= 0:
        repeats = max_repeats
    else:
        repeats = math.sqrt(max(replicate_cost_seconds, 0.0) * within
                            / (repeat_cost_seconds * between))
        repeats = int(min(max_repeats, max(MIN_REPEATS_FOR_A_MEDIAN, round(repeats))))
    replicates = replicates_needed(between, within, repeats, ci_target)
    if replicates is None:  # no number of replicates reaches the target
        return None
    return Design(repeats, replicates,
                  replicates * (replicate_cost_seconds + repeats * repeat_cost_seconds))
