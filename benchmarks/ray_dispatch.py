"""What the harness's Ray dispatch costs over Ray's smallest task, in one Ray instance.

    python -m benchmarks.ray_dispatch [--rounds 5]

`make bench`'s Ray check compares the harness (its own Ray instance) with `ray
microbenchmark` (another process, another instance). This separates what the harness
adds from what differs between the two instances: in the harness's own Ray backend,
round after round, it times a map of 1,000 empty tasks three ways, each as the median
of 5 maps per task, after a warm-up map:

  harness        the backend's map (`dispatch_overhead`: each task a remote call of the
                 task, its index and the shared input, the harness's options);
  one argument   a remote function of the index alone, returning a float;
  no argument    the microbenchmark's task (`small_value`: no argument, returns b"ok").

Prints each side's median over rounds and the ratios to the no-argument task.
"""

from __future__ import annotations

import argparse
import statistics
import time

from parbench import machine
from parbench.backends import get_backend
from parbench.measure import dispatch_overhead, limit_threads
from parbench.probes import empty_task

TASKS, MAPS = 1_000, 5


def index_only(index: int) -> float:
    return empty_task(index)


def small_value() -> bytes:
    return b"ok"


def per_task_seconds(submit_map) -> float:
    submit_map()  # warm-up
    times = []
    for _ in range(MAPS):
        began = time.perf_counter()
        submit_map()
        times.append(time.perf_counter() - began)
    return statistics.median(times) / TASKS


def harness_per_task(backend) -> float:
    dispatch_overhead(backend, TASKS, 1)  # warm-up, as the other sides
    return dispatch_overhead(backend, TASKS, MAPS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args(argv)
    limit_threads(1)
    import ray

    backend = get_backend("ray", machine.available_cores())
    backend.start()
    try:
        one_argument = ray.remote(index_only)
        no_argument = ray.remote(small_value)
        sides = {
            "harness (task, index, shared input)": lambda: harness_per_task(backend),
            "one argument (index)": lambda: per_task_seconds(
                lambda: ray.get([one_argument.remote(i) for i in range(TASKS)])),
            "no argument (the microbenchmark's task)": lambda: per_task_seconds(
                lambda: ray.get([no_argument.remote() for _ in range(TASKS)])),
        }
        seconds: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(arguments.rounds):
            for name, side in sides.items():
                seconds[name].append(side())
    finally:
        backend.stop()
    reference = statistics.median(seconds["no argument (the microbenchmark's task)"])
    print(f"{'side':42s}{'us per task':>14s}{'min':>8s}{'max':>8s}{'/ no argument':>15s}")
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:42s}{median * 1e6:14.0f}{min(values) * 1e6:8.0f}"
              f"{max(values) * 1e6:8.0f}{median / reference:15.2f}")
    print(f"{arguments.rounds} rounds, {TASKS} tasks a map, median of {MAPS} maps a side; "
          f"{machine.available_cores()} cores, Ray {ray.__version__}")


if __name__ == "__main__":
    main()
