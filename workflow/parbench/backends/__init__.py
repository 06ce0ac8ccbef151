"""Registry of backends: adding one is a module plus one line here.

A *series* is what a sweep runs and a figure draws: a registered backend with
its default options (`pool`), one of its declared variants (`pool-shm`), or any
`<backend>-<label>` whose options the config gives. Its name is its identity in
the per-job path, in the `backend` column, in `compare` and in the figures.

A series runs on a *target*: `local` (the job's own machine: the backend starts
and stops its workers) or an existing cluster named in the config's `clusters`,
which gives the engine's connection options. On a cluster the series is named
`<series>@<cluster>`, so that nothing downstream mixes the two.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parbench.backends.base import Backend, Limits, connection_fields, make_options
from parbench.backends.dask_distributed import DaskBackend
from parbench.backends.ipyparallel_engines import IpyparallelBackend
from parbench.backends.joblib_loky import JoblibBackend
from parbench.backends.pool import PoolBackend
from parbench.backends.process_pool import ProcessPoolBackend
from parbench.backends.ray_tasks import RayBackend
from parbench.backends.serial import SerialBackend
from parbench.backends.threads import ThreadsBackend
from parbench.identity import LOCAL, target_of
from parbench.interpreters import PROJECT, Interpreter, check_series
from parbench.interpreters import from_config as interpreters_from_config

BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls for cls in (
        SerialBackend,
        PoolBackend,
        ProcessPoolBackend,
        ThreadsBackend,
        JoblibBackend,
        DaskBackend,
        IpyparallelBackend,
        RayBackend,
    )
}

# `<backend>` or `<backend>-<label>`: lower case, so that paths and names agree.
SERIES_NAME = re.compile(r"^([a-z][a-z0-9_]*)(?:-([a-z0-9_]+))?$")
# A cluster's name in `clusters` (it ends a series' name: `ray@lab`).
TARGET_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Series:
    """One line of every figure: a backend and the options it runs with."""

    name: str
    engine: str  # the registered backend
    variant: str  # "" for the backend's defaults
    options: dict[str, Any]  # every option, defaults filled in
    target: str = LOCAL  # `local`, or the cluster (config `clusters`) it connects to
    # The interpreter its jobs run on (config `interpreters`; parbench.interpreters).
    interpreter: str = PROJECT
    interpreter_path: str = ""  # its python ("": the one running the job)


def default_series() -> list[str]:
    """Every registered backend, each followed by its declared variants."""
    return [name for backend in BACKENDS.values()
            for name in (backend.name, *(f"{backend.name}-{label}" for label in backend.variants))]


def resolve_series(name: str, overrides: Mapping[str, Any] | None = None,
                   key: str = "backends") -> Series:
    """A series from its name and the config's options for it; errors name the config key."""
    match = SERIES_NAME.match(str(name))
    if not match or match.group(1) not in BACKENDS:
        raise ValueError(f"config key {key}: unknown backend {name!r}; registered: "
                         f"{default_series()}, or `<backend>-<label>` with options")
    engine, label = match.group(1), match.group(2) or ""
    backend = BACKENDS[engine]
    overrides = dict(overrides or {})
    # Where the series runs is not an option of its backend (series_from_config
    # checks the interpreter and places the series there).
    interpreter = str(overrides.pop("interpreter", None) or PROJECT)
    if interpreter != PROJECT and not label:
        raise ValueError(f"config key {key}.{name}.interpreter: a series on another "
                         f"interpreter needs a name of its own (`{engine}` is the project's):"
                         f" e.g. `{engine}-{interpreter}: {{interpreter: {interpreter}}}`")
    if label and label not in backend.variants and not overrides and interpreter == PROJECT:
        raise ValueError(
            f"config key {key}.{name}: backend {engine!r} declares no variant {label!r} "
            f"(declared: {list(backend.variants) or 'none'}); give this series its options, "
            f"e.g. `backends: {{{name}: {{option: value}}}}`")
    values = dict(backend.variants[label].options) if label in backend.variants else {}
    # A declared variant is what the docs and the default pairs say it is.
    redefined = sorted(option for option in set(values) & set(overrides)
                       if overrides[option] != values[option])
    if redefined:
        raise ValueError(
            f"config key {key}.{name}.{redefined[0]}: `{name}` is declared with "
            f"{redefined[0]} {values[redefined[0]]!r}; a series with another value needs a "
            f"name of its own, e.g. `{engine}-mine: {{{redefined[0]}: "
            f"{overrides[redefined[0]]!r}}}`")
    values.update(overrides or {})
    connecting = sorted(name for name in set(values) & {field.name for field in
                                                        connection_fields(backend)}
                        if values[name] is not None)
    if connecting:
        raise ValueError(
            f"config key {key}.{name}.{connecting[0]}: where an existing cluster is goes in "
            f"`clusters` (e.g. `clusters: {{lab: {{engine: {engine}, {connecting[0]}: ...}}}}`)"
            f" and the sweep runs there when `targets` names it")
    options = make_options(backend, values, f"{key}.{name}")
    return Series(str(name), engine, label, dataclasses.asdict(options),
                  interpreter=interpreter)


