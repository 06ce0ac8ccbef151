"""A timing job's entry point: one job at a time on a machine (a lock), whatever
a killed job left stopped first, the job guarded, measured in a forked child whose
death by a signal, or failure before its rows, is a row too, its rows written
atomically."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import os
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from parbench import guard, interpreters
from parbench.backends import Series
from parbench.identity import Job
from parbench.measure.rows import failed_rows, measure_rows
from parbench.measure.supervised import measured_in_a_child
from parbench.settings import JobSettings
from parbench.tables import write_rows_atomically

# Timing jobs hold this lock, so two never overlap on one machine, whatever
# --cores or profile the sweep runs with (and across this user's concurrent sweeps:
# the file is per user, since another's could not be opened for writing).
TIMING_LOCK = Path(tempfile.gettempdir()) / f"parbench-timing-{os.getuid()}.lock"


@contextlib.contextmanager
def exclusive_timing_slot(lock_path: Path = TIMING_LOCK) -> Iterator[None]:
    # A POSIX record lock (lockf), not flock: it belongs to this process alone.
    # An flock is shared with every forked child (Pool workers), so a job killed
    # outright left its orphaned workers holding the slot, and every later job waited.
    with open_own_lock(lock_path) as lock:
        if not try_lock(lock):
            print(f"waiting for the timing slot ({lock_path})", file=sys.stderr, flush=True)
            fcntl.lockf(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(lock, fcntl.LOCK_UN)


def open_own_lock(lock_path: Path) -> Any:
    """The lock file, made if missing, once it is this user's own plain file: in a
    shared /tmp, one that another user made first could be held by them for ever (or
    be a link to a file of this user's), and every timing job would wait on it."""
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW,
                             0o600)
    except OSError as failure:
        raise RuntimeError(f"cannot use {lock_path} as the timing lock ({failure.strerror}): "
                           "remove it, or set `timing_lock`") from failure
    status = os.fstat(descriptor)
    if status.st_uid != os.getuid():
        os.close(descriptor)
        raise RuntimeError(f"the timing lock {lock_path} is owned by user {status.st_uid}, "
                           f"not {os.getuid()}: another user could hold it and stop every "
                           "timing job; remove it, or set `timing_lock`")
    return os.fdopen(descriptor, "a")


def lock_refused(lock_path: Path) -> str | None:
    """Why `open_own_lock` would refuse the lock file as it is now, without creating it
    (None: it would not; a missing file it makes): checked before any job runs."""
    try:
        status = lock_path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(status.st_mode) or not stat.S_ISREG(status.st_mode):
        return "is a link or not a plain file (another user's file could be behind it)"
    if status.st_uid != os.getuid():
        return (f"is owned by user {status.st_uid}, not {os.getuid()}: another user could "
                "hold it and stop every timing job")
    return None


def try_lock(lock: Any) -> bool:
    """Take the timing slot's lock on the open file `lock` if it is free."""
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:  # EACCES or EAGAIN: someone holds it
        return False


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the job's main thread."""


def stop_on_sigterm(signum: int, frame: Any) -> None:
    # Snakemake stops jobs with SIGTERM; raising runs the `finally` that stops
    # the backend, so no Ray/ipcluster/Pool is left behind. (Pool workers reset
    # SIGTERM to its default: see backends/pool.py; Ray's own handler is
    # replaced by this one: see backends/ray_tasks.py.)
    raise Terminated(f"signal {signum}")


def stop_on_sigterm_even_where_exceptions_are_ignored() -> None:
    """Install `stop_on_sigterm`, and deliver a SIGTERM again where its exception was lost.

    Python ignores an exception raised where it cannot propagate, and only reports
    it: in an at-fork hook (logging's runs at every fork, and a Pool of 16 workers
    forks 16 times), a `__del__`, a weakref callback. A SIGTERM handled there was
    lost, and the job ran on until SIGKILL. Sent again a moment later, from a
    thread (sent from here, it would be raised here, and lost again), it is raised
    at the next point where it propagates."""
    report_ignored = sys.unraisablehook

    def redeliver_lost_sigterm(unraisable: Any) -> None:
        lost = isinstance(unraisable.exc_value, Terminated)
        try:
            report_ignored(unraisable)
        except Terminated:  # a SIGTERM handled while reporting is lost too
            lost = True
        if lost:
            resend = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM))
            resend.daemon = True
            resend.start()

    signal.signal(signal.SIGTERM, stop_on_sigterm)
    sys.unraisablehook = redeliver_lost_sigterm


