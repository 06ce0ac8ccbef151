"""Dask: a `distributed.LocalCluster` of `workers` single-threaded worker processes.

The scheduler, nannies and workers listen on 127.0.0.1; the dashboard is off. The
shared input is scattered to every worker once per map (`broadcast=True`, a new
key each time), with the active memory manager off: it would otherwise drop the
broadcast replicas mid-benchmark. Tasks are submitted with `pure=False`, so a
repeated map is computed again instead of answered from the previous one's results.
"""

from __future__ import annotations

import logging
from typing import Any

from parbench import worker_state
from parbench.backends.base import Backend, call_task
from parbench.workloads.base import Task


class DaskBackend(Backend):
    name = "dask"
    summary = ("`distributed.LocalCluster(n_workers=workers, threads_per_worker=1)` on "
               "127.0.0.1, `Client.map(pure=False)` then `gather`")
    startup_covers = "scheduler, nannies and all workers up"
    shared_input_travels = "`Client.scatter(broadcast=True)` once per map, passed as a future"
    colour = "#56b4e9"
    marker = "p"
    packages = ("dask", "distributed")
    # Nannies start their workers with multiprocessing's spawn.
    process_markers = ("multiprocessing.spawn",)

    supports_worker_states = True

    def start(self, worker_setup=None) -> None:
        import dask
        from distributed import Client, LocalCluster

        dask.config.set({
            "distributed.scheduler.active-memory-manager.start": False,
            # A task whose worker died is otherwise re-run on another, up to 3 times,
            # inside the timed map: one death is the row's error instead.
            "distributed.scheduler.allowed-failures": 0,
        })
        self._cluster = LocalCluster(
            n_workers=self.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, silence_logs=logging.ERROR)
        self._client = Client(self._cluster)
        self._client.wait_for_workers(self.workers, timeout=self.limits.start_timeout_seconds)
        if worker_setup is not None:  # once in every worker process
            self._client.run(worker_state.install, worker_setup)

    def worker_states(self) -> list:
        return list(self._client.run(worker_state.snapshot).values())

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        from distributed import wait

        shared = (self._client.scatter(shared_input, broadcast=True, hash=False)
                  if shared_input is not None else None)
        futures = self._client.map(call_task, [task] * tasks, range(tasks), [shared] * tasks,
                                   pure=False)
        wait(futures, timeout=self.limits.map_timeout_seconds)
        return self._client.gather(futures)

    def stop(self) -> None:
        client, cluster = getattr(self, "_client", None), getattr(self, "_cluster", None)
        self._client = self._cluster = None
        try:
            if client is not None:
                client.close()
        finally:  # the workers are stopped even if closing the client fails
            if cluster is not None:
                cluster.close()
