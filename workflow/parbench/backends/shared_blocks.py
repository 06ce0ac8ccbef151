"""A NumPy array shipped through `multiprocessing.shared_memory`: the idiomatic way
to give process workers one big read-only input without pickling it per task.

The driver copies the array into a new block once per map (inside the timed
map, as Ray's `put` is) and sends each task a small handle; a worker attaches
to a block once and keeps it until the next map brings another one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory
from typing import Any

import numpy as np

from parbench.workloads.base import Task


@dataclass(frozen=True)
class BlockHandle:
    """What travels with each task instead of the array."""

    name: str
    shape: tuple[int, ...]
    dtype: str


class SharedBlock:
    """The driver's side: one block holding a copy of `array`, unlinked on close."""

    def __init__(self, array: Any) -> None:
        if not isinstance(array, np.ndarray):
            raise TypeError(f"shared_input=shared_memory needs a NumPy array as the "
                            f"workload's shared input, not {type(array).__name__}")
        self._block = shared_memory.SharedMemory(create=True, size=max(1, array.nbytes))
        copy = np.ndarray(array.shape, array.dtype, buffer=self._block.buf)
        copy[...] = array
        del copy  # no view may outlive the block
        self.handle = BlockHandle(self._block.name, array.shape, array.dtype.str)

    def close(self) -> None:
        self._block.close()
        self._block.unlink()


# The worker's side: the block it is attached to, and the read-only array over it.
_attached: dict[str, Any] = {"name": None, "block": None, "array": None}


def _attach(handle: BlockHandle) -> np.ndarray:
    if _attached["name"] != handle.name:
        if _attached["block"] is not None:
            _attached["array"] = None
            _attached["block"].close()
        if sys.version_info >= (3, 13):
            block = shared_memory.SharedMemory(name=handle.name, track=False)
        else:
            block = _attached_untracked(handle.name)
        array = np.ndarray(handle.shape, np.dtype(handle.dtype), buffer=block.buf)
        array.flags.writeable = False
        _attached.update(name=handle.name, block=block, array=array)
    return _attached["array"]


def _attached_untracked(name: str) -> shared_memory.SharedMemory:
    """The block, attached without telling the resource tracker (Python before 3.13
    registers every attach). Registering, then unregistering, is not the same: under
    spawn or forkserver the workers share the driver's tracker, so a worker's
    unregister took the driver's own claim away, and a block whose driver was killed
    stayed in /dev/shm. Workers run one task at a time: nothing else registers meanwhile."""
    register = resource_tracker.register
    resource_tracker.register = lambda *_: None
    try:
        return shared_memory.SharedMemory(name=name)
    finally:
        resource_tracker.register = register


def call_with_block(task: Task, index: int, handle: BlockHandle) -> float:
    """Runs in a worker: the task, given the shared array it attached to."""
    return task(index, _attach(handle))
