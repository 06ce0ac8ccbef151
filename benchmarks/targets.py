"""One small design on every kind of target, side by side (the cluster issue's
comparison): local; on a 2-node Ray cluster (a head without CPUs and a node with two,
in a loopback-only network namespace); on a Dask cluster whose workers are in another
network namespace; and under Slurm (the local target, every job a Slurm job). It
starts the clusters the way the tests do (tests/clusters.py, tests/slurm_cluster.py:
root, `ip netns`, Debian's slurm-wlm and munge) and prints each run's summary rows
with the cluster columns of its jobs.

    .venv/bin/python -m benchmarks.targets OUTPUT_FOLDER [local] [ray] [dask] [slurm]
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.scale import copy_workflow
from tests import clusters
from tests.slurm_cluster import ENVIRONMENT, SingleNodeSlurm

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "targets-run").resolve()
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# Two sizes of one workload, each series on 2 workers, 2 replicates: small enough for
# a 2-core machine, enough to see connect against start-up and map against map.
DESIGN = {"workloads": {"shared_array": {"sizes": [100_000, 10_000_000], "tasks": [8]}},
          "workers": [2], "replicates": 2, "min_repeats": 5, "max_repeats": 10,
          "warmups": 1, "min_sample_seconds": 0.05, "quiet_wait_seconds": 5, "compare": []}
# What the comparison shows of each summary row.
COLUMNS = ["series", "size", "status", "verified", "repeats", "median_seconds", "ci_low",
           "ci_high", "startup_seconds", "cold_seconds", "cpu_utilization", "peak_pss_bytes",
           "speedup", "loaded"]


def flow(name: str, design: dict, prefix: list[str] = (), extra: list[str] = (),
         env: dict[str, str] | None = None) -> pd.DataFrame:
    """The design through the workflow in OUT/name; its summary rows, with the cluster
    columns of its jobs."""
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    workdir = copy_workflow(folder)
    (workdir / "design.yaml").write_text(yaml.safe_dump(design))
    began = time.time()
    result = subprocess.run([*prefix, SNAKEMAKE, "--cores", "2", "--configfile", "design.yaml",
                             *extra], cwd=workdir, capture_output=True, text=True,
                            env={**os.environ, **(env or {})}, timeout=1500)
    print(f"== {name}: exit {result.returncode} in {time.time() - began:.0f} s", flush=True)
    if result.returncode:
        print(result.stderr[-3000:])
    summary = pd.read_csv(workdir / "results/summary.csv")
    timings = pd.read_csv(workdir / "results/timings.csv")
    jobs = timings.drop_duplicates(["series", "size", "replicate"])
    per_job = [column for column in ("target", "startup_kind", "cluster_nodes", "cluster_cpus",
                                     "cluster_node_cpus", "nodes_used") if column in jobs]
    per = jobs.groupby(["series", "size"])[per_job].first().reset_index()
    table = summary[COLUMNS].merge(per, on=["series", "size"])
    table.insert(0, "run", name)
    table.to_csv(OUT / f"{name}.csv", index=False)
    print(table.to_string(index=False), flush=True)
    return table


def cluster_folder(name: str) -> Path:
    folder = OUT / f"{name}-cluster"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main(which: list[str]) -> None:
    local = {**DESIGN, "backends": ["serial", "pool", "ray", "dask"]}
    if "local" in which:
        flow("local", local)
    if "ray" in which:
        with clusters.ray_cluster(cluster_folder("ray")) as ray:
            design = {**DESIGN, "backends": ["serial", "ray"], "targets": ["local", "lab"],
                      "clusters": {"lab": {"engine": "ray", "address": ray["address"]}}}
            flow("ray", design, prefix=clusters.in_namespace(ray["namespace"], []),
                 env={name: value for name, value in ray.items() if name.startswith("RAY_")})
    if "dask" in which:
        with clusters.two_namespaces("cmp") as namespaces, \
                clusters.dask_cluster(cluster_folder("dask"), namespaces) as address:
            design = {**DESIGN, "backends": ["serial", "dask"], "targets": ["local", "lab"],
                      "clusters": {"lab": {"engine": "dask", "address": address}}}
            flow("dask", design, prefix=clusters.in_namespace(namespaces[0], []))
    if "slurm" in which:
        with SingleNodeSlurm(cluster_folder("slurm")):
            lock = cluster_folder("slurm") / "parbench.lock"
            flow("slurm", local, extra=["--workflow-profile", "workflow/profiles/slurm",
                                        "--executor", "slurm", "--jobs", "2",
                                        "--config", f"timing_lock={lock}"],
                 env=ENVIRONMENT)


if __name__ == "__main__":
    main(sys.argv[2:] or ["local", "ray", "dask", "slurm"])
