"""One job's rows: the combination measured (measured again when the machine was
busy), one row per timed sample or a failure row, every column as parbench.columns
declares it (its meaning: results/README.md)."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from parbench import columns, machine, resources
from parbench.backends import Limits, Series, get_backend, resolve_series
from parbench.columns.statuses import ERROR, OK
from parbench.identity import Job
from parbench.measure.environment import limit_threads, wait_until_quiet
from parbench.measure.run import JobRun
from parbench.settings import JobSettings
from parbench.workloads import get_workload

if TYPE_CHECKING:
    import pandas as pd


def measure(job: Job, settings: JobSettings, series: Series | None = None,
            workload_plugin: str | None = None) -> pd.DataFrame:
    """Run one combination and return its rows as a table (see `measure_rows`)."""
    import pandas as pd  # here, not at the top: a timing job does without it

    return pd.DataFrame(measure_rows(job, settings, series, workload_plugin))


def measure_rows(job: Job, settings: JobSettings, series: Series | None = None,
                 workload_plugin: str | None = None, config_hash: str = "",
                 planned_round: int = 0, watched_by: int | None = None
                 ) -> list[dict[str, Any]]:
    """Run one combination and return its rows (one per timed sample, or a failure row).

    `series` gives the backend's options (default: the series named by `job.series`,
    with its declared options); `workload_plugin` an import path (`module:Class`) for a
    workload that is not registered; `config_hash` the design's (default: the
    settings'); `planned_round` the refinement round that planned the job (0: the grid);
    `watched_by` the job's process this one was forked from (parbench.measure.supervised),
    whose pages the two share: its proportional set size counts with the tree's.
    """
    job_start_unix = time.time()
    limit_threads(settings.blas_threads)
    load_avg_1m = os.getloadavg()[0]
    series = series or resolve_series(job.series)
    quiet_waited_seconds = 0.0
    for attempt in range(1, settings.remeasure_loaded + 2):
        waited, background_before = wait_until_quiet(settings)
        quiet_waited_seconds += waited
        workload = get_workload(job.workload, workload_plugin)
        backend = get_backend(series, job.workers,
                              Limits(map_timeout_seconds=settings.map_timeout_seconds))
        sampler = resources.MemorySampler(os.getpid(), settings.sample_interval_seconds,
                                          pss_also=[watched_by] if watched_by else [])
        run = JobRun(job, settings, workload, backend, job_pid=watched_by)
        try:
            run.run()
        finally:
            memory = sampler.stop()
        # Loaded: someone else was busy before the job or while it took its samples.
        loaded = bool(background_before > settings.quiet_cpu_fraction
                      or run.background_cpu_fraction_during > settings.quiet_cpu_fraction)
        if not loaded or run.status != OK or attempt > settings.remeasure_loaded:
            break
        print(f"warning: attempt {attempt} ran on a loaded machine (others used "
              f"{background_before:.0%} before, {run.background_cpu_fraction_during:.0%} "
              "during the samples); measuring again", file=sys.stderr)
    conditions = {
        "load_avg_1m": load_avg_1m,
        "quiet_waited_seconds": quiet_waited_seconds,
        "background_cpu_fraction": background_before,
        "background_cpu_fraction_during": run.background_cpu_fraction_during,
        "loaded": loaded,
        "attempts": attempt,
    }
    recorded = {**plugin_values(backend, backend.recorded(job.tasks), "backend_"),
                **plugin_values(workload, workload.recorded(job.kernel, job.size), "workload_")}
    return job_rows(job, settings, series, workload, backend, run, memory, conditions,
                    recorded, config_hash, planned_round, job_start_unix)


class _Unloadable:
    """What a failed row says of a workload or backend that cannot be loaded here (the
    failure may be just that): nothing but its name."""

    size_unit = ""
    kernel_levels: dict[str, float] = {}
    on_cluster = single_process = False

    def __init__(self, name: str, workers: int = 0) -> None:
        self.name, self.workers = name, workers


def failed_rows(job: Job, settings: JobSettings, series: Series, failure: str,
                workload_plugin: str | None = None, config_hash: str = "",
                planned_round: int = 0, job_start_unix: float = math.nan
                ) -> list[dict[str, Any]]:
    """The error row of a job whose measuring process was killed outright (SIGKILL, a
    crash in C code) or failed before its rows: written by the process that watched it,
    from what the job is, not from what it measured, which ended with it (`failure`
    says how)."""
    try:
        workload = get_workload(job.workload, workload_plugin)
    except Exception:  # a plug-in that cannot be imported here: the row says why
        workload = _Unloadable(job.workload)
    try:
        backend = get_backend(series, job.workers,
                              Limits(map_timeout_seconds=settings.map_timeout_seconds))
    except Exception:
        backend = _Unloadable(series.engine, job.workers)
    run = JobRun(job, settings, workload, backend)
    run.status, run.error = ERROR, failure
    memory = {"peak_rss_bytes": math.nan, "peak_pss_bytes": math.nan}
    # What the backend and the workload settled on (a chunk size, loop lengths) died
    # with the process; the machine's state then is unknown, and not `loaded`.
    conditions = {"load_avg_1m": os.getloadavg()[0], "loaded": False, "attempts": 1}
    return job_rows(job, settings, series, workload, backend, run, memory, conditions, {},
                    config_hash, planned_round, job_start_unix)


def job_rows(job: Job, settings: JobSettings, series: Series, workload: Any, backend: Any,
             run: JobRun, memory: Mapping[str, float], conditions: Mapping[str, Any],
             recorded: Mapping[str, Any], config_hash: str, planned_round: int,
             job_start_unix: float) -> list[dict[str, Any]]:
    """The rows of one run: what the job is and what it measured (`run`), the memory
    its process tree used, the machine's `conditions` while it ran and what the backend
    and the workload `recorded` of themselves."""
    cores = machine.available_cores()
    # On a cluster, the job's host is not where the workers run.
    oversubscribed = backend.workers > cores and not backend.on_cluster
    if backend.on_cluster:  # the process tree here is the driver alone
        memory = {"peak_rss_bytes": math.nan, "peak_pss_bytes": math.nan}
    if oversubscribed:
        print(f"warning: {backend.workers} workers on {cores} available "
              "cores; rows are flagged `oversubscribed`", file=sys.stderr)
    job_values = {
        **dataclasses.asdict(job),
        "workers": backend.workers,
        "format_version": columns.FORMAT_VERSION,
        "engine": series.engine,
        "variant": series.variant,
        "target": series.target,
        "interpreter": series.interpreter,
        "single_process": backend.single_process,
        **{f"option_{name}": _cell(value) for name, value in series.options.items()},
        "size_unit": workload.size_unit,
        "kernel_level": workload.kernel_levels.get(job.kernel, math.nan),
        "status": OK,
        "error": "",
        "startup_seconds": run.startup_seconds,
        # Joining a running cluster is not a cold start: never compare the two.
        "startup_kind": "connect" if backend.on_cluster else "start",
        **{column: run.cluster.get(column, math.nan) for column in columns.in_group("cluster")},
        "first_map_seconds": run.first_map_seconds,
        "cold_seconds": run.startup_seconds + run.first_map_seconds,
        "teardown_seconds": run.teardown_seconds,
        "overhead_per_task_seconds": run.overhead_per_task_seconds,
        **memory,
        "leftover_processes_stopped": len(run.leftovers),
        "warmups_verified": run.warmups_verified,
        "state_verified": "" if run.state_verified is None else run.state_verified,
        "stop_reason": run.stop_reason or run.status,
        **settings.recorded(),
        **recorded,
        "oversubscribed": oversubscribed,
        **conditions,
        "planned_round": planned_round,
        **machine.provenance(settings.blas_threads),
        "config_hash": config_hash or machine.config_hash(dataclasses.asdict(settings)),
        # Wall-clock span of the job, to show timing jobs never overlapped (and in
        # which order the replicates ran).
        "job_start_unix": job_start_unix,
        "job_end_unix": time.time(),
    }
    return [columns.row({**job_values, **repeat}) for repeat in run.repeat_rows()]


def plugin_values(plugin: Any, values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """What a backend or workload records: its own declared columns (`columns`) under
    `prefix`, the table's columns (`chunksize`) as they are."""
    own = {column.name for column in plugin.columns}
    return {f"{prefix}{name}" if name in own else name: value
            for name, value in values.items()}


def _cell(value: Any) -> Any:
    """An option's value as a CSV cell: `null` is written as the word, not left empty."""
    return "null" if value is None else value
