"""Aggregation, on the per-job CSVs of a small real run (tests/data/small_run) and on
rows built to show one property each."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

import parbench.aggregate as aggregation
from parbench.aggregate import aggregate, crossovers, summarise
from parbench.aggregate.validate import InvalidJobCsv
from parbench.identity import parse_job_csv
from parbench.machine import available_cores
from parbench.tables import write_csv_atomically
from tests.conftest import REPO, SMALL_RUN
from tests.test_crossover import _paired_jobs

SIZES = [100_000, 1_000_000, 3_000_000]  # shared_array's


def test_timings_keep_every_row(job_csvs, aggregates):
    timings = pd.read_csv(aggregates["timings"])
    assert len(timings) == sum(len(pd.read_csv(path)) for path in job_csvs)


def test_summary_has_one_row_per_combination_with_speedup(aggregates):
    summary = pd.read_csv(aggregates["summary"])
    timings = pd.read_csv(aggregates["timings"])
    assert not summary.duplicated(["workload", "kernel", "series", "size", "tasks",
                                   "workers"]).any()
    serial = summary[summary["series"] == "serial"]
    assert (serial["speedup"] == 1.0).all()
    pool = summary[summary["series"] == "pool"]
    assert ((pool["efficiency"] - pool["speedup"] / 2).abs() < 1e-12).all()
    # 3 to 5 samples in each of 2 replicates (the run's design).
    assert pool["repeats"].between(2 * 3, 2 * 5).all() and pool["verified"].all()
    identity = ["workload", "kernel", "series", "size", "tasks", "workers"]
    medians = timings[timings["status"] == "ok"].groupby(identity)["seconds"].median()
    measured = summary[summary["status"] != "error"].set_index(identity)
    assert measured["median_seconds"].to_numpy() == pytest.approx(
        medians.loc[measured.index].to_numpy())


def test_failed_backend_is_kept_as_an_error_row(aggregates):
    summary = pd.read_csv(aggregates["summary"])
    failed = summary[summary["series"] == "ipyparallel"]
    assert list(failed["status"]) == ["error"]
    assert "engines died" in failed["error"].iloc[0]


def test_crossover_found_between_the_right_sizes_with_its_interval(aggregates):
    """In the small run Ray is slower than Pool at 1 MB and faster at 3 MB (and than the
    Pool of one task per dispatch at 1 MB, slower at 0.1 MB)."""
    crossover = pd.read_csv(aggregates["crossover"])
    warm = crossover[crossover["time_basis"] == "warm"].set_index("baseline")
    assert set(warm.index) == {"pool", "pool-c1"}  # one curve each
    for baseline, (below, above) in {"pool": SIZES[1:], "pool-c1": SIZES[:2]}.items():
        row = warm.loc[baseline]
        assert row["crossover_status"] == "found"
        assert (row["size_below"], row["size_above"]) == (below, above)
        assert below < row["crossover_size"] < above
        # The interval brackets the estimate and stays within the measured sizes.
        assert SIZES[0] * (1 - 1e-9) <= row["crossover_ci_low"] <= row["crossover_size"]
        assert row["crossover_size"] <= row["crossover_ci_high"] <= SIZES[-1] * (1 + 1e-9)
    # Ray's start-up (seconds) dwarfs Pool's at every size: no cold crossover in range.
    cold = crossover[crossover["time_basis"] == "cold"]
    assert set(cold["crossover_status"]) == {"none in range"}


def test_whether_a_pair_is_told_apart_rests_on_its_paired_replicates():
    """The interpolated verdicts (the headline where neither a fit nor a bracket holds)
    come from paired t-tests over replicates: series that the machine's drift moves
    alike are told apart, which a bootstrap of their unpaired samples could not do."""
    sizes = [1.0, 2.0, 4.0, 8.0]
    (ray, pool), _ = _paired_jobs(np.random.default_rng(2), [-0.5, -0.2, 0.3, 0.6], sizes,
                                  job_sd=0.02, drift_sd=0.4)
    rows = [{"series": series, "workload": "shared_array", "kernel": "numpy", "tasks": 8,
             "workers": 2, "size": size, "replicate": replicate, "seconds": seconds,
             "status": "ok", "single_process": False, "startup_seconds": 0.1,
             "first_map_seconds": seconds, "ci_target": 0.05, "size_unit": "bytes"}
            for series, jobs in (("ray", ray), ("pool", pool))
            for size, replicates in zip(sizes, jobs)
            for replicate, samples in enumerate(replicates) for seconds in samples]
    table = crossovers(pd.DataFrame(rows), [["ray", "pool"]])
    warm = table[table["time_basis"] == "warm"].iloc[0]
    assert warm["interpolated_status"] == "found" and 2.0 < warm["interpolated_size"] < 4.0


def test_a_challenger_that_failed_everywhere_keeps_its_row(aggregates):
    timings = pd.read_csv(aggregates["timings"])
    ray = timings["series"] == "ray"
    timings.loc[ray, "status"], timings.loc[ray, "seconds"] = "error", math.nan
    table = crossovers(timings, [["ray", "pool"]])
    assert len(table) == 2  # one per time basis
    assert set(table["crossover_status"]) == {"too few sizes"}


def test_machines_lists_the_one_machine(job_csvs, aggregates):
    machines = pd.read_csv(aggregates["machines"])
    assert len(machines) == 1 and machines["jobs"].iloc[0] == len(job_csvs)


def _two_repeats(**columns) -> pd.DataFrame:
    return pd.DataFrame({
        "workload": "w", "kernel": "k", "series": "pool", "size": 1, "tasks": 1, "workers": 2,
        "repeat": [0, 1], "seconds": [1.0, 1.001], "status": "ok", "error": "",
        "verified": True, "size_unit": "u", "startup_seconds": 0.1, "first_map_seconds": 1.0,
        "teardown_seconds": 0.1, "chunksize": 1, "ci_target": 0.05, **columns,
    })


def test_summary_marks_partial_jobs():
    summary = summarise(_two_repeats(seconds=[1.0, math.nan], status=["ok", "error"],
                                     error=["", "boom"], verified=[True, False]))
    assert summary["status"].tolist() == ["partial"]
    assert summary["repeats"].tolist() == [1] and summary["error"].tolist() == ["boom"]


def test_an_unsupported_combination_is_summarised_as_such():
    rows = _two_repeats(status=["unsupported", "unsupported"], seconds=[math.nan, math.nan],
                        error=["no way", "no way"], verified=[False, False])
    assert summarise(rows)["status"].tolist() == ["unsupported"]


def test_fewer_repeats_than_asked_are_noisy():
    """Two quiet repeats are not noisy; the same two, when five were asked for, are."""
    assert summarise(_two_repeats(min_repeats=2))["noisy"].tolist() == [False]
    assert summarise(_two_repeats(min_repeats=5))["noisy"].tolist() == [True]


def test_a_wrong_warmup_result_unverifies_the_combination():
    assert summarise(_two_repeats(warmups_verified=True))["verified"].tolist() == [True]
    assert summarise(_two_repeats(warmups_verified=False))["verified"].tolist() == [False]


def _replicated(loaded: list[bool], means: list[float]) -> pd.DataFrame:
    """One combination in len(means) replicates (jobs) of five repeats each."""
    jobs = []
    for replicate, (mean, is_loaded) in enumerate(zip(means, loaded)):
        job = _two_repeats(replicate=replicate, loaded=is_loaded, background_cpu_fraction=0.0,
                           job_start_unix=100.0 * replicate, job_end_unix=100.0 * replicate + 3,
                           sample_seconds=mean, min_repeats=2, hostname="h", cpu_model="c",
                           logical_cpus=2, available_cores=2, timestamp_utc="t")
        jobs.append(job.assign(seconds=mean * pd.Series([1.0, 1.001])))
    return pd.concat(jobs, ignore_index=True)


def test_replicates_widen_the_interval_to_the_jobs_disagreement():
    summary = summarise(_replicated([False] * 4, [1.0, 1.2, 1.1, 0.9]))
    row = summary.iloc[0]
    assert row["replicates"] == 4 and row["repeats"] == 8
    assert row["ci_low"] < 1.0 and row["ci_high"] > 1.1  # within a job, ±0.05 % only
    assert row["between_replicate_cv"] > 0.05 > row["within_replicate_cv"]
    assert row["noisy"]


def test_loaded_replicates_are_flagged_or_left_out_but_never_lost():
    timings = _replicated([False, True, False], [1.0, 5.0, 1.0])
    kept = summarise(timings).iloc[0]
    assert kept["loaded"] and kept["loaded_replicates"] == 1 and kept["replicates"] == 3
    left_out = summarise(timings, exclude_loaded=True).iloc[0]
    assert not left_out["loaded"] and left_out["excluded_replicates"] == 1
    assert left_out["replicates"] == 2 and left_out["ci_high"] < 1.01
    everything_loaded = summarise(_replicated([True, True], [1.0, 1.0]), exclude_loaded=True)
    assert everything_loaded["status"].tolist() == ["excluded (loaded)"]


def test_aggregate_writes_the_recommended_design_and_prints_it(tmp_path, capsys):
    jobs = []
    for replicate, rows in _replicated([False] * 3, [1.0, 1.1, 0.95]).groupby("replicate"):
        jobs.append(tmp_path / f"rep{replicate}.csv")  # one job, one file
        write_csv_atomically(rows, jobs[-1])
    aggregate(jobs, tmp_path)
    design = pd.read_csv(tmp_path / "design.csv")
    assert design["scope"].tolist() == ["combination", "sweep"]
    assert (design["recommended_replicates"] >= 2).all()
    assert "replicates:" in capsys.readouterr().err


def test_noisy_means_the_precision_asked_for_was_missed_not_spread_samples():
    spread_out = 1 + 0.15 * np.random.default_rng(8).standard_normal(400)  # CV 15 %
    many = _two_repeats().iloc[[0] * 400].assign(seconds=spread_out, repeat=range(400))
    row = summarise(many).iloc[0]
    assert row["cv"] > 0.1 and row["ci_relative_half_width"] < 0.05 and not row["noisy"]
    assert summarise(many.iloc[:4])["noisy"].tolist() == [True]


def test_result_files_are_readable_by_others_as_any_file(tmp_path, monkeypatch):
    """With the process's umask, read without setting it (set to 0 for a moment, a
    file another thread made meanwhile was writable by all)."""
    previous = os.umask(0o027)
    try:
        def never(mask: int) -> int:
            raise AssertionError(f"the umask was set to {mask:o} to read it")

        monkeypatch.setattr(os, "umask", never)
        target = tmp_path / "rows.csv"
        write_csv_atomically(pd.DataFrame({"a": [1]}), target)
        assert target.stat().st_mode & 0o777 == 0o640
    finally:
        monkeypatch.undo()
        os.umask(previous)


@pytest.fixture
def one_valid_job(job_csvs, tmp_path) -> Path:
    job = SMALL_RUN / "exp_sinh/numpy/pool/size1000_tasks4_workers2_rep0.csv"
    return Path(shutil.copy(job, tmp_path / "good.csv"))


def _corrupt(path: Path, how: str) -> None:
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    if how == "cut mid-row":
        path.write_text(text[: len(text) - len(lines[-1]) // 2])
    elif how == "a row lost":
        path.write_text("".join(lines[:2] + lines[3:]))
    elif how == "the last row lost":  # whole: the file still reads as one job's
        path.write_text("".join(lines[:-1]))
    elif how == "another job's row":
        path.write_text(text + lines[-1].replace("exp_sinh", "shared_array", 1))
    elif how == "a failure's row lost":  # its samples kept, the row saying why it ended lost
        pd.read_csv(path).assign(stop_reason="error").to_csv(path, index=False)
    elif how == "format version 0 in every row":
        pd.read_csv(path).assign(format_version=0).to_csv(path, index=False)
    elif how.startswith("cell "):  # "cell COLUMN=VALUE", in the first row
        column, _, value = how.removeprefix("cell ").partition("=")
        header = lines[0].rstrip("\n").split(",")
        cells = lines[1].rstrip("\n").split(",")
        cells[header.index(column)] = value
        path.write_text(lines[0] + ",".join(cells) + "\n" + "".join(lines[2:]))
    elif how.startswith("column missing "):
        frame = pd.read_csv(path).drop(columns=how.removeprefix("column missing "))
        frame.to_csv(path, index=False)
    elif how.startswith("every row "):  # "every row COLUMN=VALUE"
        column, _, value = how.removeprefix("every row ").partition("=")
        pd.read_csv(path).assign(**{column: value}).to_csv(path, index=False)
    elif how == "a column named twice":
        path.write_text(lines[0].replace(",cpu_seconds,", ",seconds,", 1) + "".join(lines[1:]))
    elif how == "empty":
        path.write_text("")
    elif how == "under another job's name":
        path.rename(path.with_name(path.name.replace("_rep0", "_rep7")))


@pytest.mark.parametrize(("how", "said"), [
    ("cut mid-row", "a row cut short"),
    ("a row lost", "not 0.."),
    ("the last row lost", "fewer rows than its stop reason says"),
    ("a failure's row lost", "fewer rows than its stop reason says"),
    ("format version 0 in every row", "versions start at 1"),
    ("another job's row", "more than one job"),
    ("cell seconds=fast", "column seconds: not numbers"),
    # Not required, but a wrong kind would change its whole column's type.
    ("cell maps_per_sample=abc", "column maps_per_sample: not whole numbers"),
    ("cell background_cpu_fraction=high", "column background_cpu_fraction: not numbers"),
    ("cell loaded=maybe", "column loaded: not True/False"),
    # A combination's status, never a job's.
    ("cell status=partial", "column status: unknown values ['partial']"),
    ("cell workers=0", "column workers: below 1"),
    ("column missing status", "missing columns ['status']"),
    # Aggregated beside good files, its rows came from a machine of no name, unsaid.
    ("column missing hostname", "missing columns ['hostname']"),
    ("empty", "not a readable CSV"),
    # What a job is, where and how it ran is one value on every row of its file.
    ("cell min_repeats=9", "['min_repeats'] differ between the rows of one job"),
    ("cell hostname=elsewhere", "['hostname'] differ between the rows of one job"),
    # The target decides which figures a combination lands in: it must be its series'.
    ("every row target=lab", "series 'pool', but its engine, variant and target make "
                             "'pool@lab'"),
    # pandas would read the second as `seconds.1`, and cpu_seconds would be missing.
    ("a column named twice", "the header names ['seconds'] twice"),
    # A file copied over another's: its rows would be aggregated twice.
    ("under another job's name", "another job than its path names (replicate differ)"),
])
def test_a_corrupt_job_csv_stops_aggregation_naming_the_file(one_valid_job, job_csvs, tmp_path,
                                                             how, said):
    bad = tmp_path / "raw/exp_sinh/numpy/pool/size1000_tasks4_workers2_rep0.csv"
    bad.parent.mkdir(parents=True)
    shutil.copy(one_valid_job, bad)
    # The good file of the same job is left out: aggregated beside it, the bad one
    # would be refused as a second file of one job before anything else is checked.
    job_csvs = [path for path in job_csvs
                if parse_job_csv(str(path)) != parse_job_csv(str(bad))]
    _corrupt(bad, how)
    bad = next(bad.parent.iterdir())  # renamed, in one case
    outputs = [tmp_path / f"{name}.csv" for name in ("timings", "summary")]
    with pytest.raises(InvalidJobCsv) as error:
        aggregate([*job_csvs, bad], tmp_path)
    assert str(bad) in str(error.value) and said in str(error.value), str(error.value)
    # --skip-invalid: the others are aggregated, the bad one listed, never silently.
    aggregate([*job_csvs, bad], tmp_path, skip_invalid=True)
    summary = pd.read_csv(outputs[1])
    listed = summary[summary["status"] == "invalid file"]
    assert len(listed) == 1 and str(bad) in listed["error"].iloc[0]
    assert listed[["workload", "series", "size"]].iloc[0].tolist() == ["exp_sinh", "pool", 1000]
    assert (summary["status"] != "invalid file").sum() == len(pd.read_csv(aggregates_of(
        job_csvs, tmp_path / "clean")))


def test_a_second_file_of_one_job_is_refused_naming_both(job_csvs, tmp_path):
    """A copy in a backup folder under raw/ (which `parbench aggregate` reads whole)
    would count the job's rows twice."""
    original = job_csvs[0]
    copy = tmp_path / "raw/backup" / original.relative_to(SMALL_RUN)
    copy.parent.mkdir(parents=True)
    shutil.copy(original, copy)
    outputs = [tmp_path / f"{name}.csv" for name in ("timings", "summary")]
    # The copy first, as `parbench aggregate` finds them (raw/backup/… sorts first).
    with pytest.raises(InvalidJobCsv) as error:
        aggregate([copy, *job_csvs], tmp_path)
    assert str(error.value).startswith(f"{copy}: the same job as {original}"), str(error.value)
    aggregate([copy, *job_csvs], tmp_path, skip_invalid=True)
    clean = pd.read_csv(aggregates_of(job_csvs, tmp_path / "clean").parent / "timings.csv")
    assert len(pd.read_csv(outputs[0])) == len(clean)
    # The file at the job's own place is kept; the copy is the one listed.
    listed = pd.read_csv(outputs[1]).query("status == 'invalid file'")
    assert len(listed) == 1 and listed["error"].iloc[0].startswith(str(copy))
    # The same path named twice (a planner's repeated job, as text and as a Path) is one
    # file, read once.
    aggregate([*job_csvs, str(original)], tmp_path)
    assert len(pd.read_csv(outputs[0])) == len(clean)
    # A copy whose path ends as the job's own (raw/old/raw/…) is still the copy.
    nested = tmp_path / "raw/old" / SMALL_RUN.name / original.relative_to(SMALL_RUN)
    nested.parent.mkdir(parents=True)
    shutil.copy(original, nested)
    aggregate([nested, *job_csvs], tmp_path, skip_invalid=True)
    listed = pd.read_csv(outputs[1]).query("status == 'invalid file'")
    assert len(listed) == 1 and listed["error"].iloc[0].startswith(str(nested))
    # A copy not named as a job's is known by its rows.
    renamed = original.with_name(original.stem + " (copy).csv")
    renamed_copy = tmp_path / "renamed" / renamed.relative_to(SMALL_RUN)
    renamed_copy.parent.mkdir(parents=True)
    shutil.copy(original, renamed_copy)
    with pytest.raises(InvalidJobCsv, match="the same job as"):
        aggregate([renamed_copy, *job_csvs], tmp_path)


