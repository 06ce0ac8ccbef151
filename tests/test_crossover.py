"""Crossover detection, interpolated, fitted and bracketed, on synthetic curves whose
answer is known."""

import dataclasses
import math

import numpy as np
import pytest
import yaml

from parbench.aggregate.crossovers import headline
from parbench.crossover import (
    BRACKET,
    END_WITHIN_NOISE,
    FIT,
    FOUND,
    INTERPOLATED,
    NO_CLEAR_WINNER,
    NO_SIGN_CHANGE,
    NONE_IN_RANGE,
    NOT_SIGNIFICANT,
    POOR_FIT,
    REACHES_PAST,
    START_WITHIN_NOISE,
    TOO_FEW_REPLICATES,
    TOO_FEW_SIZES,
    UNBOUNDED,
    CrossoverEstimate,
    FittedCrossover,
    SignBracket,
    VariancePrior,
    choose,
    crossover_with_confidence,
    fieller_interval,
    find_crossover,
    fit_crossover,
    paired_t_of,
    paired_tests,
    resampled_crossovers,
    sign_bracket,
    variance_prior,
)
from parbench.refine import Refinement
from tests.conftest import REPO

DEFAULT_REFINE = yaml.safe_load((REPO / "config/config.yaml").read_text())["refine"]

SIZES = [1e4, 1e5, 1e6, 1e7]


def test_known_crossover_is_interpolated_on_log_scales():
    # Pool grows ~ size, Ray is flat at the time Pool takes at 1e5.5: they cross there.
    pool = [s * 1e-6 for s in SIZES]
    ray = [10**5.5 * 1e-6] * len(SIZES)
    result = find_crossover(SIZES, ray, pool)
    assert result.status == FOUND
    assert math.isclose(result.size, 10**5.5, rel_tol=1e-9)
    assert (result.size_below, result.size_above) == (1e5, 1e6)


def test_crossover_must_stay_below_for_all_larger_sizes():
    # Ray dips below at 1e5, rises above again at 1e6, then wins from 1e7 on.
    pool = [1.0, 1.0, 1.0, 1.0]
    ray = [2.0, 0.5, 2.0, 0.5]
    result = find_crossover(SIZES, ray, pool)
    assert result.status == FOUND
    assert 1e6 < result.size < 1e7


def test_none_in_range_when_ray_never_wins_at_the_top():
    result = find_crossover(SIZES, [2.0] * 4, [1.0] * 4)
    assert result.status == NONE_IN_RANGE and math.isnan(result.size)


def test_ray_faster_throughout():
    result = find_crossover(SIZES, [0.5] * 4, [1.0] * 4)
    assert result.status == "ray faster throughout" and math.isnan(result.size)


def test_equal_times_are_not_a_win():
    assert find_crossover(SIZES, [1.0] * 4, [1.0] * 4).status == NONE_IN_RANGE


@pytest.mark.parametrize("sizes", [[], [1e4]])
def test_too_few_sizes(sizes):
    assert find_crossover(sizes, [1.0] * len(sizes), [1.0] * len(sizes)).status == TOO_FEW_SIZES


def test_failed_points_are_ignored():
    pool = [1e-2, 1e-1, 1.0, math.nan]
    ray = [1e-1, 1e-1, 1e-1, 1e-1]
    result = find_crossover(SIZES, ray, pool)
    assert result.status == FOUND and 1e4 < result.size < 1e5 + 1


def _noisy(center: float, rng, count: int = 20) -> np.ndarray:
    return center * rng.lognormal(0.0, 0.05, size=count)


def test_known_crossover_lies_inside_its_interval():
    rng = np.random.default_rng(5)
    sizes = [1e4, 1e5, 1e6, 1e7]
    pool = [_noisy(size * 1e-6, rng) for size in sizes]
    ray = [_noisy(10**5.5 * 1e-6, rng) for _ in sizes]
    estimate = crossover_with_confidence(sizes, ray, pool)
    assert estimate.status == FOUND
    assert estimate.ci_low <= 10**5.5 <= estimate.ci_high
    assert 1e5 <= estimate.ci_low and estimate.ci_high <= 1e6
    assert estimate.found_fraction > 0.9


