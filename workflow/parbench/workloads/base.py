"""The interface every workload implements (one module per workload)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

# A task is a picklable callable: task(index, shared_input) -> float.
Task = Callable[[int, Any], float]


class Workload(ABC):
    """What one job computes: `tasks` independent calls of one task function.

    `size` means what `size_unit` says (iterations per task, bytes of input, ...).
    """

    name: ClassVar[str]
    kernels: ClassVar[tuple[str, ...]]
    size_unit: ClassVar[str]
    summary: ClassVar[str] = ""  # what `size` means and what a task does (docs tables)
    # Packages whose versions go into every row (besides numpy and the backends').
    packages: ClassVar[tuple[str, ...]] = ()
    # A size whose tasks take milliseconds: contract tests run every backend on it.
    smoke_size: ClassVar[int] = 1_000

    def shared_input(self, size: int) -> Any:
        """Data every task reads (shipped once per map by each backend's idiom), or None."""
        return None

    @abstractmethod
    def task(self, kernel: str, size: int) -> Task:
        """The picklable function a backend calls once per task index."""

    @abstractmethod
    def expected(self, index: int, size: int, shared_input: Any) -> float:
        """The serial reference for one task, computed without any backend."""

    # Relative tolerance when comparing a backend's results with `expected`.
    rtol: ClassVar[float] = 1e-9
