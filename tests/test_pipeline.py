"""The whole workflow, run by Snakemake on a tiny config in a temporary folder."""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml

from parbench import identity, sweep, walltime
from parbench.backends import default_series
from parbench.crossover.bracket import inside
from parbench.figures.registry import OVERVIEW, WORKLOAD, of_scope
from parbench.refine import read_plan
from parbench.refine.planner import rounded
from parbench.workflow_copy import copy_workflow
from parbench.workflow_copy import planned_jobs as planned
from tests.conftest import PARBENCH, run_snakemake
from tests.unwaiting import UNWAITING

pytestmark = [pytest.mark.engine, pytest.mark.snakemake, pytest.mark.heavy]

# exp_sinh under every registered series but ipyparallel, whose 13 s a job would be a
# fifth of this run (its jobs are tested in processes of their own: test_measure.py,
# test_failures.py); shared_array under the serial loop and two Pools, which cross
# between its two sizes (the shared-memory Pool pays a copy per map that the naive one
# saves on small arrays): a crossover without Ray's seconds of start-up.
SHARED_ARRAY_SERIES = ["serial", "pool", "pool-shm"]
SERIES = [name for name in default_series() if name != "ipyparallel"]
TINY = {
    "workloads": {
        "exp_sinh": {"sizes": [1_000], "kernels": ["numpy"], "tasks": [4]},
        "shared_array": {"sizes": [10_000, 1_000_000], "tasks": [8],
                         "backends": SHARED_ARRAY_SERIES},
        # A crossing that never fails to happen, for the refinement to measure around:
        # waits of 10 µs are cheaper in the loop than shipped to a Pool, of 30 ms not,
        # whatever load the other test worker adds (tests/waiting_workload.py).
        "waits": {"plugin": "tests.waiting_workload:Waits", "sizes": [10, 30_000],
                  "tasks": [8], "backends": ["serial", "pool"]},
    },
    "backends": SERIES,
    "workers": [2],
    "replicates": 2,
    "min_repeats": 2,
    "max_repeats": 3,
    "warmups": 1,
    "min_sample_seconds": 0.05,
    **UNWAITING,
    "compare": [["pool", "serial"], ["pool-shm", "pool"], ["ray", "pool"]],
    # One refinement round where the Pool overtakes the loop: one new replicate of the
    # pair at two new sizes, the thirds of the bracket (the grid's two sizes: too few to
    # fit) or around the estimate where no bracket is told from noise.
    "refine": {"pairs": [["pool", "serial"]], "workloads": ["waits"], "rounds": 1,
               "factors": [0.8, 1.25], "replicates": 1, "max_jobs": 4},
}
COMBINATIONS = len(SERIES) + 2 * len(SHARED_ARRAY_SERIES) + 2 * 2
REFINED = 4  # the refinement's jobs: serial and pool at two new sizes, 1 new replicate
EXPECTED_JOBS = TINY["replicates"] * COMBINATIONS + REFINED
GRID_SIZES = {size for workload in TINY["workloads"].values() for size in workload["sizes"]}
WORKLOAD_FIGURES = ("scaling", "speedup", "workers", "winner")


def planned_jobs(result) -> dict[str, int]:
    """The 'Job stats' table of a dry run: {rule: job count}."""
    return planned(result.stdout + result.stderr)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> tuple[Path, object]:
    workdir = copy_workflow(tmp_path_factory.mktemp("pipeline"))
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    # --verbose: the log says each pass of the scheduler (its "Ready jobs").
    result = run_snakemake(workdir, "--cores", "8", "--configfile", "tiny.yaml", "--verbose")
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir, result


def test_every_combination_has_its_own_csv(finished_run):
    workdir, _ = finished_run
    csvs = sorted((workdir / "results/raw").rglob("*.csv"))
    assert len(csvs) == EXPECTED_JOBS
    timings = pd.read_csv(workdir / "results/timings.csv")
    assert set(timings["series"]) == set(SERIES)
    assert (timings["status"] == "ok").all(), timings.loc[timings["status"] != "ok", "error"]
    assert timings["verified"].all()


def test_the_scheduler_runs_when_a_job_ends_not_every_second(finished_run):
    """Snakemake's job rate limiter re-ran the scheduler every second once for each job
    that had ended (a chain of passes per job), load that the timing jobs measured; the
    workflow turns it off for local runs (workflow/rules/common.smk)."""
    _, result = finished_run
    log = result.stdout + result.stderr
    ended = log.count("Finished jobid")
    assert ended >= EXPECTED_JOBS
    assert log.count("Ready jobs") <= 2 * ended + 10


