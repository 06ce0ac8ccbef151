"""`make bench`: cross-checks, measured side by side in one run, reported as ratios,
then the scale check (benchmarks/scale.py: the workflow on 1,000 and 10,000 synthetic
per-job CSVs: dry run, aggregation, plotting, and what one new CSV re-runs).

1. Harness overhead: the serial backend's median map time on the exp_sinh python
   kernel vs the same loop timed bare in this process. Target: ratio <= 1.03.
2. Parallel efficiency: Pool on the same kernel, workers = available cores,
   tasks = 4 x workers, vs the serial backend. Target: speedup / workers >= 0.9.
3. Dispatch overhead: the harness's Ray per-task overhead (a map of 1,000 empty
   tasks) vs `ray microbenchmark`'s "single client tasks async". Target: <= 1.5x.
   (`python -m benchmarks.ray_dispatch` times both kinds of task in one Ray instance:
   what the harness adds, apart from what differs between the two instances.)
4. Threads without the GIL: `threads-ft` through the harness vs a bare
   ThreadPoolExecutor.map on the same free-threaded CPython (benchmarks/freethreaded.py;
   skipped until `make freethreaded` has built it). Target: ratio <= 1.05.
5. The article's own code (benchmarks/article.py: its loop and its Pool(cores).map, each
   in a fresh interpreter as the article ran it) against parbench's serial and pool
   jobs on its problem, at 10^6 and 10^7 iterations x 10 tasks. Target: ratio <= 1.05.

Each check runs in rounds; a round measures one side, then the other, so drift
in the machine's speed hits both, and the two sides of a round form a pair.
Each ratio (median of one side over median of the other, from every round so
far) gets a 95 % paired percentile-bootstrap interval: resample whole rounds
with replacement (both sides of a drawn round together), take the ratio of the
two resampled medians, and read the 2.5th and 97.5th percentiles of 2,000 such
ratios (fixed seed, so the same rounds give the same interval). The verdict is
`met` when the whole interval is on the target's side of the threshold,
`missed` when the whole interval is on the other side, and `undecided` when it
straddles the threshold.

Rounds go on until the check is decided (checked after every round from
`min_rounds` on) or it reaches `max_rounds`, or another round would probably
end past its time budget (no new round starts once the elapsed time plus the
last round's duration exceeds it). A check stopped undecided is reported as
undecided. The bounds, chosen so that the checks take at most about
20 minutes on a 2-core machine (`python -m benchmarks article`: one part):

  check                min_rounds  max_rounds  budget   one round (2 cores)
  harness overhead         10         100       75 s     ~2 s
  parallel efficiency      10          60       75 s     ~4 s
  Ray dispatch              4           8      200 s     ~35 s
  free-threaded threads     6          30       90 s     ~5 s
  article, 10^6 (each)      6          20       90 s     ~7 s
  article, 10^7 (each)      4           6      300 s     ~35-60 s

The minimum rounds keep a bootstrap of very few rounds (whose interval is too
narrow) from deciding. Looking after every round is a sequential test: near
the threshold it decides a little more often than 5 % of the time wrongly, so
read a verdict decided at the minimum with a thin margin accordingly.

What one round is:
  harness overhead: the serial backend's job (its warm-up, then 3 timed maps,
    one map per sample, no waiting for a quiet machine nor re-measuring: the
    bare side can do neither), then one untimed and 3 timed bare maps; each
    side's value is the median of its 3 maps.
  parallel efficiency: one serial job and one Pool job of 3 timed samples
    each; each side's value is the median of its per-map times; the ratio is
    median(serial) / median(Pool) / workers.
  Ray dispatch: the harness's Ray per-task overhead (Ray started, one warm-up
    map, median of 5 maps of 1,000 empty tasks, Ray stopped), then one run of
    `ray microbenchmark` (its own Ray, its 10 s pause, 4 x 2 s of timing); the
    microbenchmark is stopped once it has printed its figure (what it runs
    after that is not this benchmark, and took ~50 s more).

Results: results/bench/bench.csv (and printed). A missed target is reported as
missed; the checks are not tuned to pass.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import write_with_provenance
from parbench import machine, resources, stats
from parbench.backends import get_backend
from parbench.measure import Job, JobSettings, dispatch_overhead, limit_threads, measure
from parbench.workloads.exp_sinh import python_kernel

OUTPUT = Path("results/bench/bench.csv")
MICROBENCHMARK = "single client tasks async"
MICROBENCHMARK_LINE = re.compile(rf"{MICROBENCHMARK} per second ([0-9.]+)")
MICROBENCHMARK_TIMEOUT_SECONDS = 300.0
SAMPLES_PER_SIDE = 3  # timed maps (or samples) per side per round
DISPATCH_MAPS = 5  # maps of empty tasks per harness Ray round
COLUMNS = ["check", "measured", "reference", "ratio", "ratio_ci_low", "ratio_ci_high",
           "target", "rounds", "verdict"]


# --- Pure functions: the statistics and the stopping rule ---------------------------------

def paired_rounds(numerator: Sequence[float],
                  denominator: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The rounds where both sides have a finite value, as two aligned arrays."""
    top, bottom = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if top.shape != bottom.shape or top.ndim != 1:
        raise ValueError(f"paired rounds need two equal-length sequences, got "
                         f"{top.shape} and {bottom.shape}")
    keep = np.isfinite(top) & np.isfinite(bottom)
    return top[keep], bottom[keep]


