"""ipyparallel: a local cluster of `workers` engines, started and stopped by the job.

The article timed `view.map`, which only submits (views are non-blocking by
default). Here the timed map waits until every result is back. The shared
input is pushed to the engines once per map, inside the timed region.

On an existing cluster (a target in `clusters` gives its controller's client
connection file, or a profile and cluster id) the job connects a client and uses
`workers` of its engines, taking hosts in turn; stopping closes the client only.
The engines must be able to import parbench (checked: the row says where not).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import time
from dataclasses import dataclass
from typing import Any

from parbench import guard, worker_state
from parbench.backends.base import Backend, call_task, node_cpus_cell, option, spread_over_hosts
from parbench.workloads.base import Task


@dataclass(frozen=True)
class IpyparallelOptions:
    connection_file: str | None = option(
        None, "the controller's `ipcontroller-client.json`; `null`: a local cluster per job",
        choices=(None,), kind=str, connection=True)
    profile: str | None = option(None, "instead of a connection file: the IPython profile "
                                 "of a running cluster", choices=(None,), kind=str,
                                 connection=True)
    cluster_id: str | None = option(None, "with `profile`: the running cluster's id",
                                    choices=(None,), kind=str, connection=True)


def _engine_host() -> tuple[str, bool]:
    """Runs on an engine: its host, and whether parbench imports there."""
    import importlib.util
    import socket

    return socket.gethostname(), importlib.util.find_spec("parbench") is not None

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
    colour = "#6a3d9a"
    marker = "^"
    packages = ("ipyparallel", "pyzmq")
    process_markers = ("ipengine", "ipcontroller", "ipyparallel.engine",
                       "ipyparallel.controller")

    Options = IpyparallelOptions
    connection_ways = (("connection_file",), ("profile", "cluster_id"))

    supports_worker_states = True
    _hosts: list[str] | None = None  # on a cluster: the chosen engines' hosts
    _profile_dir: str | None = None  # a local cluster's own IPython profile

    def start(self, worker_setup=None) -> None:
        import ipyparallel as ipp

        if self.on_cluster:
            self._cluster = None  # not ours: never stopped by this job
            self._client = self._connect(ipp)
            self._view = self._client[self._choose_engines()]
        else:
            # A profile of the job's own, deleted at stop: no user's IPython config
            # (a controller `ip`, another launcher) applies, and no connection file
            # lands in ~/.ipython. The controller listens on 127.0.0.1 only; engines
            # are subprocesses of this job.
            self._profile_dir = guard.scratch_dir("parbench-ipyparallel-")
            self._cluster = ipp.Cluster(n=self.workers, log_level=logging.WARNING,
                                        profile_dir=self._profile_dir, load_profile=False,
                                        controller_ip="127.0.0.1")
            self._client = self._cluster.start_and_connect_sync()
            self._client.wait_for_engines(self.workers,
                                          timeout=self.limits.start_timeout_seconds)
            self._view = self._client[:]
        if worker_setup is not None:  # once on every engine
            self._view.apply_async(worker_state.install, worker_setup).get(
                timeout=self.limits.start_timeout_seconds)

    def _connect(self, ipp: Any) -> Any:
        options = self.options
        if options.connection_file:
            # Positional: ipyparallel 9.2 silently ignores `url_file=`.
            return ipp.Client(options.connection_file,
                              timeout=self.limits.start_timeout_seconds)
        return ipp.Client(profile=options.profile or "default",
                          cluster_id=options.cluster_id or "",
                          timeout=self.limits.start_timeout_seconds)

    def _choose_engines(self) -> list[int]:
        """`workers` engine ids, taking hosts in turn (spread), each able to import
        parbench."""
        self._client.wait_for_engines(self.workers, timeout=self.limits.start_timeout_seconds)
        # Asked with a limit: an engine busy with someone else's task would keep the
        # job (and its timing slot) waiting for ever.
        found = dict(zip(self._client.ids, self._client[:].apply_async(_engine_host).get(
            timeout=self.limits.start_timeout_seconds)))
        by_host: dict[str, list[int]] = {}
        for engine, (host, _) in sorted(found.items()):
            by_host.setdefault(host, []).append(engine)
        chosen = spread_over_hosts(by_host, self.workers)
        without = [engine for engine in chosen if not found[engine][1]]
        if without:
            raise RuntimeError(f"parbench cannot be imported on the ipyparallel engines "
                               f"{without}; install it where the engines run")
        self._hosts = [found[engine][0] for engine in chosen]
        self._engines_by_host = sorted((host, len(engines)) for host, engines in by_host.items())
        return chosen

    def cluster_resources(self) -> dict[str, Any]:
        if self._hosts is None:
            return {}
        return {"cluster_nodes": len(self._engines_by_host),
                "cluster_cpus": sum(count for _, count in self._engines_by_host),
                "cluster_node_cpus": node_cpus_cell(self._engines_by_host),
                "nodes_used": len(set(self._hosts))}

    def worker_states(self) -> list:
        # Within the map's limit: an engine busy with someone else's task never answers.
        return list(self._view.apply_async(worker_state.snapshot).get(
            timeout=self.limits.map_timeout_seconds))

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        # One limit for the push and the map together, as every backend's map has.
        deadline = time.monotonic() + self.limits.map_timeout_seconds
        if shared_input is None:
            call = functools.partial(call_task, task)
        else:
            self._view.push({PUSHED_NAME: shared_input}, block=False).get(
                timeout=self.limits.map_timeout_seconds)
            call = functools.partial(_call_with_pushed_input, task)
        pending = self._view.map_async(call, range(tasks))
        try:
            return list(pending.get(timeout=max(0.0, deadline - time.monotonic())))
        except BaseException:
            # What has not started yet never will (a task already running on an
            # engine runs on: ipyparallel cannot stop it).
            with contextlib.suppress(Exception):
                pending.abort()
            raise

    def stop(self) -> None:
        if self.on_cluster and getattr(self, "_client", None) is not None:
            self._leave_the_engines_as_found()
        client, cluster = getattr(self, "_client", None), getattr(self, "_cluster", None)
        profile_dir = self._profile_dir
        self._client = self._cluster = self._profile_dir = None
        # Last registered, first run; each runs even if one before it fails: the client
        # closed, the engines and controller stopped, the job's profile deleted.
        with contextlib.ExitStack() as stopping:
            if profile_dir is not None:
                stopping.callback(shutil.rmtree, profile_dir, ignore_errors=True)
            if cluster is not None:
                stopping.callback(cluster.stop_cluster_sync)
            if client is not None:
                stopping.callback(client.close)

    def _leave_the_engines_as_found(self) -> None:
        """On a shared cluster: the pushed input and the per-worker state deleted from
        the chosen engines (hundreds of MB would stay in their memory), within a
        limit; an engine still busy with a task that timed out keeps them."""
        view = getattr(self, "_view", None)
        if view is None:
            return
        # Both asked at once, each waited on alone: one that cannot be answered (a busy
        # engine) does not keep the other from being sent.
        asked = []
        for ask in (lambda: view.execute(f"globals().pop({PUSHED_NAME!r}, None)", block=False),
                    lambda: view.apply_async(worker_state.clear)):
            with contextlib.suppress(Exception):  # an engine gone: the stop goes on
                asked.append(ask())
        for answer in asked:
            with contextlib.suppress(Exception):
                answer.get(timeout=10)

    scheduling = "static"  # DirectView.map splits the tasks evenly, up front

    def shared_input_copies(self, tasks: int, nbytes: int) -> int:
        return self.workers  # pushed to every engine

    def chunksize(self, tasks: int) -> int:
        return -(-tasks // max(1, self.workers))  # DirectView.map splits evenly