PROVENANCE = ["hostname", "cpu_model", "logical_cpus", "physical_cores", "available_cores",
              "memory_bytes", "shm_bytes", "os", "python_version", "gil_enabled",
              "numpy_version", "pandas_version", "ray_version", "ipyparallel_version",
              "snakemake_version", "default_start_method", "blas_threads", "blas_library",
              "git_commit", "config_hash", "timestamp_utc", "engine"]


def test_every_row_carries_its_provenance(finished_run):
    workdir, _ = finished_run
    timings = pd.read_csv(workdir / "results/timings.csv")
    for column in PROVENANCE:
        assert timings[column].notna().all() and (timings[column].astype(str) != "").all(), column
    assert timings["config_hash"].nunique() == 1  # one design, one hash


def refined_replicates(workdir: Path) -> dict[tuple[str, int], int]:
    """{(series, size): replicates} refinement planned (a bracket may reuse a grid size)."""
    plan = json.loads((workdir / "results/refine/round1.json").read_text())
    return Counter((job["series"], job["size"]) for job in plan["jobs"])


def test_aggregates_and_figures_exist(finished_run):
    workdir, _ = finished_run
    summary = pd.read_csv(workdir / "results/summary.csv")
    refined = refined_replicates(workdir)
    grid = {(series, size) for series in ("serial", "pool")
            for size in TINY["workloads"]["waits"]["sizes"]}
    assert len(summary) == COMBINATIONS + len(set(refined) - grid)
    for row in summary.itertuples():
        expected = TINY["replicates"] if row.workload != "waits" else (
            TINY["replicates"] * ((row.series, row.size) in grid)
            + refined.get((row.series, row.size), 0))
        assert row.replicates == expected, row
    measured = summary[summary["series"] != "serial"]
    assert (measured["ci_low"] <= measured["median_seconds"]).all()
    assert (measured["median_seconds"] <= measured["ci_high"]).all()
    assert (measured["speedup_ci_low"] <= measured["speedup"]).all()
    assert (measured["speedup"] <= measured["speedup_ci_high"]).all()
    assert measured["overhead_per_task_seconds"].gt(0).all()
    assert measured["cpu_utilization"].notna().all() and measured["peak_rss_bytes"].gt(0).all()
    crossover = pd.read_csv(workdir / "results/crossover.csv")
    assert set(TINY["workloads"]) == set(crossover["workload"])
    for figure, workload, extension in itertools.product(
        WORKLOAD_FIGURES, TINY["workloads"], ("png", "pdf")
    ):
        assert (workdir / f"results/figures/{figure}_{workload}.{extension}").stat().st_size > 0
    for figure, extension in itertools.product(("overhead", "article"), ("png", "pdf")):
        assert (workdir / f"results/figures/{figure}.{extension}").stat().st_size > 0
    assert len(pd.read_csv(workdir / "results/machines.csv")) == 1


def test_timing_jobs_never_overlapped(finished_run):
    workdir, _ = finished_run
    timings = pd.read_csv(workdir / "results/timings.csv")
    spans = timings.groupby(list(identity.JOB), dropna=False)[
        ["job_start_unix", "job_end_unix"]].first().sort_values("job_start_unix")
    assert len(spans) == len(list((workdir / "results/raw").rglob("*.csv")))  # every job
    starts, ends = spans["job_start_unix"].to_numpy(), spans["job_end_unix"].to_numpy()
    assert (starts[1:] >= ends[:-1]).all()