@pytest.mark.parametrize("body", [
    "", "a,b,c\n1,2,3\n", "a,b\n", "a,b,c,d\n", "a,b,c\n\n1,2,3\n", ",,\n", ",\n",
    '"x,y",b,c\n', 'a,b,"c\nd"\n', "a,b,c\r\n1,2,3\r\n", "a,b,c\r\n1,2\r\n"])
def test_records_are_counted_as_the_csv_module_reads_them(body):
    """Bulk reading counts each file's records and finds rows cut short without
    parsing, where it can: the same counts and verdict as the csv module's."""
    import csv
    import io

    from parbench.aggregate.bulk import _records

    records = list(csv.reader(io.StringIO(body)))
    assert _records(body, 3) == (len(records), any(len(record) != 3 for record in records))


def aggregates_of(job_csvs, folder: Path) -> Path:
    folder.mkdir()
    aggregate(job_csvs, folder)
    return folder / "summary.csv"


def test_the_workflows_aggregation_by_workload_is_aggregation_at_once(tmp_path):
    """The workflow aggregates each workload in a job of its own, then combines them;
    `parbench aggregate` does all at once: the global tables must be the same bytes
    (replicate gaps, machines, crossover order and the sweep's design row cross
    workloads)."""
    raw = sorted((REPO / "docs/data/regimes/raw").rglob("*.csv"))
    workloads = list(dict.fromkeys(path.relative_to(REPO / "docs/data/regimes/raw").parts[0]
                                   for path in raw))
    assert len(workloads) > 1
    at_once = tmp_path / "at_once"
    at_once.mkdir()
    outputs = aggregation.aggregate(raw, at_once)
    pairs = pd.read_csv(outputs["crossover"])[["challenger", "baseline"]].drop_duplicates()
    per_workload = []
    for workload in workloads:
        files = {table: tmp_path / workload / f"{table}.csv"
                 for table in aggregation.WORKLOAD_TABLES}
        aggregation.aggregate_workload([path for path in raw if f"/raw/{workload}/" in str(path)],
                                     files, pairs.to_numpy().tolist())
        per_workload.append(files)
    combined = {table: tmp_path / f"combined_{table}.csv" for table in aggregation.GLOBAL_TABLES}
    aggregation.combine_files(per_workload, combined, pairs.to_numpy().tolist())
    for table in aggregation.GLOBAL_TABLES:
        assert combined[table].read_bytes() == outputs[table].read_bytes(), table


