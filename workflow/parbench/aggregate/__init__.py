"""Per-job CSVs -> timings.csv, summary.csv, crossover.csv, machines.csv, design.csv
(columns: parbench.columns; schemas: results/README.md).

A combination is measured in one or more replicates (jobs); every median,
speedup and crossover interval is a two-level bootstrap over replicates and the
repeats within them (parbench.stats). The workflow aggregates each workload in a
job of its own, then combines them; `aggregate` does the same in one process.

  read        per-job CSVs checked (validate) and brought to today's format
  summary     per combination, with its speedup (speedup)
  crossovers  where one series overtakes another (parbench.crossover)
  design      how many replicates and samples a rerun needs
  tables      one workload's tables; every workload's combined

This layer reads only the per-job files; plotting reads only what it writes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from parbench import columns
from parbench.aggregate.crossovers import crossovers
from parbench.aggregate.design import design_message, recommended_design
from parbench.aggregate.read import collect_timings, read_table
from parbench.aggregate.summary import summarise
from parbench.aggregate.tables import (
    JOB,
    combine,
    invalid_file_rows,
    machines,
    read_across_workloads,
    tables_of_workloads,
    workload_tables,
)
from parbench.crossover import default_pairs
from parbench.forked import forked_map
from parbench.machine import available_cores
from parbench.tables import write_csv_atomically, write_text_atomically

# From this many rows a table's text is formatted on every core (timings.csv of ten
# thousand jobs: 64k rows of 106 columns, about 5 s on one).
ROWS_FORMATTED_SIDE_BY_SIDE = 20_000


def write_table(table: pd.DataFrame, output: str | Path) -> None:
    """write_csv_atomically, byte for byte; a large table's rows formatted in as many
    slices as there are cores, side by side (parbench.forked), then joined. A column
    declared whole (columns.INTEGER) is written as whole numbers beside empty cells
    (pandas wrote `3.0` wherever one was missing)."""
    table = whole_numbers(table)
    if len(table) < ROWS_FORMATTED_SIDE_BY_SIDE:
        write_csv_atomically(table, output)
        return
    bounds = np.linspace(0, len(table), available_cores() + 1).astype(int)
    slices = [(start, end) for start, end in zip(bounds[:-1], bounds[1:]) if end > start]
    texts = forked_map(lambda rows: table.iloc[rows[0]:rows[1]].to_csv(
        index=False, header=rows[0] == 0), slices)
    write_text_atomically("".join(texts), output)


def whole_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with each declared whole-number column that pandas holds as floats (a
    missing value among them) as nullable integers, where every value is whole."""
    cast = {}
    for name in table.columns:
        declared = columns.family_of(name)
        if declared is None or declared.kind != columns.INTEGER or table[name].dtype.kind != "f":
            continue
        present = table[name].dropna()
        if len(present) < len(table[name]) and (present % 1 == 0).all():
            cast[name] = "Int64"
    return table.astype(cast) if cast else table


# The tables each workload gets (results/aggregates/<workload>/), and the global
# ones the concatenation step writes (results/).
WORKLOAD_TABLES = tuple(columns.WORKLOAD_FILES)
GLOBAL_TABLES = tuple(columns.GLOBAL_FILES)


def aggregate_workload(job_csvs: Iterable[str | Path], outputs: Mapping[str, str | Path],
                       pairs: Sequence[Sequence[str]], exclude_loaded: bool = False,
                       skip_invalid: bool = False) -> None:
    """One workload's per-job CSVs -> its tables (`outputs`: WORKLOAD_TABLES -> path).
    The workflow runs this once per workload, so that new jobs of one workload
    re-aggregate (and re-plot) that workload alone."""
    invalid: list[tuple[str, str]] | None = [] if skip_invalid else None
    timings = collect_timings(job_csvs, invalid)
    for name, table in workload_tables(timings, pairs, exclude_loaded, invalid or []).items():
        write_table(table, outputs[name])


def combine_files(per_workload: Sequence[Mapping[str, str | Path]],
                  outputs: Mapping[str, str | Path], pairs: Sequence[Sequence[str]],
                  exclude_loaded: bool = False) -> None:
    """Every workload's tables (files) -> the global tables (`outputs`: GLOBAL_TABLES).
    Of each workload's timings only what crosses workloads is parsed; the rows
    themselves are joined as text (write_combined_timings)."""
    tables = [{name: read_table(path, read_across_workloads if name == "timings" else None)
               for name, path in files.items()} for files in per_workload]
    write_global(combine(tables, pairs), outputs, exclude_loaded)
    first_workloads = [table["timings"]["workload"].iloc[0] for table in tables]
    write_combined_timings([files["timings"] for files in per_workload], first_workloads,
                           outputs["timings"])


