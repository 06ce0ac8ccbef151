"""What one timing job is, where its CSV lives, and how to read that back.

The fields of `Job` are the identity columns of every CSV (parbench.columns takes
their meanings from here), the wildcards of the `measure` rule, and the parts of the
per-job path `RAW_CSV`; `parse_job_csv` is derived from that one pattern. Nothing
heavy is imported: Snakemake reads this at parse time, for every job.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any


def _identity(meaning: str, pattern: str = r"[^/]+", **default: Any) -> Any:
    """A field of the identity: its meaning (docs) and what its path part may be."""
    return field(metadata={"meaning": meaning, "pattern": pattern}, **default)


WHOLE = r"\d+"
# A kernel's name is a folder of results/raw and a wildcard: letters, digits and `_`.
KERNEL_NAME = r"[A-Za-z0-9_]+"


@dataclass(frozen=True)
class Job:
    """One timing job: a combination in one replicate (its own process, own start)."""

    workload: str = _identity("the workload (`exp_sinh`, `shared_array`, …)")
    kernel: str = _identity("the workload's kernel (`python`, `numpy`, `passes4`, …)",
                            KERNEL_NAME)
    series: str = _identity(
        "the series: a registered backend (`pool`), one of its declared variants "
        "(`pool-shm`), a `<backend>-<label>` of the config, each on a cluster as "
        "`<series>@<cluster>` (files before format 2 call this column `backend`)")
    size: int = _identity("problem size, in the workload's `size_unit`", WHOLE)
    tasks: int = _identity("independent task calls per map", WHOLE)
    workers: int = _identity("worker processes or threads (always 1 for `serial`)", WHOLE)
    replicate: int = _identity(
        "0-based replicate: each is its own job (own process, own backend start), run "
        "apart from the others", WHOLE, default=0)

    @property
    def combination(self) -> Job:
        """The same job in replicate 0: what its replicates have in common."""
        return dataclasses.replace(self, replicate=0)

    @classmethod
    def from_wildcards(cls, wildcards: Any) -> Job:
        """From Snakemake's wildcards (all strings) to typed fields."""
        return cls(**typed({one.name: wildcards[one.name] for one in FIELDS}))


# Where a series runs: `local` (the job's own machine) or a cluster of the config's
# `clusters`, which ends the series' name (`ray@lab`).
LOCAL = "local"


def target_of(series_name: str) -> str:
    """The target a series name says it runs on (`ray@lab` -> `lab`)."""
    return series_name.partition("@")[2] or LOCAL


FIELDS = dataclasses.fields(Job)
# The identity columns: of a combination (every replicate), and of one job.
COMBINATION = tuple(one.name for one in FIELDS if one.name != "replicate")
JOB = COMBINATION + ("replicate",)
# What a speedup divides: the serial loop (the series `SERIAL`, its backend's name:
# parbench.backends.serial) on the same problem.
PROBLEM = ("workload", "kernel", "size", "tasks")
SERIAL = "serial"

# One wildcard pattern for every per-job CSV, and the same for its log.
RAW_CSV = ("results/raw/{workload}/{kernel}/{series}/"
           "size{size}_tasks{tasks}_workers{workers}_rep{replicate}.csv")
RAW_LOG = RAW_CSV.replace("results/raw/", "results/logs/measure/").replace(".csv", ".log")

# RAW_CSV read back: each field's pattern as a named group; the folders above
# `raw/` may be anything. Files of one job per combination had no `_rep` part.
_PART = {one.name: one.metadata["pattern"] for one in FIELDS}
_PATTERN = re.compile(
    re.sub(r"\\\{(\w+)\\\}", lambda match: f"(?P<{match.group(1)}>{_PART[match.group(1)]})",
           re.escape(RAW_CSV.removeprefix("results/raw/")))
    .replace(r"_rep(?P<replicate>\d+)", r"(?:_rep(?P<replicate>\d+))?") + "$")


def job_csv(job: Job) -> str:
    # Fields read directly: dataclasses.asdict deep-copies, and planning a sweep of
    # 10,000 jobs calls this about 40,000 times.
    return RAW_CSV.format(**{name: getattr(job, name) for name in JOB})


def parse_job_csv(path: str) -> Job | None:
    """The job a per-job CSV's path names (None: not such a path)."""
    match = _PATTERN.search(str(path))
    if match is None:
        return None
    return Job(**typed({name: value for name, value in match.groupdict().items()
                        if value is not None}))


def typed(values: dict[str, str]) -> dict[str, Any]:
    """Identity fields given as text (a path's parts, wildcards), typed."""
    return {one.name: int(values[one.name]) if one.type == "int" else str(values[one.name])
            for one in FIELDS if one.name in values}


def wildcard_patterns() -> dict[str, str]:
    """Snakemake's wildcard constraints for the fields whose path part is not any
    folder name: numbers, and the kernel's name."""
    return {one.name: one.metadata["pattern"] for one in FIELDS
            if one.metadata["pattern"] != r"[^/]+"}
