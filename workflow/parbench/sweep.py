"""The validated config -> the series and combinations, one Snakemake job each.

Snakemake calls this at parse time; it is plain Python so tests can use it too.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import yaml

from parbench import machine
from parbench.backends import BACKENDS, Series, series_from_config, target_of
from parbench.crossover import DEFAULT_PAIRS
from parbench.identity import RAW_CSV, RAW_LOG, Job, job_csv  # noqa: F401 - the rules' paths
from parbench.settings import JobSettings
from parbench.workloads import workload_class

SCHEMA = Path(__file__).resolve().parents[1] / "schemas/config.schema.yaml"


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
    replicate of one curve (Ray beside each Pool it is compared with), alternating their
    order from one replicate to the next (ABBA: a drift that is linear in time cancels
    over two replicates); every other job alone. In the order the jobs came."""
    group = compared_groups(pairs)
    together: dict[tuple, list[Job]] = {}
    for job in jobs:
        key = ((job.workload, job.kernel, job.size, job.tasks, job.replicate, group[job.series])
               if job.series in group else (job,))
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
    return [list(pair) for pair in DEFAULT_PAIRS if set(pair) <= set(config_series)]


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


class _RefusingDuplicateKeys(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ValueError(f"config key {key}: given twice in one mapping (line "
                                 f"{key_node.start_mark.line + 1} of {key_node.start_mark.name}"
                                 "); YAML would keep the last one silently")
            seen.add(key)
        return super().construct_mapping(node, deep)


def check_config_files(paths: Sequence[str | Path]) -> None:
    """The design's files, read again as they were written: Snakemake's reading merges a
    workload given twice into one, silently."""
    for path in paths:
        with open(path) as design:
            yaml.load(design, _RefusingDuplicateKeys)  # noqa: S506 - a SafeLoader


def _integers_with_a_fraction(config: Mapping[str, Any]) -> Iterator[str]:
    """Where the config gives `2.0` for an integer: a JSON schema's `integer` takes any
    number whose fraction is zero, and `range(2.0)` fails every job later."""
    import jsonschema

    base = jsonschema.Draft202012Validator
    whole = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    strict = jsonschema.validators.extend(base, type_checker=whole)
    for error in strict(yaml.safe_load(SCHEMA.read_text())).iter_errors(config):
        key = ".".join(str(part) for part in error.absolute_path)
        yield f"config key {key}: {error.instance!r} is not a whole number written as one"


def _not_finite(value: Any, key: str) -> Iterator[str]:
    """The keys under `key` whose value is a float that is nan or infinite."""
    if isinstance(value, float) and not math.isfinite(value):
        yield key
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from _not_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _not_finite(item, f"{key}[{index}]")


def check_consistency(config: Mapping[str, Any]) -> None:
    """What a JSON schema cannot say: names and options come from the registries,
    kernels belong to their workload, pairs name series of the sweep, numbers are
    finite (YAML's `.nan` passes a schema's bounds)."""
    for key in _not_finite(config, ""):
        raise ValueError(f"config key {key}: not a finite number")
    for problem in _integers_with_a_fraction(config):
        raise ValueError(problem)
    config_series = series(config)
    for workload_name, workload in config["workloads"].items():
        key = f"workloads.{workload_name}" + (".plugin" if workload.get("plugin") else "")
        try:
            known = workload_class(workload_name, workload.get("plugin")).kernels
        except (ValueError, TypeError) as problem:
            raise ValueError(f"config key {key}: {problem}") from None
        smallest = workload_class(workload_name, workload.get("plugin")).min_size
        too_small = [size for size in workload["sizes"] if size < smallest]
        if too_small:
            raise ValueError(f"config key workloads.{workload_name}.sizes: {too_small} below "
                             f"the workload's smallest size, {smallest}")
        base_names = {name.partition("@")[0] for name in config_series}
        unknown = [name for name in workload.get("backends") or [] if name not in base_names]
        if unknown:
            raise ValueError(f"config key workloads.{workload_name}.backends: {unknown} are not "
                             f"series of the sweep (`backends`: {list(config_series)})")
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
    for pair in config["compare"] or []:
        missing = [name for name in pair if name not in config_series]
        if missing:
            raise ValueError(
                f"config key compare: {pair} names series not in `backends` "
                f"({list(config_series)}): {missing}"
            )
        if len({target_of(name) for name in pair}) > 1:
            raise ValueError(f"config key compare: {pair} compares series on different "
                             "targets; a crossover compares series on one machine or cluster")
    check_refinement(config, config_series)
    check_paths(config)


def check_paths(config: Mapping[str, Any]) -> None:
    """The timing lock, where this machine can tell: a lock in a folder that does not
    exist, or that is itself a folder, would fail every timing job. Checked without
    creating it. (A cluster's connection file is not checked: a stopped cluster's is
    gone, and its figures must still redraw; a job that cannot connect is an error
    row naming the file.)"""
    if not config.get("timing_lock"):
        return
    lock = Path(config["timing_lock"])
    hint = "; a machine that times nothing can pass --config timing_lock=null"
    if not lock.parent.is_dir():
        raise ValueError(f"config key timing_lock: {str(lock)!r} is in no folder that "
                         f"exists ({str(lock.parent)!r}); every timing job locks it{hint}")
    if lock.is_dir() or not os.access(lock if lock.exists() else lock.parent, os.W_OK):
        raise ValueError(f"config key timing_lock: {str(lock)!r} cannot be opened to lock "
                         f"(a folder, or not writable here){hint}")


def check_refinement(config: Mapping[str, Any], config_series: Mapping[str, Series]) -> None:
    """`refine` names compared pairs and workloads of the sweep."""
    refine = config.get("refine") or {}
    compared = [list(pair) for pair in comparisons(config, config_series)]
    for pair in refine.get("pairs") or []:
        if list(pair) not in compared:
            raise ValueError(f"config key refine.pairs: {list(pair)} is not a compared pair "
                             f"of the sweep (`compare`: {compared})")
    unknown = [name for name in refine.get("workloads") or [] if name not in config["workloads"]]
    if unknown:
        raise ValueError(f"config key refine.workloads: {unknown} are not workloads of the "
                         f"sweep ({list(config['workloads'])})")
    pairs = [[name.partition("@")[0] for name in pair] for pair in refine.get("pairs") or []]
    every_series = [name.partition("@")[0] for name in config_series]
    for name in refine.get("workloads") or []:
        runs = set(config["workloads"][name].get("backends") or every_series)
        if pairs and not any(set(pair) <= runs for pair in pairs):
            raise ValueError(f"config key refine.workloads: {name} does not run both series "
                             f"of any refined pair ({pairs}; it runs {sorted(runs)}): "
                             "nothing there could be refined")
