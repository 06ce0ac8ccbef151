"""Targets: the same sweep on existing clusters (tests/clusters.py starts real ones).

Each cluster is built so that a task can only run on its second node: Ray's head
has no CPUs, Dask's workers are in another network namespace than its scheduler
(and the job), ipyparallel's engines are separate processes of a controller the
job did not start. Each job must connect, say so (`startup_kind`), record what the
cluster reports, leave the cluster running, and keep its rows apart from local ones.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from parbench.backends import series_from_config
from parbench.workflow_copy import copy_workflow
from tests import clusters
from tests.conftest import run_snakemake
from tests.unwaiting import UNWAITING

pytestmark = [pytest.mark.engine, pytest.mark.snakemake, pytest.mark.heavy]

# One timing job of `series` on the cluster `argv[1]` (engine, option=value), its rows
# to the CSV at argv[2]; as the measure script runs it, in a process of its own.
JOB_ON_CLUSTER = """
import sys
from parbench.backends import series_from_config
from parbench.measure import Job, run_job
from tests.unwaiting import job_settings

if __name__ == "__main__":
    engine, option, value, output = sys.argv[1:5]
    series = series_from_config([engine], {"lab": {"engine": engine, option: value}}, ["lab"])
    run_job(Job("shared_array", "numpy", f"{engine}@lab", 100_000, 8, 2),
            job_settings(min_repeats=3, max_repeats=3, warmups=1, min_sample_seconds=0.02),
            series[f"{engine}@lab"], output)
"""


def needs_netns() -> None:
    reason = clusters.can_use_netns()
    if reason:
        pytest.skip(reason)


def run_job_on_cluster(engine: str, option: str, value: str, output: Path,
                       prefix: list[str] = (), env: dict[str, str] | None = None
                       ) -> pd.DataFrame:
    result = subprocess.run([*prefix, sys.executable, "-c", JOB_ON_CLUSTER, engine, option,
                             value, str(output)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stderr[-4000:]
    return pd.read_csv(output)


def assert_connected_rows(rows: pd.DataFrame, nodes_used: int) -> None:
    """Rows of a job that joined a cluster: measured and verified, start-up recorded
    as a connection, the cluster's own figures recorded, the driver-only ones empty."""
    assert (rows["status"] == "ok").all(), rows["error"].tolist()
    assert rows["verified"].all()
    assert (rows["target"] == "lab").all()
    assert (rows["startup_kind"] == "connect").all()
    # The cluster's own work is not someone else's load on the job's host.
    assert rows["background_cpu_fraction_during"].isna().all()
    assert (rows["nodes_used"] == nodes_used).all()
    assert (rows["cluster_cpus"] >= 2).all()
    for driver_only in ("cpu_seconds", "cpu_utilization", "peak_rss_bytes", "peak_pss_bytes"):
        assert rows[driver_only].isna().all(), driver_only
    assert not rows["oversubscribed"].any()


def alive(processes: list[psutil.Process]) -> bool:
    """Every one of `processes` runs (there must be some: an empty list proves nothing)."""
    assert processes, "no process to check"
    return all(process.is_running() and process.status() != psutil.STATUS_ZOMBIE
               for process in processes)


# --- config ---------------------------------------------------------------------------

@pytest.mark.parametrize("clusters_given, targets, key", [
    ({"lab": {"engine": "pool", "address": "x"}}, ["lab"], "clusters.lab.engine"),
    ({"lab": {"engine": "ray", "adress": "x:1"}}, ["lab"], "clusters.lab.adress"),
    ({"lab": {"engine": "ray"}}, ["lab"], "clusters.lab"),
    ({"lab": {"engine": "ray", "address": 5}}, ["lab"], "clusters.lab.address"),
    ({"local": {"engine": "ray", "address": "x:1"}}, ["local"], "clusters.local"),
    ({}, ["elsewhere"], "targets"),
    ({"lab": {"engine": "dask", "address": "tcp://x:1"}}, ["lab"], "targets"),  # no dask series
    # An address Ray would read as "start a fresh instance here".
    ({"lab": {"engine": "ray", "address": "local"}}, ["lab"], "clusters.lab.address"),
    ({"lab": {"engine": "ray", "address": "$(id):1"}}, ["lab"], "clusters.lab.address"),
    # Checked though no target names it yet: the typo would surface only once one did.
    ({"later": {"engine": "ray", "adress": "x:1"}}, ["local"], "clusters.later.adress"),
    ({"later": {"engine": "ray", "address": 5}}, ["local"], "clusters.later.address"),
    # Two ways to say where one cluster is: one would be ignored.
    ({"lab": {"engine": "ipyparallel", "connection_file": "/c.json", "profile": "x"}},
     ["lab"], "clusters.lab.profile"),
])
def test_a_bad_cluster_or_target_is_refused_naming_its_key(clusters_given, targets, key):
    with pytest.raises(ValueError, match=rf"config key {key}[:. ]"):
        series_from_config(["serial", "ray", "ipyparallel"], clusters_given, targets)


