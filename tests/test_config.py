"""Bad configs stop before any job runs, with one clear error naming the key."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from parbench import config_checks, guard, machine, sweep
from parbench.backends import BACKENDS, default_series
from parbench.crossover import DEFAULT_PAIRS
from parbench.workloads.exp_sinh import ExpSinh
from tests.conftest import REPO, run_snakemake

SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())


def validated(config: dict) -> dict:
    """What the workflow does at parse time: the schema, then the registries."""
    config = copy.deepcopy(config)
    config_checks.check_schema(config)
    validate(config, schema=SCHEMA, set_default=True)
    config_checks.check_consistency(config)
    return config


def test_default_config_is_valid_and_spans_the_expected_crossover():
    config = validated(DEFAULT)
    shared_sizes = config["workloads"]["shared_array"]["sizes"]
    assert min(shared_sizes) <= 100_000 and max(shared_sizes) >= 1_000_000


@pytest.mark.parametrize("design", sorted((REPO / "config").rglob("*.yaml")),
                         ids=lambda path: str(path.relative_to(REPO / "config")))
def test_every_committed_design_is_valid(design):
    config_checks.check_config_files([design])  # no key given twice
    config = validated(yaml.safe_load(design.read_text()))
    assert sweep.combinations(config)


def test_the_16_core_design_of_every_series_is_the_default_design_at_16_workers():
    """config/16cpu/every_series.yaml (issue 24, part 3) sets every series beside the
    2-core default run: the same problems and measuring, every series on 16 workers."""
    many_core = validated(yaml.safe_load((REPO / "config/16cpu/every_series.yaml").read_text()))
    default = validated(DEFAULT)
    ran = {combination.series for combination in sweep.combinations(many_core)}
    assert ran == set(default_series())
    assert many_core["workers"] == [16]
    for name, workload in default["workloads"].items():
        there = many_core["workloads"][name]
        assert there.get("kernels") == workload.get("kernels")
        assert there["tasks"] == workload["tasks"]
        assert set(workload["sizes"]) <= set(there["sizes"])
    ignored = {"workloads", "workers", "backends", "refine", "compare"}
    assert {key: value for key, value in many_core.items() if key not in ignored} == {
        key: value for key, value in default.items() if key not in ignored}
    assert many_core["compare"] == default["compare"]


def test_every_registered_series_runs_by_default_and_compares_ray_with_every_pool():
    config = validated({"workloads": {"exp_sinh": {"sizes": [10]}}})
    assert list(sweep.series(config)) == default_series()
    assert set(BACKENDS) <= set(default_series())
    assert {"pool-shm", "pool-c1"} <= set(default_series())  # Pool's declared variants
    assert sweep.comparisons(config) == [list(pair) for pair in DEFAULT_PAIRS]
    # Each default pair's series are registered ones (a renamed variant would drop its
    # pair silently), and the schema's words name every pair.
    assert {name for pair in DEFAULT_PAIRS for name in pair} <= set(default_series())
    said = " ".join(config_checks.config_schema()["properties"]["compare"]["description"]
                    .split())
    assert str([list(pair) for pair in DEFAULT_PAIRS]).replace("'", "") in said, said
    # Default pairs whose series are not in the sweep are left out, not refused.
    config = validated({"workloads": {"exp_sinh": {"sizes": [10]}}, "backends": ["ray", "pool"]})
    assert sweep.comparisons(config) == [["ray", "pool"]]


def test_schema_fills_defaults_for_omitted_keys():
    config = validated({"workloads": {"exp_sinh": {"sizes": [10]}}})
    assert config["workers"] == ["auto"]
    assert config["min_repeats"] == 5 and config["max_repeats"] == 30
    assert sweep.combinations(config)[0].kernel == "python"  # every kernel by default


@pytest.mark.parametrize(("change", "key", "hint"), [
    (lambda c: c.update(backends=["serial", "nonesuch"]), "backends", "registered"),
    (lambda c: c.update(backends={"pool": {"chunk": 2}}), "backends.pool.chunk", "chunksize"),
    (lambda c: c.update(backends={"pool": {"start_method": "thread"}}),
     "backends.pool.start_method", "`spawn`"),
    (lambda c: c.update(backends={"pool": {"chunksize": 0}}), "backends.pool.chunksize", "≥ 1"),
    (lambda c: c.update(backends={"ray": {"address": "10.0.0.1:6379"}}), "backends.ray.address",
     "`clusters`"),
    (lambda c: c.update(backends=["pool-fast"]), "backends.pool-fast", "declares no variant"),
    (lambda c: c.update(backends=["Pool"]), "backends", "registered"),
    (lambda c: c["workloads"]["exp_sinh"].update(sizes=[-5]), "sizes", "minimum"),
    (lambda c: c["workloads"]["exp_sinh"].update(sizes=[0, 10]), "workloads.exp_sinh.sizes",
     "smallest size, 1"),
    (lambda c: c["workloads"]["exp_sinh"].pop("sizes"), "sizes", "required"),
    (lambda c: c["workloads"].update(matrix={"sizes": [1]}), "workloads.matrix", "unknown"),
    (lambda c: c["workloads"].update(mine={"sizes": [1], "plugin": "no_such:Thing"}),
     "workloads.mine.plugin", "cannot import"),
    (lambda c: c["workloads"]["shared_array"].update(kernels=["python"]),
     "workloads.shared_array.kernels", "'numpy'"),
    (lambda c: c.update(workers=["many"]), "workers", "auto"),
    (lambda c: c.update(repetitions=3), "repetitions", "Additional"),
    (lambda c: c.update(pool_chunksize=2), "pool_chunksize", "Additional"),
    (lambda c: c.update(compare=[["ray", "nonesuch"]]), "compare", "nonesuch"),
    (lambda c: c.update(map_timeout_seconds=float("nan")), "map_timeout_seconds", "finite"),
    (lambda c: c.update(job_budget_seconds=float("inf")), "job_budget_seconds", "finite"),
    (lambda c: c.update(ci_target=2), "ci_target", "maximum"),
    (lambda c: c.update(compare=[["pool", "pool"]]), "compare", "non-unique"),
    (lambda c: c.pop("workloads"), "workloads", "required"),
    (lambda c: c.update(backends={"joblib-x": {"max_nbytes": "1 MB"}}),
     "backends.joblib-x.max_nbytes", "matching"),
    (lambda c: c.update(timing_lock="/nonexistent/folder/parbench.lock"), "timing_lock",
     "no folder that exists"),
    (lambda c: c.update(timing_lock=str(REPO)), "timing_lock", "cannot be opened"),
    # Meant as "never": Python's lock and the engines' timers raise OverflowError.
    (lambda c: c.update(map_timeout_seconds=1e10), "map_timeout_seconds", "maximum"),
    # A kernel of a plug-in is a folder of results/raw and a wildcard.
    (lambda c: c["workloads"].update(mine={"sizes": [1],
                                           "plugin": "tests.test_config:DashedKernel"}),
     "workloads.mine.plugin", "letters, digits and `_`"),
    # A workload's name is a folder of results/: none that leaves it.
    (lambda c: c["workloads"].update({"../out x": {
        "sizes": [1], "plugin": "parbench.workloads.exp_sinh:ExpSinh"}}), "workloads",
     "does not match"),
    # YAML's 2.0 passes a schema's `integer`, and would fail every job in range().
    (lambda c: c.update(replicates=2.0), "replicates", "whole number"),
    (lambda c: c.update(warmups=1.0), "warmups", "whole number"),
    # The first map is the cold one: none would time no cold map (0 ran one anyway).
    (lambda c: c.update(warmups=0), "warmups", "minimum"),
    # Past these, every job's row is an OverflowError (or its memory is never sampled).
    (lambda c: c.update(sample_interval_seconds=1e10), "sample_interval_seconds", "maximum"),
    (lambda c: c.update(min_sample_seconds=1e300), "min_sample_seconds", "maximum"),
    (lambda c: c.update(backends={"pool-big": {"chunksize": 10**19}}),
     "backends.pool-big.chunksize", "≤ 1e+07"),
    (lambda c: c["refine"].update(rounds=2.0), "refine.rounds", "whole number"),
    (lambda c: c.update(workers=[2.0]), "workers.0", "whole number"),
    (lambda c: c["workloads"]["exp_sinh"].update(sizes=[10**30]), "sizes", "maximum"),
    (lambda c: c.update(replicates=10**6), "replicates", "maximum"),
    (lambda c: c.update(figure_width_inches=1e9), "figure_width_inches", "maximum"),
    (lambda c: c["refine"].update(factors=[1.0, 1.0]), "factors", "non-unique"),
    (lambda c: c.update(compare=[["ray", "pool"], ["ray", "pool"]]), "compare", "non-unique"),
    (lambda c: c.update(backends={"pool-c1": {"chunksize": 7}}),
     "backends.pool-c1.chunksize", "name of its own"),
    (lambda c: c["refine"].update(workloads=["exp_sinh"]) or c["workloads"]["exp_sinh"].update(
        backends=["serial"]), "refine.workloads", "both series"),
])
def test_invalid_values_name_the_key(change, key, hint):
    config = copy.deepcopy(DEFAULT)
    change(config)
    with pytest.raises((WorkflowError, ValueError)) as error:
        validated(config)
    assert key in str(error.value) and hint in str(error.value), str(error.value)


class DashedKernel(ExpSinh):
    """A plug-in whose kernel's name has a dash: no wildcard of the measure rule."""

    kernels = ("python-fast",)