def ratio_of_medians(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    """median(numerator) / median(denominator) over the complete rounds: the point ratio."""
    top, bottom = paired_rounds(numerator, denominator)
    if top.size == 0:
        return math.nan
    return float(np.median(top) / np.median(bottom))


def paired_ratio_interval(numerator: Sequence[float], denominator: Sequence[float],
                          confidence: float = stats.CONFIDENCE,
                          resamples: int = stats.RESAMPLES,
                          seed: int = stats.SEED) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(numerator) / median(denominator) when
    numerator[i] and denominator[i] were measured together (round i): each resample
    draws rounds with replacement, both sides of a drawn round together, so drift
    shared by a round's two sides cancels. (nan, nan) without a complete round."""
    top, bottom = paired_rounds(numerator, denominator)
    if top.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, top.size, size=(resamples, top.size))
    ratios = np.median(top[picks], axis=1) / np.median(bottom[picks], axis=1)
    return stats.percentile_interval(ratios, confidence)


def verdict(low: float, high: float, threshold: float, better: str = "below") -> str:
    """`met` when the whole interval [low, high] is on the good side of `threshold`
    (the threshold itself counts as good: targets read `<=` and `>=`), `missed`
    when the whole interval is on the bad side, `undecided` otherwise (or nan).
    `better`: "below" for a target `ratio <= threshold`, "above" for `>=`."""
    if better not in ("below", "above"):
        raise ValueError(f"better must be 'below' or 'above', not {better!r}")
    if math.isnan(low) or math.isnan(high):
        return "undecided"
    if low > high:
        raise ValueError(f"interval low {low} > high {high}")
    if better == "below":
        good_all, bad_all = high <= threshold, low > threshold
    else:
        good_all, bad_all = low >= threshold, high < threshold
    return "met" if good_all else "missed" if bad_all else "undecided"


@dataclasses.dataclass(frozen=True)
class RoundLimits:
    """How many rounds a check runs at least and at most, and its time budget."""

    min_rounds: int
    max_rounds: int
    budget_seconds: float


def stop_reason(rounds: int, elapsed_seconds: float, last_round_seconds: float,
                current_verdict: str, limits: RoundLimits) -> str | None:
    """Why a check should run no more rounds, or None to run another. The verdict
    counts only from `min_rounds` on; no round starts that would probably end past
    the budget."""
    if rounds >= limits.min_rounds and current_verdict != "undecided":
        return "decided"
    if rounds >= limits.max_rounds:
        return "max_rounds"
    if elapsed_seconds + last_round_seconds > limits.budget_seconds:
        return "budget"
    return None


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A check's rounds and what they say."""

    numerator: list[float]
    denominator: list[float]
    ratio: float
    ratio_ci_low: float
    ratio_ci_high: float
    verdict: str
    stop_reason: str
    seconds: float

    @property
    def rounds(self) -> int:
        """Complete rounds (both sides measured)."""
        return paired_rounds(self.numerator, self.denominator)[0].size

    def medians(self) -> tuple[float, float]:
        """Each side's median over the complete rounds."""
        top, bottom = paired_rounds(self.numerator, self.denominator)
        return (float(np.median(top)), float(np.median(bottom))) if top.size else (
            math.nan, math.nan)


