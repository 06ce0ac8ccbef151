"""Data in, compute, data out: every task filters one shared image and returns it smaller.

The shared read-only image (float32) has `size` bytes. Task i convolves it with its
own seeded 3×3 filter, as many passes as its kernel says (`passes1`, `passes4`,
`passes16`: the compute per byte), in NumPy alone, and returns the result
down-sampled 4× in each direction, so results travel back too (1/16 of the input
per task). The kernels are levels of one axis, so the figures can draw a map of
bytes × compute.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from parbench.workloads.base import Task, Workload

ITEM_BYTES = np.dtype(np.float32).itemsize
DOWNSAMPLE = 4
PASSES = {"passes1": 1, "passes4": 4, "passes16": 16}


SMALLEST_SIDE = 8


def image_side(size: int) -> int:
    return max(SMALLEST_SIDE, math.isqrt(max(1, size // ITEM_BYTES)))


def task_filter(index: int) -> np.ndarray:
    """Task i's own 3×3 filter, normalised so that values stay in range."""
    weights = np.random.default_rng(index).random((3, 3)).astype(np.float32)
    return weights / weights.sum()


def filter_image(passes: int, index: int, image: np.ndarray) -> np.ndarray:
    """`passes` 3×3 convolutions (each shrinks the image by 2), then every 4th pixel."""
    weights = task_filter(index)
    result = image
    for _ in range(passes):
        rows, columns = result.shape[0] - 2, result.shape[1] - 2
        out = np.zeros((rows, columns), dtype=np.float32)
        for dy in range(3):
            for dx in range(3):
                out += weights[dy, dx] * result[dy:dy + rows, dx:dx + columns]
        result = out
    return result[::DOWNSAMPLE, ::DOWNSAMPLE].copy()


class ImageFilter(Workload):
    name = "image_filter"
    kernels = tuple(PASSES)
    size_unit = "bytes of shared image"
    summary = ("bytes of one shared float32 image; each task applies its own 3×3 filter "
               "`passesN` times and returns the result down-sampled 4×4")
    regime = "data and compute"
    kernel_axis = "3×3 filter passes per task"
    kernel_levels = {kernel: float(passes) for kernel, passes in PASSES.items()}
    smoke_size = 40_000
    rtol = 1e-6  # float32, summed in the same order everywhere

    @classmethod
    def smallest_size(cls, kernel: str) -> int:
        """The bytes of the smallest image whose side is its size's (not the smallest
        side's, which smaller sizes are rounded up to) and that `kernel`'s passes, each
        2 pixels narrower, leave one down-sampled pixel of."""
        side = max(SMALLEST_SIDE, 2 * PASSES[kernel] + DOWNSAMPLE)
        return side * side * ITEM_BYTES

    def shared_input(self, size: int) -> np.ndarray:
        side = image_side(size)
        image = np.random.default_rng(seed=0).random((side, side), dtype=np.float32)
        image.flags.writeable = False
        return image

    def task(self, kernel: str, size: int) -> Task:
        return functools.partial(filter_image, PASSES[kernel])

    def __init__(self) -> None:
        self._passes = 1

    def prepare(self, kernel: str, size: int, tasks: int) -> None:
        self._passes = PASSES[kernel]

    def expected(self, index: int, size: int, shared_input: np.ndarray) -> np.ndarray:
        return filter_image(self._passes, index, shared_input)

    def shared_input_bytes(self, size: int) -> int:
        return image_side(size) ** 2 * 4  # float32 pixels

    def bytes_needed(self, size: int, tasks: int, workers: int) -> int:
        # The image, each busy worker's copy and two temporaries, and every result.
        return size * (1 + 3 * workers) + tasks * size // DOWNSAMPLE**2
