"""Does a shorter timed sample (fewer maps per sample) change Pool's warm time?

`pool` on shared_array, 1 MB x 16 tasks, 2 workers: jobs with `min_sample_seconds`
0.05 and 0.1 interleaved (ABBA rounds), each job in a process of its own as Snakemake
runs them. Prints each job's median and k (maps per sample), then per setting the
median of the job medians and their range.

    .venv/bin/python -m benchmarks.sample_length [ROUNDS]   (default 10)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

SETTINGS = (0.05, 0.1)
JOB = r'''
import json, sys
from parbench.backends import resolve_series
from parbench.identity import Job
from parbench.measure import JobSettings, measure
rows = measure(Job("shared_array", "numpy", "pool", 1_000_000, 16, 2),
               JobSettings(min_repeats=5, max_repeats=8, ci_target=0.15,
                           job_budget_seconds=3, calibration_repeats=2,
                           min_sample_seconds=float(sys.argv[1])),
               resolve_series("pool"))
print(json.dumps({"median": float(rows["seconds"].median()),
                  "k": int(rows["maps_per_sample"].iloc[0]),
                  "loaded": bool(rows["loaded"].any())}))
'''


def main(rounds: int) -> None:
    found: dict[float, list[dict]] = {setting: [] for setting in SETTINGS}
    for round_number in range(rounds):
        order = SETTINGS if round_number % 2 == 0 else SETTINGS[::-1]
        for setting in order:
            result = subprocess.run([sys.executable, "-c", JOB, str(setting)],
                                    capture_output=True, text=True, check=True)
            one = json.loads(result.stdout.strip().splitlines()[-1])
            found[setting].append(one)
            print(f"min_sample_seconds {setting}: {one}", flush=True)
    for setting, jobs in found.items():
        medians = [job["median"] * 1000 for job in jobs]
        print(f"min_sample_seconds {setting}: median of job medians "
              f"{statistics.median(medians):.1f} ms, range {min(medians):.1f}-"
              f"{max(medians):.1f} ms, k {sorted({job['k'] for job in jobs})}, "
              f"loaded {sum(job['loaded'] for job in jobs)} of {len(jobs)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
