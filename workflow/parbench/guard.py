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
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from parbench.resources import stop_leftovers

JOB_VARIABLE = "PARBENCH_JOB"
LIFELINE_SUFFIX = ".lifeline"
LIST_SUFFIX = ".processes"
SCRATCH_SUFFIX = ".scratch"  # files of a job's engines (scratch_dir)
# The guard re-lists the job's descendants this often while they change (start-up)
# and at the slow pace once they have not for a while (steady state: a walk of
# /proc costs ~1.5 ms, beside the timed maps).
LIST_REFRESH_SECONDS = 1.0
LIST_REFRESH_CHANGING_SECONDS = 0.1
CHANGING_FOR_SECONDS = 3.0
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
        return f"{pid}-{psutil.Process(pid).create_time():.2f}"  # no /proc


def token_alive(token: str) -> bool:
    pid, _, start = token.partition("-")
    try:
        if "." in start:  # a token of an earlier version (create_time), still honoured
            return f"{pid}-{psutil.Process(int(pid)).create_time():.2f}" == token
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
            lifeline_path(token).unlink(missing_ok=True)
            # Its engines stopped, their files are done with (a measuring process
            # killed outright left ipyparallel's profile there: the job stopped the
            # engines, and finished).
            shutil.rmtree(scratch_path(token), ignore_errors=True)


def _said_watching(said: Any, timeout: float = 5.0) -> bool:
    """Whether the guard said WATCHING on `said` (the launcher's standard output),
    waiting up to `timeout` for it: read as the job leaves its block, not as it
    enters, so that no job waits for its guard's start."""
    with contextlib.closing(said):
        readable, _, _ = select.select([said], [], [], timeout)
        return bool(readable) and said.readline() == WATCHING


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


if __name__ == "__main__":
    if os.fork() > 0:  # the job waits for this first process only
        os._exit(0)
    sys.exit(guard(sys.argv[1]))
