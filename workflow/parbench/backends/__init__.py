"""Registry of backends: adding one is a module plus one line here."""

from __future__ import annotations

from parbench.backends.base import Backend, BackendSettings
from parbench.backends.ipyparallel_engines import IpyparallelBackend
from parbench.backends.pool import PoolBackend
from parbench.backends.ray_tasks import RayBackend
from parbench.backends.serial import SerialBackend

BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls for cls in (SerialBackend, PoolBackend, IpyparallelBackend, RayBackend)
}


def get_backend(name: str, settings: BackendSettings) -> Backend:
    try:
        return BACKENDS[name](settings)
    except KeyError:
        raise ValueError(f"unknown backend {name!r}; known: {sorted(BACKENDS)}") from None


__all__ = ["BACKENDS", "Backend", "BackendSettings", "get_backend"]
