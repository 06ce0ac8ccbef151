"""The article's "complex operation": exp(x) * sinh(x), `size` times per task.

The `python` kernel is the article's loop as written: a list comprehension over
`[1] * size`, so math.exp and math.sinh receive the int 1 and convert it on
every call. Unlike the article, every task returns the sum of its values plus
its index, so results can be checked and a mixed-up order is caught; the
reference sums the same values the same way, so a correct result matches it
exactly. The `numpy` kernel is the article's NumPy version: one vectorised
evaluation over an array of `size` ones, its sum plus the task index too.
"""

from __future__ import annotations

import functools
import math
from itertools import repeat

import numpy as np

from parbench.workloads.base import Task, Workload


def python_kernel(size: int, index: int, shared_input: None = None) -> float:
    """The article's loop, as written (ints in, one list of `size` values out)."""
    values = [math.exp(i) * math.sinh(i) for i in [1] * size]
    return sum(values) + index


def python_reference(size: int, index: int) -> float:
    """What python_kernel returns, without evaluating exp and sinh `size` times: the
    same `size` equal floats, summed by the same built-in `sum`."""
    return sum(repeat(math.exp(1) * math.sinh(1), size)) + index


def numpy_kernel(size: int, index: int, shared_input: None = None) -> float:
    """The article's NumPy version: one vectorised evaluation over `size` ones."""
    values = np.ones(size)
    return float((np.exp(values) * np.sinh(values)).sum()) + index


KERNELS = {"python": python_kernel, "numpy": numpy_kernel}


class ExpSinh(Workload):
    name = "exp_sinh"
    kernels = tuple(KERNELS)
    size_unit = "iterations per task"
    summary = ("iterations of `exp(x)·sinh(x)` per task (the article's kernel; it used 10⁷); "
               "`python`: the list comprehension, `numpy`: vectorised")
    regime = "compute"
    smoke_size = 2_000
    # The python kernel's reference is exact; the numpy kernel's pairwise sum of
    # `size` equal floats drifts from size * value by about log2(size) * eps. Tight
    # enough that task i's result (+ i) differs from task j's at the article's 10^7.
    rtol = 1e-12

    kernel = "python"  # the one `expected` checks against (set by `prepare`)

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        self.kernel = kernel

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(KERNELS[kernel], size)

    def expected(self, index: int, size: int, shared_input: None) -> float:
        if self.kernel == "python":
            return python_reference(size, index)
        return size * math.exp(1) * math.sinh(1) + index