def regimes_timings_by_workload(tmp_path: Path) -> dict[str, Path]:
    """The regimes run's rows, one timings file per workload, as its workflow job writes them."""
    timings = aggregation.collect_timings(sorted((REPO / "docs/data/regimes/raw").rglob("*.csv")))
    files = {}
    for workload, rows in timings.groupby("workload"):
        files[workload] = tmp_path / f"{workload}.csv"
        aggregation.write_table(rows, files[workload])
    return files


def test_workloads_timings_are_joined_in_job_order_whatever_order_they_come_in(tmp_path):
    files = regimes_timings_by_workload(tmp_path)
    assert len(files) > 2
    backwards = sorted(files, reverse=True)
    out = tmp_path / "timings.csv"
    aggregation.write_combined_timings([files[name] for name in backwards], backwards, out)
    texts = [files[name].read_text() for name in sorted(files)]
    header = texts[0].splitlines(keepends=True)[0]
    # One header, then each workload's rows as its file has them, workloads in order.
    assert out.read_text() == header + "".join(text[len(header):] for text in texts)
    joined = pd.read_csv(out, low_memory=False)
    assert list(joined["workload"]) == sorted(joined["workload"])
    assert len(joined) == sum(len(pd.read_csv(path, low_memory=False)) for path in files.values())


