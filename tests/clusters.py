"""Real clusters for the cluster-target tests, started from the engines' own command
lines and stopped by PID, never by name (Ray's own stop command would end every Ray
process of the user).

- Ray: a head node without CPUs and a second node with two: a task can only run on
  the second node. A multi-node Ray listens on every interface, so the nodes (and
  the drivers) run in a network namespace with nothing but loopback. Needs root and
  `ip netns` (CI has both).
- Dask: a scheduler in one network namespace and its workers in another, joined by a
  veth pair, so that the workers really are at another address; the job runs in
  the scheduler's namespace. Needs root and `ip netns` (CI has both).
- ipyparallel: an `ipcontroller` and two `ipengine`s on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from parbench.resources import stop_leftovers

BIN = Path(sys.executable).parent


def stop_by_pid(processes: list[subprocess.Popen]) -> None:
    """Stop what the fixture started, and their children, by PID: terminate, then kill."""
    tree = []
    for process in processes:
        try:
            parent = psutil.Process(process.pid)
            tree += [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    stop_leftovers(tree, grace_seconds=5)  # then killed, as a job's leftovers are
    for process in processes:
        with contextlib.suppress(Exception):
            process.wait(timeout=5)


def wait_for(condition: Callable[[], bool], timeout: float, what: str,
             logs: list[Path] = ()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    raise RuntimeError(f"{what}: not within {timeout:.0f} s\n{tails}")


def start(command: list[str], log: Path, env: dict[str, str] | None = None
          ) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                env=env or os.environ.copy(), start_new_session=True)


# --- Ray ----------------------------------------------------------------------------

def ray_environment(folder: Path) -> dict[str, str]:
    """The cluster's environment: token authentication on, with a token of its own
    (Ray 2.60 turns it on for clusters started by `ray start`; nodes and drivers must
    bring the token)."""
    env = os.environ.copy()
    # The backend sets it to 0 for the local instances it starts; a node of a
    # multi-node cluster cannot join with it.
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token",
               RAY_AUTH_TOKEN=secrets.token_hex(32))
    return env


@contextlib.contextmanager
def ray_cluster(folder: Path) -> Iterator[dict[str, str]]:
    """Two Ray nodes in a network namespace of their own, with loopback only: a
    multi-node Ray listens on every interface, and there that is loopback alone.
    Yields its address, the namespace (drivers run there too) and the
    authentication variables a driver needs (RAY_AUTH_MODE, RAY_AUTH_TOKEN)."""
    # The namespace is new and empty: any port is free there. Below Ray's worker
    # ports (10002-19999).
    port, tag = 6380, os.getpid()
    env = ray_environment(folder)
    temp = Path("/tmp") / f"pb-ray-{tag}"  # Ray's socket paths must stay short
    common = ["--node-ip-address=127.0.0.1", "--block", "--disable-usage-stats",
              f"--temp-dir={temp}"]
    address = f"127.0.0.1:{port}"
    with loopback_namespace(f"ray{tag}") as namespace:
        processes = [start(in_namespace(namespace, [
            str(BIN / "ray"), "start", "--head", f"--port={port}", "--num-cpus=0",
            "--include-dashboard=false", *common]), folder / "ray-head.log", env)]
        try:
            wait_for(lambda: _ray_cpus(namespace, address, env) >= 0, 90, "Ray's head node",
                     [folder / "ray-head.log"])
            processes.append(start(in_namespace(namespace, [
                str(BIN / "ray"), "start", f"--address={address}", "--num-cpus=2", *common]),
                folder / "ray-node.log", env))
            wait_for(lambda: _ray_cpus(namespace, address, env) >= 2, 90, "Ray's second node",
                     [folder / "ray-head.log", folder / "ray-node.log"])
            yield {"address": address, "namespace": namespace,
                   "RAY_AUTH_MODE": env["RAY_AUTH_MODE"],
                   "RAY_AUTH_TOKEN": env["RAY_AUTH_TOKEN"]}
        finally:
            stop_by_pid(processes)
            shutil.rmtree(temp, ignore_errors=True)


def _ray_cpus(namespace: str, address: str, env: dict[str, str]) -> float:
    """The cluster's CPUs, asked by a fresh driver in its namespace (-1: no answer)."""
    probe = ("import ray; ray.init(address=%r, include_dashboard=False, log_to_driver=False);"
             "print(ray.cluster_resources().get('CPU', 0))" % address)
    result = subprocess.run(in_namespace(namespace, [sys.executable, "-c", probe]),
                            capture_output=True, text=True, env=env, timeout=60)
    try:
        return float(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return -1.0


# --- network namespaces ---------------------------------------------------------------

def can_use_netns() -> str | None:
    """Why network namespaces cannot be used here (None: they can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    return None


@contextlib.contextmanager
def two_namespaces(tag: str) -> Iterator[tuple[str, str, str, str]]:
    """Namespaces A and B joined by a veth pair: yields (A, A's address, B, B's address).
    Traffic between them stays inside; neither reaches the host's interfaces."""
    first, second = f"pb-{tag}-a", f"pb-{tag}-b"
    first_address, second_address = "10.77.0.1", "10.77.0.2"

    def ip(*arguments: str) -> None:
        subprocess.run(["ip", *arguments], check=True, capture_output=True, timeout=30)

    try:
        ip("netns", "add", first)
        ip("netns", "add", second)
        ip("link", "add", f"{tag}-va", "type", "veth", "peer", "name", f"{tag}-vb")
        for namespace, link, address in ((first, f"{tag}-va", first_address),
                                         (second, f"{tag}-vb", second_address)):
            ip("link", "set", link, "netns", namespace)
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", link)
            ip("-n", namespace, "link", "set", link, "up")
            ip("-n", namespace, "link", "set", "lo", "up")
        yield first, first_address, second, second_address
    finally:
        for namespace in (first, second):  # deleting one end's namespace removes the pair
            subprocess.run(["ip", "netns", "delete", namespace], capture_output=True, timeout=30)


def in_namespace(namespace: str, command: list[str]) -> list[str]:
    return ["ip", "netns", "exec", namespace, *command]


@contextlib.contextmanager
def loopback_namespace(tag: str) -> Iterator[str]:
    """A network namespace with nothing but its own loopback: whatever listens there,
    on any interface, is reachable from inside it alone."""
    name = f"pb-{tag}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=30)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True,
                       capture_output=True, timeout=30)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True, timeout=30)


