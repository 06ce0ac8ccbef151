"""What a JSON schema cannot say of a design, checked before any job runs: names and
options from the registries, kernels of their workload, pairs of the sweep's series,
numbers finite and whole where whole, no key given twice, a timing lock that can be
taken. Every error names the config key."""

from __future__ import annotations

import functools
import math
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from parbench import columns
from parbench.backends import Series, target_of
from parbench.identity import KERNEL_NAME
from parbench.sweep import comparisons, series, series_on_targets
from parbench.workloads import workload_class

# The config's schema: beside the package in a checkout or an editable install; an
# installed copy without the workflow has none (what reads it then does without).
SCHEMA = Path(__file__).resolve().parents[1] / "schemas/config.schema.yaml"


@functools.cache
def config_schema() -> dict[str, Any] | None:
    """The schema, parsed once (None where it is not beside the package)."""
    return yaml.safe_load(SCHEMA.read_text()) if SCHEMA.is_file() else None


class _RefusingDuplicateKeys(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen = set()
        # Keys written here; a merge (`<<: *common`) brings keys this one may override.
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
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


def check_schema(config: Mapping[str, Any]) -> None:
    """The schema's first objection, as the other checks word theirs: the key, its
    value, what is wrong (Snakemake's own report buries the key under the schema)."""
    import jsonschema

    schema = config_schema()
    if schema is None:
        return
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    key = ".".join(str(part) for part in error.absolute_path)
    scalar = not isinstance(error.instance, (Mapping, list))
    where = f"config key {key}" + (f" ({error.instance!r})" if scalar else "") if key \
        else "config"
    # Where the value matched none of several forms, say each form's objection.
    forms = sorted({sub.message for sub in error.context or ()})
    raise ValueError(f"{where}: {error.message}" + (f" ({'; '.join(forms)})" if forms else ""))


def _integers_with_a_fraction(config: Mapping[str, Any]) -> Iterator[str]:
    """Where the config gives `2.0` for an integer: a JSON schema's `integer` takes any
    number whose fraction is zero, and `range(2.0)` fails every job later."""
    import jsonschema

    schema = config_schema()
    if schema is None:
        return
    base = jsonschema.Draft202012Validator
    whole = base.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    strict = jsonschema.validators.extend(base, type_checker=whole)
    for error in strict(schema).iter_errors(config):
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
            chosen = workload_class(workload_name, workload.get("plugin"))
        except (ValueError, TypeError) as problem:
            raise ValueError(f"config key {key}: {problem}") from None
        known = chosen.kernels
        for problem in columns.plugin_column_problems(f"workload {workload_name}",
                                                      chosen.columns):
            raise ValueError(f"config key {key}: {problem}")
        for kernel in [one for one in workload.get("kernels") or known if one in known]:
            smallest = chosen.smallest_size(kernel)
            too_small = [size for size in workload["sizes"] if size < smallest]
            if too_small:
                which = f" kernel {kernel} runs" if smallest != chosen.min_size else ""
                raise ValueError(f"config key workloads.{workload_name}.sizes: {too_small} "
                                 f"below the smallest size{which}, {smallest}")
        base_names = {name.partition("@")[0] for name in config_series}
        unknown = [name for name in workload.get("backends") or [] if name not in base_names]
        if unknown:
            raise ValueError(f"config key workloads.{workload_name}.backends: {unknown} are not "
                             f"series of the sweep (`backends`: {list(config_series)})")
        unnamed = [kernel for kernel in known if not re.fullmatch(KERNEL_NAME, kernel)]
        if unnamed:
            raise ValueError(f"config key {key}: the workload's kernels {unnamed} are not "
                             f"names of letters, digits and `_` ({KERNEL_NAME}): each is a "
                             "folder of results/raw and a wildcard of the measure rule")
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
    runs_by_workload = _series_by_workload(config, config_series)
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
        if not any(set(pair) <= set(runs) for runs in runs_by_workload):
            raise ValueError(f"config key compare: no workload runs both series of {pair} "
                             "(see each workload's `backends`): no crossover could be found")
    check_refinement(config, config_series)
    check_paths(config)


def _series_by_workload(config: Mapping[str, Any],
                        config_series: Mapping[str, Series]) -> list[list[str]]:
    """Per workload, the sweep's series it runs (its `backends`, on every target)."""
    return [series_on_targets(workload.get("backends"), config_series)
            for workload in config["workloads"].values()]


def check_paths(config: Mapping[str, Any]) -> None:
    """The timing lock and the jobs' runtime folder, where this machine can tell: a lock
    in a folder that does not exist, one that is a folder, a link or another user's, or
    a runtime folder others can write to, would fail every timing job. Checked without
    creating them. (A cluster's connection file is not checked: a stopped cluster's is
    gone, and its figures must still redraw; a job that cannot connect is an error
    row naming the file.)"""
    from parbench import guard
    from parbench.measure.slot import TIMING_LOCK, lock_refused

    try:
        guard.private_runtime_dir(create=False)
    except RuntimeError as problem:
        raise ValueError(f"the timing jobs' runtime folder: {problem} (or set TMPDIR to a "
                         "folder of your own)") from None
    given = config.get("timing_lock")
    lock = Path(given) if given else TIMING_LOCK
    key = "config key timing_lock" + ("" if given else f" (unset: the default, {str(lock)!r})")
    hint = ("; a machine that times nothing can pass --config timing_lock=null" if given
            else "; set timing_lock to a file of your own (or TMPDIR to a folder of yours)")
    if not lock.parent.is_dir():
        raise ValueError(f"{key}: {str(lock)!r} is in no folder that "
                         f"exists ({str(lock.parent)!r}); every timing job locks it{hint}")
    if lock.is_dir() or not os.access(lock if lock.exists() else lock.parent, os.W_OK):
        raise ValueError(f"{key}: {str(lock)!r} cannot be opened to lock "
                         f"(a folder, or not writable here){hint}")
    refused = lock_refused(lock)
    if refused:
        raise ValueError(f"{key}: {str(lock)!r} {refused}; remove it{hint}")


def check_refinement(config: Mapping[str, Any], config_series: Mapping[str, Series]) -> None:
    """`refine` names compared pairs and workloads of the sweep."""
    refine = config.get("refine") or {}
    compared = [list(pair) for pair in comparisons(config, config_series)]
    for pair in refine.get("pairs") or []:
        if list(pair) not in compared:
            raise ValueError(f"config key refine.pairs: {list(pair)} is not a compared pair "
                             f"of the sweep (`compare`: {compared})")
    if refine.get("workloads") == []:
        raise ValueError("config key refine.workloads: [] names no workload; null refines "
                         "every one where a pair's two series run, `pairs: []` none")
    if refine.get("workloads") and not refine.get("pairs"):
        # `pairs: []` is how refinement is turned off (`--config` keeps the default's
        # workloads): said, not refused.
        print(f"warning: config key refine.pairs is empty, so nothing is refined "
              f"(refine.workloads, {list(refine['workloads'])}, has no effect)",
              file=sys.stderr)
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
