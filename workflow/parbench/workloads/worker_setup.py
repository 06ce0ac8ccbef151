"""An expensive per-worker initialisation (a model), and state that lives in workers.

`size` is the bytes of the model: building it (seeded random values, sorted) costs
time in proportion. Three kernels:
- `per_task`, the naive way: every task builds the model, then uses it;
- `per_worker`, the idiomatic way: each worker builds it once, by its backend's own
  mechanism (Pool's initializer, Ray actors, Dask's `Client.run`, ipyparallel's
  `apply` on every engine, joblib's loky initializer), inside the timed start-up;
  tasks then use it;
- `stateful`: as `per_worker`, and every task also adds its result into its worker's
  model; after the maps the driver gathers each worker's state and checks that they
  add up. A backend with no way to reach every worker afterwards says so in a row
  with status `unsupported`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from parbench import worker_state
from parbench.workloads.base import Task, Workload

ITEM_BYTES = np.dtype(np.float64).itemsize
STRIDE = 97  # a task reads every 97th weight, from its own offset


@dataclass
class Model:
    weights: np.ndarray
    accumulated: float = 0.0
    tasks_seen: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> tuple[float, int]:
        with self.lock:
            return self.accumulated, self.tasks_seen

    def __getstate__(self) -> dict:  # the lock stays behind when a model travels
        return {"weights": self.weights, "accumulated": self.accumulated,
                "tasks_seen": self.tasks_seen}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)


def build_model(size: int) -> Model:
    """The expensive part: `size` bytes of seeded values, sorted."""
    weights = np.random.default_rng(seed=0).random(max(1, size // ITEM_BYTES))
    weights.sort()
    return Model(weights)


def use_model(model: Model, index: int) -> float:
    return float(model.weights[index % STRIDE::STRIDE].sum()) + index


def build_then_use(size: int, index: int, shared_input: object = None) -> float:
    return use_model(build_model(size), index)


def use_worker_model(index: int, shared_input: object = None) -> float:
    return use_model(worker_state.current(), index)


def use_and_accumulate(index: int, shared_input: object = None) -> float:
    model = worker_state.current()
    value = use_model(model, index)
    with model.lock:
        model.accumulated += value
        model.tasks_seen += 1
    return value


class WorkerSetup(Workload):
    name = "worker_setup"
    kernels = ("per_task", "per_worker", "stateful")
    size_unit = "bytes of per-worker model"
    summary = ("bytes of a model each worker builds (`per_task`: in every task, the naive way; "
               "`per_worker`: once, the backend's way; `stateful`: and tasks accumulate into it)")
    regime = "per-worker set-up and state"
    smoke_size = 80_000

    def __init__(self) -> None:
        self._reference: Model | None = None

    def task(self, kernel: str, size: int) -> Task:
        if kernel == "per_task":
            return functools.partial(build_then_use, size)
        return use_and_accumulate if kernel == "stateful" else use_worker_model

    def expected(self, index: int, size: int, shared_input: None) -> float:
        if self._reference is None or self._reference.weights.size != max(1, size // ITEM_BYTES):
            self._reference = build_model(size)
        return use_model(self._reference, index)

    def worker_setup(self, kernel: str, size: int):
        return None if kernel == "per_task" else functools.partial(build_model, size)

    def stateful(self, kernel: str) -> bool:
        return kernel == "stateful"

    def states_agree(self, snapshots: Sequence[tuple[float, int]], maps: int, tasks: int,
                     size: int) -> bool:
        accumulated = sum(value for value, _ in snapshots)
        seen = sum(count for _, count in snapshots)
        want = maps * sum(self.expected(index, size, None) for index in range(tasks))
        return seen == maps * tasks and abs(accumulated - want) <= 1e-9 * abs(want)

    def bytes_needed(self, size: int, tasks: int, workers: int) -> int:
        return size * (workers + 2)  # a model per worker, the reference, a sort's copy
