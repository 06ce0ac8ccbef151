"""The interface every backend implements (one module per backend).

A job drives a backend through three timed phases: `start()` (until its
workers can take work), `map()` (until every result is back in the driver) and
`stop()` (until its processes are gone). `stop()` must be safe to call after a
failed or partial `start()`: it is always called, on errors too.

Everything else parbench knows about a backend is written on its class: the
docs tables, the figures' colour and marker, the packages whose versions go into
every row, the processes it starts (leak checks) and the helpers it may leave
(not leaks), its options with their defaults, and its named variants.
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from parbench.columns import Column
from parbench.workloads.base import Task

# The most tasks a map may have (the config schema's `tasks` maximum; a test holds the
# two together): a chunk or batch size beyond it is a mistake, and islice's overflow.
MAX_TASKS = 10_000_000


def option(default: Any, help: str, *, choices: tuple = (), kind: type | None = None,
           minimum: float | None = None, maximum: float | None = None,
           pattern: str | None = None, connection: bool = False) -> Any:
    """One field of a backend's Options: its default and a one-line description.

    A config value is accepted when it is one of `choices`, or an instance of
    `kind` (from `minimum` to `maximum`, for numbers; matching the regular expression
    `pattern`, for strings). A `connection` option says where an existing cluster
    is: it is given by a target in the config's `clusters`, never by a series, and a
    backend given one connects instead of starting its own.
    """
    return field(default=default, metadata={"help": help, "choices": tuple(choices),
                                            "kind": kind, "minimum": minimum,
                                            "maximum": maximum,
                                            "pattern": pattern, "connection": connection})


@dataclass(frozen=True)
class NoOptions:
    """A backend without options of its own."""


@dataclass(frozen=True)
class Variant:
    """A named set of non-default options that makes a series of its own
    (`<backend>-<variant>`, e.g. `pool-shm`)."""

    options: Mapping[str, Any]
    summary: str  # what changes, for the docs tables


@dataclass(frozen=True)
class Limits:
    """What a job allows any backend; recorded in the job's rows."""

    map_timeout_seconds: float = 300.0  # a map still running then is a failure row
    start_timeout_seconds: float = 120.0  # for workers or engines to start


class Backend(ABC):
    # Identity and docs (README's "What runs" table is generated from these).
    name: ClassVar[str]
    summary: ClassVar[str]  # how the tasks run
    startup_covers: ClassVar[str]  # what the timed start-up includes
    shared_input_travels: ClassVar[str]  # how the workload's shared input reaches tasks
    # Figures: one colour (hex) and one matplotlib marker per backend.
    colour: ClassVar[str]
    marker: ClassVar[str]
    # Provenance: packages whose versions go into every row.
    packages: ClassVar[tuple[str, ...]] = ()
    # Command-line fragments of the long-lived processes it starts (leak checks),
    # and of helpers that may outlive stop() by design (not leaks).
    process_markers: ClassVar[tuple[str, ...]] = ()
    helper_processes: ClassVar[tuple[str, ...]] = ()
    # True when `workers` does not apply (the serial loop always uses one core).
    single_process: ClassVar[bool] = False
    # True when tasks run inside the job's own process (the serial loop, threads).
    in_job_process: ClassVar[bool] = False
    # Columns of its own (written `backend_<name>`, carried into summary.csv), whose
    # values `recorded` gives beside the table's `chunksize` and `start_method`.
    columns: ClassVar[tuple[Column, ...]] = ()
    Options: ClassVar[type] = NoOptions
    variants: ClassVar[Mapping[str, Variant]] = {}

    def __init__(self, workers: int, options: Any = None, limits: Limits | None = None) -> None:
        self._workers = workers
        self.options = options if options is not None else self.Options()
        self.limits = limits or Limits()

    @property
    def workers(self) -> int:
        return 1 if self.single_process else self._workers

    # True when the driver can reach every worker once after the maps
    # (`worker_states`): what a stateful workload needs.
    supports_worker_states: ClassVar[bool] = False

    def start(self, worker_setup: Callable[[], Any] | None = None) -> None:  # noqa: B027
        """Start the workers and return once they can take tasks. `worker_setup`, when
        given, runs once on every worker, the backend's idiomatic way, before that, and
        its result is what `parbench.worker_state.current()` returns there."""

    @abstractmethod
    def map(self, task: Task, tasks: int, shared_input: Any) -> list[float]:
        """Run task(i, shared_input) for i in range(tasks); return results in order."""

    def between_samples(self) -> None:  # noqa: B027 - optional phase
        """After each timed sample, outside its timer: free what its maps left for
        later (joblib's memory-mapped copies of the shared input)."""

    def stop(self) -> None:  # noqa: B027 - optional phase
        """Stop every process `start` began. Idempotent."""

    def worker_states(self) -> list[Any]:
        """Every worker's `worker_state.snapshot()`, once each (see supports_worker_states)."""
        raise NotImplementedError(f"{self.name} cannot reach every worker after a map")

    def shared_memory_bytes(self, shared_input_bytes: int) -> int:
        """How much of `/dev/shm` a map needs for a shared input of this size (Ray's
        object store, `multiprocessing.shared_memory`); checked before anything is
        allocated."""
        return 0

    def chunksize(self, tasks: int) -> int | None:
        """Tasks sent per dispatch, recorded in the job's rows (None: not chunked)."""
        return None

    # Where the options say where an existing cluster is in more than one way: each way's
    # options (ipyparallel: a connection file, or a profile and cluster id). Options of
    # two ways are never given together.
    connection_ways: ClassVar[tuple[tuple[str, ...], ...]] = ()

    # For the cost model (parbench.model), how the series spreads work and ships data:
    # `dynamic`: a free worker takes the next chunk of `chunksize` tasks (one task where
    # not chunked); `static`: the tasks are split evenly before the map starts.
    scheduling: ClassVar[str] = "dynamic"
    # Tasks run as Python threads of one process: a kernel that holds the GIL runs them
    # one at a time.
    shares_the_gil: ClassVar[bool] = False

    def shared_input_copies(self, tasks: int, nbytes: int) -> int:
        """How many times one map ships a shared input of `nbytes` to the workers
        (what `shared_input_travels` says, as a count): 0 where tasks read it in place."""
        return 0

    def recorded(self, tasks: int) -> dict[str, Any]:
        """What this backend actually used, for every row of its job: `chunksize`, and
        any of its own `columns`."""
        return {"chunksize": self.chunksize(tasks)}

    @property
    def on_cluster(self) -> bool:
        """Connected to an existing cluster (a connection option is set): start-up is
        connect time, and stop() disconnects without stopping anything of the cluster."""
        return any(getattr(self.options, option_field.name) is not None
                   for option_field in connection_fields(type(self)))

    def cluster_resources(self) -> dict[str, Any]:
        """What the cluster reports of itself, once connected (the columns of the
        group `cluster` in parbench.columns)."""
        return {}


