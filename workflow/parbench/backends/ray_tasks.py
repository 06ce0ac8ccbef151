"""Ray: one remote task per index; the shared input is `ray.put` once per map.

A local instance is started with exactly `workers` CPUs (Ray over-counts CPUs
in containers), no dashboard and no log forwarding, and stopped at the end.
A workload with per-worker set-up runs on `workers` actors instead, Ray's way to
keep state in a worker: each builds it in its constructor, and the tasks go
through an ActorPool.

Retries are off (tasks: `max_retries=0`; actors: no restarts): a worker that
dies during a map ends it with Ray's error, instead of a silent re-run timed as
part of the map.

On an existing cluster (`address`, given by a target in `clusters`) the job
connects as a driver, ships parbench with it (`runtime_env` py_modules: the
cluster's workers need not have it installed) and reserves exactly `workers` CPUs
in a placement group spread over the nodes, so that `workers` means what it
means locally; every task and actor runs in it. Stopping disconnects and frees
the reservation; the cluster keeps running. A cluster started by `ray start`
uses token authentication (Ray 2.60), which a driver connecting to an explicit
address does not pick up by itself: export `RAY_AUTH_MODE=token` and
`RAY_AUTH_TOKEN` (or `RAY_AUTH_TOKEN_PATH`) for the jobs.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from parbench import worker_state
from parbench.backends.base import Backend, call_task, node_cpus_cell, option
from parbench.workloads.base import Task

# Ray reads this when it is imported: off, a local node takes the loopback
# address and its servers listen on localhost only (on, they listen on every
# interface). Set here, at import of the backend, before anything imports ray.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
# Ray's C++ core otherwise installs a SIGTERM handler (absl's failure handler)
# that exits at once, skipping the job's `finally` that stops Ray.
os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")


@dataclass(frozen=True)
class RayOptions:
    # A pattern: `local` or an empty address would start a fresh instance, and its rows
    # would say they ran on the cluster.
    address: str | None = option(None, "the existing cluster's `HOST:PORT` (its GCS); "
                                 "`null`: a fresh local instance on loopback per job",
                                 choices=(None,), kind=str, connection=True,
                                 pattern=r"([A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):[0-9]+")


# What a failed connection most often means, for the row's error.
AUTH_HINT = ("if the cluster uses token authentication (`ray start` turns it on in Ray "
             "2.60), export RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
             "for the jobs")


# A Ray driver needs a Ray node on its own machine (it finds it among the local
# processes); Ray says so in these words.
NO_LOCAL_NODE = "No node info found matching attributes"
NODE_HINT = ("a Ray driver runs on a node of the cluster: run snakemake on the head, or "
             "join this machine first (`ray start --address=HEAD:PORT --num-cpus=0`)")


def connection_hint(said: str) -> str:
    """What a failed connection most likely means, from Ray's words."""
    return NODE_HINT if NO_LOCAL_NODE.lower() in said.lower() else AUTH_HINT


class RayConnectionError(RuntimeError):
    """The existing cluster could not be reached or refused the driver."""


class StateHolder:
    """A Ray actor: one worker with its own state (becomes remote in `start`)."""

    def __init__(self, worker_setup: Any) -> None:
        worker_state.install(worker_setup)

    def run(self, task: Task, index: int, shared_input: Any) -> Any:
        return task(index, shared_input)

    def snapshot(self) -> Any:
        return worker_state.snapshot()


