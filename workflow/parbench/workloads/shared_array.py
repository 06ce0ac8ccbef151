"""Every task reads one shared, read-only float64 array of `size` bytes.

This is the case the article never measured: the cost is moving the data, which
is where Ray's object store (put once, zero-copy reads) can beat Pool, which
pickles the array into every chunk of tasks it sends.
"""

from __future__ import annotations

import numpy as np

from parbench.workloads.base import Task, Workload

ITEM_BYTES = np.dtype(np.float64).itemsize


def sum_kernel(index: int, shared_input: np.ndarray) -> float:
    """Reads the whole array; the index makes each task's result distinct."""
    return float(shared_input.sum()) + index


class SharedArray(Workload):
    name = "shared_array"
    kernels = ("numpy",)
    size_unit = "bytes of shared input"
    summary = "bytes of one read-only float64 array that every task sums"
    regime = "data"
    smoke_size = 200_000

    def shared_input(self, size: int) -> np.ndarray:
        elements = max(1, size // ITEM_BYTES)
        array = np.random.default_rng(seed=0).random(elements)
        array.flags.writeable = False
        return array

    def shared_input_bytes(self, size: int) -> int:
        return max(1, size // ITEM_BYTES) * ITEM_BYTES

    def bytes_needed(self, size: int, tasks: int, workers: int) -> int:
        # The array, the reference's pass over it, and a copy per worker in flight.
        return size * (2 + workers)

    def task(self, kernel: str, size: int) -> Task:
        return sum_kernel

    def expected(self, index: int, size: int, shared_input: np.ndarray) -> float:
        return float(shared_input.sum()) + index