def assess(numerator: Sequence[float], denominator: Sequence[float], threshold: float,
           better: str, min_rounds: int, scale: float = 1.0) -> tuple[float, float, float, str]:
    """(ratio, ci_low, ci_high, verdict) of paired rounds; the ratio is multiplied
    by `scale` (a speedup over workers: scale = 1 / workers). Undecided before
    `min_rounds` complete rounds, whatever the interval says."""
    ratio = scale * ratio_of_medians(numerator, denominator)
    low, high = (scale * bound for bound in paired_ratio_interval(numerator, denominator))
    rounds = paired_rounds(numerator, denominator)[0].size
    said = verdict(low, high, threshold, better) if rounds >= min_rounds else "undecided"
    return ratio, low, high, said


# --- The rounds ------------------------------------------------------------------------

def run_rounds(name: str, one_round: Callable[[], tuple[float, float]], threshold: float,
               better: str, limits: RoundLimits, scale: float = 1.0) -> Outcome:
    """Rounds of `one_round` (numerator side, then denominator side) until stop_reason."""
    numerator: list[float] = []
    denominator: list[float] = []
    began = time.perf_counter()
    while True:
        round_began = time.perf_counter()
        top, bottom = one_round()
        numerator.append(top)
        denominator.append(bottom)
        now = time.perf_counter()
        ratio, low, high, said = assess(numerator, denominator, threshold, better,
                                        limits.min_rounds, scale)
        reason = stop_reason(len(numerator), now - began, now - round_began, said, limits)
        if reason:
            break
    print(f"{name}: {len(numerator)} rounds in {now - began:.0f} s, ratio {ratio:.4g} "
          f"[{low:.4g}, {high:.4g}]: {said} ({reason})", file=sys.stderr, flush=True)
    return Outcome(numerator, denominator, ratio, low, high, said, reason, now - began)


def map_seconds(rows: pd.DataFrame) -> float:
    """The median per-map time of one job's rows; a failed job stops the benchmark."""
    failed = rows[rows["status"] != "ok"] if "status" in rows else rows.iloc[:0]
    if len(failed) or not np.isfinite(rows["seconds"]).any():
        errors = failed["error"].tolist() if "error" in failed else []
        raise RuntimeError(f"a benchmark job failed: {errors}")
    return float(np.nanmedian(rows["seconds"]))


def harness_overhead(size: int = 200_000, tasks: int = 10) -> dict:
    combination = Job("exp_sinh", "python", "serial", size, tasks, 1)
    # One sample = one map, as in the bare loop; and no waiting for a quiet machine or
    # re-measuring a loaded job, which the bare side cannot do: under load the
    # harness side would keep only its quiet samples and look faster than the loop.
    settings = JobSettings(min_repeats=SAMPLES_PER_SIDE, max_repeats=SAMPLES_PER_SIDE,
                            calibration_repeats=0, min_sample_seconds=0.0,
                            quiet_wait_seconds=0.0, remeasure_loaded=0)

    def bare_map() -> float:
        began = time.perf_counter()
        for index in range(tasks):
            python_kernel(size, index)
        return time.perf_counter() - began

    def one_round() -> tuple[float, float]:
        bare_map()  # untimed, as the harness's warm-up
        bare = statistics.median([bare_map() for _ in range(SAMPLES_PER_SIDE)])
        harness = map_seconds(measure(combination, settings))
        return harness, bare

    outcome = run_rounds("harness overhead", one_round, 1.03, "below",
                         RoundLimits(min_rounds=10, max_rounds=100, budget_seconds=75))
    return row("harness overhead (serial backend / bare loop)", "<= 1.03", outcome,
               *outcome.medians())


