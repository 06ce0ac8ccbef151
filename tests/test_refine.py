"""Refinement: the plan of new jobs around a crossover, from a small real run and from
rows whose crossover is known; and the workflow's checkpoint that runs it."""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from parbench.aggregate import collect_timings, crossovers
from parbench.crossover.bracket import inside
from parbench.refine import Refinement, planned_rounds, read_plan, refined_jobs, write_plan
from parbench.refine.planner import (
    bracket,
    estimate_of,
    fitted_sizes,
    plan_round,
    rounded,
    where_to_measure,
    within_target,
)
from parbench.workflow_copy import copy_workflow, planned_jobs
from tests.conftest import REPO, SMALL_RUN, run_snakemake
from tests.unwaiting import UNWAITING

RAY_VS_POOL = Refinement(pairs=[["ray", "pool"]], workloads=["shared_array"])


@pytest.fixture(scope="module")
def small_run() -> pd.DataFrame:
    return collect_timings(sorted((SMALL_RUN / "shared_array").rglob("*.csv")))


def test_the_refinement_defaults_are_the_schemas():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    properties = schema["properties"]["refine"]["properties"]
    for field in dataclasses.fields(Refinement):
        default = field.default_factory() if callable(field.default_factory) else field.default
        assert properties[field.name]["default"] == default, field.name


def estimate(small_run) -> float:
    table = crossovers(small_run, [["ray", "pool"]])
    return float(table[table["time_basis"] == "warm"]["medians_cross"].iloc[0])


def test_round_one_adds_replicates_inside_the_bracket_with_pairs_side_by_side(small_run):
    """The small run (sizes 0.1, 1 and 3 MB, replicates 0 and 1) crosses between 1 and
    3 MB, too few sizes there for a fit: its headline is the bracket [1, 3] MB, and round
    1 measures Ray and Pool at the bracket's thirds on log axes, in replicates 2 to 5 (4
    replicates of 2 sizes: the 3 x 3 jobs a round around an estimate has, per series),
    Ray and Pool of one size and replicate next to each other."""
    around = estimate(small_run)
    assert 1e6 < around < 3e6
    table = crossovers(small_run, [["ray", "pool"]])
    row = table[table["time_basis"] == "warm"].iloc[0]
    assert row["method"] == "bracket" and row["crossover_status"] == "found"
    assert (row["crossover_ci_low"], row["crossover_ci_high"]) == (1e6, 3e6)
    jobs, estimates = plan_round(small_run, 1, RAY_VS_POOL)
    thirds = [1_400_000, 2_100_000]  # 10^6 x 3^(1/3, 2/3), rounded
    assert sorted({rounded(size) for size in inside(1e6, 3e6, parts=3)}) == thirds
    assert {(job.series, job.size, job.replicate) for job in jobs} == {
        (series, size, replicate) for series in ("ray", "pool") for size in thirds
        for replicate in (2, 3, 4, 5)}
    assert {(job.tasks, job.workers) for job in jobs} == {(16, 2)}
    assert len(jobs) == 16 <= RAY_VS_POOL.max_jobs
    for first, second in zip(jobs[::2], jobs[1::2]):
        assert {first.series, second.series} == {"ray", "pool"}
        assert (first.size, first.replicate) == (second.size, second.replicate)
    # Replicate by replicate: a replicate's six jobs run together.
    assert [job.replicate for job in jobs] == sorted(job.replicate for job in jobs)
    assert [estimate["action"] for estimate in estimates][0] == "measure more"
    assert "ray vs pool" in estimates[0]["curve"]


def test_the_budget_plans_whole_replicates_only(small_run):
    jobs, estimates = plan_round(small_run, 1, dataclasses.replace(RAY_VS_POOL, max_jobs=10))
    # Two replicates of 4 jobs (Ray and Pool at the bracket's two thirds); half of a
    # third: not planned (a replicate is its whole set of sizes).
    assert {job.replicate for job in jobs} == {2, 3} and len(jobs) == 8
    assert "budget" in estimates[-1]["action"]


def test_a_bracket_measures_a_size_already_measured_within_ten_percent():
    assert bracket(1.0e6, [0.75, 1.35], [100_000, 1_000_000, 3_000_000]) == [750_000,
                                                                           1_400_000]
    # 0.75 x 1.4 MB = 1.05 MB: the 1 MB point gathers the replicate instead.
    assert bracket(1.4e6, [0.75, 1.35], [100_000, 1_000_000, 3_000_000]) == [1_000_000,
                                                                           1_900_000]


