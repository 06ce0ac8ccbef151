"""What a job runs on an existing cluster's processes where parbench may not be
importable yet: the standard library only, sent by value (`send_by_value`), never
imported there.

A Dask cluster's workers are often started from another environment than the job's:
the job asks whether parbench imports there and, where it does not, sends the package
as a zip that the worker puts on its `sys.path` (named by its content: a later job of
the same parbench finds it there). Functions pickled by reference would need parbench
on the worker to be read at all.
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


def send_by_value() -> None:
    """Have cloudpickle (which Dask's client uses for such functions) send this
    module's functions by value."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def parbench_importable() -> bool:
    return importlib.util.find_spec("parbench") is not None


def parbench_archive() -> tuple[bytes, str]:
    """The parbench package as a zip, and a file name that its content decides."""
    import parbench

    package = Path(parbench.__file__).resolve().parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*.py")):
            # Fixed times: the same sources make the same bytes, and the same name.
            info = zipfile.ZipInfo(str(path.relative_to(package.parent)), (1980, 1, 1, 0, 0, 0))
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    return data, f"parbench-{hashlib.sha256(data).hexdigest()[:16]}.zip"


def install_archive(data: bytes, name: str, dask_worker: Any = None) -> bool:
    """On a worker: write the zip into its own folder (Dask's `local_directory`), put it
    first on `sys.path`, and say whether parbench imports now."""
    folder = getattr(dask_worker, "local_directory", None) or os.getcwd()
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        partial = f"{path}.{os.getpid()}.partial"
        with open(partial, "wb") as file:
            file.write(data)
        os.replace(partial, path)
    if path not in sys.path:
        sys.path.insert(0, path)
    importlib.invalidate_caches()
    return parbench_importable()


def scheduler_rules(dask_scheduler: Any = None) -> dict[str, Any]:
    """On a Dask scheduler: the rules a job started locally sets otherwise (a task whose
    worker died is re-run that many times, the active memory manager drops copies)."""
    extension = getattr(dask_scheduler, "extensions", {}).get("amm")
    return {"allowed_failures": getattr(dask_scheduler, "allowed_failures", None),
            "active_memory_manager": bool(getattr(extension, "running", False))}
