"""`make bench`'s fourth check: threads on the free-threaded CPython, through the
harness (series `threads-ft`: the job re-executes itself on that interpreter) against
a bare `ThreadPoolExecutor.map` of the same kernel on the same interpreter. Target:
ratio <= 1.05 (the harness adds no more than 5 % to a warm map of threads).

One round: one harness job (its warm-up, then 3 timed maps, one map per sample, no
waiting for a quiet machine), then one bare script (one untimed map, 3 timed); each
side's value is the median of its 3 maps. Skipped, with the reason, when the
interpreter is not built (`make freethreaded` builds it, about 2 to 3 minutes).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from parbench import interpreters
from parbench.backends import resolve_series

BUILD = "free-threaded"
SIZE, TASKS, WORKERS = 200_000, 10, 2

# The bare side: the article's kernel on a plain ThreadPoolExecutor, on the interpreter.
BARE = """
import json, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
from parbench.workloads.exp_sinh import python_kernel
size, tasks, workers, samples = map(int, sys.argv[1:5])
with ThreadPoolExecutor(workers) as pool:
    def one_map():
        began = time.perf_counter()
        list(pool.map(python_kernel, [size] * tasks, range(tasks)))
        return time.perf_counter() - began
    one_map()
    print(json.dumps(statistics.median([one_map() for _ in range(samples)])))
"""

# The harness side: one timing job, as Snakemake's measure rule runs it.
HARNESS = """
import json, sys
from parbench.backends import Series
from parbench.measure import Job, JobSettings, run_job
job, settings, series = (json.loads(argument) for argument in sys.argv[1:4])
run_job(Job(**job), JobSettings(**settings), Series(**series), sys.argv[4])
"""


def python() -> Path:
    # absolute, not resolved: the venv's python is a link to the bare interpreter
    return Path(interpreters.built_python(BUILD)).absolute()


def skipped_reason() -> str | None:
    if not python().is_file():
        return f"{interpreters.built_python(BUILD)} is not built (make freethreaded)"
    return None


def one_round(samples: int) -> tuple[float, float]:
    from parbench.measure import Job, JobSettings

    workflow = str(Path("workflow").resolve())
    series = dataclasses.replace(resolve_series("threads"), name="threads-ft",
                                 interpreter="ft", interpreter_path=str(python()))
    job = Job("exp_sinh", "python", "threads-ft", SIZE, TASKS, WORKERS)
    settings = JobSettings(min_repeats=samples, max_repeats=samples, calibration_repeats=0,
                           min_sample_seconds=0.0, quiet_wait_seconds=0.0,
                           remeasure_loaded=0)
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "job.csv"
        subprocess.run([sys.executable, "-c", HARNESS,
                        json.dumps(dataclasses.asdict(job)),
                        json.dumps(dataclasses.asdict(settings)),
                        json.dumps(dataclasses.asdict(series)), str(output)],
                       check=True, timeout=600, env=_environment(workflow))
        rows = pd.read_csv(output)
    if (rows["status"] != "ok").any() or rows["gil_enabled"].any():
        raise RuntimeError(f"the harness's threads-ft job failed or ran with the GIL: "
                           f"{rows[['status', 'error', 'gil_enabled']].to_dict('records')}")
    harness = float(rows["seconds"].median())
    bare = subprocess.run([str(python()), "-c", BARE, str(SIZE), str(TASKS), str(WORKERS),
                           str(samples)], capture_output=True, text=True, check=True,
                          timeout=600, env=_environment(workflow))
    return harness, float(json.loads(bare.stdout))


def _environment(workflow: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": workflow}
