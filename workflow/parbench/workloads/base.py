"""The interface every workload implements (one module per workload)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from parbench.columns import Column

# A task is a picklable callable: task(index, shared_input) -> a float or a NumPy array.
Task = Callable[[int, Any], Any]


class Workload(ABC):
    """What one job computes: `tasks` independent calls of one task function.

    `size` means what `size_unit` says (iterations per task, bytes of input, ...).
    """

    name: ClassVar[str]
    kernels: ClassVar[tuple[str, ...]]
    size_unit: ClassVar[str]
    summary: ClassVar[str] = ""  # what `size` means and what a task does (docs tables)
    # The regime it stands for in the README's table (compute, data, dispatch, ...).
    regime: ClassVar[str] = ""
    # Packages whose versions go into every row (besides numpy and the backends').
    packages: ClassVar[tuple[str, ...]] = ()
    # A size whose tasks take milliseconds: contract tests run every backend on it.
    smoke_size: ClassVar[int] = 1_000
    # The smallest size that means something (imbalanced: 0, equal tasks).
    min_size: ClassVar[int] = 1

    @classmethod
    def smallest_size(cls, kernel: str) -> int:
        """The smallest size `kernel` runs as its size says (`min_size`, unless a kernel
        needs more: image_filter's passes shrink its image)."""
        return cls.min_size
    # When the kernels are levels of one quantity (compute per byte, say): its name
    # and each kernel's level, so that figures can draw size × level maps.
    kernel_axis: ClassVar[str] = ""
    kernel_levels: ClassVar[dict[str, float]] = {}

    def prepare(self, kernel: str, size: int, tasks: int) -> None:  # noqa: B027 - optional
        """Called by the job before `shared_input`, `task` and `expected`, for a workload
        whose reference depends on the kernel (image_filter) or whose tasks depend on how
        many there are (imbalanced: the total work is fixed)."""

    def shared_input(self, size: int) -> Any:
        """Data every task reads (shipped once per map by each backend's idiom), or None."""
        return None

    @abstractmethod
    def task(self, kernel: str, size: int) -> Task:
        """The picklable function a backend calls once per task index."""

    @abstractmethod
    def expected(self, index: int, size: int, shared_input: Any) -> Any:
        """The serial reference for one task, computed without any backend."""

    # Relative tolerance when comparing a backend's results with `expected`.
    rtol: ClassVar[float] = 1e-9

    def bytes_needed(self, size: int, tasks: int, workers: int) -> int:
        """About how much memory a job of this size needs at once (0: negligible).
        A job that would not fit says so in an error row before allocating anything."""
        return 0

    def shared_input_bytes(self, size: int) -> int:
        """About how large `shared_input(size)` is, before it is built (0: none); a
        backend that copies it into shared memory checks it fits there."""
        return 0

    # Columns of its own (written `workload_<name>`, carried into summary.csv), whose
    # values `recorded` gives.
    columns: ClassVar[tuple[Column, ...]] = ()

    def recorded(self, kernel: str, size: int) -> dict[str, Any]:
        """This workload's `columns` for every row of a job (e.g. loop lengths)."""
        return {}

    def worker_setup(self, kernel: str, size: int) -> Callable[[], Any] | None:
        """A picklable callable that builds each worker's state once (the backend runs
        it its idiomatic way before start-up ends), or None."""
        return None

    def holds_gil(self, kernel: str) -> bool:
        """Whether a task runs Python bytecode throughout (threads then take turns); a
        NumPy kernel releases the GIL in its loops."""
        return kernel == "python"

    def task_weights(self, kernel: str, size: int, tasks: int) -> list[float]:
        """Each task's share of the work, for the cost model's schedule (equal here)."""
        return [1.0] * tasks

    def stateful(self, kernel: str) -> bool:
        """True when tasks accumulate into the per-worker state, which the driver
        gathers from every worker after the maps and checks with `states_agree`."""
        return False

    def states_agree(self, snapshots: Sequence[Any], maps: int, tasks: int, size: int) -> bool:
        """Whether the workers' merged states are what `maps` maps of `tasks` tasks add up to."""
        return True
