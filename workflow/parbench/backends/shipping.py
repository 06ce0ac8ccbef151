"""What a job runs on an existing cluster's processes where parbench may not be
importable yet: the standard library only, sent by value (`send_by_value`), never
imported there.

A Dask cluster's workers are often started from another environment than the job's.
The job asks each chosen worker which parbench it imports (`source_digest`: a digest of
its sources). Where none, it sends its own as a zip, which the worker puts first on its
path for the job (`install_archive`) and takes off again as the job stops
(`remove_archive`): the worker is left as found, and the next job sends its own code,
never an older one's. Where another parbench than the job's, the job refuses to run
there: tasks would run code the job does not. Functions pickled by reference would need
parbench on the worker to be read at all.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import io
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

PACKAGE = "parbench"


def send_by_value() -> None:
    """Have cloudpickle (which Dask's client uses for such functions) send this
    module's functions by value."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _sources(location: str) -> dict[str, bytes]:
    """The package's .py files by path inside the package, from a folder or from a zip
    on the path (`…/x.zip/parbench`)."""
    if os.path.isdir(location):
        root = Path(location)
        return {path.relative_to(root).as_posix(): path.read_bytes()
                for path in root.rglob("*.py")}
    archive, _, inside = location.partition(".zip")
    prefix = inside.strip("/") + "/"
    with zipfile.ZipFile(archive + ".zip") as opened:
        return {name.removeprefix(prefix): opened.read(name) for name in opened.namelist()
                if name.startswith(prefix) and name.endswith(".py")}


def source_digest() -> str | None:
    """A digest of the parbench this process would import (None: none), without
    importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    sources = _sources(list(spec.submodule_search_locations)[0])
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name] + b"\0")
    return digest.hexdigest()[:16]


def parbench_archive() -> tuple[bytes, str]:
    """This process's parbench as a zip, and a file name its sources decide."""
    spec = importlib.util.find_spec(PACKAGE)
    sources = _sources(list(spec.submodule_search_locations)[0])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(sources):
            # Fixed times: the same sources make the same bytes.
            archive.writestr(zipfile.ZipInfo(f"{PACKAGE}/{name}", (1980, 1, 1, 0, 0, 0)),
                             sources[name], zipfile.ZIP_DEFLATED)
    return buffer.getvalue(), f"{PACKAGE}-{source_digest()}.zip"


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
    """On a worker, as the job stops: the zip off the path, parbench's modules out of
    the cache, the file deleted (the worker as the job found it)."""
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