def parallel_efficiency(size: int = 500_000) -> dict:
    workers = machine.available_cores()
    tasks = 4 * workers
    settings = JobSettings(min_repeats=SAMPLES_PER_SIDE, max_repeats=SAMPLES_PER_SIDE,
                            calibration_repeats=0)
    serial = Job("exp_sinh", "python", "serial", size, tasks, 1)
    pool = Job("exp_sinh", "python", "pool", size, tasks, workers)

    def one_round() -> tuple[float, float]:
        return map_seconds(measure(serial, settings)), map_seconds(measure(pool, settings))

    outcome = run_rounds("parallel efficiency", one_round, 0.9, "above",
                         RoundLimits(min_rounds=10, max_rounds=60, budget_seconds=75),
                         scale=1 / workers)
    return row(f"parallel efficiency (Pool speedup / {workers} workers, {tasks} tasks)",
               ">= 0.9", outcome, measured=outcome.ratio * workers, reference=float(workers))


def ray_microbenchmark_seconds_per_task() -> float:
    """Ray's own harness, limited to the one benchmark compared here.

    `TESTS_TO_RUN` filters Ray's benchmarks, but not its Ray Client part, which
    still starts a client server and a Ray instance per benchmark after ours
    has printed (and sometimes fails on a busy 2-core machine). So the command
    is stopped once it has printed the figure: SIGINT (its Ray shuts down), then
    whatever of its process tree outlives a grace period is terminated.
    """
    ray_cli = str(Path(sys.executable).with_name("ray"))
    environment = {**os.environ, "TESTS_TO_RUN": MICROBENCHMARK}
    printed: list[str] = []
    match = None
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([ray_cli, "microbenchmark"], env=environment,
                                   stdout=subprocess.PIPE, stderr=errors, text=True)
        watchdog = threading.Timer(MICROBENCHMARK_TIMEOUT_SECONDS, process.kill)
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                printed.append(line)
                match = MICROBENCHMARK_LINE.search(line)
                if match:
                    break
        finally:
            watchdog.cancel()
            stop_process_tree(process)
        if not match:
            errors.seek(0)
            raise RuntimeError(f"no '{MICROBENCHMARK}' line in `ray microbenchmark` output "
                               f"(exit {process.returncode}):\n{''.join(printed)}\n"
                               f"{errors.read()[-3000:]}")
    return 1.0 / float(match.group(1))