def test_medians_drawn_once_for_several_pairs_give_each_pair_its_own_estimate():
    """One challenger against two baselines, its bootstrap medians shared through
    `drawn`: each estimate is what the pair gets alone, and the challenger's medians
    were drawn once (one entry per size and side, not two for the challenger)."""
    rng = np.random.default_rng(8)
    sizes = [1e4, 1e5, 1e6, 1e7]
    ray = [_noisy(10**5.5 * 1e-6, rng) for _ in sizes]
    baselines = [[_noisy(size * 1e-6, rng) for size in sizes],
                 [_noisy(size * 2e-6, rng) for size in sizes]]
    drawn: dict = {}
    for baseline in baselines:
        shared = crossover_with_confidence(sizes, ray, baseline, drawn=drawn)
        assert shared == crossover_with_confidence(sizes, ray, baseline)
    assert len(drawn) == len(sizes) * (1 + len(baselines))


def test_identical_curves_have_no_clear_winner():
    rng = np.random.default_rng(6)
    sizes = [1e4, 1e5, 1e6]
    same = [_noisy(size * 1e-6, rng) for size in sizes]
    estimate = crossover_with_confidence(sizes, same, [s.copy() for s in same])
    assert estimate.status == NO_CLEAR_WINNER and math.isnan(estimate.size)


def test_a_size_without_data_does_not_make_a_winner():
    """A size whose jobs all failed has no interval: it tells the curves apart no
    more than one where they overlap."""
    rng = np.random.default_rng(6)
    sizes = [1e4, 1e5, 1e6]
    same = [_noisy(size * 1e-6, rng) for size in sizes]
    failed = [s.copy() for s in same]
    failed[0] = np.full_like(failed[0], np.nan)
    estimate = crossover_with_confidence(sizes, same, failed)
    assert estimate.status == NO_CLEAR_WINNER


def test_clear_winner_throughout_gives_no_number():
    rng = np.random.default_rng(7)
    sizes = [1e4, 1e5, 1e6]
    estimate = crossover_with_confidence(sizes, [_noisy(1.0, rng) for _ in sizes],
                                         [_noisy(2.0, rng) for _ in sizes])
    assert estimate.status == "ray faster throughout" and math.isnan(estimate.ci_low)


def test_a_lead_inside_the_noise_is_not_significant():
    """Pool clearly wins at small sizes; at the largest the medians cross, but the
    two intervals overlap there: a number, but not a found crossover."""
    rng = np.random.default_rng(8)
    sizes = [1e4, 1e5, 1e6]
    pool = [_noisy(1.0, rng) for _ in sizes]
    ray = [_noisy(3.0, rng), _noisy(2.0, rng), pool[-1] * 0.99]
    estimate = crossover_with_confidence(sizes, ray, pool)
    assert estimate.status == NOT_SIGNIFICANT
    assert 1e5 < estimate.size < 1e6  # the medians' crossing is still reported


def test_a_clear_lead_above_the_crossing_is_found():
    rng = np.random.default_rng(9)
    sizes = [1e4, 1e5, 1e6]
    pool = [_noisy(1.0, rng) for _ in sizes]
    ray = [_noisy(3.0, rng), _noisy(2.0, rng), _noisy(0.5, rng)]
    assert crossover_with_confidence(sizes, ray, pool).status == FOUND


def _paired_jobs(rng, ratios, sizes, replicates: int = 3, job_sd: float = 0.1,
                 drift_sd: float = 0.0):
    """Per size, `replicates` jobs of each series (5 samples each) and their medians by
    replicate: the baseline log-`ratio` slower, each job with its own factor (`job_sd`),
    the pair at one replicate sharing the machine's drift (`drift_sd`)."""
    samples, values = ([], []), ({}, {})
    for size, ratio in zip(sizes, ratios):
        jobs = ([], [])
        for replicate in range(replicates):
            drift = math.exp(rng.normal(0, drift_sd))
            for side, level in enumerate((0.02, 0.02 * math.exp(ratio))):
                job = level * drift * math.exp(rng.normal(0, job_sd)) * \
                    rng.lognormal(0, 0.01, 5)
                jobs[side].append(job)
                values[side].setdefault(size, {})[replicate] = float(np.median(job))
        for side in (0, 1):
            samples[side].append(jobs[side])
    return samples, values


def test_a_pair_drifting_together_is_told_apart_by_its_paired_replicates():
    """The machine's drift moves both series of a replicate alike: unpaired, the
    bootstrap sees only scatter; paired, the t-tests see the lead."""
    sizes = [1.0, 2.0, 4.0, 8.0]
    (ray, pool), values = _paired_jobs(np.random.default_rng(2), [-0.5, -0.2, 0.3, 0.6],
                                       sizes, job_sd=0.02, drift_sd=0.4)
    assert crossover_with_confidence(sizes, ray, pool).status == NO_CLEAR_WINNER
    paired = crossover_with_confidence(sizes, ray, pool, paired=paired_tests(*values))
    assert paired.status == FOUND and 2.0 < paired.size < 4.0


