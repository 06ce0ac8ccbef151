"""CPU seconds and peak memory of a job's whole process tree.

The tree is the job's measuring process and every descendant: Pool workers, Ray's
raylet, GCS and workers, ipyparallel's controller and engines. (The job's own
process, which only watches the measuring one, is not in it.)

- CPU: the measuring process by `time.process_time()` at the timer's edges; every
  other process by snapshots of its CPU clock (the scheduler's on-CPU time of all its
  threads, ended ones included) just before and just after a timed map, outside the
  timed region. Work done by a process that starts and exits within one map is
  missed; warm-up maps make that rare.
- Memory: a sampler *subprocess* (not a thread: a thread would take the GIL
  from the serial backend, which runs in the measuring process) sums memory
  over the tree every `interval` seconds and reports the peaks of two sums: the
  proportional set size (PSS: a page shared by n processes counts 1/n in each,
  so every page once: what the tree really uses; the job's own process adds its
  share of the pages it still shares with the measuring one, forked from it, which
  would otherwise count half) and the resident set size
  (RSS: shared pages, of a fork or Ray's object store, once per process). RSS
  is read every sample; PSS, which costs ~100x more to read, whenever RSS
  reaches a new peak (PSS <= RSS, so the PSS peak is near one of them).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence

import psutil

TREE_REFRESH_SECONDS = 0.5  # re-list descendants this often; read memory every sample
PSS_AT_RSS_GROWTH = 1.01  # read PSS when summed RSS passes its peak by 1 %


# multiprocessing's interpreter-wide helpers: they serve every Pool of the
# process and live until it exits, so a backend's stop does not end them.
INTERPRETER_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def is_helper(process: psutil.Process, backend_helpers: Iterable[str] = ()) -> bool:
    """An interpreter-wide helper, or one the backend declares (`helper_processes`):
    it may outlive the backend's stop by design."""
    try:
        command = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return any(helper in command for helper in (*INTERPRETER_HELPERS, *backend_helpers))


def tree_processes(root_pid: int, exclude: Iterable[int] = ()) -> list[psutil.Process]:
    excluded = set(exclude)
    try:
        root = psutil.Process(root_pid)
        members = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    return [process for process in members if process.pid not in excluded]


def process_cpu_clock(pid: int) -> int:
    """The clock id of a process's CPU clock, as clock_getcpuclockid(3) makes it on Linux
    (CPUCLOCK_SCHED of the whole thread group: ~pid << 3 | 2)."""
    return (~pid << 3) | 2


def process_cpu_seconds(process: psutil.Process) -> float:
    """CPU seconds a process (all its threads, those that have ended too) has used so far.

    Linux's CPU clock of a process counts the scheduler's on-CPU time in nanoseconds,
    the threads that have ended included (a sum over /proc/PID/task/*/schedstat missed
    those); psutil's user + system times tick in 10 ms, too coarse for maps of a few ms,
    and are read only where the clock cannot be.
    """
    try:
        return time.clock_gettime(process_cpu_clock(process.pid))
    except OSError:
        times = process.cpu_times()
        return times.user + times.system


