"""The article's own code against parbench's `exp_sinh` python kernel, on this machine.

    python -m benchmarks.article [--iterations 10000000] [--rounds 3]

The article's code (shared/SEED.md: the seed loop evaluates `exp(x) * sinh(x)` for
x = 1, `[1] * 10**7`, in a list comprehension whose result is thrown away, for
inputs 0..9; its Pool version creates `Pool(10)` before the timer and times
`pool.map`), timed as the article timed it (`time.time()` around the calls), in
a fresh interpreter per run. Beside it, parbench's serial and Pool jobs on the
same problem (`measure()`: warm-up, timed samples, verified results), in
alternating rounds so that drift hits both. Prints a table and writes
results/bench/article.csv.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd

from parbench import machine
from parbench.measure import Job, JobSettings, limit_threads, measure

OUTPUT = Path("results/bench/article.csv")

# The article's program, as its text gives it; only the iteration count and the
# process count are filled in. Its print per task is kept: it is part of what it timed.
ARTICLE_SERIAL = """
import math, time
iterations_count = {iterations}
def complex_operation(input_index):
    print("Complex operation. Input index: {{:2d}}".format(input_index))
    [math.exp(i) * math.sinh(i) for i in [1] * iterations_count]
def run_complex_operations(operation, input):
    for i in input:
        operation(i)
input = range(10)
start = time.time()
run_complex_operations(complex_operation, input)
print("SECONDS", time.time() - start)
"""

ARTICLE_POOL = """
import math, time
from multiprocessing import Pool
iterations_count = {iterations}
def complex_operation(input_index):
    print("Complex operation. Input index: {{:2d}}".format(input_index))
    [math.exp(i) * math.sinh(i) for i in [1] * iterations_count]
def run_complex_operations(operation, input, pool):
    pool.map(operation, input)
processes_count = {processes}
if __name__ == "__main__":
    processes_pool = Pool(processes_count)
    input = range(10)
    start = time.time()
    run_complex_operations(complex_operation, input, processes_pool)
    print("SECONDS", time.time() - start)
    processes_pool.close()
    processes_pool.join()
"""


def run_article(program: str) -> float:
    # In a session of its own: stopped by a timeout (or ^C), its Pool's workers are
    # stopped with it (the group is the one this call made, named by its leader's PID).
    article = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = article.communicate(timeout=1800)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(article.pid, signal.SIGKILL)
        article.wait()
        raise
    if article.returncode != 0:
        raise subprocess.CalledProcessError(article.returncode, article.args, stdout, stderr)
    line = next(line for line in stdout.splitlines() if line.startswith("SECONDS"))
    return float(line.split()[1])


def run_parbench(backend: str, iterations: int, workers: int) -> float:
    rows = measure(Job("exp_sinh", "python", backend, iterations, 10, workers),
                   JobSettings(min_repeats=3, max_repeats=3, calibration_repeats=0,
                               remeasure_loaded=0))
    if not (rows["status"] == "ok").all() or not rows["verified"].all():
        raise RuntimeError(f"parbench's {backend} job failed: {rows['error'].iloc[-1]}")
    return float(rows["seconds"].median())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args(argv)
    limit_threads(1)
    workers = machine.available_cores()
    sides = {
        "article, serial loop": lambda: run_article(
            ARTICLE_SERIAL.format(iterations=arguments.iterations)),
        f"article, Pool({workers})": lambda: run_article(
            ARTICLE_POOL.format(iterations=arguments.iterations, processes=workers)),
        "article, Pool(10) as written": lambda: run_article(
            ARTICLE_POOL.format(iterations=arguments.iterations, processes=10)),
        "parbench serial (median of 3 samples)": lambda: run_parbench(
            "serial", arguments.iterations, 1),
        f"parbench pool, {workers} workers (median of 3 samples)": lambda: run_parbench(
            "pool", arguments.iterations, workers),
    }
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(arguments.rounds):  # alternate the sides round by round
        for name, run in sides.items():
            seconds[name].append(run())
    table = pd.DataFrame([{"run": name, "median_seconds": statistics.median(values),
                           "min_seconds": min(values), "max_seconds": max(values),
                           "rounds": len(values), "iterations": arguments.iterations,
                           "tasks": 10} for name, values in seconds.items()])
    for column, value in machine.provenance(1).items():
        table[column] = value
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUTPUT, index=False)
    print(table[["run", "median_seconds", "min_seconds", "max_seconds", "rounds"]].to_string(
        index=False, float_format="{:.2f}".format))
    print(f"\nmachine: {table['cpu_model'][0]}, {workers} cores available; written to {OUTPUT}")


if __name__ == "__main__":
    main()
