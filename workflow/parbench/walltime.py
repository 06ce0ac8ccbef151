"""Where a sweep's wall time went, from its timings and Snakemake's job records.

Snakemake keeps, for every output, when its job started and ended
(`.snakemake/metadata/`); each per-job CSV says when the measurement itself
started and ended (`job_start_unix`, `job_end_unix`), how long its timed samples
took and its start-up and teardown. Together they split the sweep's wall time:

  timed samples         the maps the statistics are made of
  start-up + teardown   starting and stopping the backends (their own columns)
  rest of the job       warm-ups, choosing the maps per sample, the dispatch
                        calibration, waiting for a quiet machine, the attempts a
                        loaded machine made it measure again
  outside the job       interpreter start, imports, Snakemake's script preamble,
                        the job's guard, the sweep for orphans and the wait for the
                        timing slot (all before its measuring process starts),
                        writing the CSV: a timing job's wall time minus its span
  aggregation, plots    the other jobs' wall times, as far as no timing job ran
                        beside them
  orchestration         the time no job ran at all: the sweep's wall time minus
                        the union of every job's interval (DAG building, the
                        scheduler, starting jobs)

Meant for a sweep run from scratch: Snakemake's records of earlier runs are
kept for outputs that were not made again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from parbench.columns.statuses import OK
from parbench.identity import JOB
from parbench.migrations import read_table


def job_records(metadata: Path) -> pd.DataFrame:
    """One row per Snakemake job: rule, start and end (a job with several outputs
    has one record per output: they share their times)."""
    records = []
    for path in metadata.iterdir():
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if record.get("starttime") and record.get("endtime"):
            records.append({"rule": record.get("rule", ""), "start": record["starttime"],
                            "end": record["endtime"]})
    return pd.DataFrame(records, columns=["rule", "start", "end"]).drop_duplicates()


def breakdown(timings: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """The sweep's wall time by where it went (seconds and share of the wall)."""
    jobs = timings.drop_duplicates([column for column in JOB if column in timings])
    sample = timings["sample_seconds"] if "sample_seconds" in timings else timings["seconds"]
    samples = float(sample[timings["status"] == OK].sum())
    startup_teardown = float(jobs["startup_seconds"].fillna(0).sum()
                             + jobs["teardown_seconds"].fillna(0).sum())
    spans = float((jobs["job_end_unix"] - jobs["job_start_unix"]).sum())
    walls = records["end"] - records["start"]
    timing_walls = float(walls[records["rule"] == "measure"].sum())
    busy = covered_seconds(records)
    sweep_wall = float(records["end"].max() - records["start"].min())
    parts = {
        "timed samples": samples,
        "start-up + teardown": startup_teardown,
        "rest of the job (warm-ups, choosing k, calibration, quiet wait, re-measuring)":
            spans - samples - startup_teardown,
        "outside the job (interpreter, imports, preamble, guard, timing slot, CSV)":
            timing_walls - spans,
        "aggregation and plots (beyond timing jobs)": busy - timing_walls,
        "orchestration (no job running)": sweep_wall - busy,
    }
    table = pd.DataFrame({"part": list(parts), "seconds": list(parts.values())})
    table["share"] = table["seconds"] / sweep_wall
    total = pd.DataFrame({"part": ["sweep wall time"], "seconds": [sweep_wall], "share": [1.0]})
    return pd.concat([table, total], ignore_index=True)


def covered_seconds(records: pd.DataFrame) -> float:
    """Length of the union of the jobs' [start, end] intervals: when some job ran."""
    covered, reach = 0.0, -float("inf")
    for start, end in sorted(zip(records["start"], records["end"])):
        if end > reach:
            covered += end - max(start, reach)
            reach = end
    return covered


def orchestration_ratio(records: pd.DataFrame) -> float:
    """The sweep's wall time over the time some job ran (1: no time between jobs)."""
    return float((records["end"].max() - records["start"].min()) / covered_seconds(records))


def report(results: Path, metadata: Path = Path(".snakemake/metadata")) -> str:
    timings = read_table(results / "timings.csv")
    records = job_records(metadata)
    table = breakdown(timings, records)
    jobs = int((records["rule"] == "measure").sum())
    lines = [f"{jobs} timing jobs, {len(records) - jobs} others"]
    for _, row in table.iterrows():
        lines.append(f"  {row['part']:<72}{row['seconds']:>9.1f} s {row['share']:>7.1%}")
    lines.append(f"  orchestration ratio (wall time / time some job ran): "
                 f"{orchestration_ratio(records):.3f}")
    return "\n".join(lines)
