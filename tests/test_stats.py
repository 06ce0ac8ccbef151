"""Bootstrap intervals and the repeat loop's stopping rule, on samples with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from parbench import stats
from parbench.measure import Combination, JobSettings, measure, stop_reason


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


def test_noisy_repeats_run_to_the_maximum():
    settings = JobSettings(min_repeats=5, max_repeats=30, ci_target=0.05)
    noisy = np.random.default_rng(4).lognormal(sigma=1.0, size=30).tolist()
    reasons = [stop_reason(noisy[:count], 0.0, settings) for count in range(1, 31)]
    assert reasons[:-1] == [None] * 29 and reasons[-1] == "max_repeats"


def test_budget_stops_a_slow_job():
    settings = JobSettings(min_repeats=5, max_repeats=30, job_budget_seconds=10)
    assert stop_reason([4.0, 4.1], 8.1, settings) == "budget"


@pytest.mark.parametrize(("ci_target", "expected_rows", "reason"),
                         [(10.0, 5, "ci_target"), (1e-9, 12, "max_repeats")])
def test_real_repeat_loop_obeys_the_rule(ci_target, expected_rows, reason):
    rows = measure(Combination("exp_sinh", "numpy", "serial", 1_000, 4, 1),
                   JobSettings(min_repeats=5, max_repeats=12, ci_target=ci_target))
    assert len(rows) == expected_rows and set(rows["stop_reason"]) == {reason}
