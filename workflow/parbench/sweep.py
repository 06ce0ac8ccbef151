"""The validated config -> the list of combinations, one Snakemake job each.

Snakemake calls this at parse time; it is plain Python so tests can use it too.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from parbench import machine
from parbench.backends import BACKENDS
from parbench.measure import Combination, JobSettings
from parbench.workloads import WORKLOADS

# One wildcard pattern for every per-job CSV, and the same for its log.
RAW_CSV = "results/raw/{workload}/{kernel}/{backend}/size{size}_tasks{tasks}_workers{workers}.csv"
RAW_LOG = RAW_CSV.replace("results/raw/", "results/logs/measure/").replace(".csv", ".log")


def resolve_workers(values: list[int | str]) -> list[int]:
    """`auto` is the cores this process may use (affinity and cgroup quota)."""
    resolved = {machine.available_cores() if value == "auto" else int(value) for value in values}
    return sorted(resolved)


def combinations(config: Mapping[str, Any]) -> list[Combination]:
    workers = resolve_workers(config["workers"])
    found: list[Combination] = []
    for workload_name, workload in config["workloads"].items():
        kernels = workload.get("kernels") or list(WORKLOADS[workload_name].kernels)
        tasks = workload.get("tasks") or config["tasks"]
        for kernel, size, task_count, backend in itertools.product(
            kernels, workload["sizes"], tasks, config["backends"]
        ):
            # The serial loop uses one core whatever `workers` says.
            backend_workers = [1] if BACKENDS[backend].single_process else workers
            found += [Combination(workload_name, kernel, backend, int(size), int(task_count),
                                  worker_count) for worker_count in backend_workers]
    return list(dict.fromkeys(found))  # without repeats, in order


def job_csv(combination: Combination) -> str:
    return RAW_CSV.format(**asdict(combination))


def job_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The JobSettings fields, as a plain dict Snakemake can pass to a script."""
    chunksize = config["pool_chunksize"]
    settings = JobSettings(
        min_repeats=config["min_repeats"],
        max_repeats=config["max_repeats"],
        ci_target=config["ci_target"],
        job_budget_seconds=float(config["job_budget_seconds"]),
        warmups=config["warmups"],
        calibration_repeats=config["calibration_repeats"],
        sample_interval_seconds=float(config["sample_interval_seconds"]),
        blas_threads=config["blas_threads"],
        start_method=config["start_method"],
        pool_chunksize=None if chunksize == "auto" else int(chunksize),
        map_timeout_seconds=float(config["map_timeout_seconds"]),
        ray_address=config.get("ray_address") or None,
    )
    # Without the config's hash: Snakemake re-runs a job whose params change,
    # and a change elsewhere in the config (a figure width, a new size) must not
    # re-time every job. The measure script records the hash instead.
    fields = asdict(settings)
    del fields["config_hash"]
    return fields


def check_consistency(config: Mapping[str, Any]) -> None:
    """What a JSON schema cannot say: kernels belong to their workload, pairs to backends."""
    for workload_name, workload in config["workloads"].items():
        known = WORKLOADS[workload_name].kernels
        for kernel in workload.get("kernels") or []:
            if kernel not in known:
                raise ValueError(
                    f"config key workloads.{workload_name}.kernels: unknown kernel {kernel!r}; "
                    f"allowed: {list(known)}"
                )
    if config["min_repeats"] > config["max_repeats"]:
        raise ValueError(
            f"config keys min_repeats ({config['min_repeats']}) and max_repeats "
            f"({config['max_repeats']}): min_repeats must not exceed max_repeats"
        )
    for pair in config["compare"]:
        missing = [backend for backend in pair if backend not in config["backends"]]
        if missing:
            raise ValueError(
                f"config key compare: {pair} names backends not in `backends` "
                f"({config['backends']}): {missing}"
            )