def test_a_timing_lock_that_would_fail_every_job_is_refused_before_any_runs(
        tmp_path: Path, monkeypatch):
    """A link, another user's file, a runtime folder others can write to: each job
    refused it at its start (a RuntimeError, no row), one after another."""
    config = copy.deepcopy(DEFAULT)
    target = tmp_path / "someone_elses.lock"
    target.write_text("")
    link = tmp_path / "parbench.lock"
    link.symlink_to(target)
    config["timing_lock"] = str(link)
    with pytest.raises(ValueError, match=r"config key timing_lock: .* is a link"):
        validated(config)
    if os.geteuid() == 0:
        own = tmp_path / "nobodys.lock"
        own.write_text("")
        os.chown(own, 65534, 65534)
        config["timing_lock"] = str(own)
        with pytest.raises(ValueError, match=r"timing_lock: .* is owned by user 65534"):
            validated(config)
    config["timing_lock"] = str(tmp_path / "mine.lock")
    validated(config)
    shared = tmp_path / "parbench-jobs"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    monkeypatch.setattr(guard, "RUNTIME_DIR", shared)
    with pytest.raises(ValueError, match="runtime folder: .* not a private folder"):
        validated(config)


def test_refinement_turned_off_with_workloads_named_says_so(capsys):
    """`pairs: []` turns refinement off (as `--config` gives it, beside the default's
    workloads): the design runs, and says its refine.workloads have no effect."""
    config = copy.deepcopy(DEFAULT)
    config["refine"]["pairs"] = []
    validated(config)
    assert "refine.pairs is empty, so nothing is refined" in capsys.readouterr().err