def run_job(job: Job, settings: JobSettings, series: Series, output: str | Path,
            workload_plugin: str | None = None, timing_lock: str | Path | None = None,
            config_hash: str = "", planned_round: int = 0) -> None:
    """Entry point of one Snakemake timing job. `timing_lock`: the file whose lock
    keeps timing jobs apart (None: TIMING_LOCK, this machine's); jobs on several
    nodes need one on a filesystem they share."""
    if not interpreters.running_here(series.interpreter):
        # The whole job, lock and guard included, runs on the series' interpreter.
        command, environment = interpreters.reexec_command(
            {"name": series.interpreter, "path": series.interpreter_path},
            {"job": dataclasses.asdict(job), "settings": dataclasses.asdict(settings),
             "series": dataclasses.asdict(series), "output": str(output),
             "workload_plugin": workload_plugin,
             "timing_lock": str(timing_lock) if timing_lock else None,
             "config_hash": config_hash, "planned_round": planned_round})
        print(f"parbench job {os.getpid()}: on interpreter {series.interpreter} "
              f"({series.interpreter_path})", file=sys.stderr, flush=True)
        os.execve(command[0], command, environment)
    stop_on_sigterm_even_where_exceptions_are_ignored()
    print(f"parbench job {os.getpid()}: {job}", file=sys.stderr, flush=True)
    with exclusive_timing_slot(Path(timing_lock) if timing_lock else TIMING_LOCK):
        # Whatever a killed job and its guard left must not run beside this one.
        orphans = guard.stop_orphans()
        if orphans:
            print(f"warning: stopped {len(orphans)} process(es) that an earlier, killed job "
                  f"left running: {orphans}", file=sys.stderr)
        job_start_unix, job_pid = time.time(), os.getpid()

        def write(rows: list[dict[str, Any]]) -> None:
            write_rows_atomically([{**row, "orphans_stopped": len(orphans)} for row in rows],
                                  output)

        def measure_and_write() -> None:  # in the measuring process, forked from this one
            write(measure_rows(job, settings, series, workload_plugin, config_hash,
                               planned_round, watched_by=job_pid))

        with guard.guarded_job():
            ending = measured_in_a_child(measure_and_write, output)
            stopped: list = []
            if ending.failure or ending.left_running:
                # What the measuring process started and left (engines, a raylet, a
                # worker forked while its pool stopped) is stopped here, while this
                # job's timing slot is still held.
                stopped = guard.stop_what_the_job_started(guard.job_token())
                said = ending.failure or (f"its measuring process {ending.pid} left "
                                          f"{len(stopped)} process(es) running")
                print(f"parbench job {job_pid}: {said}; stopped {len(stopped)} "
                      f"process(es) it had started: {stopped}", file=sys.stderr, flush=True)
            # The rows count what the job stopped after its measuring process too.
            if ending.failure:
                write([{**row, "leftover_processes_stopped": len(stopped)}
                       for row in failed_rows(job, settings, series, ending.failure,
                                              workload_plugin, config_hash, planned_round,
                                              job_start_unix)])
            elif stopped:
                _count_stopped_after(output, len(stopped))


def _count_stopped_after(output: Path, stopped: int) -> None:
    """Add `stopped` to the `leftover_processes_stopped` of the rows the measuring
    process wrote: the processes it left running, which the job stopped after it."""
    with open(output, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        row["leftover_processes_stopped"] = int(row["leftover_processes_stopped"] or 0) + stopped
    write_rows_atomically(rows, output)
