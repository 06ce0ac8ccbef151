"""Ray: one remote task per index; the shared input is `ray.put` once per map.

A local instance is started with exactly `workers` CPUs (Ray over-counts CPUs
in containers), no dashboard and no log forwarding, and stopped at the end.
A workload with per-worker set-up runs on `workers` actors instead, Ray's way to
keep state in a worker: each builds it in its constructor, and the tasks go
through an ActorPool.

Retries are off (tasks: `max_retries=0`; actors: no restarts): a worker that
dies during a map ends it with Ray's error, instead of a silent re-run timed as
part of the map.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Any

from parbench import worker_state
from parbench.backends.base import Backend, call_task, option
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
    address: str | None = option(None, "`null`: a fresh local instance on loopback per job; "
                                 "`HOST:PORT`: join that existing cluster instead",
                                 choices=(None,), kind=str)


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
    colour = "#d55e00"
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
        if address:
            ray.init(address=address, **options)  # a configured cluster brings its own CPUs
        else:
            ray.init(address="local", num_cpus=self.workers, **options)
        if callable(job_sigterm_handler):
            # ray.init replaces the Python-level SIGTERM handler too (the C-level
            # one is off, above); the job's handler is what stops Ray cleanly.
            signal.signal(signal.SIGTERM, job_sigterm_handler)
        # Ray re-runs a task whose worker died (3 times by default) and the map
        # would be timed as if nothing happened: off, a death is the row's error.
        self._remote_call = ray.remote(num_cpus=1, max_retries=0)(call_task)
        self._actors: list[Any] = []
        if worker_setup is not None:
            holder = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(StateHolder)
            self._actors = [holder.remote(worker_setup) for _ in range(self.workers)]
            # Start-up ends once every actor has built its state.
            ray.get([actor.snapshot.remote() for actor in self._actors],
                    timeout=self.limits.start_timeout_seconds)

    def shared_memory_bytes(self, shared_input_bytes: int) -> int:
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
        # Unconditionally: after an interrupted ray.init, is_initialized() is
        # False but processes may already run; shutdown() stops what it knows.
        ray.shutdown()