def series_on_interpreter(series: Series, interpreters: Mapping[str, Interpreter],
                          key: str) -> Series:
    """`series` with the path of the interpreter it names, once that interpreter is
    known to run it (parbench.interpreters.check_series)."""
    if series.interpreter == PROJECT:
        return series
    if series.interpreter not in interpreters:
        raise ValueError(f"config key {key}.interpreter: {series.interpreter!r} is not in "
                         f"`interpreters` ({sorted(interpreters) or 'none given'})")
    interpreter = interpreters[series.interpreter]
    check_series(series.name, BACKENDS[series.engine].packages, interpreter,
                 f"{key}.interpreter")
    return dataclasses.replace(series, interpreter_path=interpreter.path)


def check_cluster(target: str, cluster: Mapping[str, Any]) -> dict[str, Any]:
    """A `clusters` entry's connection options, once they say where one cluster is in
    one way: only its engine's options, at least one given, and not two ways at once
    (ipyparallel's connection file beside a profile); errors name the key."""
    key = f"clusters.{target}"
    engine = cluster["engine"]
    connection = {name: value for name, value in cluster.items() if name != "engine"}
    backend = BACKENDS[engine]
    known = [field.name for field in connection_fields(backend)]
    unknown = sorted(set(connection) - set(known))
    if unknown:
        raise ValueError(f"config key {key}.{unknown[0]}: a {engine} cluster is "
                         f"given by {known}")
    given = {name for name, value in connection.items() if value is not None}
    if not given:
        raise ValueError(f"config key {key}: give where the cluster is, one of {known}")
    ways = [way for way in backend.connection_ways if given & set(way)]
    if len(ways) > 1:
        raise ValueError(f"config key {key}.{sorted(given & set(ways[1]))[0]}: a {engine} "
                         f"cluster is given by {list(ways[0])} or by {list(ways[1])}, not "
                         "both (one would be ignored, the rows recording it)")
    make_options(backend, connection, key)  # each value as its option allows
    return connection


def series_on_cluster(series: Series, target: str, cluster: Mapping[str, Any]) -> Series:
    """`series` run on the existing cluster `target` (a `clusters` entry: its engine
    and connection options), named `<series>@<target>`."""
    connection = check_cluster(target, {**cluster, "engine": series.engine})
    backend = BACKENDS[series.engine]
    options = make_options(backend, {**series.options, **connection}, f"clusters.{target}")
    return Series(f"{series.name}@{target}", series.engine, series.variant,
                  dataclasses.asdict(options), target)


def series_from_config(backends: list[str] | Mapping[str, Any] | None,
                       clusters: Mapping[str, Mapping[str, Any]] | None = None,
                       targets: list[str] | None = None,
                       interpreters: Mapping[str, Any] | None = None) -> dict[str, Series]:
    """The config's `backends` (a list of series names, a mapping of names to options,
    or nothing: every registered backend and declared variant) on each of its
    `targets` (default: `local`): on a cluster, the series of the cluster's engine.
    A series may name one of `interpreters` to run on (locally)."""
    if backends is None:
        wanted: dict[str, Any] = dict.fromkeys(default_series())
    elif isinstance(backends, Mapping):
        wanted = dict(backends)
    else:
        wanted = dict.fromkeys(backends)
    known_interpreters = interpreters_from_config(interpreters)
    configured = {str(name): series_on_interpreter(resolve_series(name, overrides),
                                                   known_interpreters, f"backends.{name}")
                  for name, overrides in wanted.items()}
    clusters = clusters or {}
    for name, cluster in clusters.items():
        engine = cluster.get("engine") if isinstance(cluster, Mapping) else None
        if not TARGET_NAME.match(str(name)) or str(name) == LOCAL:
            raise ValueError(f"config key clusters.{name}: a cluster's name is lower case "
                             "letters, digits, `_` and `-`, and not `local`")
        if engine not in BACKENDS or not connection_fields(BACKENDS[engine]):
            raise ValueError(
                f"config key clusters.{name}.engine: {engine!r} is not an engine that joins "
                f"existing clusters; those that do: "
                f"{[n for n, b in BACKENDS.items() if connection_fields(b)]}")
        check_cluster(str(name), cluster)  # a cluster no target names yet, too
    found: dict[str, Series] = {}
    for target in targets or [LOCAL]:
        if target == LOCAL:
            found.update(configured)
            continue
        if target not in clusters:
            raise ValueError(f"config key targets: {target!r} is neither `local` nor a "
                             f"cluster in `clusters` ({sorted(clusters) or 'none given'})")
        engine = clusters[target]["engine"]
        # A cluster's workers run on the cluster's own interpreter.
        mine = [one for one in configured.values()
                if one.engine == engine and one.interpreter == PROJECT]
        if not mine:
            raise ValueError(f"config key targets: the cluster {target!r} runs {engine}, "
                             f"but `backends` has no {engine} series")
        for one in mine:
            placed = series_on_cluster(one, target, clusters[target])
            found[placed.name] = placed
    return found


def get_backend(series: Series | str, workers: int, limits: Limits | None = None) -> Backend:
    """The series' backend, ready to start (on its target: connection options set)."""
    if isinstance(series, str):
        series = resolve_series(series)
    backend = BACKENDS[series.engine]
    return backend(workers, backend.Options(**series.options), limits)


__all__ = ["BACKENDS", "LOCAL", "Backend", "Limits", "Series", "check_cluster", "default_series",
           "get_backend", "resolve_series", "series_on_cluster", "series_on_interpreter",
           "series_from_config", "target_of"]
