"""A job measured in a forked child, watched by the job's own process.

SIGKILL (the kernel's out-of-memory killer, `kill -9`) or a crash in C code ends a
process without a word, and the out-of-memory killer picks the biggest one, often
the process that holds the job's inputs. Measured in a child, such a death still
becomes a row: the job's own process, small and idle, watches it die, stops what it
had started and writes the row that says how it died (`death_of`).

The child runs in a process group of its own: a SIGTERM or SIGINT to the job (or to
its process group, as a terminal's Ctrl-C) is passed on to it once, and it stops its
backend itself; then no row is written, as for any stopped job. A child that fails
otherwise before its rows (an exception outside the measurement, which JobRun turns
into a row itself: a workload plug-in that cannot be imported on the series'
interpreter; a SIGTERM the job did not pass on, from a user-space out-of-memory killer
such as earlyoom or a kill by hand) tells the job why through a pipe, and that is the
row (`failure_of`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parbench import machine
from parbench.backends.threads import threads_left_running

# SIGTERM (Snakemake, a scheduler's time limit) and SIGINT (Ctrl-C) ask a job to stop.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Added to the measuring process's out-of-memory score (-1000 to 1000; +500: half the
# memory the kernel weighs against, so it goes before the job's own process).
OOM_SCORE_ADJ = 500
# Signals a crash in C code ends a process with.
CRASHES = {signal.SIGSEGV, signal.SIGILL, signal.SIGFPE, signal.SIGABRT}


@dataclass(frozen=True)
class Ending:
    """How the job's measuring process ended, for the job to act on."""

    pid: int
    # Where it died or failed before its rows (no stop asked), how, in the words of a
    # row's error; None: its rows stand, however it ended.
    failure: str | None
    # Something it forked still held its pipe (a Pool worker forked while its backend
    # stopped): nothing it started may outlive it.
    left_running: bool


