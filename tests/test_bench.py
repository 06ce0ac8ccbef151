"""`make bench`'s verdicts: paired bootstrap intervals of ratios, the met/missed/undecided
rule and when rounds stop, on rounds with known answers (nothing is timed or started)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from benchmarks.__main__ import (
    RoundLimits,
    assess,
    paired_ratio_interval,
    ratio_of_medians,
    stop_reason,
    verdict,
)
from parbench import stats


def rounds_with_ratio(ratio: float, count: int, noise: float, seed: int = 7,
                      drift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """`count` rounds of a denominator near 1 (times a per-round drift shared by both
    sides) and a numerator near `ratio` times it, each side with its own noise."""
    rng = np.random.default_rng(seed)
    shared = np.exp(rng.normal(0.0, drift, size=count))
    bottom = shared * np.exp(rng.normal(0.0, noise, size=count))
    top = ratio * shared * np.exp(rng.normal(0.0, noise, size=count))
    return top, bottom


# --- verdict ------------------------------------------------------------------------------

@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.98, 1.01, "met"),  # all below 1.03
    (1.05, 1.10, "missed"),  # all above
    (1.00, 1.06, "undecided"),  # straddles
    (1.03, 1.03, "met"),  # the threshold itself is on the good side of `<=`
    (1.0, 1.03, "met"),
    (1.03, 1.05, "undecided"),
])
def test_verdict_for_a_target_below(low, high, expected):
    assert verdict(low, high, 1.03, better="below") == expected


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.92, 0.97, "met"),  # all at or above 0.9
    (0.70, 0.85, "missed"),
    (0.85, 0.95, "undecided"),
    (0.90, 0.95, "met"),
    (0.80, 0.90, "undecided"),
])
def test_verdict_for_a_target_above(low, high, expected):
    assert verdict(low, high, 0.9, better="above") == expected


def test_verdict_is_undecided_without_an_interval():
    assert verdict(math.nan, math.nan, 1.5) == "undecided"
    assert verdict(1.0, math.nan, 1.5) == "undecided"


def test_verdict_rejects_nonsense():
    with pytest.raises(ValueError):
        verdict(1.0, 1.1, 1.5, better="sideways")
    with pytest.raises(ValueError):
        verdict(1.2, 1.1, 1.5)


# --- paired_ratio_interval ----------------------------------------------------------------

@pytest.mark.parametrize("true_ratio", [0.8, 1.0, 1.3])
def test_interval_contains_the_point_ratio_and_the_true_one(true_ratio):
    top, bottom = rounds_with_ratio(true_ratio, count=40, noise=0.03)
    low, high = paired_ratio_interval(top, bottom)
    point = ratio_of_medians(top, bottom)
    assert low <= point <= high
    assert low <= true_ratio <= high
    assert high - low < 0.1 * true_ratio


def test_interval_is_deterministic_for_a_seed_and_differs_for_another():
    top, bottom = rounds_with_ratio(1.1, count=25, noise=0.05)
    assert paired_ratio_interval(top, bottom) == paired_ratio_interval(top, bottom)
    assert paired_ratio_interval(top, bottom, seed=1) == paired_ratio_interval(
        top, bottom, seed=1)
    assert paired_ratio_interval(top, bottom, seed=1) != paired_ratio_interval(
        top, bottom, seed=2)


def test_pairing_cancels_drift_that_both_sides_of_a_round_share():
    # The machine's speed drifts by ±20 % from round to round; within a round the
    # numerator is exactly 1.1 times the denominator.
    bottom = np.exp(np.random.default_rng(3).normal(0.0, 0.2, size=30))
    top = 1.1 * bottom
    low, high = paired_ratio_interval(top, bottom)
    assert low == pytest.approx(1.1) and high == pytest.approx(1.1)
    # Resampling the sides independently keeps the drift in the interval.
    unpaired_low, unpaired_high = stats.ratio_interval(top, bottom)
    assert unpaired_high - unpaired_low > 0.1


def test_interval_narrows_with_more_rounds():
    few = paired_ratio_interval(*rounds_with_ratio(1.0, count=10, noise=0.05))
    many = paired_ratio_interval(*rounds_with_ratio(1.0, count=200, noise=0.05))
    assert many[1] - many[0] < (few[1] - few[0]) / 2


def test_incomplete_rounds_are_left_out_and_no_rounds_give_no_interval():
    top, bottom = rounds_with_ratio(1.2, count=20, noise=0.02)
    with_gap_top, with_gap_bottom = np.append(top, math.nan), np.append(bottom, 1.0)
    assert paired_ratio_interval(with_gap_top, with_gap_bottom) == paired_ratio_interval(
        top, bottom)
    assert ratio_of_medians(with_gap_top, with_gap_bottom) == ratio_of_medians(top, bottom)
    low, high = paired_ratio_interval([], [])
    assert math.isnan(low) and math.isnan(high)
    assert math.isnan(ratio_of_medians([math.nan], [1.0]))
    with pytest.raises(ValueError):
        paired_ratio_interval([1.0, 2.0], [1.0])


# --- assess: interval plus verdict, as the checks call it ------------------------------------

def test_clearly_met_clearly_missed_and_straddling_rounds():
    met = assess(*rounds_with_ratio(0.95, count=30, noise=0.02), threshold=1.03,
                 better="below", min_rounds=10)
    missed = assess(*rounds_with_ratio(1.15, count=30, noise=0.02), threshold=1.03,
                    better="below", min_rounds=10)
    # True ratio on the threshold, noise far larger than the rounds can resolve.
    straddling = assess(*rounds_with_ratio(1.03, count=12, noise=0.2), threshold=1.03,
                        better="below", min_rounds=10)
    assert met[3] == "met" and met[2] <= 1.03
    assert missed[3] == "missed" and missed[1] > 1.03
    assert straddling[3] == "undecided" and straddling[1] < 1.03 < straddling[2]


def test_assess_scales_a_speedup_to_an_efficiency():
    # Serial 1.9 times as long as Pool on 2 workers: efficiency 0.95 >= 0.9.
    serial, pool = rounds_with_ratio(1.9, count=30, noise=0.01)
    ratio, low, high, said = assess(serial, pool, threshold=0.9, better="above",
                                    min_rounds=10, scale=1 / 2)
    assert ratio == pytest.approx(ratio_of_medians(serial, pool) / 2)
    assert low <= ratio <= high and said == "met"
    assert (low, high) == tuple(bound / 2 for bound in paired_ratio_interval(serial, pool))


def test_assess_stays_undecided_before_the_minimum_rounds():
    top, bottom = rounds_with_ratio(2.0, count=3, noise=0.01)
    assert assess(top, bottom, threshold=1.5, better="below", min_rounds=4)[3] == "undecided"
    assert assess(top, bottom, threshold=1.5, better="below", min_rounds=3)[3] == "missed"


# --- stop_reason ------------------------------------------------------------------------

LIMITS = RoundLimits(min_rounds=4, max_rounds=8, budget_seconds=100.0)


def test_rounds_stop_once_decided_from_the_minimum_on():
    assert stop_reason(4, 40.0, 10.0, "met", LIMITS) == "decided"
    assert stop_reason(5, 50.0, 10.0, "missed", LIMITS) == "decided"
    assert stop_reason(3, 30.0, 10.0, "met", LIMITS) is None


def test_undecided_rounds_go_on_until_the_maximum_or_the_budget():
    assert stop_reason(4, 40.0, 10.0, "undecided", LIMITS) is None
    assert stop_reason(8, 80.0, 10.0, "undecided", LIMITS) == "max_rounds"
    # Another 10 s round would end past the 100 s budget.
    assert stop_reason(6, 95.0, 10.0, "undecided", LIMITS) == "budget"
    # The budget binds before the minimum too: the run's length is bounded.
    assert stop_reason(2, 95.0, 10.0, "undecided", LIMITS) == "budget"


@pytest.mark.engine
def test_the_scale_benchmarks_synthetic_jobs_follow_the_schema_and_aggregate(tmp_path):
    """`make bench`'s scale check times the workflow on synthetic per-job CSVs: they
    must be what aggregation accepts from real jobs, one per job of the design, at
    the workflow's paths, with crossovers to find."""
    import yaml

    from benchmarks import scale
    from parbench.aggregate import aggregate

    series = ["serial", "pool", "ray"]
    config = scale.design(100, series)
    assert config["backends"] == series and config["replicates"] == scale.REPLICATES
    template = scale.template_rows()
    (tmp_path / "scale.yaml").write_text(yaml.safe_dump(config))
    jobs = scale.write_synthetic_jobs(tmp_path, config, template)
    written = sorted((tmp_path / "results/raw").rglob("*.csv"))
    assert jobs == len(written) > 0
    out = tmp_path / "out"
    out.mkdir()
    aggregate(written, out)  # raises on a file that breaks the schema
    summary = pd.read_csv(out / "summary.csv")
    assert (summary["status"] == "ok").all() and summary["verified"].all()
    assert len(summary) * scale.REPLICATES == jobs
    assert set(summary["series"]) == set(series)
    # Each job keeps its own number of repeats, as real jobs do.
    repeats = pd.read_csv(out / "timings.csv").groupby(
        ["workload", "kernel", "series", "size", "tasks", "workers", "replicate"]).size()
    assert repeats.between(*scale.REPEATS).all() and repeats.nunique() > 1

    # Mixed shapes: 2 to 5 replicates a combination, and aggregation takes them.
    mixed = scale.design(100, series, scale.MIXED_REPLICATES[1])
    (tmp_path / "mixed").mkdir()
    scale.write_synthetic_jobs(tmp_path / "mixed", mixed, template)
    kept = scale.leave_out_replicates(tmp_path / "mixed", mixed)
    written = sorted((tmp_path / "mixed/results/raw").rglob("*.csv"))
    assert kept == len(written)
    aggregate(written, out)
    summary = pd.read_csv(out / "summary.csv")
    assert summary["replicates"].between(*scale.MIXED_REPLICATES).all()
    assert summary["replicates"].nunique() == 4 and summary["median_seconds"].notna().all()


