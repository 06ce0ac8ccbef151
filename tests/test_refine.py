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
from parbench.refine import Refinement, planned_rounds, read_plan, write_plan
from parbench.refine.planner import plan_round, rounded
from parbench.workflow_copy import copy_workflow, planned_jobs
from tests.conftest import REPO, SMALL_RUN, run_snakemake

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


def test_round_one_measures_around_the_estimate_with_pairs_side_by_side(small_run):
    """The small run crosses between its 1 and 3 MB points: round 1 adds 0.8 and 1.25
    times the estimate and tops up 1 and 3 MB (within 2.5x of it) to 4 replicates, Ray
    and Pool of one size and replicate next to each other."""
    around = estimate(small_run)
    assert 1e6 < around < 3e6
    jobs, estimates = plan_round(small_run, 1, RAY_VS_POOL)
    sizes = {job.size for job in jobs}
    assert sizes == {1_000_000, rounded(0.8 * around), rounded(1.25 * around), 3_000_000}
    assert {job.series for job in jobs} == {"ray", "pool"}
    assert {(job.tasks, job.workers) for job in jobs} == {(16, 2)}
    # Measured already: replicates 0 and 1 of 1 and 3 MB.
    assert all(job.replicate >= 2 for job in jobs if job.size in (1_000_000, 3_000_000))
    assert {job.replicate for job in jobs} == {0, 1, 2, 3}
    for first, second in zip(jobs[::2], jobs[1::2]):
        assert {first.series, second.series} == {"ray", "pool"}
        assert (first.size, first.replicate) == (second.size, second.replicate)
    assert len(jobs) <= RAY_VS_POOL.max_jobs
    assert [estimate["action"] for estimate in estimates][0] == "measure more"
    assert "ray vs pool" in estimates[0]["curve"]


def test_the_budget_keeps_the_nearest_sizes_and_first_replicates(small_run):
    jobs, estimates = plan_round(small_run, 1, dataclasses.replace(RAY_VS_POOL, max_jobs=6))
    around = estimate(small_run)
    new = sorted((rounded(0.8 * around), rounded(1.25 * around)),
                 key=lambda size: abs(math.log(size / around)))
    # Replicate 0 of the new sizes, then replicate 1 of the nearest.
    assert {(job.size, job.replicate) for job in jobs} == {(new[0], 0), (new[1], 0),
                                                            (new[0], 1)}
    assert len(jobs) == 6 and "budget" in estimates[-1]["action"]


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


def test_a_later_round_adds_replicates_where_the_interval_is_still_wide():
    """Two replicates cannot bound Fieller's interval (t = 12.7): round 2 asks for
    twice round 1's replicates at every size near the crossing, within the budget."""
    near = [rounded(1.375e6 * factor) for factor in (0.7, 1.0, 1.4)]
    rows = _known_rows(2, near, noise=0.05)
    jobs, estimates = plan_round(rows, 2, dataclasses.replace(RAY_VS_POOL, max_jobs=100))
    assert "unbounded" in estimates[0]["curve"]
    assert max(job.replicate for job in jobs) == 2 * RAY_VS_POOL.replicates - 1
    assert {job.replicate for job in jobs if job.size in near} == set(range(2, 8))


def test_plans_are_read_back_in_their_order(tmp_path: Path, small_run):
    jobs, estimates = plan_round(small_run, 1, RAY_VS_POOL)
    write_plan(tmp_path / "round1.json", 1, jobs, estimates)
    assert read_plan(tmp_path / "round1.json") == jobs
    rounds = planned_rounds(tmp_path)
    assert [rounds[job] for job in jobs] == [(1, place) for place in range(len(jobs))]


REFINED_DESIGN = {
    "workloads": {"shared_array": {"sizes": [100_000, 1_000_000, 3_000_000], "tasks": [16],
                                   "backends": ["serial", "pool", "pool-c1", "ray"]}},
    "workers": [2], "replicates": 2, "min_repeats": 3, "max_repeats": 5, "ci_target": 0.1,
    "job_budget_seconds": 2, "compare": [["ray", "pool"], ["ray", "pool-c1"]],
    # One new size at the estimate, 2 replicates of Ray and Pool: 4 jobs.
    "refine": {"pairs": [["ray", "pool"]], "rounds": 1, "factors": [1.0], "replicates": 2,
               "max_jobs": 4},
}


@pytest.mark.snakemake
def test_the_checkpoint_plans_from_a_real_run_and_a_dry_run_shows_the_jobs(tmp_path: Path):
    """The grid of the small real run is on disk (as if measured): the checkpoint plans
    Ray and Pool at the estimate, and a dry run then lists those jobs. (Running them,
    their rows and a rerun that redoes nothing: tests/test_pipeline.py.)"""
    workdir = copy_workflow(tmp_path)
    # Copied as new files: with their checkout's times, a fresh clone's CSVs can be older
    # than the scripts checked out after them, and Snakemake would re-measure them all
    # ("code has changed").
    shutil.copytree(SMALL_RUN / "shared_array", workdir / "results/raw/shared_array",
                    copy_function=shutil.copy)
    (workdir / "refined.yaml").write_text(yaml.safe_dump(REFINED_DESIGN))
    design = ["--configfile", "refined.yaml"]
    planned = run_snakemake(workdir, "--cores", "2", "--until", "refine", *design, timeout=300)
    assert planned.returncode == 0, planned.stderr[-3000:]
    plan = read_plan(workdir / "results/refine/round1.json")
    new_size = rounded(estimate(collect_timings(sorted(
        (SMALL_RUN / "shared_array").rglob("*.csv")))))
    assert {(job.series, job.size, job.replicate) for job in plan} == {
        (series, new_size, replicate) for series in ("ray", "pool") for replicate in (0, 1)}
    assert "measure more" in (workdir / "results/logs/refine/round1.log").read_text()
    dry = run_snakemake(workdir, "-n", "--cores", "2", *design, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert planned_jobs(dry.stdout + dry.stderr)["measure"] == 4
    listed = set(re.findall(r"output: (results/raw/\S+\.csv)", dry.stdout + dry.stderr))
    assert {path.split("/")[4] for path in listed} == {"ray", "pool"}
    assert {f"size{new_size}_" in path for path in listed} == {True}