def _jobs_of_ratios(ratios: dict[float, list[float]]):
    """Samples (5 alike per job) and per-job values of two series whose paired log
    ratios log(baseline / challenger) are `ratios` ({size: one per replicate})."""
    samples, values = ([], []), ({}, {})
    for size, replicates in ratios.items():
        jobs = ([], [])
        for replicate, ratio in enumerate(replicates):
            for side, level in enumerate((0.02, 0.02 * math.exp(ratio))):
                jobs[side].append(np.full(5, level))
                values[side].setdefault(size, {})[replicate] = level
        for side in (0, 1):
            samples[side].append(jobs[side])
    return samples, values


@pytest.mark.parametrize("sign, told, untold", [
    (1, "ray faster throughout", START_WITHIN_NOISE), (-1, NONE_IN_RANGE, END_WITHIN_NOISE)])
def test_no_crossing_in_range_needs_the_end_where_one_would_be_told(sign, told, untold):
    """Medians on one side everywhere say the curves do not cross only where the end of
    the range next to a crossing is told from noise: a lead of 3 % inside 10 % noise
    at the smallest size (or a lag at the largest) leaves a crossing there open."""
    clear, noisy = [0.6, 0.62, 0.58], [0.15, -0.1, 0.05]
    ends = {1.0: noisy, 2.0: clear, 4.0: clear} if sign > 0 else \
        {1.0: clear, 2.0: clear, 4.0: noisy}
    (ray, pool), values = _jobs_of_ratios(
        {size: [sign * ratio for ratio in ratios] for size, ratios in ends.items()})
    estimate = crossover_with_confidence(list(ends), ray, pool, paired=paired_tests(*values))
    assert estimate.status == untold and math.isnan(estimate.size)
    (ray, pool), values = _jobs_of_ratios({size: [sign * ratio for ratio in clear]
                                           for size in ends})
    assert crossover_with_confidence(list(ends), ray, pool,
                                     paired=paired_tests(*values)).status == told


def test_alike_series_are_told_apart_at_most_5_in_100_runs():
    """Over three replicates a bootstrap's intervals are too narrow (docs/method.md):
    series alike at every size came out told apart far more often than 5 %; the paired
    t-tests, at most 5 % (Bonferroni over sizes, both signs)."""
    rng = np.random.default_rng(3)
    sizes, runs = [1.0, 2.0, 4.0, 8.0], 300
    claimed = {"bootstrap": 0, "paired": 0}
    for _ in range(runs):
        (ray, pool), values = _paired_jobs(rng, [0.0] * 4, sizes)
        claimed["bootstrap"] += crossover_with_confidence(
            sizes, ray, pool, resamples=500).status != NO_CLEAR_WINNER
        claimed["paired"] += crossover_with_confidence(
            sizes, ray, pool, resamples=500,
            paired=paired_tests(*values)).status != NO_CLEAR_WINNER
    assert claimed["paired"] / runs <= 0.06, claimed
    assert claimed["bootstrap"] > 2 * claimed["paired"], claimed


def test_every_resample_crossing_is_the_one_find_crossover_gives():
    """resampled_crossovers works on all resamples at once; each must be what
    find_crossover says of that resample alone (throughout: the smallest size, never at
    the top: the largest), unusable points (zero, inf, nan) included."""
    rng = np.random.default_rng(11)
    sizes = [1e3, 4e3, 1.6e4, 6.4e4, 2.56e5]
    challenger = rng.lognormal(0, 0.6, (len(sizes), 400))
    baseline = rng.lognormal(0, 0.6, (len(sizes), 400))
    challenger[1, :40], baseline[3, 20:60], challenger[2, 100:110] = 0.0, np.inf, np.nan
    found = resampled_crossovers(sizes, challenger, baseline)
    statuses = set()
    for resample, size in enumerate(found):
        alone = find_crossover(sizes, challenger[:, resample], baseline[:, resample])
        statuses.add(alone.status)
        expected = (alone.size if alone.status == FOUND
                    else sizes[-1] if alone.status == NONE_IN_RANGE else sizes[0])
        assert size == expected
    assert {FOUND, NONE_IN_RANGE} <= statuses and len(statuses) >= 3


# --- the fitted crossover -------------------------------------------------------------

def _replicated_curves(rng, replicates: int, sizes, between: float = 0.10,
                       drift: float = 0.10, within: float = 0.05, curvature: float = 0.0):
    """Every replicate at every size of `sizes` (_designed_curves)."""
    return _designed_curves(rng, [sizes] * replicates, between, drift, within, curvature)