def test_workloads_timings_with_other_columns_are_joined_by_name(tmp_path):
    files = regimes_timings_by_workload(tmp_path)
    one, other = sorted(files)[:2]
    extra = pd.read_csv(files[one], low_memory=False).assign(extra_library_version="9.9")
    aggregation.write_table(extra, files[one])
    out = tmp_path / "timings.csv"
    aggregation.write_combined_timings([files[other], files[one]], [other, one], out)
    joined = pd.read_csv(out, low_memory=False)
    ones, others = joined[joined["workload"] == one], joined[joined["workload"] == other]
    assert (ones["extra_library_version"].astype(str) == "9.9").all()
    assert others["extra_library_version"].isna().all()
    pd.testing.assert_frame_equal(
        others.drop(columns="extra_library_version").reset_index(drop=True),
        pd.read_csv(files[other], low_memory=False), check_dtype=False)


# A large table written both ways, in a fresh single-threaded interpreter (where
# parbench.forked forks: the CLI's and the workflow's case).
LARGE_TABLE = """
import sys
import numpy as np, pandas as pd
from parbench.aggregate import ROWS_FORMATTED_SIDE_BY_SIDE, write_table
from parbench.tables import write_csv_atomically
rows = ROWS_FORMATTED_SIDE_BY_SIDE + 7
rng = np.random.default_rng(0)
seconds = rng.lognormal(0, 3, rows)
seconds[::97] = np.nan
table = pd.DataFrame({"seconds": seconds, "repeat": np.arange(rows), "ok": seconds > 1,
                      "error": pd.array(["", 'a "quoted", cell', "two\\nlines"] * (rows // 3)
                                        + [""] * (rows % 3), dtype="string")})
write_table(table, sys.argv[1])
write_csv_atomically(table, sys.argv[2])
"""