def test_where_a_cluster_is_goes_in_clusters_not_in_a_series():
    with pytest.raises(ValueError, match=r"config key backends.ray.address: .*`clusters`"):
        series_from_config({"ray": {"address": "127.0.0.1:6379"}})


def test_a_cluster_target_runs_the_series_of_its_engine_under_their_own_names():
    found = series_from_config(
        ["serial", "pool", "ray", "dask"],
        {"lab": {"engine": "ray", "address": "10.0.0.1:6380"},
         "farm": {"engine": "dask", "address": "tcp://10.0.0.2:8786"}},
        ["local", "lab", "farm"])
    assert list(found) == ["serial", "pool", "ray", "dask", "ray@lab", "dask@farm"]
    assert found["ray@lab"].target == "lab" and found["ray"].target == "local"
    assert found["ray@lab"].options["address"] == "10.0.0.1:6380"
    assert found["ray"].options["address"] is None


def test_a_crossover_across_targets_is_refused(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = {"workloads": {"exp_sinh": {"sizes": [1000], "kernels": ["numpy"]}},
              "backends": ["serial", "pool", "ray"], "targets": ["local", "lab"],
              "clusters": {"lab": {"engine": "ray", "address": "127.0.0.1:1"}},
              "compare": [["ray@lab", "pool"]]}
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config))
    result = run_snakemake(workdir, "-n", "--configfile", "bad.yaml", timeout=120)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "config key compare" in output and "different targets" in output


# --- real clusters --------------------------------------------------------------------

SWEEP_ON_RAY = {
    "workloads": {"shared_array": {"sizes": [10_000, 1_000_000], "tasks": [8]}},
    "backends": ["serial", "ray"],
    "targets": ["local", "lab"],
    "workers": [2],
    "replicates": 1,
    "min_repeats": 3,
    "max_repeats": 3,
    "warmups": 1,
    "min_sample_seconds": 0.02,
    **UNWAITING,
}