def _designed_curves(rng, design, between: float = 0.10, drift: float = 0.10,
                     within: float = 0.05, curvature: float = 0.0):
    """Pool 3 ms + 20 ms/MB·n (+ curvature·n⁴), Ray 25 ms + 4 ms/MB·n, n in MB: they cross
    at 1.375 MB without curvature. Replicate r is measured at the sizes `design[r]`. Each
    job's median carries a job effect (`between`) and its samples' noise (`within`); the
    pair at one size and replicate ran side by side, sharing the machine's drift."""
    def pool(n):
        return 0.003 + 0.020 * n + curvature * n**4

    def ray(n):
        return 0.025 + 0.004 * n

    challenger, baseline = {}, {}
    for size in sorted({size for sizes in design for size in sizes}):
        for replicate in (replicate for replicate, sizes in enumerate(design)
                          if size in sizes):
            shared = math.exp(rng.normal(0, drift))
            for side, curve in ((challenger, ray), (baseline, pool)):
                job = curve(size) * shared * math.exp(rng.normal(0, between))
                side.setdefault(size, {})[replicate] = float(
                    np.median(job * rng.lognormal(0, within, 5)))
    return challenger, baseline


TRUTH = 0.022 / 0.016
NEAR = [TRUTH * factor for factor in (0.5, 0.7, 1.0, 1.4, 2.0)]


def test_the_fit_recovers_a_known_crossover_from_noisy_replicates():
    challenger, baseline = _replicated_curves(np.random.default_rng(21), 5, NEAR)
    fitted = fit_crossover(challenger, baseline, around=1.2, max_residual=0.1)
    assert fitted.status == FOUND and fitted.replicates == 5 and fitted.sizes == 5
    assert fitted.ci_low <= TRUTH <= fitted.ci_high
    assert abs(fitted.size / TRUTH - 1) < 0.1 and fitted.relative_half_width < 0.3
    assert fitted.residual_baseline < 0.1 and fitted.residual_challenger < 0.1


def test_a_curved_baseline_is_a_poor_fit_without_a_number():
    challenger, baseline = _replicated_curves(np.random.default_rng(22), 5, NEAR, between=0.01,
                                              drift=0.01, within=0.01, curvature=0.005)
    fitted = fit_crossover(challenger, baseline, around=TRUTH, max_residual=0.05)
    assert fitted.status == POOR_FIT and math.isnan(fitted.size)
    assert fitted.residual_baseline > 0.05


def test_the_fit_needs_three_sizes_near_the_crossing_and_two_replicates():
    challenger, baseline = _replicated_curves(np.random.default_rng(23), 5, [0.1, 1.0, 3.0])
    # 0.1 MB is more than 2.5x from the estimate: two sizes left, no line to check.
    assert fit_crossover(challenger, baseline, 1.4, 0.1).status == TOO_FEW_SIZES
    one = {size: {0: values[0]} for size, values in challenger.items()}
    other = {size: {0: values[0]} for size, values in baseline.items()}
    assert fit_crossover(one, other, 1.4, 1.0, window=100).status == TOO_FEW_REPLICATES


def test_a_bound_beyond_the_largest_float_is_an_unbounded_interval():
    """Three replicates whose slope is barely told from zero (a synthetic default run on
    a step like the naive Pool's): Fieller's upper bound is e^x times the estimate with x
    past 709, which math.exp cannot give. The fit says `unbounded interval` (it raised
    OverflowError, and the aggregation with it)."""
    ray = {100000: {0: 0.0178135, 1: 0.0168115}, 1000000: {0: 0.0238119, 1: 0.0193111},
           3000000: {0: 0.0250126, 1: 0.0340739},
           1300000: {2: 0.0226403, 3: 0.0226296, 4: 0.0283658},
           1800000: {2: 0.0306825, 3: 0.0263772, 4: 0.0229075},
           2600000: {2: 0.0263294, 3: 0.0274432, 4: 0.035838}}
    pool = {100000: {0: 0.00169312, 1: 0.0016943}, 1000000: {0: 0.00920529, 1: 0.0116039},
            3000000: {0: 0.0564514, 1: 0.0509159},
            1300000: {2: 0.0164712, 3: 0.012356, 4: 0.0168008},
            1800000: {2: 0.0202212, 3: 0.0174214, 4: 0.0206477},
            2600000: {2: 0.0280382, 3: 0.0329653, 4: 0.0334229}}
    fitted = fit_crossover(ray, pool, around=2237580.0, max_residual=0.15)
    assert fitted.status == UNBOUNDED and fitted.replicates == 3
    assert math.isnan(fitted.ci_low) and math.isnan(fitted.ci_high)
    assert 1e6 < fitted.size < 1e7  # the lines' mean crossing is still given


