"""A map's results against the workload's serial reference."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def relative_error(got: Any, want: Any) -> float:
    """Largest difference from the reference, relative to its largest magnitude
    (a float, or every element of an array result)."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    if got.shape != want.shape:
        return math.inf
    scale = max(float(np.max(np.abs(want), initial=0.0)), 1e-300)
    error = float(np.max(np.abs(got - want), initial=0.0)) / scale
    # A NaN (a lost result reads as one) is no match: max() would skip it.
    return error if math.isfinite(error) else math.inf


def max_relative_error(results: Sequence[Any], expected: Sequence[Any]) -> float:
    if len(results) != len(expected):
        return math.inf
    return max((relative_error(got, want) for got, want in zip(results, expected)), default=0.0)
