"""The columns of the per-job CSV (and so of `timings.csv`), in the order a row has
them: identity (parbench.identity's fields), the series, the outcome, the job's own
times and flags, the settings (parbench.settings' fields), one sample, provenance.
Those that summary.csv carries too say so (`tables`, `to_summary`)."""

from __future__ import annotations

import dataclasses

from parbench import identity, settings
from parbench.columns import statuses
from parbench.columns.table import (
    ANY,
    BYTES,
    CROSSOVER,
    DESIGN,
    FIRST,
    FLAG,
    FORMAT_VERSION,
    INTEGER,
    JOB,
    MACHINES,
    MEDIAN,
    MODEL,
    NUMBER,
    PREDICTIONS,
    SUMMARY,
    TABLES,
    TEXT,
    Column,
    S,
    kind_of,
)

# Which identity columns key each table (a crossover is per curve: every size).
CURVE = ("workload", "kernel", "tasks", "workers")
KEYS = {JOB: identity.JOB, SUMMARY: identity.COMBINATION, DESIGN: identity.COMBINATION,
        CROSSOVER: CURVE, PREDICTIONS: identity.COMBINATION,
        MODEL: ("workload", "kernel", "series")}
IDENTITY = tuple(
    Column(one.name, kind_of(one.type), "", one.metadata["meaning"],
           tuple(table for table, key in KEYS.items() if one.name in key), "identity",
           required=one.name != "replicate")  # files of one job per combination had none
    for one in identity.FIELDS)
# Settings that other tables carry too: the precision asked for (what `noisy` and
# design.csv judge against), and the BLAS threads (part of what a machine ran).
SETTING_TABLES = {"ci_target": (JOB, DESIGN), "blas_threads": (JOB, MACHINES)}
SETTINGS = tuple(
    Column(name, kind_of(one.type), "s" if name.endswith("_seconds") else "",
           f"config key `{name}`, as the job ran with it", SETTING_TABLES.get(name, (JOB,)),
           "settings", to_summary=MEDIAN if name == "ci_target" else "")
    for name, one in ((one.name, one) for one in dataclasses.fields(settings.JobSettings)))

VERSION = Column("format_version", INTEGER, "", f"the table's format (this parbench writes "
                 f"{FORMAT_VERSION}; older files are read through parbench.migrations)",
                 TABLES, "identity")

JS = (JOB, SUMMARY)
SERIES = (
    Column("engine", TEXT, "", "the series' registered backend", JS, "series", FIRST),
    Column("variant", TEXT, "", "the series' variant label (empty for the backend's "
           "defaults)", JS, "series", FIRST),
    Column("target", TEXT, "", "where the job's workers ran: `local` (started and stopped by "
           "the job) or an existing cluster of the config's `clusters` (the series is then "
           "`<series>@<cluster>`)", JS, "series", FIRST),
    Column("interpreter", TEXT, "", "the interpreter the job ran on: `project` (the one "
           "that runs the workflow) or a name from the config's `interpreters` (the series "
           "names it: `threads-ft`)", (JOB, SUMMARY, MACHINES), "series", FIRST),
    Column("single_process", FLAG, "", "the series ignores `workers` (the serial loop)", JS,
           "series", FIRST),
    Column("option_<name>", TEXT, "", "each of the series' options as the job ran with it "
           "(`null` for none); every backend's options: config/README.md", JS, "series",
           FIRST),
    Column("size_unit", TEXT, "", "what `size` counts (iterations per task, bytes of shared "
           "input, …)", JS + (CROSSOVER,), "series", FIRST),
    Column("kernel_level", NUMBER, "", "the kernel's level on its workload's axis "
           "(`image_filter`: filter passes per task), for size × level maps; empty for "
           "other workloads", JS, "series", FIRST),
)

OUTCOME = (
    Column("status", TEXT, "", statuses.meanings(per_job=True), JS, "outcome",
           required=True, summary_meaning=statuses.meanings(per_job=False)),
    Column("error", TEXT, "", "the exception of an `error` row (a size too large for the "
           "machine: before anything is allocated); why, for an `unsupported` one", JS,
           "outcome", required=True, summary_meaning="the first error message"),
)