def write_combined_timings(paths: Sequence[str | Path], workloads: Sequence[str],
                           output: str | Path) -> None:
    """Each workload's timings file (`workloads`: whose rows each holds) -> the global
    timings.csv: every row, sorted by job (workload first), as one table would be.
    Where the files share one header, their text is joined as written, not parsed
    and formatted again: at ten thousand jobs that was most of the combining step. A
    whole number may then read `4` in one workload's rows and `4.0` in another's,
    as each workload's own file has it; the values are the same."""
    texts = [Path(path).read_text() for _, path in sorted(zip(workloads, paths))]
    ends = [text.find("\n") + 1 for text in texts]
    if len({text[:end] for text, end in zip(texts, ends)}) == 1:
        write_text_atomically(texts[0][:ends[0]] + "".join(
            text[end:] for text, end in zip(texts, ends)), output)
        return
    # Workloads with different columns (other series' options, other packages).
    timings = pd.concat([read_table(path) for path in paths], ignore_index=True)
    timings = timings[columns.ordered(list(timings.columns), columns.JOB)]
    write_table(timings.sort_values(JOB + ["repeat"]).reset_index(drop=True), output)


def write_global(tables: Mapping[str, pd.DataFrame], outputs: Mapping[str, str | Path],
                 exclude_loaded: bool) -> None:
    """Every global table but timings (written by whoever has its rows)."""
    for name in GLOBAL_TABLES:
        if name != "timings":
            write_table(tables[name], outputs[name])
    summary = tables["summary"]
    loaded = int(summary["loaded"].fillna(False).astype(bool).sum())
    if loaded:
        print(f"warning: {loaded} of {len(summary)} combinations have replicates measured on a "
              "loaded machine" + (" (left out of the statistics)" if exclude_loaded else
                                  " (`--exclude-loaded` leaves them out)"), file=sys.stderr)
    print(design_message(tables["design"]), file=sys.stderr)


def aggregate(
    job_csvs: Iterable[str | Path],
    folder: str | Path,
    pairs: Sequence[Sequence[str]] | None = None,
    exclude_loaded: bool = False,
    skip_invalid: bool = False,
) -> dict[str, Path]:
    """All per-job CSVs at once (`parbench aggregate`): workload by workload, then
    combined, exactly as the workflow does it in separate jobs, into every global
    table as `folder`/<table>.csv (GLOBAL_TABLES; returned by name). `pairs`: the
    [challenger, baseline] pairs for crossover.csv; None: the default pairs whose two
    series are in the rows. `exclude_loaded`: statistics without the jobs measured
    on a loaded machine (timings.csv keeps them). `skip_invalid`: leave out per-job
    CSVs that break their schema, listing them in the log and as `invalid file` rows
    of summary.csv, instead of stopping."""
    invalid: list[tuple[str, str]] | None = [] if skip_invalid else None
    timings = collect_timings(job_csvs, invalid)
    if pairs is None:
        present = set(timings["series"])
        pairs = default_pairs(present)
    tables = tables_of_workloads(timings, pairs, exclude_loaded)
    if invalid:  # listed once, after every workload's rows
        tables[-1]["summary"] = pd.concat(
            [tables[-1]["summary"], invalid_file_rows(invalid, tables[-1]["summary"].columns)],
            ignore_index=True)
    outputs = {name: Path(folder) / f"{name}.csv" for name in GLOBAL_TABLES}
    write_global(combine(tables, pairs), outputs, exclude_loaded)
    write_table(timings, outputs["timings"])  # collect_timings sorted it by job
    return outputs


# A run's design, beside its raw/ (results/config.yaml, written by the workflow's
# aggregation; docs/data/<run>/config.yaml): the compared pairs and the choice of
# `exclude_loaded` its aggregates were made with, which `parbench aggregate` repeats.
RUN_DESIGN = "config.yaml"


def run_design(results: str | Path) -> dict:
    """The design a run folder carries (RUN_DESIGN), empty where it carries none."""
    import yaml

    design = Path(results) / RUN_DESIGN
    return (yaml.safe_load(design.read_text()) or {}) if design.is_file() else {}


def run_pairs(results: str | Path) -> list[list[str]] | None:
    """The `compare` pairs of the design a run folder carries (RUN_DESIGN), or None
    (the default pairs) where it carries none; `compare: []` is no pairs, as in the
    workflow."""
    pairs = run_design(results).get("compare")
    return None if pairs is None else [list(pair) for pair in pairs]


def write_run_design(design: Mapping, output: str | Path) -> None:
    """The design a sweep ran, as RUN_DESIGN beside its aggregates."""
    import yaml

    write_text_atomically(yaml.safe_dump(_plain(design), sort_keys=False), output)


def _plain(value: Any) -> Any:
    """Mappings as dicts and sequences as lists, all the way down: Snakemake reads a JSON
    design's mappings as OrderedDicts, which YAML's safe dumper refuses."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


__all__ = ["GLOBAL_TABLES", "RUN_DESIGN", "WORKLOAD_TABLES", "aggregate", "aggregate_workload",
           "run_design", "run_pairs", "write_run_design",
           "collect_timings", "combine", "combine_files", "crossovers", "machines",
           "read_table", "recommended_design", "summarise", "workload_tables"]
