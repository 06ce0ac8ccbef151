"""The validated config -> the series and combinations, one Snakemake job each.

Snakemake calls this at parse time; it is plain Python so tests can use it too.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

import yaml

from parbench import machine
from parbench.backends import BACKENDS, Series, series_from_config
from parbench.crossover import default_pairs
from parbench.identity import RAW_CSV, RAW_LOG, Job, job_csv  # noqa: F401 - the rules' paths
from parbench.settings import JobSettings
from parbench.workloads import workload_class


def resolve_workers(values: list[int | str]) -> list[int]:
    """`auto` is the cores this process may use (affinity and cgroup quota)."""
    resolved = {machine.available_cores() if value == "auto" else int(value) for value in values}
    return sorted(resolved)


def series(config: Mapping[str, Any]) -> dict[str, Series]:
    """The config's series by name (every registered one when `backends` is not given),
    on each of its `targets`."""
    return series_from_config(config.get("backends"), config.get("clusters"),
                              config.get("targets"), config.get("interpreters"))


def combinations(config: Mapping[str, Any],
                 config_series: Mapping[str, Series] | None = None) -> list[Job]:
    """Every job of the sweep: each combination once per replicate, in config order."""
    workers = resolve_workers(config["workers"])
    config_series = config_series or series(config)
    found: list[Job] = []
    for workload_name, workload in config["workloads"].items():
        kernels = workload.get("kernels") or list(
            workload_class(workload_name, workload.get("plugin")).kernels)
        tasks = workload.get("tasks") or config["tasks"]
        # A workload may run a subset of the sweep's series (on every target).
        names = series_on_targets(workload.get("backends"), config_series)
        for kernel, size, task_count, name in itertools.product(
            kernels, workload["sizes"], tasks, names
        ):
            # The serial loop uses one core whatever `workers` says.
            engine = config_series[name].engine
            series_workers = [1] if BACKENDS[engine].single_process else workers
            found += [Job(workload_name, kernel, name, int(size), int(task_count),
                                  worker_count)
                      for worker_count in series_workers]
    unique = list(dict.fromkeys(found))  # without repeats, in order
    return [replace(combination, replicate=replicate)
            for replicate in range(config.get("replicates", 1)) for combination in unique]


def series_on_targets(subset: list[str] | None,
                      config_series: Mapping[str, Series]) -> list[str]:
    """The sweep's series that `subset` names (`ray` also names `ray@lab`); all of
    them when no subset is given."""
    if not subset:
        return list(config_series)
    return [name for name in config_series if name.partition("@")[0] in subset]


def compared_groups(pairs: Sequence[Sequence[str]]) -> dict[str, int]:
    """{series: group}: series linked by compared pairs (directly or through another
    series, as Ray with each Pool) share a group; in the order the pairs name them."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        parent.setdefault(name, name)
        while parent[name] != name:
            name = parent[name]
        return name

    for challenger, baseline in pairs:
        parent[root(baseline)] = root(challenger)
    roots: dict[str, int] = {}
    return {name: roots.setdefault(root(name), len(roots)) for name in parent}


def blocks(jobs: Sequence[Job], pairs: Sequence[Sequence[str]]) -> list[list[Job]]:
    """The jobs that run back to back: the jobs of compared series at one size and
    replicate of one curve, worker count included (Ray beside each Pool it is compared
    with, as many workers each: the pair a crossover compares), alternating their
    order from one replicate to the next (ABBA: a drift that is linear in time cancels
    over two replicates); every other job alone. In the order the jobs came."""
    group = compared_groups(pairs)

    def place(job: Job) -> tuple:
        return job.workload, job.kernel, job.size, job.tasks, job.replicate, group[job.series]

    # A series that runs on one worker only (the serial loop) joins its pair at the
    # block's largest worker count, the one the figures compare; the others, at theirs.
    worker_counts: dict[str, set[int]] = {}
    top: dict[tuple, int] = {}
    for job in jobs:
        worker_counts.setdefault(job.series, set()).add(job.workers)
        if job.series in group:
            top[place(job)] = max(top.get(place(job), 0), job.workers)
    together: dict[tuple, list[Job]] = {}
    for job in jobs:
        if job.series not in group:
            key: tuple = (job,)
        else:
            one_worker_only = worker_counts[job.series] == {1}
            key = (*place(job), top[place(job)] if one_worker_only else job.workers)
        together.setdefault(key, []).append(job)
    order = {name: position for position, name in enumerate(group)}
    found = []
    for members in together.values():
        members = sorted(members, key=lambda job: order.get(job.series, -1))
        found.append(members[::-1] if members[0].replicate % 2 else members)
    return found