def _known_rows(replicates: int, sizes, noise: float = 0.02) -> pd.DataFrame:
    """Rows of Ray and Pool crossing at 1.375 MB, `replicates` jobs of 3 samples each."""
    rng = np.random.default_rng(31)
    rows = []
    for size in sizes:
        for replicate in range(replicates):
            for series, seconds in (("pool", 0.003 + 0.020e-6 * size),
                                    ("ray", 0.025 + 0.004e-6 * size)):
                job = seconds * math.exp(rng.normal(0, noise))
                for repeat in range(3):
                    rows.append({"workload": "shared_array", "kernel": "numpy",
                                 "series": series, "size": size, "tasks": 16, "workers": 2,
                                 "replicate": replicate, "repeat": repeat,
                                 "seconds": job * math.exp(rng.normal(0, noise / 2)),
                                 "status": "ok", "single_process": False,
                                 "startup_seconds": 1.0, "first_map_seconds": job,
                                 "ci_target": 0.1, "size_unit": "bytes of shared input",
                                 "planned_round": 0})
    return pd.DataFrame(rows)


def test_a_crossover_within_the_target_plans_nothing():
    near = [rounded(1.375e6 * factor) for factor in (0.5, 0.7, 1.0, 1.4, 2.0)]
    jobs, estimates = plan_round(_known_rows(6, near), 1, RAY_VS_POOL)
    assert jobs == [] and estimates[0]["action"] == "within the target"


def test_only_a_fit_or_a_bracket_within_the_target_stops_the_refinement():
    row = {"method": "fit", "crossover_status": "found", "crossover_relative_half_width": 0.1}
    assert within_target(row, 0.15) and within_target({**row, "method": "bracket"}, 0.15)
    assert not within_target({**row, "crossover_relative_half_width": 0.2}, 0.15)
    assert not within_target({**row, "crossover_status": "poor fit"}, 0.15)
    # A bootstrap over two replicates is too narrow to stop on.
    assert not within_target({**row, "method": "interpolated"}, 0.15)


def test_a_wide_bracket_is_measured_at_its_thirds_a_narrow_one_around_its_estimate():
    measured = pd.Series([1_000_000, 3_000_000])
    wide = {"method": "bracket", "crossover_ci_low": 1e6, "crossover_ci_high": 3e6,
            "fit_size_low": math.nan, "fit_size_high": math.nan}
    # Two sizes, 4 replicates: the 3 x 3 a round around an estimate measures.
    assert where_to_measure(wide, 1.7e6, RAY_VS_POOL, measured) == ([1_400_000, 2_100_000],
                                                                    4)
    narrow = {**wide, "crossover_ci_low": 2.0e6, "crossover_ci_high": 2.5e6}
    around = (bracket(2.2e6, RAY_VS_POOL.factors, measured), RAY_VS_POOL.replicates)
    assert where_to_measure(narrow, 2.2e6, RAY_VS_POOL, measured) == around
    fitted = {**wide, "method": "fit"}
    assert where_to_measure(fitted, 1.7e6, RAY_VS_POOL, measured) == \
        (bracket(1.7e6, RAY_VS_POOL.factors, measured), RAY_VS_POOL.replicates)


def test_a_bracket_does_not_reuse_a_size_the_fit_dropped_as_bent():
    """The fit kept 1 to 2.2 MB and dropped 3 MB (a curve bends there): a bracket around
    2 MB measures 2.8 MB anew instead of reusing 3 MB; without a fit, 3 MB is reused."""
    measured = pd.Series([100_000, 1_000_000, 2_200_000, 3_000_000])
    dropped = pd.Series({"fit_size_low": 1_000_000.0, "fit_size_high": 2_200_000.0})
    assert list(fitted_sizes(dropped, measured)) == [1_000_000, 2_200_000]
    assert bracket(2e6, [0.7, 1.0, 1.4], fitted_sizes(dropped, measured))[-1] == 2_800_000
    unfitted = pd.Series({"fit_size_low": math.nan, "fit_size_high": math.nan})
    assert bracket(2e6, [0.7, 1.0, 1.4], fitted_sizes(unfitted, measured))[-1] == 3_000_000