def test_fieller_gives_the_known_interval_and_refuses_an_unclear_slope():
    # a + b·n with a = -1, b = 1 (root 1), no covariance between them.
    covariance = np.diag([0.01, 0.01])
    low, high = fieller_interval(-1.0, 1.0, covariance, t=2.0)
    # (b·n + a)² = t²(V_aa + n²·V_bb): 0.96 n² - 2n + 0.96 = 0.
    expected = sorted(np.roots([0.96, -2.0, 0.96]))
    assert (low, high) == pytest.approx(expected)
    assert low < 1.0 < high
    assert all(math.isnan(bound) for bound in fieller_interval(-1.0, 0.1, covariance, t=2.0))


def default_design(estimate: float) -> list[list[float]]:
    """The default sweep's replicates near a crossing: two of the grid (1 and 3 MB) and
    `rounds` x `replicates` of refinement (config/config.yaml's) at the bracket around
    `estimate` (the grid's estimate, not the truth)."""
    refinement = Refinement.from_config(DEFAULT_REFINE)
    bracket = [round(estimate * factor, 2) for factor in refinement.factors]
    return [[1.0, 3.0]] * 2 + [bracket] * (refinement.rounds * refinement.replicates)


@pytest.mark.parametrize("estimate", [TRUTH, 1.2 * TRUTH])
def test_the_fitted_interval_covers_the_truth_95_times_in_100(estimate):
    """With the variance between jobs (10 %) larger than within them (5 %), and the
    replicates the default design measures near a crossing (even when the grid's estimate
    that centres refinement is 20 % off): 95 % of the 95 % intervals contain the true
    crossover (an unbounded one contains it too)."""
    rng = np.random.default_rng(24)
    runs, covered, bounded = 1000, 0, 0
    for _ in range(runs):
        challenger, baseline = _designed_curves(rng, default_design(estimate))
        fitted = fit_crossover(challenger, baseline, around=estimate, max_residual=1.0)
        if fitted.status == UNBOUNDED:
            covered += 1
            continue
        bounded += 1
        covered += fitted.ci_low <= TRUTH <= fitted.ci_high
    assert abs(covered / runs - 0.95) <= 0.025
    assert bounded / runs > 0.95  # bounded, and so a number, nearly always


# --- the bracket, and which estimate is the headline -----------------------------------

def _stepped_curves(rng, replicates: int, sizes, step_at: float = 1.45, step: float = 1.6):
    """_replicated_curves' series, the Pool's time `step` times higher above `step_at`
    MB: just above the crossing (1.375 MB), as the naive Pool's per-byte cost jumps."""
    challenger, baseline = _replicated_curves(rng, replicates, sizes)
    return challenger, {size: {replicate: value * (step if size > step_at else 1.0)
                               for replicate, value in values.items()}
                        for size, values in baseline.items()}


def test_the_bracket_holds_the_crossing_where_the_pool_steps_up_at_it():
    sizes = [0.7, 1.0, 1.2, 1.3, 1.6, 2.0, 2.8]
    challenger, baseline = _stepped_curves(np.random.default_rng(31), 4, sizes)
    bracket = sign_bracket(challenger, baseline)
    assert bracket.status == FOUND
    assert bracket.ci_low <= TRUTH <= bracket.ci_high  # between measured sizes
    assert bracket.ci_low in sizes and bracket.ci_high in sizes
    assert bracket.ci_low <= bracket.size <= bracket.ci_high
    # The straight line through the step is told from the replicates' scatter.
    fitted = fit_crossover(challenger, baseline, around=1.4, max_residual=0.5)
    assert fitted.lack_of_fit_p < 0.2
    assert choose(fitted, bracket) == BRACKET


def test_a_crossing_just_above_a_size_of_zero_is_bracketed_linearly_and_refined():
    """imbalanced's size 0 (equal tasks) has no log: a crossing between it and the
    next size is a bracket from 0, its estimate and the sizes refinement measures inside
    it spaced linearly (it raised a math domain error, stopping every aggregate)."""
    from parbench.crossover.bracket import inside

    rng = np.random.default_rng(4)
    # Pool 10 % faster at 0, Ray 10 % faster at 10 and above.
    ratio = {0: 1.1, 10: 0.9, 20: 0.85, 40: 0.8}
    challenger = {size: {replicate: ratio[size] * math.exp(rng.normal(0, 0.005))
                         for replicate in range(4)} for size in ratio}
    baseline = {size: {replicate: 1.0 for replicate in range(4)} for size in ratio}
    bracket = sign_bracket(challenger, baseline)
    assert (bracket.status, bracket.ci_low, bracket.ci_high) == (FOUND, 0, 10)
    assert 4 < bracket.size < 6  # halfway in the means' log ratio: about 5
    assert inside(0, 9, parts=3) == [3.0, 6.0]