def test_options_and_variants_make_series_of_their_own():
    config = validated({"workloads": {"exp_sinh": {"sizes": [10]}},
                        "backends": {"pool": None, "pool-c1": {"chunksize": 1},
                                     "pool-shm": None}})
    series = sweep.series(config)
    assert series["pool"].options["chunksize"] == "auto"
    assert (series["pool-c1"].engine, series["pool-c1"].variant) == ("pool", "c1")
    assert series["pool-c1"].options["chunksize"] == 1
    assert series["pool-shm"].options["shared_input"] == "shared_memory"
    assert {c.series for c in sweep.combinations(config)} == {"pool", "pool-c1", "pool-shm"}


@pytest.mark.snakemake
@pytest.mark.parametrize(("design", "said"), [
    (yaml.safe_dump({"workloads": {"exp_sinh": {"sizes": [100]}},
                     "backends": {"serial": None, "pool": {"chunk": 3}}}),
     "config key backends.pool.chunk"),
    # A workload given twice: Snakemake's reading would keep the second alone.
    ("workloads:\n  exp_sinh: {sizes: [100]}\n  exp_sinh: {sizes: [5]}\n",
     "config key exp_sinh: given twice in one mapping (line 3"),
    # The schema's objection, worded as the others: the key and its value first.
    (yaml.safe_dump({"workloads": {"exp_sinh": {"sizes": [100]}}, "replicates": 0}),
     "config key replicates (0): 0 is less than the minimum of 1"),
])
def test_workflow_refuses_a_bad_config_before_any_job(workflow_copy: Path, design, said):
    (workflow_copy / "bad.yaml").write_text(design)
    result = run_snakemake(workflow_copy, "--cores", "1", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert said in result.stderr, result.stderr[-2000:]
    assert not (workflow_copy / "results").exists()


@pytest.mark.snakemake
def test_plain_snakemake_in_the_checkout_runs_with_the_workflows_profile():
    """`snakemake --cores 8` as the README gives it: Snakemake finds profiles/default
    beside the Snakefile (a link to workflow/profiles), so a plain run keeps going past
    a failed job, reruns what an interrupt left incomplete and schedules greedily."""
    assert (REPO / "profiles/default").resolve() == REPO / "workflow/profiles/default"
    result = run_snakemake(REPO, "-n", "--cores", "1", "--configfile", "config/test.yaml",
                           "--until", "measure")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Using workflow specific profile profiles/default" in result.stdout + result.stderr


def test_serial_runs_once_with_one_worker_and_auto_resolves_to_available_cores():
    config = validated({"workloads": {"exp_sinh": {"sizes": [10], "kernels": ["numpy"]}},
                        "workers": ["auto", 1], "replicates": 1})
    combinations = sweep.combinations(config)
    serial = [c for c in combinations if c.series == "serial"]
    assert [c.workers for c in serial] == [1]
    pool_workers = sorted(c.workers for c in combinations if c.series == "pool")
    assert pool_workers == sorted({1, machine.available_cores()})


def test_available_cores_respects_affinity():
    """A process pinned to one CPU (as `taskset -c 0` pins it) may use one core."""
    pinned = subprocess.run(
        [sys.executable, "-c", "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})"
         "\nfrom parbench import machine; print(machine.available_cores())"],
        capture_output=True, text=True, check=True, timeout=60)
    assert pinned.stdout.split() == ["1"]
    assert 1 <= machine.available_cores() <= len(os.sched_getaffinity(0))


def test_available_cores_respects_the_cgroup_quota(tmp_path, monkeypatch):
    """A quota of 1.5 CPUs allows one whole worker, whatever the affinity mask says."""
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")
    monkeypatch.setattr(machine, "CGROUP_V2_CPU_MAX", cpu_max)
    monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: set(range(8)))
    assert machine.cgroup_cpu_limit() == 1.5
    assert machine.available_cores() == 1
    cpu_max.write_text("max 100000\n")
    assert machine.available_cores() == 8