def test_a_scale_target_is_decided_by_the_fastest_and_the_slowest_run():
    """The scale check's verdict: met when even the slowest run is within the target,
    missed when even the fastest is not, undecided between; a growth beyond its bound
    misses the row whatever the times."""
    from benchmarks import scale

    assert scale.at_most(8.0, 9.5, 10.0) == "met"
    assert scale.at_most(10.5, 12.0, 10.0) == "missed"
    assert scale.at_most(9.0, 11.0, 10.0) == "undecided"
    assert scale.median_bounds([9.0, 7.0, 8.0, 12.0]) == (8.5, 7.0, 12.0)
    runs = {key: [1.0] for key, *_ in scale.MEASURES}
    large = {key: [5.0, 6.0, 7.0] for key, *_ in scale.MEASURES}
    large["aggregate_seconds"] = [19.0, 21.0, 25.0]  # straddles its 20 s
    large["plot_seconds"] = [31.0, 33.0, 35.0]  # all beyond its 30 s
    table = scale.scale_table(runs, large).set_index("measure")
    verdicts = dict(zip([key for key, *_ in scale.MEASURES], table["verdict"]))
    assert verdicts["aggregate_seconds"] == "undecided"
    assert verdicts["plot_seconds"] == "missed"
    assert verdicts["dry_run_seconds"] == "met"
    # 6 s at 10k over 1 s at 1k is growth 6x, within 11x; 12x misses.
    assert verdicts["aggregate_alone_seconds"] == "met"
    large["aggregate_alone_seconds"] = [9.0, 9.5, 9.9]
    runs["aggregate_alone_seconds"] = [0.8]  # 9.5 / 0.8 = 11.9x: beyond 11x
    table = scale.scale_table(runs, large)
    assert table.loc[table["measure"] == scale.MEASURES[2][1], "verdict"].item() == "missed"
    assert (table["runs_10k"] == 3).all() and (table["low_10k"] <= table["high_10k"]).all()