def test_a_later_round_adds_replicates_where_the_interval_is_still_wide():
    """Two replicates cannot bound Fieller's interval (t = 12.7), nor tell the pair
    apart at any size: round 2 adds `replicates` more, numbered after the highest
    measured, at the bracket."""
    near = [rounded(1.375e6 * factor) for factor in (0.7, 1.0, 1.4)]
    rows = _known_rows(2, near, noise=0.05)
    table = crossovers(rows, [["ray", "pool"]])
    assert table[table["time_basis"] == "warm"]["fit_status"].iloc[0] == "unbounded interval"
    jobs, estimates = plan_round(rows, 2, dataclasses.replace(RAY_VS_POOL, max_jobs=100))
    assert "no clear winner" in estimates[0]["curve"]
    assert {job.replicate for job in jobs} == set(range(2, 2 + RAY_VS_POOL.replicates))
    assert len({job.size for job in jobs}) == len(RAY_VS_POOL.factors)


def test_plans_are_read_back_in_their_order(tmp_path: Path, small_run):
    jobs, estimates = plan_round(small_run, 1, RAY_VS_POOL)
    write_plan(tmp_path / "round1.json", 1, jobs, estimates)
    assert read_plan(tmp_path / "round1.json") == jobs
    rounds = planned_rounds(tmp_path)
    assert [rounds[job] for job in jobs] == [(1, place) for place in range(len(jobs))]
    # Read once while the plans stay as they are; again when one changes or is added.
    assert planned_rounds(tmp_path) is rounds
    write_plan(tmp_path / "round1.json", 1, jobs[:2], estimates)
    assert set(planned_rounds(tmp_path)) == set(jobs[:2])
    write_plan(tmp_path / "round2.json", 2, jobs[2:3], estimates)
    assert planned_rounds(tmp_path)[jobs[2]] == (2, 0)


REFINED_DESIGN = {
    "workloads": {"shared_array": {"sizes": [100_000, 1_000_000, 3_000_000], "tasks": [16],
                                   "backends": ["serial", "pool", "pool-c1", "ray"]}},
    "workers": [2], "replicates": 2, "min_repeats": 3, "max_repeats": 5, "ci_target": 0.1,
    "job_budget_seconds": 2, **UNWAITING, "compare": [["ray", "pool"], ["ray", "pool-c1"]],
    # One new replicate of Ray and Pool at the thirds of the bracket: 4 jobs.
    "refine": {"pairs": [["ray", "pool"]], "rounds": 1, "factors": [0.75, 1.35],
               "replicates": 1, "max_jobs": 4},
}


def plan_on_the_small_run(tmp_path: Path, design: dict) -> tuple[Path, list[str], list]:
    """The grid of the small real run on disk (as if measured) and the checkpoint run
    under `design`: the workflow's folder, the config arguments, round 1's plan."""
    workdir = copy_workflow(tmp_path)
    # Copied as new files: with their checkout's times, a fresh clone's CSVs can be older
    # than the scripts checked out after them, and Snakemake would re-measure them all
    # ("code has changed").
    shutil.copytree(SMALL_RUN / "shared_array", workdir / "results/raw/shared_array",
                    copy_function=shutil.copy)
    (workdir / "design.yaml").write_text(yaml.safe_dump(design))
    arguments = ["--configfile", "design.yaml"]
    planned = run_snakemake(workdir, "--cores", "2", "--until", "refine", *arguments,
                            timeout=300)
    assert planned.returncode == 0, planned.stderr[-3000:]
    return workdir, arguments, read_plan(workdir / "results/refine/round1.json")


