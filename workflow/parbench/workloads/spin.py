"""A Python loop of a known length, sized in microseconds of a reference machine.

`tiny_tasks` and `imbalanced` spend their tasks' time in it: pure Python, so it
holds the GIL like the article's loop, and its result has a closed form, so the
serial reference costs nothing to compute.

A size in microseconds becomes a fixed number of loop rounds, the same in every job
and on every machine, so that every series of a sweep does the same work (a
calibration per job would give each job a loop of its own length).
How long the rounds take here is what the serial loop's row measures.
"""

from __future__ import annotations

from parbench.columns import INTEGER, JOB, SUMMARY, Column

# Rounds of `spin` per microsecond on this project's 2-core reference machine
# (AMD EPYC, Python 3.11; median of three calibrations on a quiet machine, 2026-11-27).
REFERENCE_ROUNDS_PER_MICROSECOND = 18.4

# What a workload that spins records (`workload_task_iterations`).
TASK_ITERATIONS = Column("task_iterations", INTEGER, "rounds", "loop rounds of `spin`: one "
                         "task's (tiny_tasks), all tasks' together (imbalanced)",
                         (JOB, SUMMARY), "job", to_summary="first")

# (3·i) mod 7 cycles through these seven values.
_CYCLE = [(3 * i) % 7 for i in range(7)]


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


def iterations_for(microseconds: float) -> int:
    """Loop rounds that take `microseconds` on the reference machine."""
    return max(1, round(microseconds * REFERENCE_ROUNDS_PER_MICROSECOND))