def test_the_default_design_stays_honest_where_the_pool_steps_up_at_the_crossing():
    """benchmarks.refinement_design runs the default design on a known truth. Where both
    series are straight lines on log-log axes, the headline's interval covers the truth
    about 95 % of the time (mostly the fit). Where the naive Pool steps up right at the
    crossing (as it did on the 2-core VM's quieter day), a straight line cannot follow:
    the fit alone covered the truth in 7 % of such runs; the bracket takes over where
    the fit does not hold, refinement measures inside it, and coverage is about 98 %."""
    from benchmarks.refinement_design import Truth, score

    sizes = np.geomspace(1e5, 1e7, 12)
    ray, pool = 0.02 * (sizes / 1e6) ** 0.15, 0.01 * sizes / 1e6
    straight = score(Truth(sizes, ray, pool), runs=400)
    assert straight["found"] >= 0.9 and abs(straight["coverage"] - 0.95) <= 0.04
    assert straight["bracket"] < 0.4  # the fit, mostly
    stepped_sizes = np.sort(np.r_[sizes, 2.19e6, 2.21e6])
    stepped = Truth(stepped_sizes, 0.02 * (stepped_sizes / 1e6) ** 0.15,
                    0.01 * stepped_sizes / 1e6 * np.where(stepped_sizes > 2.2e6, 1.6, 1.0))
    assert 2.1e6 < stepped.crossing < 2.2e6
    found = score(stepped, runs=400)
    assert found["found"] >= 0.9 and found["coverage"] >= 0.9 and found["bracket"] > 0.5