def test_a_straight_fit_inside_its_bracket_is_the_headline():
    """Power laws (straight on log-log axes: Ray 20 ms·n^0.15, Pool 10 ms·n, n in MB,
    crossing at 2^(1/0.85) MB), each job with its own factor and the pair's drift."""
    rng = np.random.default_rng(21)
    challenger, baseline = {}, {}
    for size in (1.2, 1.7, 2.3, 3.2, 4.5):
        for replicate in range(5):
            shared = math.exp(rng.normal(0, 0.1))
            challenger.setdefault(size, {})[replicate] = \
                0.02 * size**0.15 * shared * math.exp(rng.normal(0, 0.1))
            baseline.setdefault(size, {})[replicate] = \
                0.01 * size * shared * math.exp(rng.normal(0, 0.1))
    fitted = fit_crossover(challenger, baseline, around=2.5, max_residual=0.15)
    assert fitted.ci_low <= 2 ** (1 / 0.85) <= fitted.ci_high
    bracket = sign_bracket(challenger, baseline)
    assert fitted.status == FOUND and fitted.lack_of_fit_p >= 0.2
    assert bracket.status == FOUND and bracket.ci_low <= fitted.size <= bracket.ci_high
    assert choose(fitted, bracket) == FIT
    # A fit whose estimate the signs put elsewhere does not hold.
    elsewhere = dataclasses.replace(fitted, size=bracket.ci_high * 1.5)
    assert choose(elsewhere, bracket) == BRACKET


def test_the_bracket_is_the_last_crossing_where_a_curve_crosses_back():
    """Ahead at the smallest size, behind at the next three, ahead again above: the
    challenger overtakes for good between the fourth and the fifth."""
    rng = np.random.default_rng(35)
    sizes = [0.1, 0.2, 0.5, 1.0, 2.0, 4.0]
    ratios = [0.5, -0.5, -0.5, -0.5, 0.5, 0.8]  # log(baseline / challenger)
    baseline = {size: {replicate: 0.02 for replicate in range(3)} for size in sizes}
    challenger = {size: {replicate: 0.02 * math.exp(-ratio + rng.normal(0, 0.03))
                         for replicate in range(3)} for size, ratio in zip(sizes, ratios)}
    bracket = sign_bracket(challenger, baseline)
    assert bracket.status == FOUND
    assert (bracket.ci_low, bracket.ci_high) == (1.0, 2.0)
    assert 1.0 < bracket.size < 2.0


def test_the_bracket_estimate_is_the_last_crossing_of_the_means_inside_it():
    """The regimes run's image_filter curve: told slower at 1 MB and faster at 4.6 MB,
    the means in between above zero at 2.2 MB and below again at 3 MB, neither told. The
    estimate is where the means cross the last time (between 3 and 4.6 MB), not the
    first (between 1 and 2.2 MB), where the challenger is still slower above."""
    rng = np.random.default_rng(39)
    sizes = [1.0, 2.2, 3.0, 4.6]
    ratios = [-0.283, 0.060, -0.041, 0.249]  # log(baseline / challenger)
    baseline = {size: {replicate: 0.02 for replicate in range(4)} for size in sizes}
    challenger = {size: {replicate: 0.02 * math.exp(-ratio + rng.normal(0, 0.06))
                         for replicate in range(4)} for size, ratio in zip(sizes, ratios)}
    bracket = sign_bracket(challenger, baseline)
    assert (bracket.status, bracket.ci_low, bracket.ci_high) == (FOUND, 1.0, 4.6)
    assert 3.0 < bracket.size < 4.6


def test_a_fit_the_lack_of_fit_test_rejects_is_a_poor_fit_without_a_bracket():
    """Found, but its lines told from straight ones, and no bracket to fall back on: the
    headline says `poor fit` and gives no number (it gave the fit's, as if it held)."""
    fitted = FittedCrossover(FOUND, 2.0, 1.6, 2.4, replicates=3, sizes=4, size_low=1.0,
                             size_high=4.0, lack_of_fit_p=0.015)
    bracket = SignBracket(NO_SIGN_CHANGE)
    assert choose(fitted, bracket) == FIT
    row = headline(CrossoverEstimate(FOUND, 2.1), fitted, bracket)
    assert row["crossover_status"] == POOR_FIT and math.isnan(row["crossover_size"])
    assert math.isnan(row["crossover_ci_low"]) and row["fit_size"] == 2.0
    held = headline(CrossoverEstimate(FOUND, 2.1),
                    dataclasses.replace(fitted, lack_of_fit_p=0.5), bracket)
    assert held["crossover_status"] == FOUND and held["crossover_size"] == 2.0
    # Where the medians are told apart at no size, that is the verdict: "no clear
    # winner", not a crossing that cannot be placed.
    undecided = headline(CrossoverEstimate(NO_CLEAR_WINNER, medians_cross=2.1), fitted,
                         bracket)
    assert (undecided["method"], undecided["crossover_status"]) == (INTERPOLATED,
                                                                   NO_CLEAR_WINNER)
    assert math.isnan(undecided["crossover_size"]) and undecided["fit_size"] == 2.0