def spread_over_hosts(members_by_host: Mapping[str, list[Any]], count: int) -> list[Any]:
    """`count` of a cluster's workers (engines), taking its hosts in turn: as many
    nodes as `count` allows carry the job, as a placement spread over nodes would."""
    widest = max(map(len, members_by_host.values()), default=0)
    spread = [members[turn] for turn in range(widest)
              for members in members_by_host.values() if turn < len(members)]
    return spread[:count]


def node_cpus_cell(cpus_by_node: list[tuple[str, float]]) -> str:
    """`cluster_node_cpus`: `host:cpus` per node, `;`-separated, in the cluster's order."""
    return ";".join(f"{node}:{cpus:g}" for node, cpus in cpus_by_node)


def call_task(task: Task, index: int, shared_input: Any = None) -> float:
    """Module-level trampoline so engines unpickle tasks by reference."""
    return task(index, shared_input)


def option_fields(backend: type[Backend]) -> list[dataclasses.Field]:
    return list(dataclasses.fields(backend.Options))


def connection_fields(backend: type[Backend]) -> list[dataclasses.Field]:
    """The options that say where an existing cluster is (none: local only)."""
    return [option_field for option_field in option_fields(backend)
            if option_field.metadata.get("connection")]


def allowed_values(option_field: dataclasses.Field) -> str:
    """What a config may give for this option, in words (docs and errors)."""
    meta = option_field.metadata
    allowed = [f"`{'null' if choice is None else choice}`" for choice in meta["choices"]]
    if meta["kind"] is not None:
        bound = f" ≥ {meta['minimum']:g}" if meta["minimum"] is not None else ""
        bound += f" ≤ {meta['maximum']:g}" if meta.get("maximum") is not None else ""
        form = f" matching `{meta['pattern']}`" if meta["pattern"] else ""
        allowed.append(f"any {meta['kind'].__name__}{bound}{form}")
    return ", ".join(allowed)


def check_option(option_field: dataclasses.Field, value: Any, key: str) -> None:
    meta = option_field.metadata
    # Compared with the type too, so that `True` does not pass for a choice `1`.
    if any(value == choice and type(value) is type(choice) for choice in meta["choices"]):
        return
    kind, minimum, maximum, pattern = (meta["kind"], meta["minimum"], meta.get("maximum"),
                                       meta["pattern"])
    if (kind is not None and isinstance(value, kind) and not isinstance(value, bool)
            and (minimum is None or value >= minimum)
            and (maximum is None or value <= maximum)
            and (pattern is None or re.fullmatch(pattern, str(value)))):
        return
    raise ValueError(f"config key {key}: {value!r} is not allowed; allowed: "
                     f"{allowed_values(option_field)}")


def make_options(backend: type[Backend], values: Mapping[str, Any], key: str) -> Any:
    """The backend's Options from config values, refusing unknown names and bad values
    with an error that names the config key."""
    known = {option_field.name: option_field for option_field in option_fields(backend)}
    for name, value in values.items():
        if name not in known:
            raise ValueError(f"config key {key}.{name}: backend {backend.name!r} has no option "
                             f"{name!r}; its options: {sorted(known) or 'none'}")
        check_option(known[name], value, f"{key}.{name}")
    return backend.Options(**values)
