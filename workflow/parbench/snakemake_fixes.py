"""A fix to Snakemake that a sweep of thousands of jobs needs, applied by the workflow
(common.smk) when it loads: the same answers, in linear time.

Before a job starts, Snakemake 9's `Job.prepare` asks `is_pipe_or_service_input` of
each input file, and that scans every job the input could come from: quadratic in the
inputs. A workload's aggregation at 10,000 jobs has thousands of per-job CSVs as input
and waited about a second on it, the `all` rule about four. Here each job's pipe and
service inputs are gathered once, on the first question, and every question after is a
set lookup. Where Snakemake's Job has no such method (another version), nothing is
changed.
"""

from __future__ import annotations

import weakref
from typing import Any


def linear_pipe_or_service_check() -> bool:
    """Replace `snakemake.jobs.Job.is_pipe_or_service_input` with a lookup in the
    job's pipe and service inputs, gathered once per job. True where replaced."""
    from snakemake import jobs

    original = getattr(jobs.Job, "is_pipe_or_service_input", None)
    if original is None or getattr(original, "parbench_linear", False):
        return original is not None
    # Jobs have __slots__: the sets live beside them, gone with the job.
    gathered: weakref.WeakKeyDictionary[Any, frozenset] = weakref.WeakKeyDictionary()

    def is_pipe_or_service_input(self: Any, path: Any) -> bool:
        inputs = gathered.get(self)
        if inputs is None:
            inputs = gathered[self] = frozenset(
                file for dependency, files in self.dag.dependencies[self].items()
                if dependency.pipe_or_service_output
                for file in files if file in dependency.pipe_or_service_output)
        return path in inputs

    is_pipe_or_service_input.parbench_linear = True  # type: ignore[attr-defined]
    jobs.Job.is_pipe_or_service_input = is_pipe_or_service_input
    return True