def test_every_combination_runs_once_per_replicate_each_its_own_job():
    design = {"workloads": {"exp_sinh": {"sizes": [10, 20], "kernels": ["numpy"]}},
              "backends": ["serial", "pool"]}
    assert validated(design)["replicates"] == 2  # the default: intervals need replicates
    jobs = sweep.combinations(validated({**design, "replicates": 3}))
    assert len(jobs) == 3 * 4 and len({sweep.job_csv(job) for job in jobs}) == len(jobs)
    assert {job.replicate for job in jobs} == {0, 1, 2}
    assert all(f"_rep{job.replicate}.csv" in sweep.job_csv(job) for job in jobs)


@pytest.mark.parametrize("combinations", [5, 12, 41])
def test_run_order_spreads_the_replicates_of_each_combination(combinations):
    config = validated({"workloads": {"exp_sinh": {"sizes": list(range(1, combinations + 1)),
                                                   "kernels": ["numpy"]}},
                        "backends": ["serial"], "replicates": 3})
    jobs = sweep.combinations(config)
    order = sweep.run_order(jobs, seed=1)
    assert sorted(map(sweep.job_csv, order)) == sorted(map(sweep.job_csv, jobs))
    positions: dict = {}
    for position, job in enumerate(order):
        positions.setdefault((job.size,), []).append((job.replicate, position))
    for places in positions.values():
        # Replicate by replicate, and at least half a round apart.
        assert [replicate for replicate, _ in sorted(places, key=lambda p: p[1])] == [0, 1, 2]
        gaps = [b[1] - a[1] for a, b in zip(places, places[1:])]
        assert min(gaps) >= combinations // 2
    # Shuffled within rounds (not the config's order), the same for the same seed.
    first_round = [job.size for job in order[:combinations]]
    assert first_round != sorted(first_round) or combinations < 3
    assert sweep.run_order(jobs, seed=1) == order and sweep.run_order(jobs, seed=2) != order
    priorities = sweep.job_priorities(jobs, seed=1)
    assert sorted(priorities, key=priorities.get, reverse=True) == list(map(sweep.job_csv, order))


