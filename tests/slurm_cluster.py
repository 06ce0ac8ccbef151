"""A real single-node Slurm cluster for tests: munged, slurmctld and slurmd from
Debian's packages, started in the foreground as this process's children, stopped by PID.

No systemd, no accounting (no slurmdbd: `sacct` cannot answer, hence the profile's
`squeue` status checks), no cgroups (proctrack/linuxproc, task/none). State, spool
and logs live in a temporary folder; the one file written elsewhere is
/etc/slurm/slurm.conf (backed up and restored): the executor plugin's job step
drops every SLURM_* variable, SLURM_CONF included, before it calls `srun`, so
`srun` inside a job reads only the default path.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil

PACKAGES = ["slurm-wlm", "munge"]
PROGRAMS = ["slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol", "scancel",
            "srun", "munged", "munge", "unmunge"]
SLURM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_KEY = Path("/etc/munge/munge.key")
MUNGE_SOCKET_DIR = Path("/run/munge")
# Slurm's commands and daemons read /etc/slurm/slurm.conf, never another cluster's.
ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "SLURM_CONF"}


class SlurmUnavailable(Exception):
    """Slurm is missing and cannot be installed here (the reason is the message)."""


def missing_programs() -> list[str]:
    return [program for program in PROGRAMS if shutil.which(program) is None]


def ensure_installed(timeout: float = 600) -> None:
    """Install slurm-wlm and munge with apt-get when missing, as CI's root can.

    Raises SlurmUnavailable when this is not root, or they are missing and there is no
    apt-get; a failed apt-get raises RuntimeError (a broken CI machine, not a reason to
    skip).
    """
    if os.geteuid() != 0:
        raise SlurmUnavailable("the test cluster needs root: it writes /etc/slurm/slurm.conf "
                               "and runs slurmctld and slurmd as SlurmUser=root")
    if not missing_programs():
        return
    if shutil.which("apt-get") is None:
        raise SlurmUnavailable(
            f"Slurm is not installed ({', '.join(missing_programs())} missing) and "
            "cannot be installed here (no apt-get): "
            f"apt-get install {' '.join(PACKAGES)}")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", *PACKAGES]):
        print("$", " ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env=environment)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}"
                               f"\n{result.stderr[-2000:]}")
    if missing_programs():
        raise RuntimeError(f"still missing after apt-get: {missing_programs()}")


def munge_works() -> bool:
    try:
        credential = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        if credential.returncode != 0:
            return False
        decoded = subprocess.run(["unmunge"], input=credential.stdout, capture_output=True,
                                 timeout=10)
        return decoded.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def run(command: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=ENVIRONMENT)


class SingleNodeSlurm:
    """`with SingleNodeSlurm(folder) as cluster:` a running cluster, its node idle."""

    def __init__(self, folder: Path, start_timeout: float = 90):
        self.folder = Path(folder)
        self.start_timeout = start_timeout
        self.node = socket.gethostname().split(".")[0]  # `hostname -s`
        self.cpus = os.cpu_count() or 1
        self.processes: dict[str, subprocess.Popen] = {}
        self.log_files: dict[str, Path] = {}
        self.conf_backup: Path | None = None
        self.conf_written = False
        self.started_at = time.time()

    # -- configuration -----------------------------------------------------------------

    def real_memory_mb(self) -> int:
        """The node's memory as slurmd reports it (a larger RealMemory drains the node)."""
        try:
            reported = run(["slurmd", "-C"]).stdout
            for field in reported.split():
                if field.startswith("RealMemory="):
                    return int(field.split("=", 1)[1])
        except (OSError, ValueError, subprocess.TimeoutExpired):
            pass
        return psutil.virtual_memory().total // 2**20 * 9 // 10

    def slurm_conf(self) -> str:
        state = self.folder / "state"
        spool = self.folder / "spool"
        for path in (state, spool):
            path.mkdir(parents=True, exist_ok=True)
        return "\n".join([
            "# Written by tests/slurm_cluster.py for one test run; restored afterwards.",
            "ClusterName=parbench-test",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"StateSaveLocation={state}",
            f"SlurmdSpoolDir={spool}",
            f"SlurmctldPidFile={self.folder / 'slurmctld.pid'}",
            f"SlurmdPidFile={self.folder / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.folder / 'slurmctld.log'}",
            f"SlurmdLogFile={self.folder / 'slurmd.log'}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            "SlurmctldPort=6817",
            "SlurmdPort=6818",
            # Bound to the addresses above (127.0.0.1), not to every interface: nothing
            # a test starts listens beyond loopback.
            "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU_Memory",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            "MpiDefault=none",
            "SchedulerType=sched/backfill",
            "ReturnToService=2",
            # Finished jobs stay visible to squeue (and scontrol) this long.
            "MinJobAge=300",
            "KillWait=5",
            "InactiveLimit=0",
            "SlurmdTimeout=60",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={self.real_memory_mb()} State=UNKNOWN",
            "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ])

    def write_conf(self) -> None:
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        if SLURM_CONF.exists():
            self.conf_backup = self.folder / "slurm.conf.orig"
            shutil.copy2(SLURM_CONF, self.conf_backup)
        SLURM_CONF.write_text(self.slurm_conf())
        self.conf_written = True

    def restore_conf(self) -> None:
        if not self.conf_written:
            return
        if self.conf_backup is not None:
            shutil.copy2(self.conf_backup, SLURM_CONF)
        else:
            SLURM_CONF.unlink(missing_ok=True)
        self.conf_written = False

    # -- daemons -----------------------------------------------------------------------

    def spawn(self, name: str, command: list[str], user: str | None = None) -> None:
        log = self.folder / f"{name}.out"
        self.log_files[name] = log
        with open(log, "w") as output:
            self.processes[name] = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                user=user, start_new_session=True, env=ENVIRONMENT)
        print(f"started {name} (pid {self.processes[name].pid}): {' '.join(command)}",
              flush=True)

    def start_munge(self) -> None:
        if munge_works():  # a munged already serves /run/munge: use it
            print("munged already running; using it", flush=True)
            return
        munge = pwd.getpwnam("munge")
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            if shutil.which("mungekey"):
                run(["mungekey", "--create", f"--keyfile={MUNGE_KEY}"])
            else:
                MUNGE_KEY.write_bytes(os.urandom(1024))
            os.chown(MUNGE_KEY, munge.pw_uid, munge.pw_gid)
            MUNGE_KEY.chmod(0o400)
        for folder in (MUNGE_KEY.parent, MUNGE_SOCKET_DIR, Path("/var/lib/munge"),
                       Path("/var/log/munge")):
            folder.mkdir(parents=True, exist_ok=True)
            os.chown(folder, munge.pw_uid, munge.pw_gid)
        MUNGE_KEY.parent.chmod(0o700)
        MUNGE_SOCKET_DIR.chmod(0o755)
        self.spawn("munged", ["munged", "--foreground"], user="munge")
        self.wait_for("munged to answer", munge_works, 20)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.started_at = time.time()
        self.start_munge()
        self.write_conf()
        self.spawn("slurmctld", ["slurmctld", "-D", "-i"])
        self.wait_for("slurmctld to answer", lambda: run(["scontrol", "ping"]).returncode == 0
                      and "UP" in run(["scontrol", "ping"]).stdout, 30)
        self.spawn("slurmd", ["slurmd", "-D", "-N", self.node])
        self.wait_for(f"node {self.node} to be idle",
                      lambda: self.node_state() == "idle", self.start_timeout)

    def node_state(self) -> str:
        result = run(["sinfo", "--noheader", "--nodes", self.node, "--format", "%T"])
        return result.stdout.strip() if result.returncode == 0 else ""

    def wait_for(self, what: str, condition, timeout: float) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}) while waiting "
                                       f"for {what}\n{self.logs()}")
            try:
                if condition():
                    return
            except (OSError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"timed out after {timeout} s waiting for {what}\n{self.logs()}")

    # -- jobs --------------------------------------------------------------------------

    def job_ids(self) -> list[str]:
        """Every job this private cluster knows, finished ones included (MinJobAge)."""
        result = run(["squeue", "--noheader", "--states=all", "--format=%i"])
        return result.stdout.split() if result.returncode == 0 else []

    def active_job_ids(self) -> list[str]:
        result = run(["squeue", "--noheader", "--format=%i",
                      "--states=PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED"])
        return result.stdout.split() if result.returncode == 0 else []

    def job_details(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as {key: value} (values without spaces)."""
        text = run(["scontrol", "show", "job", "--oneliner", job_id]).stdout
        return dict(field.split("=", 1) for field in text.split() if "=" in field)

    def cancel_leftover_jobs(self, timeout: float = 30) -> None:
        leftovers = self.active_job_ids()
        if not leftovers:
            return
        print(f"cancelling leftover Slurm jobs {leftovers}", flush=True)
        run(["scancel", *leftovers])
        deadline = time.time() + timeout
        while self.active_job_ids() and time.time() < deadline:
            time.sleep(1)

    # -- teardown ----------------------------------------------------------------------

    def logs(self, tail: int = 4000) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out",
                     "munged.out"):
            path = self.folder / name
            if path.exists():
                parts.append(f"----- {path} -----\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        try:
            if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
                self.cancel_leftover_jobs()
            self.stop_stray_stepds()
        finally:
            # slurmd before slurmctld, munged (which both need) last.
            for name in ("slurmd", "slurmctld", "munged"):
                process = self.processes.get(name)
                if process is None:
                    continue
                if process.poll() is None:
                    process.terminate()
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait(timeout=10)
                print(f"stopped {name} (pid {process.pid}, exit {process.returncode})",
                      flush=True)
            self.stop_stray_stepds(grace=0)
            self.restore_conf()

    def stray_stepds(self) -> list[psutil.Process]:
        """This cluster's slurmstepd processes, by what they hold: each keeps its socket
        in this cluster's spool folder and its slurmd log open (a stepd is re-parented
        to init, and another Slurm's stepds bear the same name)."""
        found = []
        for process in psutil.process_iter(["name", "create_time", "status"]):
            if (process.info["name"] != "slurmstepd" or process.info["status"] == "zombie"
                    or process.info["create_time"] < self.started_at):
                continue
            with contextlib.suppress(psutil.Error):
                held = [str(connection.laddr) for connection in process.net_connections("unix")]
                held += [opened.path for opened in process.open_files()]
                if any(Path(path).is_relative_to(self.folder) for path in held if path):
                    found.append(process)
        return found

    def stop_stray_stepds(self, grace: float = 10) -> None:
        """slurmstepd processes of this cluster's jobs: they end a moment after their
        job (and outlive slurmd if it is stopped first); terminated after `grace` s."""
        deadline = time.time() + grace
        while self.stray_stepds() and time.time() < deadline:
            time.sleep(0.5)
        for process in self.stray_stepds():
            print(f"terminating stray slurmstepd {process.pid}", flush=True)
            try:
                process.terminate()
                process.wait(timeout=10)
            except psutil.TimeoutExpired:
                process.kill()
            except psutil.NoSuchProcess:
                continue

    def __enter__(self) -> SingleNodeSlurm:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