@pytest.mark.skipif(available_cores() < 2, reason="forks only with 2 cores or more available")
def test_a_large_table_formatted_side_by_side_is_the_same_file(tmp_path):
    import subprocess
    import sys

    side_by_side, at_once = tmp_path / "side_by_side.csv", tmp_path / "at_once.csv"
    result = subprocess.run([sys.executable, "-c", LARGE_TABLE, str(side_by_side),
                             str(at_once)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert side_by_side.read_bytes() == at_once.read_bytes()
    assert len(pd.read_csv(side_by_side)) == aggregation.ROWS_FORMATTED_SIDE_BY_SIDE + 7


# A fork of a process whose worker dies must not hang the aggregation: run in a fresh,
# single-threaded interpreter (the CLI's case), each forked worker ending at once.
WORKER_DIES = """
import os, sys
from pathlib import Path
from parbench import forked
from parbench.aggregate import collect_timings, tables
def die(*arguments):
    Path(sys.argv[2]).touch()  # a worker was forked, and died
    os._exit(1)
forked._call = die  # what each forked worker runs
timings = collect_timings(sorted(Path(sys.argv[1]).rglob("*.csv")))
found = tables.tables_of_workloads(timings, [["ray", "pool"]])
print(sorted(len(table["summary"]) for table in found))
"""


@pytest.mark.skipif(available_cores() < 2, reason="forks only with 2 cores or more")
def test_a_forked_worker_that_dies_falls_back_to_one_workload_at_a_time(tmp_path: Path):
    import subprocess
    import sys

    died = tmp_path / "a-worker-died"
    result = subprocess.run([sys.executable, "-c", WORKER_DIES, str(SMALL_RUN), str(died)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert died.exists(), "the aggregation forked no worker: the fallback went untested"
    timings = aggregation.collect_timings(sorted(SMALL_RUN.rglob("*.csv")))
    expected = sorted(len(aggregation.summarise(part)) for _, part in
                      timings.groupby("workload"))
    assert result.stdout.strip() == str(expected)


def test_the_design_beside_the_aggregates_reads_back_as_the_workflow_ran_it(tmp_path):
    """A JSON design arrives as nested OrderedDicts (YAML's safe dumper refused them, and
    the aggregate rule failed at the end of the sweep); `compare: []` is no pairs, as in
    the workflow, not the default ones."""
    from collections import OrderedDict

    from parbench.aggregate import RUN_DESIGN, run_design, run_pairs, write_run_design

    design = OrderedDict(workloads=OrderedDict(exp_sinh=OrderedDict(sizes=[10])),
                         compare=[], exclude_loaded=True)
    write_run_design(design, tmp_path / RUN_DESIGN)
    assert run_design(tmp_path) == {"workloads": {"exp_sinh": {"sizes": [10]}},
                                    "compare": [], "exclude_loaded": True}
    assert run_pairs(tmp_path) == []
    assert run_pairs(tmp_path / "elsewhere") is None  # no design: the default pairs


def test_a_curves_verdict_does_not_change_with_the_pairs_compared_beside_it(aggregates):
    """The variances' prior is the pair's own in each workload (parbench.crossover.
    variances): the refinement planner, comparing the refined pairs only, must read the
    same crossover as the aggregation comparing every pair."""
    from parbench.migrations import read_table

    timings = read_table(aggregates["timings"])
    series = set(timings["series"])
    pairs = [pair for pair in (["ray", "pool"], ["ray", "pool-c1"], ["pool-c1", "pool"])
             if set(pair) <= series]
    assert len(pairs) > 1
    alone = crossovers(timings, pairs[:1])
    beside = crossovers(timings, pairs)
    first = (beside["challenger"] == pairs[0][0]) & (beside["baseline"] == pairs[0][1])
    pd.testing.assert_frame_equal(alone, beside[first].reset_index(drop=True))


FORKS_AND_WAITS = """
import os, sys, time
from pathlib import Path
from parbench.forked import forked_map

folder = Path(sys.argv[1])

def wait(item):
    (folder / str(os.getpid())).write_text("")
    time.sleep(120)
    return item

forked_map(wait, [1, 2])
"""


def test_forked_workers_end_with_an_analysis_job_killed_outright(tmp_path):
    """An aggregation stopped by SIGTERM (no handler: no cleanup) leaves no forked
    worker behind (they waited for work for good, holding a copy of the tables)."""
    if available_cores() < 2:
        pytest.skip("forked_map runs in its own process on one core: nothing is forked")
    job = subprocess.Popen([sys.executable, "-c", FORKS_AND_WAITS, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = [int(path.name) for path in tmp_path.iterdir()]
        assert len(workers) == 2 and job.pid not in workers
        job.send_signal(signal.SIGTERM)
        job.wait(30)
        deadline = time.monotonic() + 30
        while any(psutil.pid_exists(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [pid for pid in workers if psutil.pid_exists(pid)
                    and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]
    finally:
        for pid in [job.pid, *(int(path.name) for path in tmp_path.iterdir())]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
