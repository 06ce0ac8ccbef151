"""Refinement: after the grid, more jobs where they narrow the answer.

A Snakemake checkpoint per round (`rule refine`) reads the per-job CSVs of the
refined workloads so far, estimates each refined pair's crossover, and plans the jobs
that narrow it: `replicates` new replicates of the pair, each measuring both series at
the estimate times `factors` (or, where the headline is a wide bracket, at its thirds
with as many more replicates as keep those jobs: planner.where_to_measure), until the
headline's relative half-width is within `target`, or `rounds` or `max_jobs` are
spent. The fitted
interval rests on replicates, each a paired line through the crossing (Student's t
with k - 1 degrees of freedom: 12.7 at two, 2.4 at eight), so a new replicate of three
sizes narrows it more than more sizes of the same few replicates. With `noisy_seconds`,
round 1 also gives the combinations whose median misses `ci_target` the replicates
their variance components ask for, cheapest first. A plan is a JSON file
(results/refine/round<N>.json): the jobs, each round's estimates and why. This module
is light (the workflow reads plans at parse time); the planner is `refine.planner`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parbench.identity import Job

PLAN = "results/refine/round{round}.json"
PLAN_LOG = "results/logs/refine/round{round}.log"
# Planned jobs run after every grid job that is ready (their priorities are below).
GRID_PRIORITY_FLOOR = 1_000_000


@dataclass(frozen=True)
class Refinement:
    """The config's `refine` block (meanings and bounds: the schema, whose defaults a
    test holds equal to these)."""

    pairs: list[list[str]] = field(default_factory=list)
    workloads: list[str] | None = None
    target: float = 0.2
    rounds: int = 2
    max_jobs: int = 36
    factors: list[float] = field(default_factory=lambda: [0.7, 1.0, 1.4])
    replicates: int = 3
    noisy_seconds: float = 0.0

    @classmethod
    def from_config(cls, block: Mapping[str, Any] | None) -> Refinement:
        return cls(**(block or {}))

    def refines(self, workload: str) -> bool:
        """Whether a pair's crossover on `workload` is refined."""
        return bool(self.pairs) and (self.workloads is None or workload in self.workloads)

    @property
    def tops_up(self) -> bool:
        """Whether round 1 gives noisy combinations more replicates (every workload)."""
        return self.noisy_seconds > 0


def refined_workloads(refinement: Refinement, runs: Mapping[str, Iterable[str]]) -> list[str]:
    """The workloads whose jobs a refinement reads (and may add to): every one when it
    tops up noisy combinations, else those it refines where both series of one of its
    pairs run (`runs`: workload -> its series)."""
    return [workload for workload, series in runs.items() if refinement.tops_up
            or (refinement.refines(workload)
                and any(set(pair) <= set(series) for pair in refinement.pairs))]


def write_plan(path: str | Path, round_number: int, jobs: Sequence[Job],
               estimates: Sequence[Mapping[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"round": round_number, "estimates": list(estimates),
                                "jobs": [dataclasses.asdict(job) for job in jobs]},
                               indent=1, default=str) + "\n")


def refined_jobs(folder: str | Path, before_round: int) -> int:
    """The jobs rounds 1 .. before_round - 1 planned around crossovers (their plans'
    jobs but the top-ups of noisy combinations): what `max_jobs` bounds."""
    planned = 0
    for round_number in range(1, before_round):
        path = Path(folder) / Path(PLAN.format(round=round_number)).name
        if path.exists():
            plan = json.loads(path.read_text())
            planned += len(plan["jobs"]) - sum(estimate.get("top_ups", 0)
                                               for estimate in plan["estimates"])
    return planned


def read_plan(path: str | Path) -> list[Job]:
    """The jobs a plan file lists, in the order they are to run."""
    return [Job(**job) for job in json.loads(Path(path).read_text())["jobs"]]


def planned_rounds(folder: str | Path = "results/refine") -> Mapping[Job, tuple[int, int]]:
    """{job: (round, place in its round's order)} of every plan written so far. The
    workflow asks for every planned job's round and priority: the plans are read again
    only when one of them changed (reading them per job grew with the square of a
    large refinement)."""
    plans = tuple((str(path), path.stat().st_mtime_ns, path.stat().st_size)
                  for path in sorted(Path(folder).glob("round*.json")))
    return _read_rounds(plans)


@functools.lru_cache(maxsize=8)
def _read_rounds(plans: tuple[tuple[str, int, int], ...]) -> Mapping[Job, tuple[int, int]]:
    found: dict[Job, tuple[int, int]] = {}
    for path, _, _ in plans:
        round_number = int(json.loads(Path(path).read_text())["round"])
        for place, job in enumerate(read_plan(path)):
            found.setdefault(job, (round_number, place))
    return types.MappingProxyType(found)


def priority(job: Job, planned: Mapping[Job, tuple[int, int]]) -> int:
    """A planned job's Snakemake priority: below every grid job's, in its plan's order."""
    round_number, place = planned.get(job, (0, 0))
    return max(1, GRID_PRIORITY_FLOOR - 10_000 * round_number - place)
