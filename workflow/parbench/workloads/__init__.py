"""Registry of workloads: adding one is a module plus one line here."""

from __future__ import annotations

from parbench.workloads.base import Task, Workload
from parbench.workloads.exp_sinh import ExpSinh
from parbench.workloads.shared_array import SharedArray

WORKLOADS: dict[str, type[Workload]] = {cls.name: cls for cls in (ExpSinh, SharedArray)}


def get_workload(name: str) -> Workload:
    try:
        return WORKLOADS[name]()
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; known: {sorted(WORKLOADS)}") from None


__all__ = ["WORKLOADS", "Task", "Workload", "get_workload"]
