"""The workflow under Slurm: workflow/profiles/slurm on a real single-node cluster.

munged, slurmctld and slurmd (Debian's slurm-wlm and munge, installed by apt-get
when missing and this is root) run as this process's children for the module's
test and are stopped by PID afterwards, even when it fails.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from tests.conftest import SNAKEMAKE
from tests.slurm_cluster import ENVIRONMENT, SingleNodeSlurm, SlurmUnavailable, ensure_installed
from tests.unwaiting import UNWAITING

pytestmark = [pytest.mark.engine, pytest.mark.snakemake, pytest.mark.heavy]

# One workload, one size, the serial loop and Pool: two timing jobs, then the
# aggregation and figures, every one a Slurm job.
BACKENDS = ["serial", "pool"]
DESIGN = {
    "workloads": {"exp_sinh": {"sizes": [1_000], "kernels": ["numpy"], "tasks": [8]}},
    "backends": BACKENDS,
    "compare": [],
    "workers": [2],
    "replicates": 1,
    "min_repeats": 3,
    "max_repeats": 3,
    "warmups": 1,
    "min_sample_seconds": 0.05,
    "job_budget_seconds": 2,
    # This test's own daemons and Snakemake keep a 2-core machine busy: do not wait
    # for quiet, nor measure again (a `loaded` flag is fine here).
    **UNWAITING,
}
# Seconds Snakemake may take in all, under `timeout` (TERM: the plugin cancels its
# Slurm jobs; KILL 10 s later).
RUN_TIMEOUT = 240
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    try:
        ensure_installed()
    except SlurmUnavailable as reason:
        print(f"SKIP: {reason}", flush=True)
        pytest.skip(str(reason))
    with SingleNodeSlurm(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


def run_under_slurm(workdir: Path, *arguments: str) -> subprocess.CompletedProcess:
    """run_snakemake (tests/conftest.py), under `timeout` so that a hang cannot hang CI."""
    command = ["timeout", "-k", "10", str(RUN_TIMEOUT), SNAKEMAKE, *arguments]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT + 30,
                          env={**ENVIRONMENT, "PYTHONUNBUFFERED": "1"})


def slurm_logs(workdir: Path) -> list[Path]:
    return sorted((workdir / ".snakemake/slurm_logs").rglob("*.log"))


def explain(workdir: Path, result, cluster: SingleNodeSlurm) -> str:
    logs = "\n".join(f"----- {path} -----\n{path.read_text(errors='replace')[-2000:]}"
                     for path in slurm_logs(workdir))
    return (f"exit {result.returncode}\n----- snakemake -----\n{result.stderr[-6000:]}\n"
            f"{logs}\n{cluster.logs()}")


@pytest.mark.slow
def test_sweep_runs_as_slurm_jobs_with_the_slurm_profile(slurm, workflow_copy, tmp_path):
    # The daemons listen on loopback alone (as nothing else a test starts may not).
    daemons = [process.pid for name, process in slurm.processes.items() if name != "munged"]
    listening = [(connection.pid, connection.laddr) for connection in psutil.net_connections("tcp")
                 if connection.pid in daemons and connection.status == psutil.CONN_LISTEN]
    assert listening and {address.ip for _, address in listening} <= {"127.0.0.1", "::1"}, \
        listening
    workdir = workflow_copy  # the profile comes with the copy
    (workdir / "slurm.yaml").write_text(yaml.safe_dump(DESIGN))
    lock = tmp_path / "shared" / "parbench.lock"  # "shared": every node here sees it
    lock.parent.mkdir()
    result = run_under_slurm(
        workdir, "--workflow-profile", "workflow/profiles/slurm", "--executor", "slurm",
        "--jobs", "2",
        # Quicker polls than the profile's, and every job's Slurm log kept to check.
        "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
        "--slurm-keep-successful-logs",
        "--configfile", "slurm.yaml", "--config", f"timing_lock={lock}",
    )
    details = explain(workdir, result, slurm)
    if result.returncode != 0:
        print(details)
    assert result.returncode == 0, details
    log = result.stderr

    # Every job but the local ones (`all`, no action: Snakemake ends it itself; and
    # `run_design`, the config written beside the results) was a Slurm job, submitted
    # with sbatch, its state read with squeue (no accounting here).
    submitted = dict(SUBMITTED.findall(log))
    slurm_ids = sorted(submitted.values(), key=int)
    finished = int(re.findall(r"(\d+) of (\d+) steps \(100%\) done", log)[-1][0])
    local = set(re.findall(r"localrule (\w+):", log))
    assert local == {"all", "run_design"}, details
    assert len(submitted) == finished - len(local) >= len(BACKENDS) + 4, details
    assert "Falling back to 'sacct'" not in log, details
    known = set(slurm.job_ids())
    assert set(slurm_ids) <= known, (slurm_ids, known)
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    jobs = {job_id: slurm.job_details(job_id) for job_id in slurm_ids}
    for job_id, job in jobs.items():
        assert job["JobState"] == "COMPLETED", (job_id, job)
        assert job["JobName"] == run_id, (job_id, job)
        assert job["WorkDir"] == str(workdir), (job_id, job)
    # One Slurm log per job, named by its Slurm job id.
    assert sorted(path.stem for path in slurm_logs(workdir)) == sorted(slurm_ids)

    # The timing jobs: --exclusive (a whole node each), Pool's threads as CPUs per task.
    measures = {job_id: job for job_id, job in jobs.items()
                if job.get("Comment", "").startswith("rule_measure")}
    assert len(measures) == len(BACKENDS), jobs
    for job_id, job in measures.items():
        assert job["OverSubscribe"] == "NO", (job_id, job)  # --exclusive
        assert int(job["NumCPUs"]) == slurm.cpus, (job_id, job)  # the whole node
        assert job["TimeLimit"] == "01:00:00", (job_id, job)  # the profile's runtime
    pool = next(job for job in measures.values() if "_pool_" in job["Comment"])
    assert int(pool["CPUs/Task"]) == DESIGN["workers"][0], pool
    assert pool["MinMemoryNode"] == f"{2000 + 500 * DESIGN['workers'][0]}M", pool

    # The rows they wrote: measured, verified, under the timing lock given.
    csvs = sorted((workdir / "results/raw").rglob("*.csv"))
    assert len(csvs) == len(BACKENDS)
    rows = pd.concat(pd.read_csv(path) for path in csvs)
    assert set(rows["series"]) == set(BACKENDS)
    assert (rows["status"] == "ok").all(), rows.loc[rows["status"] != "ok", "error"]
    assert rows["verified"].all()
    assert lock.exists()
    # Each row was measured inside its Slurm job (times to the second).
    for job in measures.values():
        backend = next(name for name in BACKENDS if f"_{name}_" in job["Comment"])
        measured = rows[rows["series"] == backend]
        started = datetime.fromisoformat(job["StartTime"]).timestamp()
        ended = datetime.fromisoformat(job["EndTime"]).timestamp()
        assert measured["job_start_unix"].min() >= started - 1, (job, measured)
        assert measured["job_end_unix"].max() <= ended + 1, (job, measured)
    spans = rows.groupby("series")[["job_start_unix", "job_end_unix"]].first()
    spans = spans.sort_values("job_start_unix").to_numpy()
    assert spans[1, 0] >= spans[0, 1]  # one timing job at a time
    # The aggregation and figures, Slurm jobs too.
    timings = pd.read_csv(workdir / "results/timings.csv")
    assert len(timings) == len(rows)
    assert (workdir / "results/figures/scaling_exp_sinh.png").stat().st_size > 0