# --- Dask -----------------------------------------------------------------------------

# A Dask worker started from an environment without parbench: the project's folder
# taken off its path (the editable install's .pth and PYTHONPATH put it there); its
# spawned workers inherit that path.
WORKER_WITHOUT_PARBENCH = (
    "import os, sys; os.environ.pop('PYTHONPATH', None); "
    "sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('/workflow')]; "
    "from distributed.cli.dask_worker import main; "
    "sys.argv[0] = 'dask-worker'; main()")


@contextlib.contextmanager
def dask_cluster(folder: Path, namespaces: tuple[str, str, str, str],
                 without_parbench: bool = False) -> Iterator[str]:
    """A scheduler in namespace A, two single-threaded workers in namespace B (where
    parbench cannot be imported, `without_parbench`); yields the scheduler's address."""
    first, first_address, second, second_address = namespaces
    address = f"tcp://{first_address}:8786"
    processes = [start(in_namespace(first, [
        str(BIN / "dask"), "scheduler", "--host", first_address, "--port", "8786",
        "--no-dashboard"]), folder / "dask-scheduler.log")]
    worker = ([sys.executable, "-c", WORKER_WITHOUT_PARBENCH] if without_parbench
              else [str(BIN / "dask"), "worker"])
    try:
        processes.append(start(in_namespace(second, [
            *worker, address, "--host", second_address, "--nworkers", "2",
            "--nthreads", "1", "--no-dashboard"]), folder / "dask-workers.log"))
        probe = ("from distributed import Client; c = Client(%r, timeout=30); "
                 "c.wait_for_workers(2, timeout=60); "
                 "print(sorted(w['host'] for w in c.scheduler_info(n_workers=-1)"
                 "['workers'].values()))" % address)
        wait_for(lambda: subprocess.run(in_namespace(first, [sys.executable, "-c", probe]),
                                        capture_output=True, timeout=90).returncode == 0,
                 120, "the Dask workers", [folder / "dask-scheduler.log",
                                          folder / "dask-workers.log"])
        yield address
    finally:
        stop_by_pid(processes)


# --- ipyparallel ----------------------------------------------------------------------

@contextlib.contextmanager
def ipyparallel_cluster(folder: Path, engines: int = 2) -> Iterator[Path]:
    """An ipcontroller and `engines` ipengines on loopback, in a profile of their own;
    yields the client's connection file."""
    profile = folder / "ipython-profile"
    env = {**os.environ, "IPYTHONDIR": str(folder / "ipython")}
    common = [f"--profile-dir={profile}", "--log-level=WARN"]
    profile.mkdir(parents=True)
    processes = [start([str(BIN / "ipcontroller"), "--ip=127.0.0.1", *common],
                       folder / "ipcontroller.log", env)]
    connection = profile / "security" / "ipcontroller-client.json"
    try:
        wait_for(connection.exists, 60, "ipcontroller", [folder / "ipcontroller.log"])
        wait_for(lambda: _engine_file_ready(profile), 30, "ipcontroller's engine file",
                 [folder / "ipcontroller.log"])
        processes += [start([str(BIN / "ipengine"), *common], folder / f"ipengine{i}.log", env)
                      for i in range(engines)]
        probe = ("import ipyparallel as ipp; c = ipp.Client(%r); "
                 "c.wait_for_engines(%d, timeout=60)" % (str(connection), engines))
        wait_for(lambda: subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                        timeout=90).returncode == 0,
                 120, "the ipengines", [folder / "ipcontroller.log", folder / "ipengine0.log"])
        yield connection
    finally:
        stop_by_pid(processes)


def _engine_file_ready(profile: Path) -> bool:
    engine_file = profile / "security" / "ipcontroller-engine.json"
    try:
        return bool(json.loads(engine_file.read_text()))
    except (OSError, ValueError):
        return False
