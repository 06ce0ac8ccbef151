"""Dask: a `distributed.LocalCluster` of `workers` single-threaded worker processes.

The scheduler, nannies and workers listen on 127.0.0.1; they serve no web page. The
shared input is scattered to every worker once per map (`broadcast=True`, a new
key each time), with the active memory manager off: it would otherwise drop the
broadcast replicas mid-benchmark. Tasks are submitted with `pure=False`, so a
repeated map is computed again instead of answered from the previous one's results.

On an existing cluster (`address`: its scheduler, given by a target in `clusters`)
the job connects a client and uses `workers` of the cluster's single-threaded workers
(`dask worker --nthreads 1`: one task at a time each, as locally), chosen spread over
its hosts; every task and every broadcast goes to them alone. It checks that parbench
imports there and, where it does not, sends the package to those workers
(parbench.backends.shipping). Stopping closes the client: the scheduler and its workers
keep running, with the scheduler's own settings (the retries and memory manager set
above apply to a LocalCluster the job starts): where they differ, the rows say how
(`cluster_rules`).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from parbench import worker_state
from parbench.backends import shipping
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
    _shipped: tuple[str, list[str]] | None = None  # the zip it sent, and to which workers

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
        """`workers` of the cluster's single-threaded workers, taking hosts in turn
        (spread), with parbench importable on each (sent where it is not)."""
        self._client.wait_for_workers(self.workers, timeout=self.limits.start_timeout_seconds)
        self._workers_info = self._client.scheduler_info(n_workers=-1)["workers"]
        single = {address: info for address, info in self._workers_info.items()
                  if info.get("nthreads") == 1}
        if len(single) < self.workers:
            threads = sorted({info.get("nthreads") for info in self._workers_info.values()})
            raise RuntimeError(
                f"the Dask cluster has {len(single)} single-threaded workers, and {self.workers}"
                f" are needed (its workers' threads: {threads}): a worker with several "
                "threads runs several tasks at once, so `workers` would not be the tasks "
                "that run at once; start the workers with `dask worker --nthreads 1`")
        by_host: dict[str, list[str]] = {}
        for address, info in sorted(single.items()):
            by_host.setdefault(info.get("host", address), []).append(address)
        chosen = spread_over_hosts(by_host, self.workers)
        self._ship_parbench(chosen)
        self._rules = self._client.run_on_scheduler(shipping.scheduler_rules)
        return chosen

    def _ship_parbench(self, chosen: list[str]) -> None:
        """This job's parbench on the chosen workers: theirs where it is the same code,
        sent (and taken off as the job stops) where they have none, refused where
        they import another (tasks would run code this job does not)."""
        shipping.send_by_value()
        own = shipping.source_digest()
        theirs = self._client.run(shipping.installed_digest, workers=chosen)
        other = sorted(address for address, digest in theirs.items()
                       if digest is not None and digest != own)
        if other:
            raise RuntimeError(f"the Dask workers {other} import another parbench than this "
                               "job's: install the same one there, or none (the job then "
                               "sends its own)")
        # No parbench of their own (one another job sent counts as none: it goes with
        # that job): this job's, under a name of its own.
        missing = [address for address, digest in theirs.items() if digest is None]
        if missing:
            data, name = shipping.parbench_archive()
            self._shipped = (name, missing)
            installed = self._client.run(shipping.install_archive, data, name, workers=missing)
            still = sorted(address for address, digest in installed.items() if digest != own)
            if still:
                raise RuntimeError(f"parbench cannot be imported on the Dask workers {still}, "
                                   "even after sending it; install it there")

    def cluster_resources(self) -> dict[str, Any]:
        if self._chosen is None:
            return {}
        workers = self._workers_info  # as the workers were chosen from, just before
        threads_by_host: dict[str, float] = {}
        for info in workers.values():
            host = info.get("host", "")
            threads_by_host[host] = threads_by_host.get(host, 0) + info.get("nthreads", 0)
        rules = getattr(self, "_rules", {})
        differ = [said for said, differs in (
            (f"a task whose worker dies is re-run up to {rules.get('allowed_failures')} times",
             rules.get("allowed_failures") not in (0, None)),
            ("the active memory manager drops copies of the broadcast input",
             bool(rules.get("active_memory_manager")))) if differs]
        return {"cluster_rules": "; ".join(differ),
                "cluster_nodes": len(threads_by_host),
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
        if client is not None and self._chosen:  # a shared cluster: left as found
            with contextlib.suppress(Exception):
                client.run(worker_state.clear, workers=self._chosen)
        shipped, self._shipped = self._shipped, None
        if client is not None and shipped is not None:  # sent, even by a start that failed
            with contextlib.suppress(Exception):
                client.run(shipping.remove_archive, shipped[0], workers=shipped[1])
        try:
            if client is not None:
                client.close()
        finally:  # the workers are stopped even if closing the client fails
            if cluster is not None:
                cluster.close()
