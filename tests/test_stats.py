"""Bootstrap intervals and the repeat loop's stopping rule, on samples with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parbench import replication, resampling, stats
from parbench.measure import Job, JobSettings, measure, stop_reason
from tests.unwaiting import job_settings


def test_median_interval_contains_the_true_median_and_narrows_with_samples():
    rng = np.random.default_rng(1)
    small = rng.normal(10.0, 1.0, size=20)
    large = rng.normal(10.0, 1.0, size=2_000)
    low_small, high_small = stats.median_interval(small)
    low_large, high_large = stats.median_interval(large)
    assert low_large <= 10.0 <= high_large
    assert (high_large - low_large) < (high_small - low_small) / 3


def test_interval_of_constant_samples_is_a_point():
    assert stats.median_interval([2.0] * 10) == (2.0, 2.0)


def test_interval_is_reproducible():
    samples = np.random.default_rng(2).lognormal(size=15)
    assert stats.median_interval(samples) == stats.median_interval(samples)
    # Resampled, not fixed: another seed draws other medians (the interval's ends, order
    # statistics of 15 samples, may well come out the same).
    assert not np.array_equal(stats.bootstrap_medians(samples, seed=1),
                              stats.bootstrap_medians(samples, seed=2))


def test_ratio_interval_brackets_the_true_ratio():
    rng = np.random.default_rng(3)
    serial = rng.normal(2.0, 0.02, size=50)
    parallel = rng.normal(1.0, 0.01, size=50)
    low, high = stats.ratio_interval(serial, parallel)
    assert low < 2.0 < high and high - low < 0.05


def test_spread_reports_iqr_and_cv():
    spread = stats.spread([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spread.median == 3.0 and spread.iqr == 2.0
    assert math.isclose(spread.cv, np.std([1, 2, 3, 4, 5], ddof=1) / 3)


def test_quiet_repeats_stop_at_the_minimum():
    settings = JobSettings(min_repeats=5, max_repeats=30, ci_target=0.05)
    quiet = [1.0, 1.001, 0.999, 1.0005, 1.0]
    assert stop_reason(quiet[:4], 0.0, settings) is None
    assert stop_reason(quiet, 0.0, settings) == "ci_target"


def test_one_sample_never_meets_the_ci_target():
    """A single sample has no spread: with `min_repeats: 1` the target is tested from
    the second on (one sample's zero-width interval met every target)."""
    settings = JobSettings(min_repeats=1, max_repeats=30, ci_target=0.01)
    assert stop_reason([5.0], 0.0, settings) is None
    assert stop_reason([5.0, 5.0], 0.0, settings) == "ci_target"


def test_noisy_repeats_run_to_the_maximum():
    settings = JobSettings(min_repeats=5, max_repeats=30, ci_target=0.05)
    noisy = np.random.default_rng(4).lognormal(sigma=1.0, size=30).tolist()
    reasons = [stop_reason(noisy[:count], 0.0, settings) for count in range(1, 31)]
    assert reasons[:-1] == [None] * 29 and reasons[-1] == "max_repeats"


def test_budget_stops_a_slow_job():
    settings = JobSettings(min_repeats=5, max_repeats=30, job_budget_seconds=10)
    assert stop_reason([4.0, 4.1], 8.1, settings) == "budget"


@pytest.mark.engine
@pytest.mark.parametrize(("ci_target", "expected_rows", "reason"),
                         [(10.0, 5, "ci_target"), (1e-9, 12, "max_repeats")])
def test_real_repeat_loop_obeys_the_rule(ci_target, expected_rows, reason):
    rows = measure(Job("exp_sinh", "numpy", "serial", 1_000, 4, 1),
                   job_settings(min_repeats=5, max_repeats=12, ci_target=ci_target))
    assert len(rows) == expected_rows and set(rows["stop_reason"]) == {reason}


def _replicates(job_means, repeats, within_sd, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(mean, within_sd, size=repeats) for mean in job_means]


def test_hierarchical_interval_carries_the_variance_between_jobs():
    """Jobs that disagree by 20 % while each is precise: pooling the repeats as if
    they were independent gives an interval that misses most jobs; resampling the
    jobs first covers them."""
    jobs = [1.0, 1.2, 0.9, 1.1, 1.05, 0.95]
    groups = _replicates(jobs, repeats=10, within_sd=0.002, seed=5)
    flat_low, flat_high = stats.median_interval(np.concatenate(groups))
    low, high = stats.median_interval(groups)
    assert (high - low) > 3 * (flat_high - flat_low)
    assert low <= stats.pooled_median(groups) <= high
    assert low < 1.0 < 1.1 < high


def test_one_replicate_is_the_ordinary_bootstrap():
    samples = np.random.default_rng(6).lognormal(size=12)
    assert stats.median_interval([samples]) == stats.median_interval(samples)
    assert stats.pooled_median([samples]) == float(np.median(samples))


def test_replicates_may_differ_in_repeats_and_drop_missing_values():
    groups = [np.array([1.0, 1.0, np.nan]), np.array([2.0]), np.array([np.nan])]
    assert [len(group) for group in stats.as_replicates(groups)] == [2, 1]
    medians = stats.bootstrap_medians(groups, resamples=500)
    assert np.isfinite(medians).all() and set(np.round(medians, 6)) <= {1.0, 1.5, 2.0}


def test_the_interval_over_replicates_is_students_and_covers_a_rerun_as_it_says():
    """Three jobs, each with a factor of its own (10 %) and tight samples: the interval
    over replicates covers the true centre about 95 times in 100, the two-level
    bootstrap's far fewer (too narrow over three replicates)."""
    jobs = [[1.0, 1.0], [1.1, 1.1], [1.21, 1.21]]  # medians 1, 1.1, 1.21: logs evenly apart
    low, high = stats.replicate_interval(jobs)
    half = 4.302653 * math.log(1.1) / math.sqrt(3)  # t(2) · sd of the logs / √3
    assert math.isclose(math.log(low), math.log(1.1) - half, rel_tol=1e-5)
    assert math.isclose(math.log(high), math.log(1.1) + half, rel_tol=1e-5)
    assert all(map(math.isnan, stats.replicate_interval([[1.0, 1.1]])))  # one replicate
    rng = np.random.default_rng(4)
    covered = {"replicates": 0, "bootstrap": 0}
    runs = 300
    for _ in range(runs):
        samples = [rng.lognormal(rng.normal(0, 0.1), 0.01, 10) for _ in range(3)]
        low, high = stats.replicate_interval(samples)
        covered["replicates"] += low <= 1.0 <= high
        low, high = stats.median_interval(samples)
        covered["bootstrap"] += low <= 1.0 <= high
    assert abs(covered["replicates"] / runs - 0.95) < 0.04, covered
    assert covered["bootstrap"] / runs < 0.85, covered


@pytest.mark.parametrize("replicates", [2, 3, 5])
def test_a_medians_interval_covers_the_truth_95_times_in_100_over_few_replicates(replicates):
    """The summary's interval of a median (stats.spread) with jobs 15 % apart and 5 %
    within: the bootstrap's alone covered 64 % at 2 replicates, 75 % at 3, 88 % at 5;
    widened to Student's t over the replicates, at least 95 %, and never narrower than
    the bootstrap's. A speedup's interval likewise, both sides noisy."""
    rng = np.random.default_rng(40 + replicates)
    runs, covered, speedup_covered = 400, 0, 0
    for _ in range(runs):
        samples = [rng.lognormal(rng.normal(0, 0.15), 0.05, 6) for _ in range(replicates)]
        serial = [rng.lognormal(math.log(2) + rng.normal(0, 0.15), 0.05, 6)
                  for _ in range(replicates)]
        found = stats.spread(samples)
        low, high = stats.median_interval(samples)
        assert found.ci_low <= low and found.ci_high >= high
        covered += found.ci_low <= 1.0 <= found.ci_high
        speedup = stats.pooled_median(serial) / found.median
        low, high = stats.widened(speedup, stats.ratio_interval(serial, samples),
                                  [stats.replicate_error(serial),
                                   stats.replicate_error(samples)])
        speedup_covered += low <= 2.0 <= high
    assert 0.93 <= covered / runs <= 1.0, covered
    assert 0.93 <= speedup_covered / runs <= 1.0, speedup_covered
    one = stats.spread([samples[0]])  # one replicate: the bootstrap's, within-job only
    assert (one.ci_low, one.ci_high) == stats.median_interval(samples[0])


def test_rows_are_told_apart_by_welchs_test_on_their_replicates():
    """stats.compare, from the interval and count a summary row records, gives what
    scipy's Welch test gives on the replicates' medians themselves."""
    from scipy.stats import ttest_ind

    rng = np.random.default_rng(5)
    outcomes = set()
    for _ in range(200):
        counts = rng.integers(2, 6, size=2)
        medians = [np.exp(rng.normal(shift, 0.1, count))
                   for shift, count in zip((0.0, rng.normal(0, 0.15)), counts)]
        rows = []
        for values in medians:
            low, high = stats.replicate_interval([[value] for value in values])
            rows.append({"replicate_ci_low": low, "replicate_ci_high": high,
                         "replicates": len(values), "ci_low": np.nan, "ci_high": np.nan})
        test = ttest_ind(np.log(medians[0]), np.log(medians[1]), equal_var=False)
        expected = 0 if test.pvalue > 0.05 else int(np.sign(test.statistic))
        assert stats.compare(*rows) == expected
        assert stats.compare(rows[1], rows[0]) == -expected
        outcomes.add(expected)
    assert outcomes == {-1, 0, 1}  # every verdict came up


def test_rows_of_one_replicate_are_told_apart_by_their_bootstrap_intervals():
    once = {"ci_low": 1.0, "ci_high": 2.0, "replicates": 1,
            "replicate_ci_low": np.nan, "replicate_ci_high": np.nan}
    replicated = {"ci_low": 2.5, "ci_high": 3.0, "replicates": 3,
                  "replicate_ci_low": 1.5, "replicate_ci_high": 4.0}
    assert stats.compare(once, replicated) == -1  # the bootstrap intervals lie apart
    assert stats.compare({**once, "ci_high": 2.6}, replicated) == 0
    assert stats.compare(replicated, once) == 1


def test_variance_components_recover_known_between_and_within_spread():
    rng = np.random.default_rng(7)
    job_effects = rng.normal(0.0, 0.10, size=200)  # 10 % between jobs
    groups = [np.exp(effect + rng.normal(0.0, 0.02, size=8)) for effect in job_effects]
    components = replication.variance_components(groups)
    assert 0.08 < components.between_cv < 0.12
    assert 0.018 < components.within_cv < 0.022
    assert math.isnan(replication.variance_components([groups[0]]).between)


def test_cheapest_design_favours_replicates_when_the_variance_is_between_jobs():
    between_jobs = replication.VarianceComponents(between=0.05**2, within=0.01**2)
    within_jobs = replication.VarianceComponents(between=0.001**2, within=0.10**2)
    costly_job, cheap_repeat = 5.0, 0.1
    spread_jobs = replication.cheapest_design(between_jobs, costly_job, cheap_repeat, 0.05)
    spread_repeats = replication.cheapest_design(within_jobs, costly_job, cheap_repeat, 0.05)
    assert spread_jobs.replicates > spread_repeats.replicates
    assert spread_jobs.repeats < spread_repeats.repeats
    # What it recommends reaches the target: the half-width of the mean of log time.
    for components, design in ((between_jobs, spread_jobs), (within_jobs, spread_repeats)):
        variance = (components.between + components.within / design.repeats) / design.replicates
        assert stats.Z_95 * math.sqrt(variance) <= math.log1p(0.05)
        # With Student's t over the replicates, as their interval is: one fewer misses.
        assert replication.half_width(components.between, components.within,
                                      design.repeats, design.replicates) <= math.log1p(0.05)
        assert replication.half_width(components.between, components.within, design.repeats,
                                      design.replicates - 1) > math.log1p(0.05)
    unknown = replication.VarianceComponents(math.nan, 0.01)
    assert replication.cheapest_design(unknown, 1, 1, 0.05) is None
    # Three replicates that scatter no more than their samples: the ANOVA cuts the
    # variance between them to zero, which sent the design to 100 samples a job.
    rng = np.random.default_rng(1)
    alike = [rng.lognormal(0, 0.05, 5) for _ in range(3)]  # no job effect at all
    components = replication.variance_components(alike)
    assert components.between == 0 and components.for_design > 0
    design = replication.cheapest_design(components, 0.75, 0.14, 0.10)
    assert design.repeats < 100 and design.replicates >= 2
    # No jump just above zero either: a between below within / n designs as that.
    barely = replication.VarianceComponents(1e-6, 0.01, 5)
    cut = replication.VarianceComponents(0, 0.01, 5)
    assert barely.for_design == cut.for_design == pytest.approx(0.002)
    assert replication.cheapest_design(barely, 0.75, 0.14, 0.1) == replication.cheapest_design(
        cut, 0.75, 0.14, 0.1)
    # A target no number of replicates reaches is no recommendation (it said 1000).
    assert replication.replicates_needed(1.0, 1.0, 5, 1e-4) is None
    noisy = replication.VarianceComponents(1.0, 1.0)
    assert replication.cheapest_design(noisy, 5.0, 0.1, 1e-4) is None
    assert replication.replicates_needed(math.nan, 0.01, 5, 0.05) is None
    assert replication.replicates_needed(0.0, 0.0, 5, 0.05) == 2
    # Costs unknown (rows without job times): no design, rather than a crash.
    for costs in ((math.nan, 0.1), (1.0, math.nan)):
        assert replication.cheapest_design(between_jobs, *costs, 0.05) is None


def test_many_bootstraps_at_once_give_each_ones_medians_to_the_bit():
    """A large sweep draws its combinations' resamples together (one draw per shape,
    a few combinations at a time); each must get exactly what it gets alone."""
    rng = np.random.default_rng(3)
    shapes = [(5,), (5, 5), (3, 7, 4), (10,), (2, 2)] * 15  # more than one batch of a shape
    many = [[rng.lognormal(0, 0.2, count) for count in shape] for shape in shapes]
    many += [[], [[1.0, np.nan, 2.0], [3.0]]]
    together = stats.bootstrap_medians_many(many, resamples=500, seed=7)
    for samples, medians in zip(many, together):
        assert np.array_equal(medians, stats.bootstrap_medians(samples, 500, 7), equal_nan=True)
    assert np.isnan(together[-2]).all()  # no samples: no medians
    assert not np.array_equal(together[0], together[5])  # different samples, different medians


@pytest.mark.parametrize("width", [1, 2, 5, 10, 11])
def test_the_sorted_median_is_numpys_median(width):
    values = np.random.default_rng(width).lognormal(0, 1, (40, 300, width))
    assert np.array_equal(resampling.medians_along_last_axis(values), np.median(values, axis=-1))


@pytest.mark.parametrize("shape", [(3, 7, 4), (2, 5), (5, 8, 6, 7, 5)])
def test_the_median_of_kept_slots_is_numpys_nanmedian(shape):
    """Replicates of unequal repeat counts leave slots of a resample empty."""
    picks, keep = resampling.resample_positions(shape, 300, 11)
    assert keep is not None
    values = np.random.default_rng(len(shape)).lognormal(0, 1, (6, sum(shape)))[:, picks]
    expected = np.nanmedian(np.where(keep, values, np.nan), axis=-1)
    assert np.array_equal(resampling.medians_of_kept(values, keep), expected)


def two_level_medians(groups: list[np.ndarray], resamples: int, seed: int) -> np.ndarray:
    """The two-level bootstrap as the module defines it, one resample and one slot at
    a time, from the same random numbers: the reference for the batched one."""
    rng = np.random.default_rng(seed)
    counts = [group.size for group in groups]
    if len(groups) == 1:
        picks = rng.integers(0, counts[0], size=(resamples, counts[0]))
        return np.array([np.median(groups[0][row]) for row in picks])
    drawn = rng.integers(0, len(groups), size=(resamples, len(groups)))
    uniform = rng.random((resamples, len(groups), max(counts)))
    medians = []
    for resample in range(resamples):
        values = [groups[replicate][int(uniform[resample, slot, repeat] * counts[replicate])]
                  for slot, replicate in enumerate(drawn[resample])
                  for repeat in range(counts[replicate])]
        medians.append(np.median(values))
    return np.array(medians)


def test_the_batched_bootstrap_is_the_two_level_bootstrap_to_the_bit():
    """Shapes of as many replicates, the same widest one, share their random numbers
    (the cache of draws): each still gets its own resamples."""
    rng = np.random.default_rng(5)
    shapes = [(6,), (8,), (5, 8), (8, 8), (8, 5, 7), (6, 6, 6), (5, 7, 8, 6, 5), (2, 1)]
    many = [[rng.lognormal(0, 0.3, count) for count in shape] for shape in shapes]
    together = stats.bootstrap_medians_many(many, resamples=200, seed=13)
    for samples, medians in zip(many, together):
        assert np.array_equal(medians, two_level_medians(samples, 200, 13))
