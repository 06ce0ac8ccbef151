"""A Python loop of a known length, calibrated in microseconds of this machine.

`tiny_tasks` and `imbalanced` spend their tasks' time in it: pure Python, so it
holds the GIL like the article's loop, and its result has a closed form, so the
serial reference costs nothing to compute.
"""

from __future__ import annotations

import time

# (3·i) mod 7 cycles through these seven values.
_CYCLE = [(3 * i) % 7 for i in range(7)]
_CALIBRATION_ITERATIONS = 200_000
_iterations_per_microsecond: list[float] = []


def spin(iterations: int, index: int, shared_input: object = None) -> float:
    """`iterations` rounds of Python arithmetic; the task index makes results distinct."""
    total = index
    for i in range(iterations):
        total += (3 * i) % 7
    return float(total)


def spin_result(iterations: int, index: int) -> float:
    """What `spin` returns, in closed form."""
    full_cycles, rest = divmod(iterations, 7)
    return float(index + full_cycles * sum(_CYCLE) + sum(_CYCLE[:rest]))


def iterations_per_microsecond() -> float:
    """This machine's speed at `spin`, measured once per process (best of three)."""
    if not _iterations_per_microsecond:
        best = min(_timed_spin() for _ in range(3))
        _iterations_per_microsecond.append(_CALIBRATION_ITERATIONS / (best * 1e6))
    return _iterations_per_microsecond[0]


def _timed_spin() -> float:
    began = time.perf_counter()
    spin(_CALIBRATION_ITERATIONS, 0)
    return time.perf_counter() - began


def iterations_for(microseconds: float) -> int:
    return max(1, round(microseconds * iterations_per_microsecond()))
