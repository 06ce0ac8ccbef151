"""The job's side of the guard (parbench.guard): the sweep for what killed jobs left
before a timing job measures, and the guarded block that marks what the job starts and
keeps a guard process watching it."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psutil

from parbench.guard import (
    FINISHED,
    JOB_VARIABLE,
    WATCHING,
    forget,
    job_token,
    lifeline_path,
    listed_processes,
    marked_processes,
    private_runtime_dir,
    stop_in_rounds,
    token_alive,
    token_of,
)


def stop_orphans() -> list[str]:
    """Stop what killed jobs of this timing slot left (marked by, or listed for, a
    job no longer alive whose lifeline or list is still in RUNTIME_DIR) and forget
    those jobs. Returns a description of each process stopped."""
    dead_jobs = set()
    runtime = private_runtime_dir(create=False)
    if runtime is not None:
        dead_jobs = {token for token in map(token_of, runtime.iterdir())
                     if token and not token_alive(token)}
    def orphans() -> list[psutil.Process]:
        found = marked_processes(dead_jobs.__contains__) if dead_jobs else []
        for token in dead_jobs:
            found.extend(listed_processes(token))
        return found

    stopped = stop_in_rounds(orphans)
    for token in dead_jobs:
        forget(token)
    return stopped


@contextlib.contextmanager
def guarded_job() -> Iterator[None]:
    """Mark everything this job starts, and keep a guard that stops it all if the
    job is killed before it leaves this block. Within a guarded block of the same
    process (a job run inside a test process that guards itself), the outer guard
    does all of that already."""
    token = job_token()
    if os.environ.get(JOB_VARIABLE) == token:
        yield
        return
    private_runtime_dir()
    lifeline = open(lifeline_path(token), "w")  # noqa: SIM115 - held for the job's life
    os.set_inheritable(lifeline.fileno(), True)
    previous = os.environ.get(JOB_VARIABLE)
    guard_environment = {name: value for name, value in os.environ.items()
                         if name != JOB_VARIABLE}
    launcher = subprocess.Popen([sys.executable, "-m", "parbench.guard", token],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                env=guard_environment, start_new_session=True)
    # It forks the guard and exits: the guard is not in the job's tree.
    if launcher.wait() != 0:
        print(f"warning: the guard of job {token} did not start (status "
              f"{launcher.returncode}): a job killed outright would leave what it started "
              "to the next job's sweep", file=sys.stderr, flush=True)
    os.environ[JOB_VARIABLE] = token
    finished = False
    try:
        yield
        finished = True
    finally:
        if previous is None:
            os.environ.pop(JOB_VARIABLE, None)
        else:
            os.environ[JOB_VARIABLE] = previous
        # Left by an exception (a SIGTERM is one), the block may not have stopped what
        # it started: one that lands in a backend's stop() skips the rest of the
        # teardown. Unsaid, the guard stops whatever is left once the job exits.
        with contextlib.suppress(OSError, ValueError):
            if finished:
                launcher.stdin.write(FINISHED)
            launcher.stdin.close()
        if not _said_watching(launcher.stdout):
            print(f"warning: the guard of job {token} never said it watched the job: a "
                  "job killed outright would have left what it started to the next job's "
                  "sweep", file=sys.stderr, flush=True)
        lifeline.close()
        # Not finished, it stays for the next job's sweep (stop_orphans), should the
        # guard not be there to stop what the block left and forget the job.
        if finished:
            # Its engines stopped, their files are done with (a measuring process
            # killed outright left ipyparallel's profile there: the job stopped the
            # engines, and finished).
            forget(token)


def _said_watching(said: Any, timeout: float = 5.0) -> bool:
    """Whether the guard said WATCHING on `said` (the launcher's standard output),
    waiting up to `timeout` for it: read as the job leaves its block, not as it
    enters, so that no job waits for its guard's start."""
    with contextlib.closing(said):
        readable, _, _ = select.select([said], [], [], timeout)
        return bool(readable) and said.readline() == WATCHING
