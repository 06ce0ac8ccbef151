"""No process outlives its timing job, even when the job is killed outright.

SIGKILL (a scheduler's time limit, `kill -9`) ends a job without running its
`finally`, so its engines would live on: ipyparallel's controller and engines for
good, still computing while the next jobs measure. (Where the job's measuring child
alone dies, the job stops them itself: parbench.measure.slot.)
Three things make their lifetime follow the job's:

- **A mark on everything the job starts.** The job sets `PARBENCH_JOB=<token>`
  in its environment, which every exec'd descendant inherits (Ray's raylet and
  workers, ipyparallel's controller and engines, Dask's and loky's workers), and
  holds a *lifeline* file open, inheritably, which every forked descendant
  (Pool and concurrent.futures workers) inherits. The token is the job's PID and
  start time, so a reused PID never passes for the job.
  Some processes wipe their environment when they rename themselves (Ray's
  agents), so marks alone are not enough:
- **A guard process** per job, outside the job's process tree and in a session
  of its own (a kill of the job's process group spares it, and it is never
  measured as part of the job). It lists every descendant of the job it has
  seen (PID and start time, written to a file beside the lifeline), looking
  every 0.1 s while new ones appear, every second once they have settled, and
  waits on the job's pidfd. If the job
  ends without saying it finished, the guard stops every process carrying the
  job's mark or on its list, by PID (terminate, then kill), writes what it
  stopped to the job's log, and exits.
- **A sweep before every timing job**: whatever a killed job *and* its guard
  left (both killed at once) carries a mark, or is on a list, of a job that is
  dead and left its lifeline; the next timing job that shares its timing slot
  (the lifelines live beside the slot's lock) stops it before it measures, and
  records how many in `orphans_stopped`. Jobs with a slot of their own (another
  temporary folder) run side by side by design, and sweep only their own.

Only processes of this user that carry a parbench mark are ever stopped: never
by name, never someone else's.

Here, what both sides share: tokens, the files in RUNTIME_DIR, marks, lists and how
processes are stopped; the job's side in `job`, the guard process in `watch`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import psutil

from parbench.resources import stop_leftovers

JOB_VARIABLE = "PARBENCH_JOB"
LIFELINE_SUFFIX = ".lifeline"
LIST_SUFFIX = ".processes"
SCRATCH_SUFFIX = ".scratch"  # files of a job's engines (scratch_dir)
FINISHED = b"finished\n"
# What the guard says on its standard output once it watches the job; the job reads it
# as it leaves its block, and warns where it never came.
WATCHING = b"watching\n"
# Where lifelines live: one folder per user, beside the timing lock.
RUNTIME_DIR = Path(tempfile.gettempdir()) / f"parbench-jobs-{os.getuid()}"


def private_runtime_dir(create: bool = True) -> Path | None:
    """RUNTIME_DIR, made if `create` and missing, once it is a folder of this user's
    that no one else may write to (None if it is missing). Its lists name processes to
    kill: a folder someone else made first must not be trusted."""
    if create:
        RUNTIME_DIR.mkdir(mode=0o700, exist_ok=True)
    try:
        status = RUNTIME_DIR.lstat()
    except FileNotFoundError:
        return None
    if (not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid()
            or status.st_mode & 0o022):
        raise RuntimeError(f"{RUNTIME_DIR} is not a private folder of user {os.getuid()} "
                           f"(owner {status.st_uid}, mode {stat.filemode(status.st_mode)}): "
                           f"parbench keeps its jobs' process lists there; remove it")
    return RUNTIME_DIR


def job_token(pid: int | None = None) -> str:
    """`PID-start` of a process, unique even when PIDs are reused: its start in clock
    ticks since boot (/proc/PID/stat), which a step of the wall clock does not move
    (psutil's create_time adds the boot time, which moves with it: after a step, a live
    job's token would read as dead, and its processes as orphans)."""
    pid = pid or os.getpid()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return f"{pid}-{fields[19]}"  # field 22, starttime; those after `(comm)` from 3
    except (OSError, IndexError):
        return _create_time_token(pid)  # no /proc


def _create_time_token(pid: int) -> str:
    """A token as earlier versions made them, and where there is no /proc."""
    return f"{pid}-{psutil.Process(pid).create_time():.2f}"


def token_alive(token: str) -> bool:
    pid, _, start = token.partition("-")
    try:
        if "." in start:  # a token of an earlier version (create_time), still honoured
            return _create_time_token(int(pid)) == token
        return job_token(int(pid)) == token
    except (ValueError, psutil.Error):
        return False


def lifeline_path(token: str) -> Path:
    return RUNTIME_DIR / f"job-{token}{LIFELINE_SUFFIX}"


def list_path(token: str) -> Path:
    return RUNTIME_DIR / f"job-{token}{LIST_SUFFIX}"


def scratch_path(token: str) -> Path:
    return RUNTIME_DIR / f"job-{token}{SCRATCH_SUFFIX}"


def scratch_dir(prefix: str) -> str:
    """A fresh folder for the files of a job's engines (ipyparallel's profile, with
    its connection keys), in the guarded job's scratch folder in RUNTIME_DIR (private
    to the user), which `forget` removes with the job, after a SIGKILL too (the guard,
    or the next job's stop_orphans); outside a guarded job, in the temporary folder."""
    token = os.environ.get(JOB_VARIABLE)
    if not token or private_runtime_dir() is None:
        return tempfile.mkdtemp(prefix=prefix)
    scratch_path(token).mkdir(mode=0o700, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=scratch_path(token))


def token_of(path: str | Path) -> str | None:
    """The job token in a lifeline's or process list's file name."""
    path = Path(path)
    if path.parent != RUNTIME_DIR or not path.name.startswith("job-"):
        return None
    for suffix in (LIFELINE_SUFFIX, LIST_SUFFIX, SCRATCH_SUFFIX):
        if path.name.endswith(suffix):
            return path.name[len("job-"):-len(suffix)]
    return None


def marks(process: psutil.Process) -> set[str]:
    """The tokens of the jobs this process belongs to by its marks (its environment's
    variable, the lifelines it holds open); empty for anything parbench did not start."""
    found = set()
    with contextlib.suppress(psutil.Error, OSError):
        token = process.environ().get(JOB_VARIABLE)
        if token:
            found.add(token)
    with contextlib.suppress(OSError):
        for descriptor in os.scandir(f"/proc/{process.pid}/fd"):
            with contextlib.suppress(OSError):
                # A lifeline already removed still marks who holds it open.
                token = token_of(os.readlink(descriptor.path).removesuffix(" (deleted)"))
                if token:
                    found.add(token)
    return found


def marked_processes(belongs: Callable[[str], bool]) -> list[psutil.Process]:
    """This user's processes (not this one) with a mark for which `belongs(token)`."""
    me, uid = os.getpid(), os.getuid()
    chosen = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if process.pid == me or process.uids().real != uid:
                continue
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(belongs(token) for token in marks(process)):
                chosen.append(process)
    return chosen


def listed_processes(token: str) -> list[psutil.Process]:
    """The processes on a job's list that still run (same PID *and* start time)."""
    try:
        listed = json.loads(list_path(token).read_text())
    except (OSError, ValueError):
        return []
    alive = []
    for pid, started in listed:
        with contextlib.suppress(psutil.Error):
            process = psutil.Process(pid)
            if (token_alive(f"{pid}-{started}") and process.pid != os.getpid()
                    and process.uids().real == os.getuid()):
                alive.append(process)
    return alive


def stop_processes(processes: list[psutil.Process]) -> list[str]:
    """Stop `processes` and whatever each has started meanwhile, by PID, at once
    (resources.stop_leftovers without its grace period). Returns what was stopped."""
    victims = {process.pid: process for process in processes}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            victims.update({child.pid: child for child in process.children(recursive=True)})
    victims.pop(os.getpid(), None)
    return stop_leftovers(victims.values(), grace_seconds=0)


# Rounds of stopping: a process given SIGTERM may start others before it ends (a Pool
# replaces the workers stopped beside it while its own stop runs), which the round that
# stopped it did not see; the next round finds them, marked by the lifeline they hold.
STOP_ROUNDS = 4


def stop_what_the_job_started(token: str) -> list[str]:
    """Stop every process marked or listed for the job `token`, by PID (not the caller:
    a job whose measuring process died stops what that process left), round after round
    until one finds none."""
    return stop_in_rounds(lambda: marked_processes(lambda mark: mark == token)
                          + listed_processes(token))


def stop_in_rounds(find: Callable[[], list[psutil.Process]]) -> list[str]:
    """Stop what `find` finds, round after round (STOP_ROUNDS at most) until it finds
    none: what a process started while it was being stopped is found by the next."""
    stopped: list[str] = []
    for _ in range(STOP_ROUNDS):
        found = stop_processes(find())
        if not found:
            break
        stopped += found
    return stopped


def forget(token: str) -> None:
    lifeline_path(token).unlink(missing_ok=True)
    list_path(token).unlink(missing_ok=True)
    shutil.rmtree(scratch_path(token), ignore_errors=True)


# The job's side (parbench.guard.job) and the guard process's (parbench.guard.watch),
# on the vocabulary above.
from parbench.guard.job import guarded_job, stop_orphans  # noqa: E402
from parbench.guard.watch import guard  # noqa: E402

__all__ = ["JOB_VARIABLE", "RUNTIME_DIR", "forget", "guard", "guarded_job",
           "job_token", "lifeline_path", "list_path", "listed_processes", "marked_processes",
           "marks", "private_runtime_dir", "scratch_dir", "scratch_path", "stop_in_rounds",
           "stop_orphans", "stop_processes", "stop_what_the_job_started", "token_alive",
           "token_of"]
