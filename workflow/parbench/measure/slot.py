"""A timing job's entry point: one job at a time on a machine (a lock), whatever
a killed job left stopped first, the job guarded, measured in a forked child whose
death by a signal is a row too, its rows written atomically."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from parbench import guard, interpreters, machine
from parbench.backends import Series
from parbench.backends.threads import threads_left_running
from parbench.identity import Job
from parbench.measure.rows import killed_rows, measure_rows
from parbench.settings import JobSettings
from parbench.tables import write_rows_atomically

# Timing jobs hold this lock, so two never overlap on one machine, whatever
# --cores or profile the sweep runs with (and across concurrent sweeps).
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
        job_start_unix = time.time()

        def measure_and_write() -> None:
            rows = measure_rows(job, settings, series, workload_plugin, config_hash,
                                planned_round)
            write_rows_atomically([{**row, "orphans_stopped": len(orphans)} for row in rows],
                                  output)

        with guard.guarded_job():
            death = measured_in_a_child(measure_and_write)
            if death:
                # What the dead process had started (engines, a raylet) is stopped here,
                # while this job's timing slot is still held.
                stopped = guard.stop_what_the_job_started(guard.job_token())
                print(f"parbench job {os.getpid()}: {death}; stopped {len(stopped)} "
                      f"process(es) it had started: {stopped}", file=sys.stderr, flush=True)
                rows = killed_rows(job, settings, series, death, workload_plugin,
                                   config_hash, planned_round, job_start_unix)
                write_rows_atomically([{**row, "orphans_stopped": len(orphans)}
                                       for row in rows], output)


# SIGTERM (Snakemake, a scheduler's time limit) and SIGINT (Ctrl-C) ask a job to stop:
# its measuring process stops its backend and no row is written.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def measured_in_a_child(measure: Callable[[], None]) -> str | None:
    """Run `measure` in a forked child, in a process group of its own, and wait for it.

    SIGKILL (the out-of-memory killer, `kill -9`) or a crash in C code ends a process
    without a word, and often the job's own, which holds its inputs: the process that
    watched it die can still say so in a row. Returns None once the child exits 0, and
    how it died when a signal killed it. A SIGTERM or SIGINT to this process is passed
    on to the child, which stops its backend itself; this process then exits as the
    child did, as it does when the child fails otherwise (its traceback in the log)."""
    oom_kills_before = machine.oom_kills()
    # Blocked across the fork: a stop asked before the child is known is passed on.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    child = os.fork()
    if child == 0:
        _measure_and_exit(measure)
    stop_asked: list[int] = []

    def pass_on(signum: int, frame: Any) -> None:
        stop_asked.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    previous = {number: signal.signal(number, pass_on) for number in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    try:
        _, status = os.waitpid(child, 0)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    if os.WIFSIGNALED(status) and not stop_asked and os.WTERMSIG(status) not in STOP_SIGNALS:
        return death_of(child, os.WTERMSIG(status), machine.oom_kills() - oom_kills_before)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    print(f"parbench job {os.getpid()}: its measuring process {child} ended with status "
          f"{code}{' after a stop was asked' if stop_asked else ''}; no row written",
          file=sys.stderr, flush=True)
    raise SystemExit(code)


def _measure_and_exit(measure: Callable[[], None]) -> None:
    """The child: measure, then leave without unwinding the parent's stack (its lock,
    its guard are the parent's)."""
    status = 1
    try:
        os.setpgid(0, 0)  # a signal to the job's process group reaches it once: passed on
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        print(f"parbench job {os.getppid()}: measuring in process {os.getpid()}",
              file=sys.stderr, flush=True)
        with job_process():
            measure()
        status = 0
    except SystemExit as exiting:
        status = exiting.code if isinstance(exiting.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def death_of(pid: int, signum: int, oom_kills: int) -> str:
    """How a measuring process killed by `signum` died, in the words of a row."""
    name = signal.Signals(signum).name
    if signum == signal.SIGKILL and oom_kills > 0:
        why = (f"the kernel's out-of-memory killer killed {oom_kills} process(es) meanwhile "
               "(/proc/vmstat oom_kill)")
    elif signum == signal.SIGKILL:
        why = "kill -9, a time limit, or an out-of-memory killer outside the kernel's count"
    else:
        why = "a crash in C code (the interpreter, NumPy, an engine's library)"
    return f"JobKilled: the job's measuring process {pid} was killed by {name}: {why}"


@contextlib.contextmanager
def job_process() -> Iterator[None]:
    """Around all of a job's measuring process. Python waits at exit for every thread
    of a ThreadPoolExecutor, and a thread still running the task of a map that timed
    out cannot be stopped: the job, finished or failed, and the sweep behind it would
    wait as long as that task runs. Such a process ends here without waiting, its rows
    written (or, failed, its traceback); any other ends as usual."""
    try:
        yield
    except BaseException:
        if threads_left_running():
            traceback.print_exc()
            _end_now(1)
        raise
    if threads_left_running():
        _end_now(0)


def _end_now(status: int) -> None:
    print(f"parbench job {os.getpid()}: threads still run a task that cannot be stopped "
          f"({', '.join(threads_left_running())}); the job ends without waiting for them",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(status)