class RayBackend(Backend):
    name = "ray"
    summary = ("`ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)`, "
               "one remote task per index")
    startup_covers = "`ray.init`"
    shared_input_travels = "`ray.put` once per map, passed by reference"
    colour = "#029e73"
    marker = "D"
    packages = ("ray",)
    process_markers = ("raylet", "gcs_server", "ray::", "default_worker.py")
    Options = RayOptions
    supports_worker_states = True

    def start(self, worker_setup=None) -> None:
        import ray

        address = self.options.address
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        job_sigterm_handler = signal.getsignal(signal.SIGTERM)
        self._placement = None
        try:
            if address:
                self._connect(ray, address, options)
            else:
                ray.init(address="local", num_cpus=self.workers, **options)
        finally:
            if callable(job_sigterm_handler):
                # ray.init replaces the Python-level SIGTERM handler too (the C-level
                # one is off, above), also where it then fails; the job's handler is
                # what stops Ray cleanly, and what a lost SIGTERM is sent again for.
                signal.signal(signal.SIGTERM, job_sigterm_handler)
        # Ray re-runs a task whose worker died (3 times by default) and the map
        # would be timed as if nothing happened: off, a death is the row's error.
        placed = self._placement_options()
        self._remote_call = ray.remote(num_cpus=1, max_retries=0, **placed)(call_task)
        self._actors: list[Any] = []
        if worker_setup is not None:
            holder = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0,
                                **placed)(StateHolder)
            self._actors = [holder.remote(worker_setup) for _ in range(self.workers)]
            # Start-up ends once every actor has built its state.
            ray.get([actor.snapshot.remote() for actor in self._actors],
                    timeout=self.limits.start_timeout_seconds)

    def _connect(self, ray: Any, address: str, options: dict[str, Any]) -> None:
        """Join the cluster at `address` as a driver that brings parbench along, and
        reserve `workers` CPUs on it (a placement group, spread over the nodes)."""
        import parbench

        # A driver that cannot authenticate retries for about 20 s, then fails.
        try:
            ray.init(address=address, runtime_env={"py_modules": [parbench]}, **options)
        except Exception as failure:
            raise RayConnectionError(f"could not join the Ray cluster at {address}: "
                                     f"{type(failure).__name__}: {failure}; "
                                     f"{connection_hint(str(failure))}") from failure
        from ray.util.placement_group import placement_group

        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < self.workers:
            raise RayConnectionError(f"the Ray cluster at {address} has {cpus} CPUs; "
                                     f"{self.workers} workers asked")
        self._placement = placement_group([{"CPU": 1}] * self.workers, strategy="SPREAD")
        if not self._placement.wait(self.limits.start_timeout_seconds):
            raise RayConnectionError(f"the Ray cluster at {address} did not grant "
                                     f"{self.workers} CPUs within "
                                     f"{self.limits.start_timeout_seconds:.0f} s (others use them)")

    def _placement_options(self) -> dict[str, Any]:
        """Where tasks and actors run: in the reserved CPUs, on a cluster."""
        if self._placement is None:
            return {}
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        return {"scheduling_strategy": PlacementGroupSchedulingStrategy(self._placement)}

    def cluster_resources(self) -> dict[str, Any]:
        import ray

        if self._placement is None:
            return {}
        from ray.util.placement_group import placement_group_table

        bundles = placement_group_table(self._placement).get("bundles_to_node_id", {})
        nodes = [node for node in ray.nodes() if node.get("Alive")]
        return {"cluster_nodes": len(nodes),
                "cluster_cpus": ray.cluster_resources().get("CPU", 0),
                "cluster_node_cpus": node_cpus_cell(
                    [(node["NodeManagerAddress"], node["Resources"].get("CPU", 0))
                     for node in nodes]),
                "nodes_used": len(set(bundles.values()))}

    def shared_input_copies(self, tasks: int, nbytes: int) -> int:
        return 1  # one put; tasks read it zero-copy

    def shared_memory_bytes(self, shared_input_bytes: int) -> int:
        if self.on_cluster:
            return 0  # the object store is on the cluster's nodes, not here
        return shared_input_bytes  # `ray.put` into the object store, in /dev/shm

    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        import ray

        # Put once, pass the reference: tasks read it zero-copy from shared memory.
        shared_ref = ray.put(shared_input) if shared_input is not None else None
        if self._actors:  # each task to whichever actor is free, results in order
            from ray.util import ActorPool

            pool = ActorPool(self._actors)
            for index in range(tasks):
                pool.submit(lambda actor, i: actor.run.remote(task, i, shared_ref), index)
            deadline = time.monotonic() + self.limits.map_timeout_seconds
            return [pool.get_next(timeout=max(0.0, deadline - time.monotonic()))
                    for _ in range(tasks)]
        refs = [self._remote_call.remote(task, index, shared_ref) for index in range(tasks)]
        return ray.get(refs, timeout=self.limits.map_timeout_seconds)

    def worker_states(self) -> list:
        import ray

        return ray.get([actor.snapshot.remote() for actor in self._actors],
                       timeout=self.limits.map_timeout_seconds)

    def stop(self) -> None:
        import ray

        self._actors = []
        placement, self._placement = getattr(self, "_placement", None), None
        try:
            if placement is not None and ray.is_initialized():
                from ray.util.placement_group import remove_placement_group

                remove_placement_group(placement)  # the cluster's CPUs, free again
        finally:
            # Unconditionally: after an interrupted ray.init, is_initialized() is
            # False but processes may already run; shutdown() stops what it knows
            # (a driver connected to a cluster only disconnects).
            ray.shutdown()