def test_a_fitted_interval_reaching_past_the_sizes_fitted_gives_no_number():
    """Three replicates over three sizes close together: the crossing lies among them,
    but Fieller's interval reaches past them, where no size checked the lines. It says
    so, without the interval (it was `found`, with the bounds printed as measured)."""
    sizes = [1.2, 1.4, 1.6]
    challenger, baseline = _replicated_curves(np.random.default_rng(17), 3, sizes,
                                              between=0.08, drift=0.05)
    fitted = fit_crossover(challenger, baseline, around=1.4, max_residual=1.0)
    assert fitted.status == REACHES_PAST and math.isnan(fitted.ci_low)
    assert sizes[0] <= fitted.size <= sizes[-1]
    # Quieter replicates over sizes wider apart: the interval lies among them, found.
    lines = _replicated_curves(np.random.default_rng(17), 3, [1.0, 1.4, 2.4],
                               between=0.02, drift=0.02)
    wider = fit_crossover(*lines, around=1.4, max_residual=1.0)
    assert wider.status == FOUND and 1.0 <= wider.ci_low <= wider.ci_high <= 2.4


def test_lines_that_do_not_gain_where_the_medians_cross_cannot_place_it():
    """The fit is tried around a crossing of the medians; where its lines lose ground
    instead, it can neither place that crossing nor say there is none."""
    rng = np.random.default_rng(37)
    ratios = {1.0: 0.1, 1.5: 0.0, 2.0: -0.1}  # log(baseline / challenger), falling
    baseline = {size: {replicate: 0.02 for replicate in range(3)} for size in ratios}
    challenger = {size: {replicate: 0.02 * math.exp(-ratio + rng.normal(0, 0.01))
                         for replicate in range(3)} for size, ratio in ratios.items()}
    fitted = fit_crossover(challenger, baseline, around=1.5, max_residual=0.5)
    assert fitted.status == UNBOUNDED and math.isnan(fitted.size)


def test_no_bracket_where_the_signs_are_not_told_from_noise():
    rng = np.random.default_rng(33)
    same = {size: {replicate: 0.02 * math.exp(rng.normal(0, 0.1)) for replicate in range(3)}
            for size in (1.0, 2.0, 3.0)}
    other = {size: {replicate: 0.02 * math.exp(rng.normal(0, 0.1)) for replicate in range(3)}
             for size in (1.0, 2.0, 3.0)}
    assert sign_bracket(same, other).status == NO_SIGN_CHANGE
    one = {1.0: {0: 0.02}, 2.0: {0: 0.01}}
    assert sign_bracket(one, {1.0: {0: 0.01}, 2.0: {0: 0.02}}).status == TOO_FEW_SIZES
    assert choose(FittedCrossover(TOO_FEW_SIZES), sign_bracket(same, other)) == INTERPOLATED


NOISY_CURVE_SIZES = (1e5, 3e5, 1e6, 3e6, 1e7)


def _told_on_a_curve_with_one_noisy_size(moderated: bool, runs: int = 300
                                         ) -> tuple[float, float]:
    """How often, over simulated workloads, a quiet size's 8 % lead is told, and the
    one noisy size (25 times the others' noise, the challenger 5 % behind there) is
    told the wrong sign: each workload one such curve and seven quiet ones, three
    replicates at each size."""
    rng = np.random.default_rng(41)
    means, spreads = (-0.2, -0.1, -0.05, 0.08, 0.2), (0.02, 0.02, 0.5, 0.02, 0.02)
    lead = wrong = 0
    for _ in range(runs):
        curve = {size: rng.normal(mean, spread, 3)
                 for size, mean, spread in zip(NOISY_CURVE_SIZES, means, spreads)}
        quiet = [{size: rng.normal(0, 0.02, 3) for size in NOISY_CURVE_SIZES}
                 for _ in range(7)]
        prior = variance_prior([curve, *quiet]) if moderated else VariancePrior()
        told = paired_t_of(curve, prior).told(0.95)
        lead += told[3e6] > 0
        wrong += told[1e6] > 0
    return lead / runs, wrong / runs