JOB_TIMES = (
    Column("startup_seconds", NUMBER, S, "starting the backend until its workers take work "
           "(Pool: processes up; Ray: `ray.init`; ipyparallel: controller and engines "
           "registered), the first import of the engine's package included, as a script "
           "pays it (a second `attempts` has it imported already); not in `seconds`",
           JS, "job", MEDIAN, required=True),
    Column("startup_kind", TEXT, "", "`start` (the job started its backend: a cold start) or "
           "`connect` (it joined an existing cluster: connect time, never to be compared with "
           "a start)", (JOB,), "job"),
    Column("cluster_nodes", INTEGER, "", "on a cluster: its live nodes (ipyparallel: hosts "
           "of its engines); empty for `local`", (JOB,), "cluster"),
    Column("cluster_cpus", NUMBER, "", "on a cluster: its CPUs (Ray's `CPU` resource, Dask's "
           "worker threads, ipyparallel's engines)", (JOB,), "cluster"),
    Column("cluster_node_cpus", TEXT, "", "on a cluster: `host:cpus;…` as it reports them",
           (JOB,), "cluster"),
    Column("nodes_used", INTEGER, "", "on a cluster: the nodes the job's workers were "
           "placed on", (JOB,), "cluster"),
    Column("cluster_rules", TEXT, "", "on a cluster: where its own rules differ from those "
           "a job sets for what it starts, how (Dask's scheduler: a task whose worker dies "
           "re-run, the active memory manager on); empty where they agree or locally",
           (JOB,), "cluster"),
    Column("first_map_seconds", NUMBER, S, "the first (cold) map after start-up, timed alone",
           JS, "job", MEDIAN, required=True),
    Column("cold_seconds", NUMBER, S, "`startup_seconds + first_map_seconds`: what a one-shot "
           "script pays before its first results", JS, "job", MEDIAN),
    Column("teardown_seconds", NUMBER, S, "stopping the backend until every process it "
           "started has exited", JS, "job", MEDIAN),
    Column("overhead_per_task_seconds", NUMBER, S, "per-task dispatch cost: median time of "
           "`calibration_repeats` maps of `tasks` empty tasks, ÷ `tasks`", JS, "job", MEDIAN),
    Column("peak_rss_bytes", NUMBER, BYTES, "peak summed resident memory of the job's "
           "measuring process tree (shared pages once per process: an upper bound); empty "
           "on a cluster", JS, "job", MEDIAN),
    Column("peak_pss_bytes", NUMBER, BYTES, "peak summed proportional set size of the "
           "process tree (every page once: what it really occupies); empty on a cluster",
           JS, "job", MEDIAN),
    Column("leftover_processes_stopped", INTEGER, "", "processes still alive after the "
           "backend's stop and a grace period, killed by the job (0 normally)", (JOB,), "job"),
    Column("warmups_verified", FLAG, "", "every untimed warm-up map's results matched the "
           "serial reference", (JOB,), "job"),
    Column("state_verified", FLAG, "", "a stateful kernel: the states gathered from every "
           "worker add up to what the maps put in (empty for other kernels)", JS, "job",
           FIRST),
    Column("stop_reason", TEXT, "", "why the samples ended: `ci_target`, `max_repeats`, "
           "`budget`, or the failure's status", JS, "job", FIRST),
    Column("chunksize", NUMBER, "", "tasks per dispatch (Pool: `ceil(tasks / (4·workers))` "
           "unless configured; process_pool: its option; joblib: the batch size it settled "
           "on; ipyparallel: `ceil(tasks / workers)`; empty for others)", JS, "job", MEDIAN),
    Column("start_method", TEXT, "", "the multiprocessing start method of the series' "
           "workers (`pool`, `process_pool`; empty for others)", JS, "job", FIRST),
    Column("backend_<name>", TEXT, "", "a column the series' backend class declares "
           "(`Backend.columns`; the registered ones are listed below)", JS, "job", FIRST),
    Column("workload_<name>", TEXT, "", "a column the workload class declares "
           "(`Workload.columns`; the registered ones are listed below)", JS, "job", FIRST),
    Column("oversubscribed", FLAG, "", "more workers than available cores", JS, "job", FIRST),
    Column("load_avg_1m", NUMBER, "", "the 1-minute load average at the job's start", JS,
           "job", MEDIAN),
    Column("quiet_waited_seconds", NUMBER, S, "how long the job waited for a quiet machine "
           "before it started", JS, "job", MEDIAN),
    Column("background_cpu_fraction", NUMBER, "", "share of all CPUs others kept busy just "
           "before the job started anything", JS, "job", MEDIAN),
    Column("background_cpu_fraction_during", NUMBER, "", "share of all CPUs others used while "
           "the job took its samples (the machine's busy time minus the job's tree's); empty "
           "on a cluster", JS, "job", MEDIAN),
    Column("loaded", FLAG, "", "either share above `quiet_cpu_fraction`: measured on a busy "
           "machine", JS, "job",
           summary_meaning="a replicate still in the statistics was `loaded`"),
    Column("attempts", INTEGER, "", "1, or more when a loaded job was measured again; the "
           "rows are the last attempt's", (JOB,), "job"),
    Column("planned_round", INTEGER, "", "0 for a job of the design's grid; N for one that "
           "refinement round N planned (results/refine/roundN.json says why)", JS, "job",
           MEDIAN),
    Column("orphans_stopped", INTEGER, "", "processes an earlier, killed job left running, "
           "stopped before this job measured (0 normally)", (JOB,), "job"),
    Column("job_start_unix", NUMBER, S, "when the job's measurement started (Unix time)",
           (JOB,), "job"),
    Column("job_end_unix", NUMBER, S, "when it ended", (JOB,), "job"),
)

