"""ipyparallel: a local cluster of `workers` engines, started and stopped by the job.

The article timed `view.map`, which only submits (views are non-blocking by
default). Here the timed map waits until every result is back. The shared
input is pushed to the engines once per map, inside the timed region.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from parbench import worker_state
from parbench.backends.base import Backend, call_task
from parbench.workloads.base import Task

PUSHED_NAME = "_parbench_shared_input"


def _call_with_pushed_input(task: Task, index: int) -> float:
    # Runs on an engine: the input was pushed into the engine's namespace.
    import __main__

    return task(index, getattr(__main__, PUSHED_NAME))


class IpyparallelBackend(Backend):
    name = "ipyparallel"
    summary = ("a local `ipyparallel.Cluster` of `workers` engines, `DirectView.map`, "
               "**waiting for the results**")
    startup_covers = "controller + engines registered"
    shared_input_travels = "pushed to the engines once per map"
    colour = "#029e73"
    marker = "^"
    packages = ("ipyparallel", "pyzmq")
    process_markers = ("ipengine", "ipcontroller", "ipyparallel.engine",
                       "ipyparallel.controller")

    supports_worker_states = True

    def start(self, worker_setup=None) -> None:
        import ipyparallel as ipp

        # The controller listens on 127.0.0.1 only (ipyparallel's default for a
        # local cluster); engines are subprocesses of this job.
        self._cluster = ipp.Cluster(n=self.workers, log_level=logging.WARNING)
        self._client = self._cluster.start_and_connect_sync()
        self._client.wait_for_engines(self.workers, timeout=self.limits.start_timeout_seconds)
        self._view = self._client[:]
        if worker_setup is not None:  # once on every engine
            self._view.apply_sync(worker_state.install, worker_setup)

    def worker_states(self) -> list:
        return list(self._view.apply_sync(worker_state.snapshot))

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        if shared_input is None:
            call = functools.partial(call_task, task)
        else:
            self._view.push({PUSHED_NAME: shared_input}, block=True)
            call = functools.partial(_call_with_pushed_input, task)
        pending = self._view.map_async(call, range(tasks))
        return list(pending.get(timeout=self.limits.map_timeout_seconds))

    def stop(self) -> None:
        client, cluster = getattr(self, "_client", None), getattr(self, "_cluster", None)
        self._client = self._cluster = None
        try:
            if client is not None:
                client.close()
        finally:  # the engines and controller are stopped even if closing fails
            if cluster is not None:
                cluster.stop_cluster_sync()

    def chunksize(self, tasks: int) -> int:
        return -(-tasks // max(1, self.workers))  # DirectView.map splits evenly
