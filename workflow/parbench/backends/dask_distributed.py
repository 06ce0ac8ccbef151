"""Dask: a `distributed.LocalCluster` of `workers` single-threaded worker processes.

The scheduler, nannies and workers listen on 127.0.0.1; they serve no web page. The
shared input is scattered to every worker once per map (`broadcast=True`, a new
key each time), with the active memory manager off: it would otherwise drop the
broadcast replicas mid-benchmark. Tasks are submitted with `pure=False`, so a
repeated map is computed again instead of answered from the previous one's results.

On an existing cluster (`address`: its scheduler, given by a target in `clusters`)
the job connects a client and uses `workers` of the cluster's workers, chosen
spread over its hosts; every task and every broadcast goes to them alone. It checks
that parbench imports there and, where it does not, uploads the package to those
workers. Stopping closes the client: the scheduler and its workers keep running,
with the scheduler's own settings (the retries and memory manager set above apply
to a LocalCluster the job starts).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from parbench import worker_state
from parbench.backends.base import Backend, call_task, node_cpus_cell, option, spread_over_hosts
from parbench.workloads.base import Task


@dataclass(frozen=True)
class DaskOptions:
    address: str | None = option(None, "the existing scheduler's address "
                                 "(`tcp://HOST:PORT`, or tls, ucx, ws, wss); `null`: a "
                                 "LocalCluster per job", choices=(None,), kind=str,
                                 pattern=r"((tcp|tls|ucx|ws|wss)://)?"
                                         r"([A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):[0-9]+",
                                 connection=True)


def _parbench_importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("parbench") is not None


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
    Options = DaskOptions

    supports_worker_states = True
    _chosen: list[str] | None = None  # on a cluster: the workers this job uses

    def start(self, worker_setup=None) -> None:
        import dask
        from distributed import Client, LocalCluster

        from parbench.measure.environment import THREAD_ENV_VARS

        dask.config.set({
            "distributed.scheduler.active-memory-manager.start": False,
            # A task whose worker died is otherwise re-run on another, up to 3 times,
            # inside the timed map: one death is the row's error instead.
            "distributed.scheduler.allowed-failures": 0,
            # With the dashboard off, the scheduler and the workers still serve web
            # pages (worker lists, profiles, metrics): none.
            "distributed.scheduler.http.routes": [],
            "distributed.worker.http.routes": [],
            # The nannies set the BLAS thread variables to 1 in every worker they start
            # (and, in this process, here): the job's own values (`blas_threads`), as
            # every other backend's workers have them.
            "distributed.nanny.pre-spawn-environ": {
                **dask.config.get("distributed.nanny.pre-spawn-environ", {}),
                **{name: os.environ[name] for name in THREAD_ENV_VARS if name in os.environ}},
        })
        if self.options.address:
            self._cluster = None  # not ours: never closed by this job
            self._client = Client(self.options.address,
                                  timeout=self.limits.start_timeout_seconds)
            self._chosen = self._choose_workers()
        else:
            self._cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
            self._client.wait_for_workers(self.workers,
                                          timeout=self.limits.start_timeout_seconds)
        if worker_setup is not None:  # once in every worker process
            self._client.run(worker_state.install, worker_setup, workers=self._chosen)

    def _choose_workers(self) -> list[str]:
        """`workers` of the cluster's workers, taking hosts in turn (spread), with
        parbench importable on each (uploaded where it is not)."""
        self._client.wait_for_workers(self.workers, timeout=self.limits.start_timeout_seconds)
        self._workers_info = self._client.scheduler_info(n_workers=-1)["workers"]
        by_host: dict[str, list[str]] = {}
        for address, info in sorted(self._workers_info.items()):
            by_host.setdefault(info.get("host", address), []).append(address)
        chosen = spread_over_hosts(by_host, self.workers)
        missing = [address for address, found in self._client.run(
            _parbench_importable, workers=chosen).items() if not found]
        if missing:
            self._upload_parbench(missing)
        return chosen

    def _upload_parbench(self, workers: list[str]) -> None:
        import os
        import shutil
        import tempfile

        import parbench

        package = os.path.dirname(parbench.__file__)
        with tempfile.TemporaryDirectory() as folder:
            archive = shutil.make_archive(os.path.join(folder, "parbench"), "zip",
                                          os.path.dirname(package), "parbench")
            # upload_file puts a .zip on the workers' sys.path (every worker: Dask's API).
            self._client.upload_file(archive, load=False)
        still = [address for address, found in self._client.run(
            _parbench_importable, workers=workers).items() if not found]
        if still:
            raise RuntimeError(f"parbench cannot be imported on the Dask workers {still}, "
                               "even after uploading it; install it there")

    def cluster_resources(self) -> dict[str, Any]:
        if self._chosen is None:
            return {}
        workers = self._workers_info  # as the workers were chosen from, just before
        threads_by_host: dict[str, float] = {}
        for info in workers.values():
            host = info.get("host", "")
            threads_by_host[host] = threads_by_host.get(host, 0) + info.get("nthreads", 0)
        return {"cluster_nodes": len(threads_by_host),
                "cluster_cpus": sum(threads_by_host.values()),
                "cluster_node_cpus": node_cpus_cell(sorted(threads_by_host.items())),
                "nodes_used": len({workers[address].get("host") for address in self._chosen
                                   if address in workers})}

    def worker_states(self) -> list:
        return list(self._client.run(worker_state.snapshot, workers=self._chosen).values())

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        from distributed import wait

        shared = (self._client.scatter(shared_input, broadcast=True, hash=False,
                                       workers=self._chosen)
                  if shared_input is not None else None)
        on_chosen = ({"workers": self._chosen, "allow_other_workers": False}
                     if self._chosen else {})
        futures = self._client.map(call_task, [task] * tasks, range(tasks), [shared] * tasks,
                                   pure=False, **on_chosen)
        wait(futures, timeout=self.limits.map_timeout_seconds)
        return self._client.gather(futures)

    def shared_input_copies(self, tasks: int, nbytes: int) -> int:
        return self.workers  # scattered to every worker (broadcast)

    def stop(self) -> None:
        client, cluster = getattr(self, "_client", None), getattr(self, "_cluster", None)
        self._client = self._cluster = None
        try:
            if client is not None:
                client.close()
        finally:  # the workers are stopped even if closing the client fails
            if cluster is not None:
                cluster.close()
