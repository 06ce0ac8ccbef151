"""The guard process (parbench.guard): it lists the job's descendants while the job
runs, and stops every one of them if the job ends without saying it finished.
`python -m parbench.guard TOKEN` forks it (parbench.guard.__main__)."""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import time

import psutil

from parbench.guard import (
    FINISHED,
    WATCHING,
    forget,
    job_token,
    list_path,
    stop_what_the_job_started,
    token_alive,
)

# The guard re-lists the job's descendants this often while they change (start-up)
# and at the slow pace once they have not for a while (steady state: a walk of
# /proc costs ~1.5 ms, beside the timed maps).
LIST_REFRESH_SECONDS = 1.0
LIST_REFRESH_CHANGING_SECONDS = 0.1
CHANGING_FOR_SECONDS = 3.0


def write_list(token: str, processes: list[psutil.Process]) -> None:
    """The job's descendants, as its list (a full /tmp: the last list stands)."""
    entries = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            entries.append([process.pid, job_token(process.pid).partition("-")[2]])
    partial = list_path(token).with_suffix(".partial")
    with contextlib.suppress(OSError):
        partial.write_text(json.dumps(entries))
        partial.replace(list_path(token))


def guard(token: str) -> int:
    """Keep the job's process list until the job ends. If it ends without saying it
    finished, stop everything marked or listed for it and say so on stderr (the
    job's log)."""
    pid = int(token.partition("-")[0])
    try:
        job = psutil.Process(pid)
    except psutil.Error:
        return 0
    try:
        job_ended: int | None = os.pidfd_open(pid)
    except (OSError, AttributeError):  # a kernel before 5.3, a seccomp profile: polled
        job_ended = None
    if not token_alive(token):  # the job ended already, and its PID went to another
        if job_ended is not None:
            os.close(job_ended)
        return 0
    # Watching: said once, then the job's pipe let go of.
    with contextlib.suppress(OSError):
        os.write(sys.stdout.fileno(), WATCHING)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    # The guard and the launcher that forked it are the job's descendants until the
    # launcher exits: never on the list of what to stop.
    itself = {os.getpid(), os.getppid()}
    finished_said = sys.stdin.buffer.fileno()
    watching = [finished_said] + ([job_ended] if job_ended is not None else [])
    changed_at = time.monotonic()
    # Everything seen under the job, dropped only once ended: as the job dies, its
    # children die or are re-parented, and a fresh listing would lose them. Keyed by
    # PID and start time: a new child may reuse an ended one's PID.
    seen: dict[tuple[int, float], psutil.Process] = {}
    while True:
        with contextlib.suppress(psutil.Error):
            new = {key: child for child in job.children(recursive=True)
                   if child.pid not in itself
                   and (key := (child.pid, child.create_time())) not in seen}
            if new:
                # Those that have ended are dropped: a long-lived job (a test process)
                # starts thousands.
                seen = {key: process for key, process in seen.items()
                        if process.is_running()}
                seen.update(new)
                write_list(token, list(seen.values()))
                changed_at = time.monotonic()
        changing = time.monotonic() - changed_at < CHANGING_FOR_SECONDS
        readable, _, _ = select.select(
            watching, [], [], LIST_REFRESH_CHANGING_SECONDS if changing else LIST_REFRESH_SECONDS)
        if finished_said in readable:
            if sys.stdin.buffer.readline() == FINISHED:
                list_path(token).unlink(missing_ok=True)
                return 0
            # End of input without the word: the job's forked workers may still hold
            # the pipe open, or the job died; its pidfd decides.
            watching.remove(finished_said)
        if job_ended in readable if job_ended is not None else not token_alive(token):
            break
    # The job is gone without finishing: nothing it started may outlive it.
    stopped = stop_what_the_job_started(token)
    forget(token)
    print(f"parbench guard: job {pid} ended without finishing (a signal, SIGKILL, the "
          f"out-of-memory killer or a time limit); stopped {len(stopped)} process(es) it "
          f"had started: {stopped}", file=sys.stderr, flush=True)
    return 0
