"""Bad configs stop before any job runs, with one clear error naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from parbench import machine, sweep
from tests.conftest import REPO, run_snakemake

SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config/config.yaml").read_text())


def validated(config: dict) -> dict:
    config = copy.deepcopy(config)
    validate(config, schema=SCHEMA, set_default=True)
    return config


def test_default_config_is_valid_and_spans_the_expected_crossover():
    config = validated(DEFAULT)
    shared_sizes = config["workloads"]["shared_array"]["sizes"]
    assert min(shared_sizes) <= 100_000 and max(shared_sizes) >= 1_000_000


def test_schema_fills_defaults_for_omitted_keys():
    config = validated({"workloads": {"exp_sinh": {"sizes": [10]}}})
    assert config["backends"] == ["serial", "pool", "ipyparallel", "ray"]
    assert config["workers"] == ["auto"]
    assert config["min_repeats"] == 5 and config["max_repeats"] == 30
    assert config["workloads"]["exp_sinh"]["kernels"] == ["python", "numpy"]


@pytest.mark.parametrize(("change", "key", "hint"), [
    (lambda c: c.update(backends=["serial", "dask"]), "backends", "'ray'"),
    (lambda c: c["workloads"]["exp_sinh"].update(sizes=[-5]), "sizes", "minimum"),
    (lambda c: c["workloads"]["exp_sinh"].pop("sizes"), "sizes", "required"),
    (lambda c: c["workloads"].update(matrix={"sizes": [1]}), "matrix", "Additional"),
    (lambda c: c.update(workers=["many"]), "workers", "auto"),
    (lambda c: c.update(repetitions=3), "repetitions", "Additional"),
])
def test_invalid_values_name_the_key(change, key, hint):
    config = copy.deepcopy(DEFAULT)
    change(config)
    with pytest.raises(WorkflowError) as error:
        validated(config)
    assert key in str(error.value) and hint in str(error.value)


def test_kernel_must_belong_to_its_workload():
    config = validated(DEFAULT)
    config["workloads"]["shared_array"]["kernels"] = ["numpy"]
    sweep.check_consistency(config)
    config["workloads"]["shared_array"]["kernels"] = ["python"]
    with pytest.raises(ValueError, match="workloads.shared_array.kernels"):
        sweep.check_consistency(config)
    config["workloads"]["shared_array"]["kernels"] = ["numpy"]
    config["compare"] = [["ray", "dask_like"]]
    with pytest.raises(ValueError, match="config key compare"):
        sweep.check_consistency(config)


def test_workflow_refuses_a_bad_config_before_any_job(workflow_copy: Path):
    bad = workflow_copy / "bad.yaml"
    bad.write_text(yaml.safe_dump({"workloads": {"exp_sinh": {"sizes": [100]}},
                                   "backends": ["serial", "dask"]}))
    result = run_snakemake(workflow_copy, "--cores", "1", "--configfile", str(bad))
    assert result.returncode != 0
    assert "backends" in result.stderr and "'dask' is not one of" in result.stderr
    assert not (workflow_copy / "results").exists()


def test_serial_runs_once_with_one_worker_and_auto_resolves_to_available_cores():
    config = validated({"workloads": {"exp_sinh": {"sizes": [10], "kernels": ["numpy"]}},
                        "workers": ["auto", 1]})
    combinations = sweep.combinations(config)
    serial = [c for c in combinations if c.backend == "serial"]
    assert [c.workers for c in serial] == [1]
    pool_workers = sorted(c.workers for c in combinations if c.backend == "pool")
    assert pool_workers == sorted({1, machine.available_cores()})


def test_available_cores_respects_affinity():
    import os

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
