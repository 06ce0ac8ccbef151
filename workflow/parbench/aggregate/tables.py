"""The tables of one workload, and every workload's combined into the global ones
(what crosses workloads: the sweep-wide job order, machines, the sweep's design row)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from parbench import columns, identity
from parbench.aggregate.crossovers import CROSSOVER_COLUMNS, crossovers, refinement_history
from parbench.aggregate.design import combination_designs, with_sweep_design
from parbench.aggregate.summary import public_summary, replicate_gap_column, summary_with_samples
from parbench.columns.statuses import INVALID_FILE
from parbench.forked import forked_map
from parbench.model import (
    FIT_WORKLOADS,
    Model,
    fit_model,
    model_table,
    predicted_crossovers,
    predictions,
)

IDENTITY, JOB = list(identity.COMBINATION), list(identity.JOB)
# What identifies a machine and software set: the job columns machines.csv carries
# (parbench.columns: provenance, settings, and the interpreter a series ran on), and
# every package version the rows record.
MACHINE_COLUMNS = [name for name in columns.names(columns.MACHINES)
                   if columns.BY_NAME[name].group in ("provenance", "settings", "series")]


def machines(timings: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct machine and software set, with how many jobs it ran and when."""
    versions = [column for column in timings.columns if column.endswith("_version")
                and column not in columns.BY_NAME]
    present = [column for column in MACHINE_COLUMNS if column in timings] + versions
    jobs = timings.drop_duplicates(JOB)
    table = (
        jobs.groupby(present, dropna=False)
        .agg(jobs=("workload", "size"), first_utc=("timestamp_utc", "min"),
             last_utc=("timestamp_utc", "max"))
        .reset_index()
        .assign(format_version=columns.FORMAT_VERSION)
    )
    return table[columns.ordered(list(table.columns), columns.MACHINES)]

def workload_tables(timings: pd.DataFrame, pairs: Sequence[Sequence[str]],
                    exclude_loaded: bool = False,
                    invalid: Sequence[tuple[str, str]] = ()) -> dict[str, pd.DataFrame]:
    """One workload's rows -> its timings, summary, crossover and design tables."""
    full_summary = summary_with_samples(timings, exclude_loaded)
    summary = public_summary(full_summary, timings)
    if invalid:
        summary = pd.concat([summary, invalid_file_rows(invalid, summary.columns)],
                            ignore_index=True)
    for line in refinement_history(timings, pairs):
        print(line, file=sys.stderr)
    return {"timings": timings, "summary": summary,
            "crossover": crossovers(timings, pairs, exclude_loaded),
            "design": combination_designs(full_summary)}


def tables_of_workloads(timings: pd.DataFrame, pairs: Sequence[Sequence[str]],
                        exclude_loaded: bool = False) -> list[dict[str, pd.DataFrame]]:
    """workload_tables of every workload in `timings` (in order of appearance), on as
    many cores as there are workloads and cores (parbench.forked; the most rows
    first): workloads are independent, as the workflow's per-workload jobs are."""
    parts = [part.reset_index(drop=True)
             for _, part in timings.groupby("workload", sort=False)]

    def tables_besides_timings(part: pd.DataFrame) -> dict[str, pd.DataFrame]:
        tables = workload_tables(part, pairs, exclude_loaded)
        del tables["timings"]  # the parent has them: not sent back
        return tables

    found = forked_map(tables_besides_timings, parts, first=len)
    return [{"timings": part, **tables} for part, tables in zip(parts, found)]


# The timings columns that what crosses workloads reads: the sweep-wide job order
# (start times), machines.csv, and the family columns summary.csv carries.
ACROSS_WORKLOADS = frozenset(JOB + MACHINE_COLUMNS + ["job_start_unix", "timestamp_utc"])


def read_across_workloads(name: str) -> bool:
    """Whether `combine` reads timings column `name` (the rest it never looks at)."""
    return (name in ACROSS_WORKLOADS or name.endswith("_version")
            or bool(columns.family_members([name], columns.SUMMARY)))


def combine(tables: Sequence[Mapping[str, pd.DataFrame]],
            pairs: Sequence[Sequence[str]]) -> dict[str, pd.DataFrame]:
    """Every workload's tables -> the global ones besides timings, as aggregating all
    rows at once would give them: what crosses workloads (the sweep-wide job order,
    machines, the sweep's design row) is computed here. Of each workload's timings it
    needs only the columns `read_across_workloads` names."""
    timings = pd.concat([table["timings"] for table in tables], ignore_index=True)
    summary = pd.concat([table["summary"] for table in tables], ignore_index=True)
    invalid = summary["status"] == INVALID_FILE
    summary = public_summary(summary[~invalid], timings)
    # Replicates' distance in jobs counts every workload's jobs in between.
    summary["replicate_min_gap_jobs"] = replicate_gap_column(summary, timings)
    summary = pd.concat([summary, invalid_rows(tables)],
                        ignore_index=True).reindex(columns=summary.columns)
    crossover = pd.concat([table["crossover"] for table in tables], ignore_index=True)
    pair_order = {tuple(pair): position for position, pair in enumerate(pairs)}
    crossover = crossover.assign(
        _pair=[pair_order.get(pair, len(pair_order))
               for pair in zip(crossover["challenger"], crossover["baseline"])])
    crossover = (crossover.sort_values(["_pair", "workload"], kind="mergesort")
                 .drop(columns="_pair").reset_index(drop=True))
    designs = pd.concat([table["design"] for table in tables], ignore_index=True)
    designs = designs.sort_values(IDENTITY, kind="mergesort").reset_index(drop=True)
    machine_table = machines(timings)
    model, predicted = cost_model(summary, crossover, machine_table)
    crossover["predicted_crossover_size"] = predicted
    return {"summary": summary,
            "crossover": crossover.reindex(columns=CROSSOVER_COLUMNS),
            "machines": machine_table, "design": with_sweep_design(designs),
            "model": model_table(model), "predictions": predictions(summary, model)}


def cost_model(summary: pd.DataFrame, crossover: pd.DataFrame,
               machine_table: pd.DataFrame) -> tuple[Model, np.ndarray]:
    """The cost model of the sweep (parbench.model), fitted on its first machine's
    cores, and the crossover it predicts for each row of `crossover`."""
    first = machine_table.iloc[0].to_dict() if len(machine_table) else {}
    cores = int(first.get("available_cores") or 1)
    model = fit_model(summary, FIT_WORKLOADS, cores, first)
    return model, predicted_crossovers(crossover, summary, model)


def invalid_rows(tables: Sequence[Mapping[str, pd.DataFrame]]) -> pd.DataFrame:
    """The `invalid file` rows of every workload's summary, in workload order."""
    frames = [table["summary"][table["summary"]["status"] == INVALID_FILE]
              for table in tables]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def invalid_file_rows(invalid: Sequence[tuple[str, str]], names: pd.Index) -> pd.DataFrame:
    """One `invalid file` row per per-job CSV left out, its identity read from its path."""
    rows = []
    for path, problem in invalid:
        job = identity.parse_job_csv(path)
        rows.append({**(dataclasses.asdict(job) if job else {}), "status": INVALID_FILE,
                     "repeats": 0, "verified": False, "error": problem,
                     "format_version": columns.FORMAT_VERSION})
    return pd.DataFrame(rows).reindex(columns=names)