def test_replicates_ran_apart_and_their_variance_is_reported(finished_run):
    workdir, result = finished_run
    summary = pd.read_csv(workdir / "results/summary.csv")
    # The grid's combinations as the grid ran them: refinement's jobs come after the grid,
    # and may add a replicate to a grid size right after its last grid replicate.
    refined = refined_replicates(workdir)
    summary = summary[summary["size"].isin(GRID_SIZES)
                      & ~pd.Series(zip(summary["series"], summary["size"]),
                                   index=summary.index).isin(refined)]
    # Never back to back: other jobs ran between two replicates of a combination.
    assert summary["replicate_min_gap_jobs"].ge(1).all()
    assert summary["replicate_min_gap_jobs"].median() >= COMBINATIONS // 4
    assert summary["within_replicate_cv"].notna().all()
    assert summary["between_replicate_cv"].ge(0).all()
    timings = pd.read_csv(workdir / "results/timings.csv")
    assert (timings["maps_per_sample"] >= 1).all()
    # Calibrated samples: k maps lasting at least min_sample_seconds, k chosen with 20 %
    # to spare (samples of one k vary around it; one map may be longer). The other test
    # worker's load can make the calibration's maps up to twice as slow as later ones.
    short = timings[timings["maps_per_sample"] > 1]
    assert short["sample_seconds"].median() >= TINY["min_sample_seconds"]
    assert short["sample_seconds"].quantile(0.1) >= 0.4 * TINY["min_sample_seconds"]
    design = pd.read_csv(workdir / "results/design.csv")
    assert (design["scope"] == "sweep").sum() == 1
    # Every recommendation has two replicates at least; a combination no number of
    # them brings within its target has none (its row stays, counted in the sweep's).
    recommended = design["recommended_replicates"]
    assert recommended.dropna().ge(2).all() and recommended.notna().any()
    assert design.loc[design["scope"] == "sweep", "recommended_replicates"].notna().all()
    log = (workdir / "results/logs/aggregate.log").read_text()
    assert "To reach" in log and "replicates:" in log


def test_refinement_adds_a_replicate_bracketing_the_crossing(finished_run):
    workdir, _ = finished_run
    plan = json.loads((workdir / "results/refine/round1.json").read_text())
    assert plan["round"] == 1 and len(plan["jobs"]) == REFINED
    assert {job["series"] for job in plan["jobs"]} == {"pool", "serial"}
    assert {job["workload"] for job in plan["jobs"]} == {"waits"}
    grid = TINY["workloads"]["waits"]["sizes"]
    new_sizes = {job["size"] for job in plan["jobs"]}
    around = plan["estimates"][0]["around"]
    assert grid[0] < around < grid[-1]
    assert len(new_sizes) == 2 and grid[0] < min(new_sizes) < max(new_sizes) < grid[-1]
    if ": bracket " in plan["estimates"][0]["curve"]:
        # Both sides told from noise: the bracket is the grid's two sizes, and the new
        # sizes cut it in thirds on log axes.
        assert new_sizes == {rounded(size) for size in inside(grid[0], grid[-1], parts=3)}
    else:  # two replicates could not tell a side from noise: around the estimate
        assert min(new_sizes) < around < max(new_sizes)
    timings = pd.read_csv(workdir / "results/timings.csv")
    refined = timings[timings["planned_round"] == 1]
    assert set(refined["size"]) == new_sizes
    # A new replicate (the grid's are 0 and 1), both series at both sizes.
    assert set(refined["replicate"]) == {TINY["replicates"]}
    assert refined.groupby(["series", "size"]).ngroups == 4
    assert timings.loc[timings["planned_round"] == 0, "size"].isin(GRID_SIZES).all()
    log = (workdir / "results/logs/aggregate/waits.log").read_text()
    assert "refinement: with the jobs of rounds 0..1" in log
    again = run_snakemake(workdir, "-n", "--cores", "8", "--configfile", "tiny.yaml")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_rerun_redoes_only_what_is_missing(finished_run):
    workdir, _ = finished_run
    missing = next((workdir / "results/raw/exp_sinh/numpy/ray").glob("*_rep1.csv"))
    aside = workdir / "aside.csv"
    missing.rename(aside)  # as if the job had been interrupted before writing it
    try:
        result = run_snakemake(workdir, "-n", "--cores", "8", "--configfile", "tiny.yaml")
    finally:
        aside.rename(missing)  # a rename keeps its time stamp: the run stays complete
    assert result.returncode == 0, result.stderr[-2000:]
    # One exp_sinh job: that workload alone is aggregated and drawn again.
    assert planned_jobs(result) == {"measure": 1, "aggregate_workload": 1, "aggregate": 1,
                                    "run_design": 1, "plot_workload": 1, "plot_overview": 1,
                                    "findings": 1, "all": 1}
    planned = re.findall(r"output: (results/aggregates/\S+?)/", result.stdout + result.stderr)
    assert set(planned) == {"results/aggregates/exp_sinh"}
    # A refinement job's CSV lost is made again too (only the grid's were targets).
    refined = workdir / sweep.job_csv(read_plan(workdir / "results/refine/round1.json")[0])
    refined.rename(aside)
    try:
        result = run_snakemake(workdir, "-n", "--cores", "8", "--configfile", "tiny.yaml")
    finally:
        aside.rename(refined)
    assert result.returncode == 0, result.stderr[-2000:]
    assert planned_jobs(result)["measure"] == 1
    assert f"output: {refined.relative_to(workdir)}" in result.stdout + result.stderr


