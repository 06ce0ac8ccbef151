"""A timing job executed again on the interpreter its series names
(parbench.interpreters): `python -m parbench.measure.elsewhere '<run_job's arguments
as JSON>'`. The process is the job's own (an exec, not a child): Snakemake's SIGTERM,
the job's log and its guard reach it as they would the job."""

from __future__ import annotations

import json
import sys

from parbench.backends import Series
from parbench.identity import Job
from parbench.measure.slot import run_job
from parbench.settings import JobSettings


def main(argument: str) -> None:
    given = json.loads(argument)
    run_job(Job(**given["job"]), JobSettings(**given["settings"]),
            Series(**given["series"]), given["output"],
            workload_plugin=given["workload_plugin"], timing_lock=given["timing_lock"],
            config_hash=given["config_hash"], planned_round=given["planned_round"])


# Guarded: Pool workers started by spawn or forkserver import this module again.
if __name__ == "__main__":
    main(sys.argv[1])
