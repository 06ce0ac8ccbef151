"""Series on another interpreter (parbench.interpreters): bad input refused by key
when the config is read, and, on a free-threaded CPython built here from Debian's
source (about 3 minutes, once per machine: the store every clone links to), a tiny
sweep whose threads run without the GIL and a killed job that leaves nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from parbench import guard, interpreters, sweep
from parbench.backends import series_from_config
from tests.conftest import REPO, command_line, measuring_process, run_snakemake
from tests.test_failures import alive, listed_by_the_guard
from tests.unwaiting import UNWAITING

FREE_THREADED = "free-threaded"


def bare_python(tmp_path: Path) -> str:
    """A real interpreter with nothing installed: the project's Python, in a venv
    without pip (it lacks numpy, psutil and every engine)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True)
    return str(tmp_path / "bare/bin/python")


def test_an_interpreter_path_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"config key interpreters\.ft\.path: .* does not "
                                         "exist"):
        series_from_config({"threads-ft": {"interpreter": "ft"}},
                           interpreters={"ft": {"path": str(tmp_path / "python3.13t")}})


def test_an_interpreter_with_the_gil_is_refused_where_the_design_asks_for_none():
    with pytest.raises(ValueError, match=r"config key interpreters\.ft\.free_threaded: the "
                                         "design asks for a free-threaded build, but .* is a "
                                         "build with the GIL"):
        series_from_config({"threads-ft": {"interpreter": "ft"}},
                           interpreters={"ft": {"path": sys.executable,
                                                "free_threaded": True}})


def test_a_series_that_cannot_run_on_its_interpreter_is_refused(tmp_path):
    given = {"bare": {"path": bare_python(tmp_path)}}
    with pytest.raises(ValueError, match=r"config key backends\.ray-bare\.interpreter: "
                                         r"ray-bare cannot run on interpreter 'bare' .* "
                                         r"lacks \['numpy', 'psutil', 'threadpoolctl', 'ray'\]"):
        series_from_config({"serial": None, "ray-bare": {"interpreter": "bare"}},
                           interpreters=given)


def test_a_series_that_can_run_there_is_placed_there():
    found = series_from_config({"threads": None, "threads-own": {"interpreter": "own"}},
                               interpreters={"own": {"path": sys.executable}})
    assert found["threads"].interpreter == interpreters.PROJECT
    assert found["threads-own"].interpreter == "own"
    assert found["threads-own"].interpreter_path == sys.executable
    assert found["threads-own"].options == found["threads"].options


@pytest.mark.parametrize(("backends", "given", "key"), [
    ({"threads": {"interpreter": "ft"}}, {"ft": {"build": FREE_THREADED}},
     r"backends\.threads\.interpreter: a series on another interpreter needs a name"),
    ({"threads-ft": {"interpreter": "nope"}}, {"ft": {"build": FREE_THREADED}},
     r"backends\.threads-ft\.interpreter: 'nope' is not in `interpreters`"),
    ({"threads": None}, {"ft": {"build": "nogil"}}, r"interpreters\.ft\.build: 'nogil'"),
    ({"threads": None}, {"ft": {"build": FREE_THREADED, "path": "/usr/bin/python3"}},
     r"interpreters\.ft: give either `path`"),
    ({"threads": None}, {"ft": {"build": "with-gil", "free_threaded": True}},
     r"interpreters\.ft\.free_threaded: contradicts"),
])
def test_bad_interpreter_settings_name_the_key(backends, given, key):
    with pytest.raises(ValueError, match=rf"config key {key}"):
        series_from_config(backends, interpreters=given)


def test_a_build_the_design_asks_for_is_checked_as_it_will_be():
    """Not built yet: the build installs the timing packages alone, so Ray is refused."""
    given = {"ft": {"build": FREE_THREADED}}
    found = series_from_config({"threads-ft": {"interpreter": "ft"}}, interpreters=given)
    assert found["threads-ft"].interpreter_path == interpreters.built_python(FREE_THREADED)
    with pytest.raises(ValueError, match=r"backends\.ray-ft\.interpreter: .* lacks \['ray'\]"):
        series_from_config({"ray-ft": {"interpreter": "ft"}}, interpreters=given)


def test_the_committed_free_threading_design_is_valid():
    config = yaml.safe_load((REPO / "config/freethreaded.yaml").read_text())
    names = sweep.series_from_config(config["backends"], interpreters=config["interpreters"])
    on_it = [name for name, one in names.items() if one.interpreter != interpreters.PROJECT]
    assert {"threads-ft", "serial-ft"} <= set(on_it)
    assert ["threads-ft", "pool"] in config["compare"] and ["threads-ft", "ray"] in config[
        "compare"]