@pytest.mark.slow
def test_the_sweep_runs_on_a_two_node_ray_cluster_beside_local(tmp_path):
    """Through the workflow: local series and `ray@lab` in one sweep, each its own
    jobs, rows and summary lines; the token reaches the jobs from the environment;
    the cluster outlives every job. A driver without the token gets an error row."""
    needs_netns()
    with clusters.ray_cluster(tmp_path) as cluster:
        nodes = [process for process in psutil.Process().children(recursive=True)
                 if "ray" in " ".join(process.cmdline())]
        (tmp_path / "flow").mkdir()
        workdir = copy_workflow(tmp_path / "flow")
        config = {**SWEEP_ON_RAY, "clusters": {"lab": {"engine": "ray",
                                                       "address": cluster["address"]}}}
        (workdir / "clusters.yaml").write_text(yaml.safe_dump(config))
        auth = {name: value for name, value in cluster.items() if name.startswith("RAY_")}
        result = subprocess.run(
            clusters.in_namespace(cluster["namespace"], [
                str(Path(sys.executable).with_name("snakemake")), "--cores", "2",
                "--configfile", "clusters.yaml"]),
            cwd=workdir, capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **auth})
        assert result.returncode == 0, result.stderr[-4000:]
        assert alive(nodes), "a job stopped part of the cluster it joined"

        raw = workdir / "results/raw/shared_array/numpy"
        on_cluster = pd.concat(pd.read_csv(path) for path in (raw / "ray@lab").glob("*.csv"))
        assert len(list((raw / "ray@lab").glob("*.csv"))) == 2
        # The head has no CPUs: every task ran on the second node.
        assert_connected_rows(on_cluster, nodes_used=1)
        assert (on_cluster["cluster_nodes"] == 2).all()
        per_node = on_cluster["cluster_node_cpus"].iloc[0].split(";")
        assert sorted(cell.rpartition(":")[2] for cell in per_node) == ["0", "2"]
        local = pd.concat(pd.read_csv(path) for path in (raw / "ray").glob("*.csv"))
        assert (local["target"] == "local").all() and (local["startup_kind"] == "start").all()
        assert local["cluster_nodes"].isna().all() and local["cpu_seconds"].notna().all()

        summary = pd.read_csv(workdir / "results/summary.csv")
        by_series = summary.set_index(["series", "size"])
        assert set(summary["series"]) == {"serial", "ray", "ray@lab"}
        # A speedup divides by the serial loop on the same target: none on the cluster.
        assert by_series.loc["ray@lab", "speedup"].isna().all()
        assert by_series.loc["ray", "speedup"].notna().all()
        crossover = pd.read_csv(workdir / "results/crossover.csv")
        assert not crossover[["challenger", "baseline"]].isin(["ray@lab"]).any().any()
        # The cluster's series have a figure of their own, off the local axes.
        for extension in ("png", "pdf"):
            assert (workdir / f"results/figures/lab/scaling_shared_array.{extension}"
                    ).stat().st_size > 0

        # A driver without the cluster's token: an error row that says what to export.
        without_token = {name: value for name, value in os.environ.items()
                         if name not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
        result = subprocess.run(clusters.in_namespace(cluster["namespace"], [
            sys.executable, "-c", JOB_ON_CLUSTER, "ray", "address", cluster["address"],
            str(tmp_path / "job.csv")]), capture_output=True, text=True, timeout=300,
            env=without_token)
        assert result.returncode == 0, result.stderr[-4000:]
        rows = pd.read_csv(tmp_path / "job.csv")
        assert (rows["status"] == "error").all()
        assert "could not join the Ray cluster" in rows["error"].iloc[0]
        assert "RAY_AUTH_TOKEN" in rows["error"].iloc[0]


@pytest.mark.slow
def test_a_job_runs_on_dask_workers_in_another_network_namespace(tmp_path):
    needs_netns()
    # Named by this process: a run killed before its clean-up leaves no name in the way.
    with clusters.two_namespaces(f"t{os.getpid()}") as namespaces, \
            clusters.dask_cluster(tmp_path, namespaces, without_parbench=True) as address:
        first_namespace = namespaces[0]
        rows = run_job_on_cluster("dask", "address", address, tmp_path / "job.csv",
                                  prefix=["ip", "netns", "exec", first_namespace])
        # The job and the scheduler share a namespace with no worker: every task
        # ran at the other address.
        assert_connected_rows(rows, nodes_used=1)
        assert (rows["cluster_nodes"] == 1).all() and (rows["cluster_cpus"] == 2).all()
        # Both workers are at the second namespace's address.
        assert (rows["cluster_node_cpus"] == f"{namespaces[3]}:2").all()
        assert (rows["option_address"] == address).all()
        # The scheduler's own rules, unlike a local job's, are in the rows.
        assert rows["cluster_rules"].str.contains("re-run up to 3 times").all()
        # The cluster is still there, with its workers, left as found: they had no
        # parbench (the rows above ran on the one the job sent), and have none again.
        probe = ("import importlib.util; from distributed import Client; "
                 "c = Client(%r, timeout=20); "
                 "print(len(c.scheduler_info(n_workers=-1)['workers'])); "
                 "print(sorted(c.run(lambda: importlib.util.find_spec('parbench') is None)"
                 ".values()))" % address)
        after = subprocess.run(clusters.in_namespace(first_namespace,
                                                     [sys.executable, "-c", probe]),
                               capture_output=True, text=True, timeout=60)
        count, without = after.stdout.strip().splitlines()[-2:]
        assert count == "2", after.stderr[-2000:]
        assert without == "[True, True]", without


@pytest.mark.slow
def test_a_job_runs_on_the_engines_of_an_existing_ipyparallel_controller(tmp_path):
    before = set(psutil.Process().children(recursive=True))
    with clusters.ipyparallel_cluster(tmp_path, engines=3) as connection:
        started = [process for process in psutil.Process().children(recursive=True)
                   if process not in before]  # not what earlier tests left (helpers)
        assert len(started) >= 4  # the controller and its engines
        rows = run_job_on_cluster("ipyparallel", "connection_file", str(connection),
                                  tmp_path / "job.csv")
        assert_connected_rows(rows, nodes_used=1)
        assert (rows["cluster_cpus"] == 3).all()  # 3 engines, 2 of them used
        # The engines are all there, without the input the job pushed to two of them.
        probe = ("import ipyparallel as ipp; c = ipp.Client(%r); print(len(c.ids)); "
                 "print(sum(c[:].apply_sync(lambda: hasattr(__import__('__main__'), "
                 "'_parbench_shared_input'))))" % str(connection))
        after = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                               timeout=60)
        assert after.stdout.strip().splitlines()[-2:] == ["3", "0"], after.stderr[-2000:]
    # The fixture stops what it started by PID, children included.
    assert not any(process.is_running() and process.status() != psutil.STATUS_ZOMBIE
                   for process in started)


def test_a_failed_ray_connection_says_what_it_most_likely_means():
    """A driver on a machine with no Ray node gets Ray's 'No node info found matching
    attributes' (the words of ray._private.services, checked here against the installed
    Ray): the row says to run on a node; any other failure, the token's hint."""
    import inspect

    from ray._private import services

    from parbench.backends.ray_tasks import AUTH_HINT, NO_LOCAL_NODE, connection_hint

    assert NO_LOCAL_NODE in inspect.getsource(services)
    said = f"{NO_LOCAL_NODE}: '10.0.0.5' when trying to resolve node to connect to."
    assert "ray start --address" in connection_hint(said)
    assert connection_hint("Timed out while waiting for GCS") == AUTH_HINT
