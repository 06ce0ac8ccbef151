"""The article's "complex operation": exp(x) * sinh(x), `size` times per task.

Unlike the article, every task returns the sum of its values, so results can be
checked, and task i uses x = 1 + i * X_STEP so a mixed-up order is caught too.
"""

from __future__ import annotations

import functools
import math
from itertools import repeat

import numpy as np

from parbench.workloads.base import Task, Workload

X_STEP = 1e-3


def task_x(index: int) -> float:
    return 1.0 + index * X_STEP


def python_kernel(size: int, index: int, shared_input: None = None) -> float:
    """The article's loop: a list comprehension of exp(x) * sinh(x)."""
    x = task_x(index)
    values = [math.exp(x) * math.sinh(x) for x in repeat(x, size)]
    return sum(values)


def numpy_kernel(size: int, index: int, shared_input: None = None) -> float:
    """The article's NumPy version: one vectorised evaluation over `size` elements."""
    values = np.full(size, task_x(index))
    return float((np.exp(values) * np.sinh(values)).sum())


KERNELS = {"python": python_kernel, "numpy": numpy_kernel}


class ExpSinh(Workload):
    name = "exp_sinh"
    kernels = tuple(KERNELS)
    size_unit = "iterations per task"
    summary = ("iterations of `exp(x)·sinh(x)` per task (the article's kernel; it used 10⁷); "
               "`python`: the list comprehension, `numpy`: vectorised")
    smoke_size = 2_000
    # A naive sum of `size` equal floats drifts by up to size * eps from size * value.
    rtol = 1e-6

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(KERNELS[kernel], size)

    def expected(self, index: int, size: int, shared_input: None) -> float:
        x = task_x(index)
        return size * math.exp(x) * math.sinh(x)
