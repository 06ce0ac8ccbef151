"""Facts about the machine a job runs on: cores it may use, and provenance.

The default worker count comes from the CPU affinity mask and the cgroup CPU
quota, never `os.cpu_count()`: in containers the latter over-counts (ray#27958).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import multiprocessing
import os
import platform
import shutil
import socket
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")

# Packages whose versions change the numbers, whatever the backend; each
# backend and workload class adds its own (`packages`). Recorded in every row.
CORE_PACKAGES = ("numpy", "pandas", "snakemake", "psutil", "threadpoolctl")


def recorded_packages() -> list[str]:
    """The core packages and every registered backend's and workload's, in that order."""
    from parbench.backends import BACKENDS
    from parbench.workloads import WORKLOADS

    packages = [*CORE_PACKAGES]
    for plugin in [*BACKENDS.values(), *WORKLOADS.values()]:
        packages += [name for name in plugin.packages if name not in packages]
    return packages


def gil_enabled() -> bool:
    """False only on a free-threaded CPython running without its GIL (3.13t and later)."""
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_gil_enabled is None else bool(is_gil_enabled())


def free_threaded_build() -> bool:
    """True on a CPython built with `--disable-gil` (whether or not its GIL is off now)."""
    return sysconfig.get_config_var("Py_GIL_DISABLED") == 1


def cgroup_cpu_limit() -> float | None:
    """CPUs allowed by the cgroup quota (v2, then v1), or None when unlimited."""
    try:
        quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int(CGROUP_V1_QUOTA.read_text())
        period_us = int(CGROUP_V1_PERIOD.read_text())
        if quota_us > 0 and period_us > 0:
            return quota_us / period_us
    except (OSError, ValueError):
        pass
    return None


def available_cores() -> int:
    """Cores this process may use: the affinity mask, capped by the cgroup quota."""
    cores = affinity_cores() or os.cpu_count() or 1  # no affinity outside Linux
    quota = cgroup_cpu_limit()
    if quota is not None:
        cores = min(cores, max(1, math.floor(quota)))
    return max(1, cores)


def physical_cores() -> int | None:
    import psutil

    return psutil.cpu_count(logical=False)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def shm_bytes() -> int | None:
    """Size of /dev/shm, where Ray's object store lives (a small one makes Ray spill)."""
    try:
        return shutil.disk_usage("/dev/shm").total
    except OSError:
        return None


def shm_free_bytes() -> int | None:
    """Free space in /dev/shm now (None: there is none)."""
    try:
        return shutil.disk_usage("/dev/shm").free
    except OSError:
        return None


def oom_kills() -> tuple[int, str]:
    """How many processes the kernel's out-of-memory killer has killed, and where it
    counted them: in this process's cgroup (v2's `memory.events`, v1's
    `memory.oom_control`), else on the whole machine since boot (/proc/vmstat); (0, "")
    where nothing counts them."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "":
                counters = [Path("/sys/fs/cgroup", path.lstrip("/"), "memory.events"),
                            Path("/sys/fs/cgroup/unified", path.lstrip("/"), "memory.events")]
            elif "memory" in controllers.split(","):
                counters = [Path("/sys/fs/cgroup/memory", path.lstrip("/"),
                                 "memory.oom_control")]
            else:
                continue
            for counter in counters:
                count = _counted(counter, "oom_kill")
                if count is not None:
                    return count, "the job's cgroup"
    count = _counted(Path("/proc/vmstat"), "oom_kill")
    return (0, "") if count is None else (count, "the machine")


def _counted(path: Path, name: str) -> int | None:
    """The value of `name` in a file of `name value` lines (None: unreadable, or absent)."""
    with contextlib.suppress(OSError, ValueError):
        for line in path.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == name:
                return int(value)
    return None


def blas_library() -> str:
    """The BLAS NumPy uses, e.g. "openblas 0.3.29 (pthreads)"."""
    import numpy  # noqa: F401 - loads the BLAS threadpoolctl inspects
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            threading = pool.get("threading_layer")
            suffix = f" ({threading})" if threading else ""
            return f"{pool.get('internal_api')} {pool.get('version')}{suffix}"
    return "unknown"


def affinity_cores() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return None


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


# A copy of the project shipped to another machine can name the commit it was
# copied from; then `dirty` is unknown.
SOURCE_COMMIT_VARIABLE = "PARBENCH_SOURCE_COMMIT"


def git_state(repo: Path | None = None) -> tuple[str, bool | None]:
    """(commit, dirty) of the project checkout, or ("unknown", None) outside git."""
    shipped_from = os.environ.get(SOURCE_COMMIT_VARIABLE)
    if shipped_from:
        # Set by whoever shipped the tree, so it wins over a .git that may have
        # travelled stale beside it (seen on the 16-CPU machine).
        return shipped_from, None
    cwd = repo or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, check=True,
        ).stdout
        return commit, bool(status.strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown", None


def config_hash(settings: dict) -> str:
    """Short, stable hash of the experiment settings a row was measured under."""
    encoded = json.dumps(settings, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


def provenance(blas_threads: int) -> dict[str, object]:
    """Columns that let every CSV describe the machine and software it came from."""
    import psutil

    commit, dirty = git_state()
    row: dict[str, object] = {
        "hostname": socket.gethostname(),
        "cpu_model": cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores(),
        "affinity_cores": affinity_cores(),
        "cgroup_cpu_quota": cgroup_cpu_limit(),
        "available_cores": available_cores(),
        "memory_bytes": psutil.virtual_memory().total,
        "shm_bytes": shm_bytes(),
        "os": f"{platform.system()} {platform.release()}",
        "python_version": platform.python_version(),
        "python_free_threaded_build": free_threaded_build(),
        # Read after the tasks ran: an extension module may have turned it back on.
        "gil_enabled": gil_enabled(),
        "default_start_method": default_start_method(),
        "blas_threads": blas_threads,
        "blas_library": blas_library(),
        "git_commit": commit,
        "git_dirty": dirty,
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    for name in recorded_packages():
        row[f"{name}_version"] = package_version(name)
    return row


def default_start_method() -> str:
    return multiprocessing.get_start_method(allow_none=False)