@pytest.mark.snakemake
def test_a_build_is_planned_once_before_the_jobs_on_it(workflow_copy: Path):
    design = {"workloads": {"exp_sinh": {"sizes": [1000], "kernels": ["python"],
                                         "tasks": [4]}},
              "backends": {"serial": None, "threads-ft": {"interpreter": "ft"},
                           "serial-ft": {"interpreter": "ft"}},
              "interpreters": {"ft": {"build": FREE_THREADED}}, "workers": [2],
              "replicates": 1}
    (workflow_copy / "ft.yaml").write_text(yaml.safe_dump(design))
    result = run_snakemake(workflow_copy, "-n", "--cores", "2", "--configfile", "ft.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    from parbench.workflow_copy import planned_jobs

    planned = planned_jobs(text)
    assert planned["build_interpreter"] == 1 and planned["measure"] == 3
    assert interpreters.built_python(FREE_THREADED) in text


# On a free-threaded CPython built here. -----------------------------------------------


@pytest.fixture(scope="session")
def free_threaded_python() -> str:
    """CPython 3.13 built with --disable-gil (make freethreaded), once per machine
    (build_interpreter.sh's store); a checkout only links to it."""
    python = REPO / interpreters.built_python(FREE_THREADED)
    folder = python.parents[2]
    began = time.perf_counter()
    result = subprocess.run(["bash", str(REPO / "workflow/scripts/build_interpreter.sh"),
                             str(folder), FREE_THREADED, str(REPO / "envs/constraints.txt")],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    print(f"free-threaded interpreter ready in {time.perf_counter() - began:.0f} s: {python}")
    return str(python)


@pytest.mark.slow  # its fixture builds the interpreter where missing: minutes
def test_another_checkout_links_to_the_build_in_a_second(tmp_path: Path, free_threaded_python):
    """A second checkout (another DEST) finds the machine's build in the store and links
    to it: the same interpreter, not built again (its build.json is untouched)."""
    built = Path(free_threaded_python).parents[2].resolve()
    record = (built / "build.json").read_bytes()
    mtime = (built / "build.json").stat().st_mtime_ns
    other_checkout = tmp_path / "checkout/.interpreters" / built.name
    result = subprocess.run(["bash", str(REPO / "workflow/scripts/build_interpreter.sh"),
                             str(other_checkout), FREE_THREADED,
                             str(REPO / "envs/constraints.txt")],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PARBENCH_INTERPRETER_STORE": str(built.parent)})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert other_checkout.is_symlink() and other_checkout.resolve() == built
    assert (built / "build.json").read_bytes() == record
    assert (built / "build.json").stat().st_mtime_ns == mtime
    python = other_checkout / "venv/bin/python"
    probed = subprocess.run([str(python), "-c", "import sysconfig, numpy; "
                             "print(sysconfig.get_config_var('Py_GIL_DISABLED'))"],
                            capture_output=True, text=True, check=True)
    assert probed.stdout.strip() == "1"


@pytest.mark.engine
@pytest.mark.heavy  # its fixture builds the interpreter where missing: minutes
def test_a_tiny_sweep_runs_threads_without_the_gil(workflow_copy: Path, free_threaded_python):
    # Maps of about 0.4 s on one free-threaded thread: long enough that 2 threads'
    # scaling shows through a busy machine's noise.
    design = {"workloads": {"exp_sinh": {"sizes": [300_000], "kernels": ["python"],
                                         "tasks": [4]}},
              "backends": {"serial": None, "threads": None,
                           "serial-ft": {"interpreter": "ft"},
                           "threads-ft": {"interpreter": "ft"},
                           "pool-ft": {"interpreter": "ft"}},
              "interpreters": {"ft": {"path": free_threaded_python, "free_threaded": True}},
              "workers": [2], "replicates": 1, "min_repeats": 3, "max_repeats": 5,
              "min_sample_seconds": 0.05, **UNWAITING, "compare": [["threads-ft", "threads"]]}
    (workflow_copy / "ft.yaml").write_text(yaml.safe_dump(design))
    result = run_snakemake(workflow_copy, "--cores", "2", "--configfile", "ft.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    timings = pd.read_csv(workflow_copy / "results/timings.csv")
    assert (timings["status"] == "ok").all() and timings["verified"].all()
    on_it = timings[timings["series"].str.endswith("-ft")]
    assert set(on_it["series"]) == {"serial-ft", "threads-ft", "pool-ft"}
    assert (on_it["interpreter"] == "ft").all()
    assert on_it["python_free_threaded_build"].all() and not on_it["gil_enabled"].any()
    assert on_it["python_version"].astype(str).str.startswith("3.13").all()
    project = timings[~timings["series"].str.endswith("-ft")]
    assert (project["interpreter"] == interpreters.PROJECT).all()
    assert project["gil_enabled"].all()
    summary = pd.read_csv(workflow_copy / "results/summary.csv").set_index("series")
    # With the GIL, 2 threads take turns: CPU time per wall second of 2 workers
    # (`cpu_utilization`) at most about 1/2, however busy the machine. Without it they
    # run at once, up to 1, as far as the machine leaves two cores free: beside the
    # other test worker's busy core they too get about 1/2 (0.46 against the GIL's
    # 0.48 once), so they are compared only where the job saw the cores free. Read
    # within each job, neither is bent by the load as the ratio of two jobs' wall
    # times is. That the GIL is off is `gil_enabled`, above, whatever the load.
    utilization = summary["cpu_utilization"]
    assert utilization["threads"] < 0.55, utilization
    busy_cores = 2 * summary.loc["threads-ft", "background_cpu_fraction_during"]
    if busy_cores <= 0.5:
        assert utilization["threads-ft"] > max(0.6, utilization["threads"]), utilization
    else:
        print(f"threads-ft ran beside {busy_cores:.1f} busy cores of others: its threads "
              "could not show that they run at once (utilization "
              f"{utilization['threads-ft']:.2f}, with the GIL {utilization['threads']:.2f})")
    assert (workflow_copy / "results/figures/interpreters.png").stat().st_size > 0
    # The machines table keeps the interpreters apart, and the findings name the build.
    machines = pd.read_csv(workflow_copy / "results/machines.csv").set_index("interpreter")
    assert set(machines.index) == {interpreters.PROJECT, "ft"}
    assert machines.loc["ft", "python_free_threaded_build"]
    assert not machines.loc[interpreters.PROJECT, "python_free_threaded_build"]
    findings = (workflow_copy / "results/findings.md").read_text()
    assert re.search(r"Threads on CPython 3\.13\.\d+ free-threaded \(`threads-ft`, interpreter "
                     r"`ft`\)", findings), findings


@pytest.mark.engine
def test_a_job_on_the_interpreter_killed_outright_leaves_no_process(tmp_path: Path,
                                                                     free_threaded_python):
    """The job executes itself on the interpreter (same PID): its guard, started there,
    stops the Pool's workers when it is killed."""
    script = (
        "import sys, dataclasses\n"
        "from parbench.backends import resolve_series\n"
        "from parbench.measure import Job, run_job\n"
        "from tests.unwaiting import job_settings\n"
        "series = dataclasses.replace(resolve_series('pool'), name='pool-ft',\n"
        "                             interpreter='ft', interpreter_path=sys.argv[2])\n"
        "run_job(Job('exp_sinh', 'python', 'pool-ft', 50_000_000, 4, 2),\n"
        "        job_settings(min_repeats=1, max_repeats=1, warmups=0), series, sys.argv[1])\n")
    log = tmp_path / "job.log"
    with open(log, "w") as stderr:
        job = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "job.csv"),
                                free_threaded_python], stderr=stderr)
    process = psutil.Process(job.pid)
    deadline = time.time() + 60
    measuring = measuring_process(job.pid, deadline)

    def workers() -> list[psutil.Process]:
        return [child for child in measuring.children(recursive=True)
                if "parbench.resources" not in command_line(child)]  # the memory sampler

    while time.time() < deadline and len(workers()) < 2:
        time.sleep(0.3)
    time.sleep(1.5)
    assert free_threaded_python in " ".join(process.cmdline()) or \
        Path(process.exe()).resolve() == Path(free_threaded_python).resolve()
    assert len(workers()) >= 2, "the Pool's workers started"
    descendants = listed_by_the_guard(job.pid, guard.job_token(job.pid))
    job.kill()
    job.wait()
    psutil.wait_procs(descendants, timeout=30)
    assert alive(descendants) == []
    assert not (tmp_path / "job.csv").exists()
    assert "on interpreter ft" in log.read_text()  # the job said where it went