def stop_process_tree(process: subprocess.Popen) -> None:
    """Interrupt `process`, wait for it and everything it started; stop stragglers."""
    tree = resources.tree_processes(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    stragglers = resources.stop_leftovers(tree, grace_seconds=15.0)
    process.wait()
    if process.stdout is not None:
        process.stdout.close()
    if stragglers:
        print(f"note: terminated {len(stragglers)} process(es) of `ray microbenchmark` "
              f"that outlived it: {stragglers}", file=sys.stderr)


def harness_ray_seconds_per_task(tasks: int = 1_000) -> float:
    backend = get_backend("ray", machine.available_cores())
    try:
        backend.start()
        dispatch_overhead(backend, tasks, 1)  # warm-up: Ray's first tasks start workers
        return dispatch_overhead(backend, tasks, DISPATCH_MAPS)
    finally:
        backend.stop()


def dispatch_overhead_check() -> dict:
    def one_round() -> tuple[float, float]:
        return harness_ray_seconds_per_task(), ray_microbenchmark_seconds_per_task()

    outcome = run_rounds("Ray dispatch", one_round, 1.5, "below",
                         RoundLimits(min_rounds=4, max_rounds=8, budget_seconds=200))
    return row("Ray dispatch overhead per task (harness / ray microbenchmark async)", "<= 1.5",
               outcome, *outcome.medians())


def free_threaded_threads_check() -> dict | None:
    from benchmarks import freethreaded

    reason = freethreaded.skipped_reason()
    if reason:
        print(f"free-threaded threads: skipped: {reason}", file=sys.stderr)
        return None
    outcome = run_rounds("free-threaded threads", lambda: freethreaded.one_round(
        SAMPLES_PER_SIDE), 1.05, "below",
        RoundLimits(min_rounds=6, max_rounds=30, budget_seconds=90))
    return row("threads on free-threaded CPython (threads-ft / bare ThreadPoolExecutor.map)",
               "<= 1.05", outcome, *outcome.medians())


# The article's problem (exp_sinh python, 10 tasks) at the sizes crossovers sit near and
# at the article's own: per size, the parbench job's settings (timed maps, warm-up) and
# the rounds. At 10^7 a map takes ~12 s on one core: one map a side, no warm-up (the
# article has none either), few rounds.
ARTICLE_SIZES = {
    1_000_000: (dict(min_repeats=SAMPLES_PER_SIDE, max_repeats=SAMPLES_PER_SIDE),
                RoundLimits(min_rounds=6, max_rounds=20, budget_seconds=90)),
    10_000_000: (dict(min_repeats=1, max_repeats=1, warmups=0),
                 RoundLimits(min_rounds=4, max_rounds=6, budget_seconds=300)),
}


def article_checks() -> list[dict]:
    """parbench's `serial` and `pool` jobs against the article's own code (its loop, its
    `Pool(workers).map`, each run as the article ran it: a fresh interpreter, the pool
    made before the timer, `time.time()` around the one map) on the same problem, side
    by side in rounds. The harness side's value is its median per-map time; waiting for
    a quiet machine and re-measuring are off (the article's side can do neither).
    Target: within 5 % (ratio <= 1.05)."""
    from benchmarks.article import ARTICLE_POOL, ARTICLE_SERIAL, run_article

    workers = machine.available_cores()
    found = []
    for iterations, (job_settings, limits) in ARTICLE_SIZES.items():
        settings = JobSettings(calibration_repeats=0, min_sample_seconds=0.0,
                               quiet_wait_seconds=0.0, remeasure_loaded=0, **job_settings)
        for series, program, series_workers in (
                ("serial", ARTICLE_SERIAL.format(iterations=iterations), 1),
                ("pool", ARTICLE_POOL.format(iterations=iterations, processes=workers),
                 workers)):
            job = Job("exp_sinh", "python", series, iterations, 10, series_workers)

            def one_round(job=job, program=program, settings=settings) -> tuple[float, float]:
                return map_seconds(measure(job, settings)), run_article(program)

            article = f"Pool({workers}).map" if series == "pool" else "loop"
            outcome = run_rounds(f"article {series} at {iterations:.0e}", one_round, 1.05,
                                 "below", limits)
            found.append(row(f"parbench {series} / the article's {article}, {iterations:.0e} "
                             "iterations x 10 tasks", "<= 1.05", outcome, *outcome.medians()))
    return found


def row(check: str, target: str, outcome: Outcome, measured: float, reference: float) -> dict:
    return {"check": check, "measured": measured, "reference": reference,
            "ratio": outcome.ratio, "ratio_ci_low": outcome.ratio_ci_low,
            "ratio_ci_high": outcome.ratio_ci_high, "target": target,
            "rounds": outcome.rounds, "verdict": outcome.verdict,
            "stop_reason": outcome.stop_reason, "seconds": outcome.seconds}


# Each part of `make bench` by name: `python -m benchmarks article scale` runs those two.
PARTS = {"harness": lambda: [harness_overhead()],
         "efficiency": lambda: [parallel_efficiency()],
         "ray": lambda: [dispatch_overhead_check()],
         "freethreaded": lambda: [free_threaded_threads_check()],
         "article": article_checks}


def main(argv: Sequence[str] | None = None) -> None:
    wanted = list(sys.argv[1:] if argv is None else argv) or [*PARTS, "scale"]
    unknown = sorted(set(wanted) - {*PARTS, "scale"})
    if unknown:
        raise SystemExit(f"unknown part(s) {unknown}; the parts: {[*PARTS, 'scale']}")
    limit_threads(1)
    checks = [check for part in PARTS if part in wanted for check in PARTS[part]()
              if check is not None]
    if checks:
        report(pd.DataFrame(checks))
    if "scale" in wanted:
        from benchmarks import scale

        scale.main()


def report(table: pd.DataFrame) -> None:
    write_with_provenance(table, OUTPUT)
    with pd.option_context("display.width", 200, "display.max_colwidth", 70,
                           "display.float_format", "{:.4g}".format):
        print(table[COLUMNS].to_string(index=False))
    print(f"\nratio_ci: 95 % paired bootstrap interval over rounds; verdict: met/missed when "
          f"the whole interval is on one side of the target, else undecided.\n"
          f"machine: {table['cpu_model'][0]}, {table['available_cores'][0]} cores available; "
          f"written to {OUTPUT}")


if __name__ == "__main__":
    main()