@pytest.mark.snakemake
def test_the_checkpoint_plans_from_a_real_run_and_a_dry_run_shows_the_jobs(tmp_path: Path,
                                                                           small_run):
    """The grid of the small real run is on disk (as if measured): the checkpoint plans
    Ray and Pool at the thirds of the bracket [1, 3] MB, and a dry run then lists those
    jobs.
    (Running them, their rows and a rerun that redoes nothing: tests/test_pipeline.py.)"""
    workdir, design, plan = plan_on_the_small_run(tmp_path, REFINED_DESIGN)
    new_sizes = sorted({rounded(size) for size in inside(1e6, 3e6, parts=3)})
    assert {(job.series, job.size, job.replicate) for job in plan} == {
        (series, size, 2) for series in ("ray", "pool") for size in new_sizes}
    assert "measure more" in (workdir / "results/logs/refine/round1.log").read_text()
    dry = run_snakemake(workdir, "-n", "--cores", "2", *design, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert planned_jobs(dry.stdout + dry.stderr)["measure"] == 4
    listed = set(re.findall(r"output: (results/raw/\S+\.csv)", dry.stdout + dry.stderr))
    assert {path.split("/")[4] for path in listed} == {"ray", "pool"}
    assert {any(f"size{size}_" in path for size in new_sizes) for path in listed} == {True}


@pytest.mark.snakemake
def test_the_checkpoint_tops_up_noisy_points_without_a_pair_to_refine(tmp_path: Path,
                                                                      small_run):
    """`noisy_seconds` alone (no pair): the checkpoint still runs after the grid, plans
    the planner's top-ups of the small real run, and a dry run lists exactly those."""
    topping = {**REFINED_DESIGN, "refine": {"pairs": [], "rounds": 1, "noisy_seconds": 1000}}
    workdir, design, plan = plan_on_the_small_run(tmp_path, topping)
    expected, _ = plan_round(small_run, 1, Refinement(noisy_seconds=1000))
    assert plan and set(plan) == set(expected)
    assert "noisy:" in (workdir / "results/logs/refine/round1.log").read_text()
    dry = run_snakemake(workdir, "-n", "--cores", "2", *design, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert planned_jobs(dry.stdout + dry.stderr)["measure"] == len(plan)


def _jobs_of(combinations: dict, replicates: int = 2) -> pd.DataFrame:
    """Rows of one-second jobs of 5 samples: {series: (median seconds, job effect sd)}
    of exp_sinh, with their start and end times (what a job costs)."""
    rng = np.random.default_rng(41)
    rows, clock = [], 1e9
    for replicate in range(replicates):
        for series, (seconds, between) in combinations.items():
            job = seconds * math.exp(rng.normal(0, between))
            for repeat in range(5):
                rows.append({"workload": "exp_sinh", "kernel": "python", "series": series,
                             "size": 1000, "tasks": 4, "workers": 2, "replicate": replicate,
                             "repeat": repeat, "status": "ok", "error": "", "verified": True,
                             "seconds": job * math.exp(rng.normal(0, 0.01)),
                             "single_process": False, "ci_target": 0.1, "min_repeats": 5,
                             "job_start_unix": clock, "job_end_unix": clock + 1.0,
                             "startup_seconds": 0.1, "first_map_seconds": job,
                             "size_unit": "iterations", "planned_round": 0})
            clock += 1.0
    return pd.DataFrame(rows)


def test_round_one_gives_noisy_combinations_the_replicates_they_need():
    """The Pool's jobs differ by 40 % from one another, the loop's by 0.1 %: only the
    Pool's median misses its ±10 % target, and it gets two more replicates (the most
    one combination may have), numbered after its last."""
    rows = _jobs_of({"pool": (0.1, 0.4), "serial": (0.2, 0.001)})
    topping = Refinement(noisy_seconds=10)
    jobs, estimates = plan_round(rows, 1, topping)
    assert {(job.series, job.replicate) for job in jobs} == {("pool", 2), ("pool", 3)}
    assert "noisy: 1 combinations" in estimates[-1]["action"]
    # Not in a later round, and not beyond the budget: each job cost 1 s.
    assert plan_round(rows, 2, topping)[0] == []
    assert plan_round(rows, 1, Refinement(noisy_seconds=1.5))[0] == []


def test_a_noisy_combination_the_refinement_measures_gets_no_top_up_besides(
        small_run, tmp_path: Path):
    """The refinement's jobs stay as they are; the top-ups go to other combinations, each
    numbered after its last replicate, and `max_jobs` does not count them."""
    refining = plan_round(small_run, 1, RAY_VS_POOL)[0]
    topping = dataclasses.replace(RAY_VS_POOL, noisy_seconds=1000)
    jobs, estimates = plan_round(small_run, 1, topping)
    assert len(jobs) == len(set(jobs)) and set(refining) <= set(jobs)
    top_ups = set(jobs) - set(refining)
    assert top_ups and not {job.combination for job in top_ups} & {
        job.combination for job in refining}
    highest = small_run.groupby(["series", "size"])["replicate"].max()
    assert all(job.replicate > highest[(job.series, job.size)] for job in top_ups)
    write_plan(tmp_path / "round1.json", 1, jobs, estimates)
    assert refined_jobs(tmp_path, 2) == len(refining)


def test_refinement_measures_around_a_fitted_crossing_only_within_the_sizes_fitted():
    """Nearly flat fitted lines put their crossing anywhere: one tens of thousands of
    times beyond the sizes fitted is no place to plan jobs; the medians' crossing is."""
    row = pd.Series({"crossover_size": math.nan, "fit_size": 4.43e10, "fit_size_low": 1e6,
                     "fit_size_high": 2e6, "medians_cross": 1.5e6})
    assert estimate_of(row) == 1.5e6
    assert estimate_of(row.replace(4.43e10, 1.2e6)) == 1.2e6
    assert estimate_of(row.replace(math.nan, 3e6)) == 3e6  # the headline first
    # No fit: the medians' crossing.
    assert estimate_of(pd.Series({"crossover_size": math.nan, "fit_size": math.nan,
                                  "fit_size_low": math.nan, "fit_size_high": math.nan,
                                  "medians_cross": 7e5})) == 7e5


def test_pairs_that_share_a_series_plan_its_jobs_once(small_run):
    """Ray against pool and against pool-c1: where their brackets agree, both want Ray's
    same jobs; each is planned, and counted against max_jobs, once (they were planned
    twice, and spent the budget twice)."""
    # pool-c1 as pool, 2 % slower: the same bracket, the same sizes for Ray.
    pool = small_run[small_run["series"] == "pool"]
    small_run = pd.concat([small_run[small_run["series"] != "pool-c1"],
                           pool.assign(series="pool-c1", seconds=pool["seconds"] * 1.02)])
    both = Refinement(pairs=[["ray", "pool"], ["ray", "pool-c1"]], workloads=["shared_array"])
    jobs, _ = plan_round(small_run, 1, both)
    assert len({job.size for job in jobs if job.series == "pool-c1"}) > 0
    assert len(jobs) == len(set(jobs))
    ray = {job for job in jobs if job.series == "ray"}
    for baseline in ("pool", "pool-c1"):
        alone, _ = plan_round(small_run, 1, Refinement(pairs=[["ray", baseline]],
                                                         workloads=["shared_array"]))
        assert {job for job in alone if job.series == "ray"} <= ray
    # A budget of exactly the distinct jobs holds them all.
    exact, estimates = plan_round(small_run, 1, dataclasses.replace(both, max_jobs=len(jobs)))
    assert sorted(map(str, exact)) == sorted(map(str, jobs))
    assert not any(estimate["action"].startswith("budget") for estimate in estimates)


def test_a_bad_file_is_left_out_of_a_plan_as_of_the_aggregation(tmp_path: Path, capsys):
    """`skip_invalid: true` holds for the refinement's checkpoint too: a bad per-job CSV
    is named and left out (it stopped the checkpoint, and with it every aggregate of
    the refined workloads)."""
    from parbench.aggregate.validate import InvalidJobCsv
    from parbench.refine.planner import plan_files

    job_csvs = sorted((SMALL_RUN / "shared_array").rglob("*.csv"))
    bad = tmp_path / "raw/shared_array/numpy/pool/size5_tasks16_workers2_rep0.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("not,a\njob,file\n")
    with pytest.raises(InvalidJobCsv):
        plan_files([*job_csvs, bad], tmp_path / "round1.json", 1, RAY_VS_POOL)
    jobs = plan_files([*job_csvs, bad], tmp_path / "round1.json", 1, RAY_VS_POOL,
                      skip_invalid=True)
    assert jobs == plan_round(collect_timings(job_csvs), 1, RAY_VS_POOL)[0]
    assert str(bad) in capsys.readouterr().err


def test_a_bracket_with_no_whole_size_inside_plans_nothing():
    """imbalanced's crossing between tail weights 0 and 1: no size lies between, so no
    round can narrow it (each planned size 1 again, until max_jobs ran out)."""
    row = {"method": "bracket", "crossover_status": "found", "crossover_ci_low": 0.0,
           "crossover_ci_high": 1.0, "fit_size_low": math.nan, "fit_size_high": math.nan}
    assert where_to_measure(row, 0.4, RAY_VS_POOL, pd.Series([0, 1, 2])) == ([], 0)
    wider = {**row, "crossover_ci_high": 3.0}
    sizes, replicates = where_to_measure(wider, 1.4, RAY_VS_POOL, pd.Series([0, 3]))
    assert sizes == [1, 2] and replicates > 0
