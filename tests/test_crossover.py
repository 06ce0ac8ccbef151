"""Crossover detection on synthetic curves whose answer is known."""

import math

import numpy as np
import pytest

from parbench.crossover import (
    FOUND,
    NO_CLEAR_WINNER,
    NONE_IN_RANGE,
    NOT_SIGNIFICANT,
    TOO_FEW_SIZES,
    crossover_with_confidence,
    find_crossover,
    resampled_crossovers,
)

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


def test_identical_curves_have_no_clear_winner():
    rng = np.random.default_rng(6)
    sizes = [1e4, 1e5, 1e6]
    same = [_noisy(size * 1e-6, rng) for size in sizes]
    estimate = crossover_with_confidence(sizes, same, [s.copy() for s in same])
    assert estimate.status == NO_CLEAR_WINNER and math.isnan(estimate.size)


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