def test_the_workload_with_the_most_jobs_is_aggregated_and_drawn_first(finished_run):
    """Snakemake starts the highest priority first: the largest workload's aggregation
    and figures, so that the cores end together (its greedy scheduler started a 10k
    sweep's largest aggregation last)."""
    workdir, _ = finished_run
    result = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "tiny.yaml",
                           "--forcerun", "measure")
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    timing = [int(one) for one in re.findall(r"rule measure:.*?priority: (\d+)", output,
                                             flags=re.DOTALL)]
    # The grid's jobs of each workload (what the priority counts: refinement's are
    # planned later).
    timings = pd.read_csv(workdir / "results/timings.csv")
    grid = timings[timings["planned_round"] == 0].drop_duplicates(
        ["workload", "kernel", "series", "size", "tasks", "workers", "replicate"])
    jobs = grid["workload"].value_counts().to_dict()
    assert set(jobs) == set(TINY["workloads"])
    assert len(set(jobs.values())) > 1  # otherwise the order would show nothing
    for rule in ("aggregate_workload", "plot_workload"):
        found = dict(re.findall(rf"rule {rule}:.*?workload=(\w+).*?priority: (\d+)", output,
                                flags=re.DOTALL))
        assert set(found) == set(jobs), rule
        by_priority = sorted(jobs, key=lambda name: int(found[name]))
        assert [jobs[name] for name in by_priority] == sorted(jobs.values()), (rule, found)
        # and below every timing job's, so that measuring is never broken off for it
        assert max(map(int, found.values())) < min(timing), rule


def test_plots_rebuild_without_timing(finished_run):
    workdir, _ = finished_run
    result = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "tiny.yaml",
                           "--forcerun", "plot_workload", "plot_overview")
    assert result.returncode == 0, result.stderr[-2000:]
    assert planned_jobs(result) == {"plot_workload": 3, "plot_overview": 1, "findings": 1,
                                    "all": 1}


@pytest.mark.parametrize("setting", ["figure_width_inches=3.5",
                                     "timing_lock=/tmp/parbench-moved-timing.lock"])
def test_a_setting_that_measures_nothing_retimes_nothing(finished_run, setting):
    """Only what a job measures is a rerun trigger; the config's hash is not, nor where
    the timing lock lives (a sweep moved to Slurm with a shared lock keeps its jobs).
    The design the run ran, beside its aggregates, is written again: it changed."""
    workdir, _ = finished_run
    result = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "tiny.yaml",
                           "--config", setting)
    assert result.returncode == 0, result.stderr[-2000:]
    redrawn = {"plot_workload": 3, "plot_overview": 1, "findings": 1}
    assert planned_jobs(result) == {**({} if "timing_lock" in setting else redrawn),
                                    "run_design": 1, "all": 1}


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_pool_job_runs_with_every_start_method(workflow_copy, start_method):
    """Spawned workers re-run the job's script as __mp_main__; it must not start the job again."""
    workdir = workflow_copy
    unrefined = {key: value for key, value in TINY.items() if key != "refine"}
    design = {**unrefined, "backends": {"pool": {"start_method": start_method}}, "compare": [],
              "workloads": {"exp_sinh": {"sizes": [1_000], "kernels": ["numpy"], "tasks": [4]}}}
    (workdir / "design.yaml").write_text(yaml.safe_dump(design))
    target = "results/raw/exp_sinh/numpy/pool/size1000_tasks4_workers2_rep0.csv"
    # The target goes first: --configfile takes every argument after it.
    result = run_snakemake(workdir, target, "--cores", "2", "--configfile", "design.yaml",
                           timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    rows = pd.read_csv(workdir / target)
    assert (rows["status"] == "ok").all() and rows["verified"].all()
    assert set(rows["start_method"]) == {start_method}


def test_changing_one_backends_option_retimes_that_series_alone(finished_run):
    """A job's params hold only its own series' options."""
    workdir, _ = finished_run
    changed = {**TINY, "backends": {**dict.fromkeys(SERIES), "pool": {"chunksize": 1}}}
    (workdir / "changed.yaml").write_text(yaml.safe_dump(changed))
    result = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "changed.yaml")
    assert result.returncode == 0, result.stderr[-2000:]
    # The Pool in three workloads (two sizes of waits); the refinement plans again
    # from the Pool's new rows of waits.
    assert planned_jobs(result) == {"measure": 5 * TINY["replicates"], "refine": 1,
                                    "aggregate_workload": 3, "aggregate": 1, "run_design": 1,
                                    "plot_workload": 3, "plot_overview": 1, "findings": 1,
                                    "all": 1}
    planned = re.findall(r"output: (results/raw/\S+\.csv)", result.stdout + result.stderr)
    assert planned and {path.split("/")[4] for path in planned} == {"pool"}


