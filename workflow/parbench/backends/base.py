"""The interface every backend implements (one module per backend).

A job drives a backend through three timed phases: `start()` (until its
workers can take work), `map()` (until every result is back in the driver) and
`stop()` (until its processes are gone). `stop()` must be safe to call after a
failed or partial `start()`: it is always called, on errors too.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from parbench.workloads.base import Task


@dataclass(frozen=True)
class BackendSettings:
    """How a backend is run; every field ends up recorded in the job's rows."""

    workers: int
    start_method: str = "fork"  # multiprocessing start method, for Pool
    pool_chunksize: int | None = None  # None: Pool's own default, computed and recorded
    map_timeout_seconds: float = 300.0  # a map still running then is a failure row
    ray_address: str | None = None  # None: a fresh local Ray instance on loopback
    start_timeout_seconds: float = 120.0  # for Pool workers or ipyparallel engines to start


class Backend(ABC):
    name: ClassVar[str]
    # True when `workers` does not apply (the serial loop always uses one core).
    single_process: ClassVar[bool] = False

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings

    @property
    def workers(self) -> int:
        return 1 if self.single_process else self.settings.workers

    def start(self) -> None:  # noqa: B027 - optional phase
        """Start the workers and return once they can take tasks."""

    @abstractmethod
    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        """Run task(i, shared_input) for i in range(tasks); return results in order."""

    def stop(self) -> None:  # noqa: B027 - optional phase
        """Stop every process `start` began. Idempotent."""

    def chunksize(self, tasks: int) -> int | None:
        """Tasks sent per dispatch, recorded in the job's rows (None: not chunked)."""
        return None


def call_task(task: Task, index: int, shared_input: Any = None) -> float:
    """Module-level trampoline so engines unpickle tasks by reference."""
    return task(index, shared_input)
