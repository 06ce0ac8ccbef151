"""Registry of workloads: adding one is a module plus one line here.

A user's own workload needs neither: the config can name its class by import
path (`workloads: {mine: {plugin: "mypkg.bench:MyWorkload", sizes: [...]}}`), or
an installed package can register it under the entry-point group
`parbench.workloads`. It is then validated and run exactly like these.
"""

from __future__ import annotations

import importlib
from importlib import metadata

from parbench.workloads.base import Task, Workload
from parbench.workloads.exp_sinh import ExpSinh
from parbench.workloads.image_filter import ImageFilter
from parbench.workloads.imbalanced import Imbalanced
from parbench.workloads.shared_array import SharedArray
from parbench.workloads.tiny_tasks import TinyTasks
from parbench.workloads.worker_setup import WorkerSetup

BUILT_IN: dict[str, type[Workload]] = {
    cls.name: cls for cls in (ExpSinh, SharedArray, ImageFilter, TinyTasks, Imbalanced,
                              WorkerSetup)
}
ENTRY_POINT_GROUP = "parbench.workloads"


def _registered() -> dict[str, type[Workload]]:
    found = dict(BUILT_IN)
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry_point.name, _checked(entry_point.load(), entry_point.value))
    return found


def _checked(candidate: object, where: str) -> type[Workload]:
    if not (isinstance(candidate, type) and issubclass(candidate, Workload)):
        raise TypeError(f"{where} is not a parbench.workloads.base.Workload subclass")
    return candidate


def load_plugin(spec: str) -> type[Workload]:
    """The class named by `module:Class` (the module must be importable)."""
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise ValueError(f"{spec!r} is not of the form `module:Class`")
    try:
        module = importlib.import_module(module_name)
    except ImportError as problem:
        raise ValueError(f"cannot import {module_name!r} ({problem}); install the package "
                         "that holds it, or put its folder on PYTHONPATH") from None
    except Exception as problem:  # the module itself fails: a syntax error, a raise
        raise ValueError(f"importing {module_name!r} failed: {type(problem).__name__}: "
                         f"{problem}") from None
    try:
        return _checked(getattr(module, class_name), spec)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no {class_name!r}") from None


WORKLOADS: dict[str, type[Workload]] = _registered()


def workload_class(name: str, plugin: str | None = None) -> type[Workload]:
    if plugin:
        return load_plugin(plugin)
    try:
        return WORKLOADS[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; registered: {sorted(WORKLOADS)}, "
                         "or give its class as `plugin: module:Class`") from None


def get_workload(name: str, plugin: str | None = None) -> Workload:
    return workload_class(name, plugin)()


__all__ = ["WORKLOADS", "Task", "Workload", "get_workload", "load_plugin", "workload_class"]
