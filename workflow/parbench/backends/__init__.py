"""Registry of backends: adding one is a module plus one line here.

A *series* is what a sweep runs and a figure draws: a registered backend with
its default options (`pool`), one of its declared variants (`pool-shm`), or any
`<backend>-<label>` whose options the config gives. Its name is its identity in
the per-job path, in the `backend` column, in `compare` and in the figures.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parbench.backends.base import Backend, Limits, make_options
from parbench.backends.dask_distributed import DaskBackend
from parbench.backends.ipyparallel_engines import IpyparallelBackend
from parbench.backends.joblib_loky import JoblibBackend
from parbench.backends.pool import PoolBackend
from parbench.backends.process_pool import ProcessPoolBackend
from parbench.backends.ray_tasks import RayBackend
from parbench.backends.serial import SerialBackend
from parbench.backends.threads import ThreadsBackend

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


@dataclass(frozen=True)
class Series:
    """One line of every figure: a backend and the options it runs with."""

    name: str
    engine: str  # the registered backend
    variant: str  # "" for the backend's defaults
    options: dict[str, Any]  # every option, defaults filled in


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
    if label and label not in backend.variants and not overrides:
        raise ValueError(
            f"config key {key}.{name}: backend {engine!r} declares no variant {label!r} "
            f"(declared: {list(backend.variants) or 'none'}); give this series its options, "
            f"e.g. `backends: {{{name}: {{option: value}}}}`")
    values = dict(backend.variants[label].options) if label in backend.variants else {}
    values.update(overrides or {})
    options = make_options(backend, values, f"{key}.{name}")
    return Series(str(name), engine, label, dataclasses.asdict(options))


def series_from_config(backends: list[str] | Mapping[str, Any] | None) -> dict[str, Series]:
    """The config's `backends`: a list of series names, a mapping of names to options,
    or nothing (every registered backend and declared variant)."""
    if backends is None:
        wanted: dict[str, Any] = dict.fromkeys(default_series())
    elif isinstance(backends, Mapping):
        wanted = dict(backends)
    else:
        wanted = dict.fromkeys(backends)
    return {str(name): resolve_series(name, overrides) for name, overrides in wanted.items()}


def get_backend(series: Series | str, workers: int, limits: Limits | None = None) -> Backend:
    if isinstance(series, str):
        series = resolve_series(series)
    backend = BACKENDS[series.engine]
    return backend(workers, backend.Options(**series.options), limits)


__all__ = ["BACKENDS", "Backend", "Limits", "Series", "default_series", "get_backend",
           "resolve_series", "series_from_config"]