def test_a_noisy_size_neither_hides_a_quiet_sizes_lead_nor_borrows_its_quiet():
    """Pooled over the curve's sizes, one noisy size near the crossing hid the lead
    at a quiet size (told about one time in twenty) and was told the wrong sign itself
    about one time in seven; each size's variance moderated towards the workload's
    tells the lead nearly always and errs at the noisy size less."""
    pooled_lead, pooled_wrong = _told_on_a_curve_with_one_noisy_size(moderated=False)
    lead, wrong = _told_on_a_curve_with_one_noisy_size(moderated=True)
    assert pooled_lead < 0.3 < 0.8 < lead
    assert wrong < pooled_wrong and wrong < 0.12


def test_sizes_alike_in_noise_keep_the_curves_pooled_variance():
    """Where the sizes' variances differ no more than chi-square noise would make
    them, the prior has no finite weight and every size is tested as before, against
    the curve's pooled variance with its degrees of freedom."""
    curves = [{size: np.array([mean - 0.01, mean, mean + 0.01])
               for size, mean in zip(NOISY_CURVE_SIZES, (-0.1, -0.05, 0.0, 0.05, 0.1))}
              for _ in range(4)]
    prior = variance_prior(curves)
    assert not prior.moderates
    assert paired_t_of(curves[0], prior) == paired_t_of(curves[0])
    assert set(paired_t_of(curves[0]).freedoms.values()) == {10}
    # Spread variances moderate, each size at its own degrees of freedom, no more
    # than every variance behind the prior has together.
    rng = np.random.default_rng(5)
    spread = [{size: rng.normal(0, math.exp(rng.normal(-3, 1)), 3)
               for size in NOISY_CURVE_SIZES} for _ in range(8)]
    prior = variance_prior(spread)
    assert prior.moderates and prior.total_freedom == 8 * 5 * 2
    tested = paired_t_of(spread[0], prior)
    assert all(2 < freedom <= prior.total_freedom for freedom in tested.freedoms.values())
    # Replicates that agree to the bit tell nothing, in either sign (0.05 three times
    # has a mean that rounds: its scatter must still be none, not 1e-35).
    for sign in (1, -1):
        agreeing = {size: np.full(3, sign * 0.05) for size in NOISY_CURVE_SIZES}
        assert set(paired_t_of(agreeing).told(0.95).values()) == {0}
        # Nor do they pull the workload's prior towards no noise at all.
        with_agreeing, without = variance_prior([agreeing, *spread]), variance_prior(spread)
        assert (with_agreeing.freedom, with_agreeing.variance) == (without.freedom,
                                                                    without.variance)


def test_an_interpolated_crossing_whose_replicates_bound_it_on_no_side_gives_no_number():
    """Where replicates pair but no size on one side of the medians' crossing is told
    from noise (no fit tried: too few sizes near it), the bootstrap's interval over a
    few replicates is no interval to stand on: the bracket's verdict is the headline,
    the interpolated numbers kept beside. Over one replicate, nothing pairs: the
    interpolated estimate stays the headline, with its interval."""
    interpolated = CrossoverEstimate(FOUND, 2.0, 1.0, 3.0, ci_low=1.9, ci_high=2.1)
    not_tried = FittedCrossover(TOO_FEW_SIZES)
    row = headline(interpolated, not_tried, SignBracket(NO_SIGN_CHANGE))
    assert (row["method"], row["crossover_status"]) == (BRACKET, NO_SIGN_CHANGE)
    assert math.isnan(row["crossover_size"]) and math.isnan(row["crossover_ci_low"])
    assert (row["interpolated_size"], row["interpolated_ci_low"]) == (2.0, 1.9)
    # Not significant: so said, its interval not given either.
    weak = dataclasses.replace(interpolated, status=NOT_SIGNIFICANT)
    row = headline(weak, not_tried, SignBracket(NO_SIGN_CHANGE))
    assert (row["method"], row["crossover_status"]) == (INTERPOLATED, NOT_SIGNIFICANT)
    assert math.isnan(row["crossover_size"]) and math.isnan(row["crossover_ci_high"])
    alone = headline(interpolated, not_tried, SignBracket(TOO_FEW_SIZES))
    assert (alone["method"], alone["crossover_status"]) == (INTERPOLATED, FOUND)
    assert (alone["crossover_size"], alone["crossover_ci_high"]) == (2.0, 2.1)