def run_order(jobs: list[Job], seed: int,
              pairs: Sequence[Sequence[str]] = ()) -> list[Job]:
    """The order the sweep runs its jobs in: replicate by replicate, so the replicates
    of one combination are a whole round apart, not back to back; shuffled (seeded)
    within each round, so time drift does not line up with size or backend, in blocks
    that keep compared series side by side (`blocks`). Each round reshuffles each half
    of the previous round's order within itself: two replicates of a combination are
    at least half a round apart, and their neighbours differ from one replicate to the
    next."""
    rounds: dict[int, list[list[Job]]] = {}
    for block in blocks(jobs, pairs):
        rounds.setdefault(block[0].replicate, []).append(block)

    def key(block: list[Job]) -> tuple:  # a block's place, whatever its replicate
        return tuple(sorted(dataclasses.astuple(job.combination) for job in block))

    shuffler = random.Random(seed)
    order: list[Job] = []
    previous: list[list[Job]] = []
    for replicate in sorted(rounds):
        by_key = {key(block): block for block in rounds[replicate]}
        if previous:
            middle = len(previous) // 2
            halves = [[key(block) for block in part]
                      for part in (previous[:middle], previous[middle:])]
            known = {one for half in halves for one in half}
            halves[1] += [one for one in by_key if one not in known]
        else:
            halves = [list(by_key)]
        this_round = []
        for half in halves:
            half = [one for one in half if one in by_key]
            shuffler.shuffle(half)
            this_round += [by_key[one] for one in half]
        order += [job for block in this_round for job in block]
        previous = this_round
    return order


def job_priorities(jobs: list[Job], seed: int, pairs: Sequence[Sequence[str]] = (),
                   above: int = 0) -> dict[str, int]:
    """{per-job CSV: Snakemake priority}: higher runs first, in `run_order`; all of them
    above `above`."""
    order = run_order(jobs, seed, pairs)
    return {job_csv(job): above + len(order) - position for position, job in enumerate(order)}


def measurement_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """How every job measures (the JobSettings fields), as a dict Snakemake can pass.

    Without the config's hash: Snakemake re-runs a job whose params change, and a
    change elsewhere in the config (a figure width, a new size, another backend's
    option) must not re-time every job. The measure script records the hash instead.
    """
    # In the dataclass's order: Snakemake compares params as text, so the order
    # must not change from one run to the next.
    return asdict(JobSettings.from_config(config))


def series_params(one_series: Series) -> dict[str, Any]:
    """What a job needs of its series: only its own options, so that changing one
    backend's option re-times that backend's jobs alone."""
    return asdict(one_series)


def comparisons(config: Mapping[str, Any],
                config_series: Mapping[str, Series] | None = None) -> list[list[str]]:
    """The config's `compare`, or the default pairs whose two series are in the sweep."""
    if config.get("compare") is not None:
        return [list(pair) for pair in config["compare"]]
    config_series = config_series or series(config)
    return default_pairs(config_series)


def typed_override(value: Any) -> Any:
    """A `--config key=value` value as YAML in a file would give it. Snakemake reads
    lists and mappings there with YAML's BaseLoader, which keeps every item a string
    (`workers=[1,2]` arrives as ['1', '2']); its top-level scalars are typed already."""
    if isinstance(value, list):
        return [typed_override(item) for item in value]
    if isinstance(value, dict):
        return {key: typed_override(item) for key, item in value.items()}
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value