def test_compared_series_run_side_by_side_in_alternating_order():
    """Ray and the Pools it is compared with, at one size and replicate, run back to back
    (their difference then carries no drift between them); the order flips from one
    replicate to the next; the other series run apart."""
    config = validated({"workloads": {"shared_array": {"sizes": [10_000, 100_000, 1_000_000]}},
                        "backends": ["serial", "pool", "pool-c1", "ray", "threads"],
                        "workers": [1, 2], "replicates": 4})
    pairs = [["ray", "pool"], ["ray", "pool-c1"]]
    order = sweep.run_order(sweep.combinations(config), seed=3, pairs=pairs)
    assert len(order) == 3 * (1 + 4 * 2) * 4  # the serial loop at one worker only
    compared = ("ray", "pool", "pool-c1")
    for size in (10_000, 100_000, 1_000_000):
        for replicate in range(4):
            for workers in (1, 2):  # the pairs a crossover compares: as many workers each
                places = [position for position, job in enumerate(order)
                          if job.size == size and job.replicate == replicate
                          and job.workers == workers and job.series in compared]
                assert places == list(range(places[0], places[0] + 3)), (size, replicate)
                series = [order[place].series for place in places]
                assert series == (list(compared) if replicate % 2 == 0
                                  else list(compared)[::-1])
    groups = sweep.compared_groups(pairs + [["dask", "threads"]])
    assert groups["ray"] == groups["pool"] == groups["pool-c1"] != groups["dask"]
    # The serial loop (one worker only) beside the Pool at the largest count.
    with_serial = sweep.run_order(sweep.combinations(config), seed=3,
                                  pairs=[["pool", "serial"]])
    for position, job in enumerate(with_serial):
        if job.series == "serial":
            neighbours = {(other.series, other.workers)
                          for other in with_serial[max(0, position - 1):position + 2]
                          if (other.size, other.replicate) == (job.size, job.replicate)}
            assert ("pool", 2) in neighbours, (job, neighbours)


def test_a_workload_can_run_a_subset_of_the_series():
    config = validated({"workloads": {"exp_sinh": {"sizes": [10], "kernels": ["numpy"]},
                                      "shared_array": {"sizes": [1000],
                                                       "backends": ["serial", "ray"]}},
                        "backends": ["serial", "pool", "ray"], "replicates": 1})
    backends = {(job.workload, job.series) for job in sweep.combinations(config)}
    assert {backend for workload, backend in backends if workload == "shared_array"} == {
        "serial", "ray"}
    assert {backend for workload, backend in backends if workload == "exp_sinh"} == {
        "serial", "pool", "ray"}
    with pytest.raises(ValueError, match=r"workloads\.shared_array\.backends: \['dask'\]"):
        config_checks.check_consistency(validated({
            "workloads": {"shared_array": {"sizes": [1000], "backends": ["dask"]}},
            "backends": ["serial", "pool"]}))


@pytest.mark.parametrize(("given", "typed"), [
    (["1", "2"], [1, 2]), (["auto", "2"], ["auto", 2]), ({"pool": {"chunksize": "1"}},
                                                       {"pool": {"chunksize": 1}}),
    ([["ray", "pool"]], [["ray", "pool"]]), ("null", None), (3, 3),
])
def test_config_overrides_are_typed_as_in_a_file(given, typed):
    assert sweep.typed_override(given) == typed


