"""The values of the `status` column, declared once: what each says, whether a per-job
row may carry it, and whether its times were measured (figures draw those, statistics
use them; parbench.figures.style marks the others)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Status:
    name: str
    per_job: bool  # a per-job row may say it (the others are summary.csv's alone)
    measured: bool  # its rows' times stand
    meaning: str


OK, PARTIAL, ERROR = "ok", "partial", "error"
UNSUPPORTED, EXCLUDED, INVALID_FILE = "unsupported", "excluded (loaded)", "invalid file"

STATUSES = (
    Status(OK, True, True, "measured and verified"),
    Status(PARTIAL, False, True, "some samples failed, the others stand"),
    Status(ERROR, True, False, "failed (per job: the row that records the failure, its "
           "`seconds` empty; per combination: no sample succeeded)"),
    Status(UNSUPPORTED, True, False, "the series has no idiomatic way to run the combination"),
    Status(EXCLUDED, False, False, "`exclude_loaded` left every replicate out"),
    Status(INVALID_FILE, False, False, "a per-job CSV `skip_invalid` left out (its `error` "
           "names the file)"),
)
# The statuses whose times stand, and those a job ends on without any.
MEASURED = tuple(status.name for status in STATUSES if status.measured)
PER_JOB = frozenset(status.name for status in STATUSES if status.per_job)
FAILURES = tuple(status.name for status in STATUSES if status.per_job and not status.measured)


def meanings(per_job: bool) -> str:
    """The statuses a table's rows may carry, in words (the `status` column's meaning)."""
    return "; ".join(f"`{status.name}`: {status.meaning}" for status in STATUSES
                     if status.per_job or not per_job)
