"""What a job runs on an existing cluster's processes where parbench may not be
importable yet: the standard library only, sent by value (`send_by_value`), never
imported there.

A Dask cluster's workers are often started from another environment than the job's.
The job asks each chosen worker which parbench it has of its own (`installed_digest`: a
digest of its sources). Where none, it sends its own as a zip under a name of its own,
which the worker puts first on its path for the job (`install_archive`) and takes off
again as the job stops (`remove_archive`): the worker is left as found, and each job
runs its own code, never another job's. Where another parbench than the job's, the job
refuses to run there: tasks would run code the job does not. Functions pickled by
reference would need parbench on the worker to be read at all.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import os
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

PACKAGE = "parbench"
# How the archives jobs send are named (and told from a parbench a worker has of its own).
SENT = "parbench-sent-"


def send_by_value() -> None:
    """Have cloudpickle (which Dask's client uses for such functions) send this
    module's functions by value."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _archive_of(location: str) -> tuple[str, str] | None:
    """(archive, path inside it) where `location` lies inside a zip file (a .zip, .egg,
    .pyz: whatever zipimport reads); None where it is a folder."""
    head, inside = location, ""
    while head and not os.path.isdir(head):
        if os.path.isfile(head):
            return head, inside
        head, tail = os.path.split(head)
        inside = f"{tail}/{inside}" if inside else tail
    return None


def _sources(location: str) -> dict[str, bytes]:
    """The package's .py files by path inside the package, from a folder (regular files
    only: an editor's lock link is none) or from an archive on the path."""
    archived = _archive_of(location)
    if archived is None:
        root = Path(location)
        return {path.relative_to(root).as_posix(): path.read_bytes()
                for path in root.rglob("*.py") if path.is_file()}
    archive, inside = archived
    prefix = inside.strip("/") + "/"
    with zipfile.ZipFile(archive) as opened:
        return {name.removeprefix(prefix): opened.read(name) for name in opened.namelist()
                if name.startswith(prefix) and name.endswith(".py")}


def _location() -> str | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def source_digest() -> str | None:
    """A digest of the parbench this process would import (None: none; `unreadable`
    where its sources cannot be read), without importing it."""
    location = _location()
    if location is None:
        return None
    try:
        return _digest(_sources(location))
    except OSError:
        return "unreadable"


def _digest(sources: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    return digest.hexdigest()[:16]


def installed_digest() -> str | None:
    """On a worker: the digest of the parbench it has of its own; None where it has none,
    or only one a job sent (`SENT`), which goes with that job."""
    location = _location()
    if location is None or SENT in location:
        return None
    return source_digest()


def parbench_archive() -> tuple[bytes, str]:
    """This process's parbench as a zip, and a file name of its own."""
    sources = _sources(_location())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(sources):
            # Fixed times: the same sources make the same bytes.
            archive.writestr(zipfile.ZipInfo(f"{PACKAGE}/{name}", (1980, 1, 1, 0, 0, 0)),
                             sources[name], zipfile.ZIP_DEFLATED)
    # A name of this job's own: two jobs on one worker never take each other's away.
    return buffer.getvalue(), f"{SENT}{_digest(sources)}-{os.getpid()}-{uuid.uuid4().hex[:8]}.zip"


def _forget_imported() -> None:
    """parbench's modules out of this process's cache: the next import reads the path."""
    for name in [name for name in sys.modules
                 if name == PACKAGE or name.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _archive_path(name: str, dask_worker: Any) -> str:
    folder = getattr(dask_worker, "local_directory", None) or os.getcwd()
    return os.path.join(folder, name)


def install_archive(data: bytes, name: str, dask_worker: Any = None) -> str | None:
    """On a worker: write the zip into its own folder (Dask's `local_directory`), put it
    first on `sys.path`, and say which parbench it imports now (`source_digest`)."""
    path = _archive_path(name, dask_worker)
    partial = f"{path}.{os.getpid()}.partial"
    with open(partial, "wb") as file:
        file.write(data)
    os.replace(partial, path)
    if path not in sys.path:
        sys.path.insert(0, path)
    _forget_imported()
    return source_digest()


def remove_archive(name: str, dask_worker: Any = None) -> bool:
    """On a worker, as the job stops: its zip off the path, parbench's modules out of the
    cache (the next import reads another job's zip, if one is still there), the file
    deleted (the worker as the job found it)."""
    path = _archive_path(name, dask_worker)
    while path in sys.path:
        sys.path.remove(path)
    _forget_imported()
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    return True


def scheduler_rules(dask_scheduler: Any = None) -> dict[str, Any]:
    """On a Dask scheduler: the rules a job started locally sets otherwise (a task whose
    worker died is re-run that many times, the active memory manager drops copies)."""
    extension = getattr(dask_scheduler, "extensions", {}).get("amm")
    return {"allowed_failures": getattr(dask_scheduler, "allowed_failures", None),
            "active_memory_manager": bool(getattr(extension, "running", False))}