@pytest.mark.snakemake
def test_a_list_override_from_the_command_line_reaches_the_jobs(workflow_copy: Path):
    """`--config 'workers=[1,2]'`, as config/README.md shows it, plans jobs for both."""
    result = run_snakemake(workflow_copy, "-n", "--cores", "2", "--config", "workers=[1,2]",
                           "replicates=1", "compare=[[ray,pool]]")
    assert result.returncode == 0, result.stderr[-3000:]
    planned = re.findall(r"output: results/raw/\S+_workers(\d+)_rep\d+\.csv",
                         result.stdout + result.stderr)
    assert set(planned) == {"1", "2"}


@pytest.mark.snakemake
def test_a_design_without_workloads_stops_naming_the_key(workflow_copy: Path):
    design = workflow_copy / "no_workloads.yaml"
    design.write_text(yaml.safe_dump({"backends": ["serial", "pool"]}))
    result = run_snakemake(workflow_copy, "-n", "--cores", "1", "--configfile", str(design))
    assert result.returncode != 0
    assert "'workloads' is a required property" in result.stdout + result.stderr


def test_a_design_with_yaml_merge_keys_reads_and_a_key_given_twice_still_stops(tmp_path):
    """`<<: *common` is YAML's own way to share settings between workloads."""
    merged = tmp_path / "merged.yaml"
    merged.write_text("common: &common {sizes: [100], kernels: [numpy]}\n"
                      "workloads:\n  exp_sinh: {<<: *common, kernels: [python]}\n")
    config_checks.check_config_files([merged])
    twice = tmp_path / "twice.yaml"
    twice.write_text("workloads:\n  exp_sinh: {<<: {sizes: [1]}, sizes: [2], sizes: [3]}\n")
    with pytest.raises(ValueError, match="config key sizes: given twice"):
        config_checks.check_config_files([twice])


@pytest.mark.parametrize(("change", "said"), [
    # No workload runs both: no crossover could ever be found.
    (lambda c: c.update(workloads={"exp_sinh": {"sizes": [10], "backends": ["serial", "ray"]},
                                   "tiny_tasks": {"sizes": [10],
                                                  "backends": ["serial", "pool"]}},
                        compare=[["ray", "pool"]]),
     "config key compare: no workload runs both series of ['ray', 'pool']"),
    (lambda c: c["refine"].update(pairs=[["ray", "pool"], ["ray", "pool"]]),
     "config key refine.pairs"),
    (lambda c: c["refine"].update(workloads=[]), "config key refine.workloads: [] names"),
    # Its passes leave nothing of a smaller image: every job would fail.
    (lambda c: c["workloads"].update(image_filter={"sizes": [1000], "kernels": ["passes16"]}),
     "below the smallest size kernel passes16 runs, 5184"),
    (lambda c: c.update(workers=[100_000]), "config key workers"),
    (lambda c: c.update(sample_interval_seconds=1e-300), "config key sample_interval_seconds"),
])
def test_a_design_that_could_not_answer_stops_naming_the_key(change, said):
    config = copy.deepcopy(DEFAULT)
    change(config)
    with pytest.raises(ValueError) as error:
        validated(config)
    assert said in str(error.value), str(error.value)


def test_a_workload_plugin_that_fails_to_import_names_its_key(tmp_path, monkeypatch):
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('no licence server')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"config key workloads.mine.plugin: importing "
                                         r"'broken_plugin' failed: RuntimeError: no licence"):
        validated({"workloads": {"mine": {"sizes": [1],
                                          "plugin": "broken_plugin:Mine"}}})


def test_a_chunk_is_at_most_the_most_tasks_a_map_may_have():
    from parbench.backends.base import MAX_TASKS

    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    assert schema["properties"]["tasks"]["items"]["maximum"] == MAX_TASKS
    assert schema["definitions"]["tasks"]["items"]["maximum"] == MAX_TASKS  # a workload's
