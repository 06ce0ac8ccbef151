"""What a worker keeps between tasks: the state a workload's per-worker set-up built.

Each backend runs the set-up its own idiomatic way, once per worker (Pool's
initializer, Ray actors, Dask's `Client.run`, ipyparallel's `apply` on every
engine, ...), and `install`s what it returns here; tasks read it with `current()`.
It is process-wide: threads of one process share one state, and a stateful
workload guards its own updates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_state: dict[str, Any] = {"value": None}


def install(setup: Callable[[], Any]) -> float:
    """Run the set-up here and keep what it built; returns 1.0 (a map result)."""
    _state["value"] = setup()
    return 1.0


def current() -> Any:
    value = _state["value"]
    if value is None:
        raise RuntimeError("no per-worker state: the backend did not run the workload's "
                           "set-up on this worker")
    return value


def snapshot() -> Any:
    """What this worker accumulated (the state's own `snapshot()`), for the driver to merge."""
    return current().snapshot()


def clear() -> None:
    _state["value"] = None