SAMPLE = (
    Column("repeat", INTEGER, "", "0-based index of the timed sample", (JOB,), "sample",
           required=True),
    Column("seconds", NUMBER, S, "one map: every task submitted, run, and its result back in "
           "the driver (shared input shipped inside it): the sample's time ÷ "
           "`maps_per_sample`", (JOB,), "sample", required=True),
    Column("maps_per_sample", INTEGER, "", "k: consecutive maps under one timer, chosen after "
           "the warm-up so that a sample lasts at least `min_sample_seconds`", JS, "sample",
           MEDIAN),
    Column("sample_seconds", NUMBER, S, "the whole sample's time", (JOB,), "sample"),
    Column("cpu_seconds", NUMBER, S, "on-CPU time of the job's whole process tree during "
           "one map; empty on a cluster", JS, "sample",
           summary_meaning="median over the ok samples"),
    Column("cpu_utilization", NUMBER, "", "`cpu_seconds / (seconds × workers)`", JS, "sample",
           summary_meaning="median over the ok samples"),
    Column("max_relative_error", NUMBER, "", "largest relative difference of the map's "
           "results from the serial reference", (JOB,), "sample"),
    Column("verified", FLAG, "", "every task's result equals the serial reference (within "
           "the workload's `rtol`)", JS, "sample", required=True,
           summary_meaning="every sample, warm-up and gathered state verified"),
)

# What identifies a machine and software set (machines.csv), and the rest of a
# job's provenance (the per-job rows only).
JM = (JOB, MACHINES)
JMM = (JOB, MACHINES, MODEL)  # what identifies the machine a model was fitted on
# What tells two rows came from different machines: every per-job CSV must say it
# (aggregation warns when the rows it reads say several).
MACHINE_IDENTITY = ("hostname", "cpu_model", "logical_cpus", "available_cores")
PROVENANCE = tuple(
    Column(name, kind, unit, meaning, tables, "provenance",
           required=name in MACHINE_IDENTITY)
    for name, kind, unit, meaning, tables in (
        ("hostname", TEXT, "", "the machine", JMM),
        ("cpu_model", TEXT, "", "as /proc/cpuinfo names it", JMM),
        ("logical_cpus", INTEGER, "", "`os.cpu_count()`", JM),
        ("physical_cores", INTEGER, "", "as psutil counts them", JM),
        ("affinity_cores", INTEGER, "", "CPUs in the job's affinity mask", (JOB,)),
        ("cgroup_cpu_quota", NUMBER, "", "CPUs the cgroup quota allows (empty: unlimited)",
         (JOB,)),
        ("available_cores", INTEGER, "", "affinity ∩ cgroup quota: what `workers: auto` is",
         JMM),
        ("memory_bytes", INTEGER, BYTES, "the machine's memory", JM),
        ("shm_bytes", INTEGER, BYTES, "size of /dev/shm (Ray's object store)", JM),
        ("os", TEXT, "", "system and kernel release", JM),
        ("python_version", TEXT, "", "the interpreter that ran the job", JM),
        ("python_free_threaded_build", FLAG, "", "the interpreter was built free-threaded "
         "(`Py_GIL_DISABLED`, 3.13t and later)", JM),
        ("gil_enabled", FLAG, "", "whether the GIL was on after the tasks ran: False only on "
         "a free-threaded build whose GIL stayed off (an extension module without "
         "free-threading support turns it back on)", JM),
        ("blas_library", TEXT, "", "NumPy's BLAS, as threadpoolctl reports it", JM),
        ("default_start_method", TEXT, "", "the interpreter's multiprocessing default", JM),
        ("git_commit", TEXT, "", "the project's commit", JM),
        ("git_dirty", FLAG, "", "uncommitted changes to tracked files", JM),
        ("config_hash", TEXT, "", "hash of the whole validated config (recorded, not a "
         "rerun trigger)", JM),
        ("timestamp_utc", TEXT, "", "when the job ended", (JOB,)),
        ("<package>_version", TEXT, "", "the core packages' versions (numpy, pandas, "
         "snakemake, psutil, threadpoolctl), then every registered backend's and "
         "workload's `packages`", JM),
    ))
# A series is flagged, not dropped, when any replicate ran with the GIL back on.
PROVENANCE = tuple(
    dataclasses.replace(one, tables=(*one.tables, SUMMARY), to_summary=ANY,
                        summary_meaning="any replicate ran with the GIL on")
    if one.name == "gil_enabled" else one for one in PROVENANCE)