def measured_in_a_child(measure: Callable[[], None], output: str | Path) -> Ending:
    """Run `measure` (which writes `output`) in a forked child, wait for it, and say how
    it ended (Ending). Exits as the child did when a stop was asked (no row)."""
    oom_kills_before, counted_in = machine.oom_kills()
    written_before = _identity(output)
    job_pid = os.getpid()
    stop_asked: list[int] = []
    state: dict[str, Any] = {"child": None, "pidfd": None, "sent": 0}

    def pass_on(signum: int, frame: Any) -> None:
        stop_asked.append(signum)
        _send_what_was_asked(stop_asked, state)

    # Installed before the fork, and the signals blocked across it: a stop asked while
    # the child is not yet known is kept, and passed on once it is.
    previous = {number: signal.signal(number, pass_on) for number in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    status = None
    reason, forks_left, pipe = "", False, {"read": None, "write": None}
    try:
        pipe["read"], pipe["write"] = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            try:
                os.close(pipe["read"])
                for number, handler in previous.items():
                    signal.signal(number, handler)
                _measure_and_exit(measure, job_pid, pipe["write"])
            finally:
                os._exit(1)  # never the parent's stack, whatever happened
        os.close(pipe.pop("write"))
        state["child"] = child
        # By pidfd where the kernel has them: a signal passed on after the child is
        # reaped reaches no one. (Until it is reaped, its PID cannot be reused either.)
        with contextlib.suppress(OSError, AttributeError):
            state["pidfd"] = os.pidfd_open(child)
        _send_what_was_asked(stop_asked, state)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        # Ended, but not reaped until nothing more can be passed on: by PID, a signal
        # sent after the reaping could reach a process that took the PID over.
        os.waitid(os.P_PID, child, os.WEXITED | os.WNOWAIT)
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        state["child"] = None
        _, status = os.waitpid(child, 0)
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        if status is None and state["child"] is not None:  # left by an exception
            with contextlib.suppress(OSError):
                os.kill(state["child"], signal.SIGKILL)
                os.waitpid(state["child"], 0)
        state["child"] = None  # nothing more is passed on
        for number, handler in previous.items():
            signal.signal(number, handler)
        if state["pidfd"] is not None:
            os.close(state["pidfd"])
        if pipe.get("write") is not None:  # the fork failed
            os.close(pipe["write"])
        if pipe["read"] is not None:
            reason, forks_left = _read_waiting(pipe["read"])
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    if _identity(output) not in (None, written_before):
        if code:
            print(f"parbench job {job_pid}: its measuring process {child} ended with status "
                  f"{code} after it had written its rows; they stand", file=sys.stderr,
                  flush=True)
        return Ending(child, None, forks_left)
    if stop_asked:  # what it left running, the job's guard stops as the job exits
        print(f"parbench job {job_pid}: its measuring process {child} ended with status "
              f"{code} after a stop was asked; no row written", file=sys.stderr, flush=True)
        raise SystemExit(code or 1)
    if os.WIFSIGNALED(status):
        oom_kills, _ = machine.oom_kills()
        return Ending(child, death_of(child, os.WTERMSIG(status),
                                      oom_kills - oom_kills_before, counted_in), forks_left)
    return Ending(child, failure_of(child, code, reason), forks_left)


def _send_what_was_asked(stop_asked: list[int], state: dict[str, Any]) -> None:
    """Pass on every stop asked and not yet sent, once the child is known and while it
    is not yet reaped."""
    while state["child"] is not None and state["sent"] < len(stop_asked):
        signum = stop_asked[state["sent"]]
        state["sent"] += 1
        with contextlib.suppress(ProcessLookupError):
            if state["pidfd"] is not None:
                signal.pidfd_send_signal(state["pidfd"], signum)
            else:
                os.kill(state["child"], signum)


def _read_waiting(descriptor: int) -> tuple[str, bool]:
    """What the child wrote to the pipe before it ended, without waiting for more, and
    whether something the child forked still holds the pipe's other end (a read to its
    end would wait for it; it should not live on); the pipe closed."""
    chunks, held = [], False
    os.set_blocking(descriptor, False)
    try:
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
    except BlockingIOError:  # nothing more written, and a writer left
        held = True
    except OSError:
        pass
    os.close(descriptor)
    return b"".join(chunks).decode(errors="replace").strip(), held


def _identity(path: str | Path) -> tuple[int, int] | None:
    """The file at `path` as (inode, modification time), None if there is none: rows
    are written by a rename, so a new file is a new identity."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_mtime_ns


def _measure_and_exit(measure: Callable[[], None], job_pid: int, reason: int) -> None:
    """The child: measure, then leave by os._exit, never by the parent's stack (its lock
    and its guard are the parent's). Python would wait at exit for a thread still
    running the task of a map that timed out, which cannot be stopped: os._exit does
    not. `job_pid`: the job's own process, which the log names; `reason`: the pipe where
    a failure's one line goes, for the job's row."""
    status = 1
    try:
        os.setpgid(0, 0)  # a signal to the job's process group reaches it once: passed on
        volunteer_to_the_oom_killer()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        print(f"parbench job {job_pid}: measuring in process {os.getpid()}",
              file=sys.stderr, flush=True)
        measure()
        status = 0
    except SystemExit as exiting:
        status = 0 if exiting.code is None else exiting.code if isinstance(
            exiting.code, int) else 1
        _tell(reason, f"SystemExit: {exiting.code}")
    except BaseException as failure:
        traceback.print_exc()
        _tell(reason, f"{type(failure).__name__}: {failure}".strip().rstrip(":"))
    finally:
        # A stop asked now would skip os._exit: from here on it is ignored (a pending
        # one too: Python runs no handler for an ignored signal).
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        if threads_left_running():
            print(f"parbench job {job_pid}: threads still run a task that cannot be "
                  f"stopped ({', '.join(threads_left_running())}); the job ends without "
                  "waiting for them", file=sys.stderr, flush=True)
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _tell(reason: int, line: str) -> None:
    """Write a failure's line to the job through the pipe (a pipe's buffer holds it)."""
    with contextlib.suppress(OSError):
        os.write(reason, line.encode()[:4096])


def volunteer_to_the_oom_killer() -> None:
    """Have the out-of-memory killer pick this process, and whatever it starts, before
    the job's own (`OOM_SCORE_ADJ`): in a cgroup at its memory limit, the pages of a
    killed measuring process take a few milliseconds to be freed, and an allocation
    meanwhile (its memory sampler ending) had the kernel kill the next biggest
    process, the job's, before it could write the row. Raising one's own score needs
    no privilege; where it cannot be written, nothing changes."""
    with contextlib.suppress(OSError, ValueError):
        score = Path("/proc/self/oom_score_adj")
        score.write_text(str(min(1000, int(score.read_text()) + OOM_SCORE_ADJ)))


def failure_of(pid: int, code: int, reason: str) -> str:
    """How a measuring process that ended without its rows, neither stopped nor killed
    by a signal, failed, in the words of a row (`reason`: what it said, if anything)."""
    if reason.startswith("Terminated"):
        reason += (": a SIGTERM the job did not pass on, from someone else (an "
                   "out-of-memory killer in user space, such as earlyoom, or a kill by hand)")
    said = f": {reason}" if reason else ("" if code else ": it exited without writing them")
    return (f"JobFailed: the job's measuring process {pid} ended with status {code} "
            f"before writing its rows{said}")


def death_of(pid: int, signum: int, oom_kills: int, counted_in: str = "the job's cgroup"
             ) -> str:
    """How a measuring process killed by `signum` died, in the words of a row
    (`oom_kills`: the kernel's count of out-of-memory kills meanwhile, `counted_in`
    where: machine.oom_kills)."""
    name = signal.Signals(signum).name
    if signum == signal.SIGKILL and oom_kills > 0:
        why = (f"the kernel's out-of-memory killer killed {oom_kills} process(es) of "
               f"{counted_in} meanwhile")
    elif signum == signal.SIGKILL:
        why = "kill -9, a time limit, or an out-of-memory killer outside the kernel's count"
    elif signum == signal.SIGBUS:
        why = ("a bus error: a memory-mapped file that could not be backed (a full "
               "/dev/shm or disk), or a crash in C code")
    elif signum in CRASHES:
        why = "a crash in C code (the interpreter, NumPy, an engine's library)"
    else:
        why = "a signal parbench neither sends nor handles"
    return f"JobKilled: the job's measuring process {pid} was killed by {name}: {why}"