def cpu_snapshot(root_pid: int, exclude: Iterable[int] = ()) -> dict[int, float]:
    """{pid: CPU seconds so far} for the tree under `root_pid`."""
    snapshot = {}
    for process in tree_processes(root_pid, exclude):
        try:
            snapshot[process.pid] = process_cpu_seconds(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return snapshot


def cpu_seconds_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the tree used between two snapshots (new processes count from zero)."""
    return sum(max(0.0, seconds - before.get(pid, 0.0)) for pid, seconds in after.items())


def tree_cpu_seconds(root_pid: int) -> float:
    """CPU seconds used so far by the process `root_pid` and everything under it."""
    return sum(cpu_snapshot(root_pid).values())


def machine_busy_seconds() -> float:
    """CPU seconds every CPU of the machine has been busy since boot (/proc/stat):
    user, nice, system and steal (a hypervisor serving other guests). Interrupt
    time is left out: much of it is this job's own loopback traffic."""
    times = psutil.cpu_times()
    return sum(getattr(times, field, 0.0) for field in ("user", "nice", "system", "steal"))


def background_fraction(machine_busy: float, own_cpu: float, wall_seconds: float) -> float:
    """Share of the whole machine that others used over `wall_seconds`, from the
    machine's busy CPU seconds and this job's own (/proc/stat ticks are 10 ms, so
    short windows read coarse)."""
    if wall_seconds <= 0:
        return math.nan
    return min(1.0, max(0.0, machine_busy - own_cpu) / (wall_seconds
                                                      * (psutil.cpu_count() or 1)))


def still_running(process: psutil.Process) -> bool:
    """Running, and not a zombie: one that has exited but that no one has reaped yet
    (its parent gone, and a container's PID 1 that never reaps) is over all the same."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_until_ended(processes: Iterable[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to `timeout` for `processes` to end (reaping this process's children);
    returns those still running."""
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while True:
        # wait_procs reaps this process's own children that have ended; a zombie
        # whose parent is another is over all the same.
        left = max(0.0, deadline - time.monotonic())
        _, alive = psutil.wait_procs(alive, timeout=min(0.02, left))
        alive = [process for process in alive if still_running(process)]
        if not alive or time.monotonic() >= deadline:
            return alive


def stop_leftovers(processes: Iterable[psutil.Process], grace_seconds: float = 10.0) -> list[str]:
    """Wait for `processes` to exit; terminate, then kill, those that do not.

    Returns a description of each one that had to be stopped.
    """
    alive = wait_until_ended(processes, grace_seconds)
    stopped = []
    for process in alive:
        try:
            stopped.append(f"{process.pid} {' '.join(process.cmdline()[:2])}"[:120])
            process.terminate()
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    for process in wait_until_ended(alive, 3):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    return stopped


def summed_pss(processes: Iterable[psutil.Process], shared_only: bool = False) -> int:
    """Proportional set size summed over `processes`: each shared page once. With
    `shared_only`, the part of each in pages it shares (PSS less its unique set):
    outside the tree, the job's process counts its half of the pages its forked
    measuring process still shares with it, not its own copies."""
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied,
                                 psutil.ZombieProcess):
            memory = process.memory_full_info()
            total += max(0, memory.pss - memory.uss) if shared_only else memory.pss
    return total


class MemorySampler:
    """Peak summed RSS of a process tree, sampled by a subprocess."""

    def __init__(self, root_pid: int, interval_seconds: float,
                 pss_also: Sequence[int] = ()) -> None:
        """`pss_also`: processes outside the tree whose shared pages count with its PSS
        (the job's process, whose pages its forked measuring process shares: without
        it, each shared page would count half; `summed_pss`)."""
        self._process = subprocess.Popen(
            [sys.executable, "-m", "parbench.resources", str(root_pid), str(interval_seconds),
             *map(str, pss_also)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def stop(self) -> dict[str, float]:
        """Stop sampling; returns {"peak_rss_bytes": ..., "peak_pss_bytes": ...}."""
        try:
            output, _ = self._process.communicate(input="", timeout=30)
            return json.loads(output)
        except (subprocess.TimeoutExpired, json.JSONDecodeError, ValueError):
            self._process.kill()
            self._process.wait()
            return {"peak_rss_bytes": float("nan"), "peak_pss_bytes": float("nan")}


def _sample_until_stdin_closes(root_pid: int, interval_seconds: float,
                               pss_also: Sequence[int] = ()) -> dict[str, float]:
    me = os.getpid()
    outside = [psutil.Process(pid) for pid in pss_also if psutil.pid_exists(pid)]
    peak_rss = peak_pss = 0
    members: list[psutil.Process] = []
    listed_at = 0.0
    while True:
        now = time.monotonic()
        if now - listed_at > TREE_REFRESH_SECONDS:
            members, listed_at = tree_processes(root_pid, exclude=[me]), now
        rss, readable_members = 0, []
        for process in members:
            try:
                rss += process.memory_info().rss
                readable_members.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        if rss > peak_rss * PSS_AT_RSS_GROWTH:
            # PSS never exceeds RSS, so its peak is read where RSS peaks: reading it
            # (smaps_rollup) costs ~17 ms for a Ray tree, too much every 50 ms.
            peak_pss = max(peak_pss, summed_pss(readable_members)
                           + summed_pss(outside, shared_only=True))
        peak_rss = max(peak_rss, rss)
        readable, _, _ = select.select([sys.stdin], [], [], interval_seconds)
        if readable and not sys.stdin.read(1):  # EOF: the job is done
            return {"peak_rss_bytes": peak_rss, "peak_pss_bytes": peak_pss}


if __name__ == "__main__":
    root, interval = int(sys.argv[1]), float(sys.argv[2])
    peaks = _sample_until_stdin_closes(root, interval, [int(pid) for pid in sys.argv[3:]])
    with contextlib.suppress(BrokenPipeError):  # a killed job reads nothing
        print(json.dumps(peaks))