def test_parbench_plot_redraws_from_the_aggregates_alone(finished_run, tmp_path):
    workdir, _ = finished_run
    copy = tmp_path / "results"
    copy.mkdir()
    for name in ("summary.csv", "crossover.csv"):
        (copy / name).write_bytes((workdir / "results" / name).read_bytes())
    result = subprocess.run([PARBENCH, "--results",
                             str(copy), "plot", "--width", "3.5"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert len(list((copy / "figures").glob("*.pdf"))) == 3 * len(of_scope(WORKLOAD)) + len(
        of_scope(OVERVIEW))


def test_parbench_aggregate_rebuilds_with_other_pairs(finished_run, tmp_path):
    workdir, _ = finished_run
    copy = tmp_path / "results"
    shutil.copytree(workdir / "results" / "raw", copy / "raw")
    result = subprocess.run([PARBENCH, "--results",
                             str(copy), "aggregate", "--compare", "threads", "pool"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    crossover = pd.read_csv(copy / "crossover.csv")
    assert set(zip(crossover["challenger"], crossover["baseline"])) == {("threads", "pool")}
    assert len(pd.read_csv(copy / "timings.csv")) == len(pd.read_csv(
        workdir / "results" / "timings.csv"))


def test_parbench_aggregate_repeats_the_design_the_workflow_ran(finished_run, tmp_path):
    """Without --compare, `parbench aggregate` takes the run's pairs from the design the
    workflow writes beside its aggregates (results/config.yaml): it fell back to the
    default pairs, and its crossover.csv was not the workflow's."""
    workdir, _ = finished_run
    design = yaml.safe_load((workdir / "results/config.yaml").read_text())
    assert design["compare"] == TINY["compare"] and design["workloads"]
    copy = tmp_path / "results"
    shutil.copytree(workdir / "results" / "raw", copy / "raw")
    shutil.copy(workdir / "results/config.yaml", copy / "config.yaml")
    result = subprocess.run([PARBENCH, "--results", str(copy), "aggregate"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    for table in ("crossover.csv", "summary.csv"):
        assert (copy / table).read_bytes() == (workdir / "results" / table).read_bytes(), table


def test_report_is_self_contained_and_leads_with_the_findings(finished_run, tmp_path):
    workdir, _ = finished_run
    result = run_snakemake(workdir, "--configfile", "tiny.yaml", "--report",
                           "results/report.html")
    assert result.returncode == 0, result.stderr[-3000:]
    page = (workdir / "results/report.html").read_text()
    # Every figure is embedded (no links to files beside the page).
    for figure in ("scaling_exp_sinh", "winner_shared_array", "overhead", "article"):
        assert figure in page
    payloads = re.findall(r"data:image/png;[^\"]*?base64,([A-Za-z0-9+/=]*)", page)
    assert len(payloads) >= 2 * 4 + 2
    assert all(payload.startswith("iVBORw0KGgo") and len(payload) > 1000 for payload in payloads)

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed (.ci/run installs it)")
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1600"]
    uri = (workdir / "results/report.html").as_uri()
    # The first page the browser renders, as its DOM after the report's scripts ran. The
    # report is a JavaScript app: on a busy machine its first render can outlast a short
    # virtual-time budget, so a page without the app's content is tried again, longer.
    for budget in (10_000, 30_000, 90_000):
        dom = subprocess.run([*flags, f"--virtual-time-budget={budget}", "--dump-dom", uri],
                             capture_output=True, text=True, timeout=180, check=True).stdout
        # What a reader sees: the page's text, not the scripts that carry it.
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S)
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))
        if "What this run found" in text:
            break
    flags.append(f"--virtual-time-budget={budget}")
    findings = (workdir / "results/findings.md").read_text()
    headline = findings.split("\n\n")[1]
    # The headline's words and its number, whatever the tiny run found.
    sentence = re.sub(r"[*`]", "", headline).split(":")[0]
    number = re.search(r"\*\*([0-9][^*]*)\*\*", headline)
    assert "What this run found" in text and sentence in text, text[:3000]
    assert number is None or number.group(1) in text
    assert "Fixed costs behind it" in text and "How it was measured" in text
    # The headline's figure is embedded on that page and is a real image.
    images = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', dom)
    assert images and base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(base64.b64decode(images[0])) > 10_000
    screenshot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={screenshot}", uri], capture_output=True,
                   timeout=120, check=True)
    image = plt.imread(screenshot)
    assert image.shape[0] > 100 and image.std() > 0.02, "the report rendered blank"


def test_lint_is_clean(workflow_copy):
    workdir = workflow_copy
    result = run_snakemake(workdir, "--lint")
    assert "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr
    snakefmt = str(Path(sys.executable).with_name("snakefmt"))
    formatted = subprocess.run([snakefmt, "--check", "Snakefile", "workflow/rules"],
                               cwd=workdir, capture_output=True, text=True)
    assert formatted.returncode == 0, formatted.stderr


def test_a_design_without_a_serial_baseline_still_draws_every_figure(workflow_copy):
    """No `serial` series (so no speedup) and one size: the sweep still ends with rc 0 and
    every figure, which says what it cannot show."""
    design = {"workloads": {"exp_sinh": {"sizes": [1_000], "kernels": ["numpy"],
                                         "tasks": [4]}},
              "backends": ["threads", "process_pool"], "compare": [], "workers": [2],
              "replicates": 1, "min_repeats": 2, "max_repeats": 2, **UNWAITING}
    (workdir := workflow_copy / "no_serial.yaml").write_text(yaml.safe_dump(design))
    result = run_snakemake(workflow_copy, "--cores", "2", "--configfile", str(workdir))
    assert result.returncode == 0, result.stderr[-4000:]
    for figure in WORKLOAD_FIGURES:
        assert (workflow_copy / f"results/figures/{figure}_exp_sinh.png").stat().st_size > 0
    summary = pd.read_csv(workflow_copy / "results/summary.csv")
    assert summary["speedup"].isna().all() and (summary["status"] == "ok").all()


def test_parbench_aggregate_names_a_cut_file_and_can_leave_it_out(finished_run, tmp_path):
    workdir, _ = finished_run
    copy = tmp_path / "results"
    shutil.copytree(workdir / "results" / "raw", copy / "raw")
    cut = sorted((copy / "raw").rglob("*.csv"))[0]
    text = cut.read_text()
    cut.write_text(text[: len(text) - 40])  # a copy cut short (jobs write atomically)
    refused = subprocess.run([PARBENCH, "--results", str(copy), "aggregate"],
                             capture_output=True, text=True)
    assert refused.returncode != 0 and str(cut) in refused.stderr, refused.stderr[-2000:]
    assert not (copy / "summary.csv").exists()
    skipped = subprocess.run([PARBENCH, "--results", str(copy), "aggregate", "--skip-invalid"],
                             capture_output=True, text=True)
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert str(cut) in skipped.stderr
    summary = pd.read_csv(copy / "summary.csv")
    assert summary.loc[summary["status"] == "invalid file", "error"].str.contains(
        str(cut), regex=False).any()


def test_walltime_accounts_for_the_whole_sweep(finished_run):
    """`parbench walltime` splits the sweep's wall time into parts (the last is what
    is left), each a duration: the job records and the rows agree, and the timed
    samples are a real part of it."""
    workdir, _ = finished_run
    records = walltime.job_records(workdir / ".snakemake/metadata")
    assert (records["rule"] == "measure").sum() == EXPECTED_JOBS
    table = walltime.breakdown(pd.read_csv(workdir / "results/timings.csv"), records)
    parts = table[table["part"] != "sweep wall time"].set_index("part")["seconds"]
    # The parts add up to the wall time by construction; that each is a duration
    # (none negative) is what shows the records and the rows agree.
    assert (parts > -1e-6).all(), parts
    assert parts["timed samples"] > 0
    printed = subprocess.run([PARBENCH, "--results", str(workdir / "results"), "walltime",
                              "--metadata", str(workdir / ".snakemake/metadata")],
                             capture_output=True, text=True, check=True).stdout
    assert "orchestration ratio" in printed and "timed samples" in printed
