"""Every column of every CSV parbench writes, declared once: its name, kind, unit,
meaning and the tables that carry it.

The row a timing job writes is built in this order, the validator takes its kinds
and required columns from here, aggregation its column lists, and the schema pages
(results/README.md) their tables (`parbench describe`). Identity columns are the
fields of `parbench.identity.Job` and setting columns those of
`parbench.settings.JobSettings`; plug-ins add their own (`Backend.columns`,
`Workload.columns`), prefixed `backend_` and `workload_`, and a series' options come
as `option_<name>`. Every table carries `format_version`; `parbench.migrations`
reads older ones.

Ground floor: imports nothing heavy, and nothing of the layers above.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from parbench.columns.aggregates import (
    COMBINATION_STATISTICS,
    CROSSOVER_COLUMNS,
    DESIGN_COLUMNS,
    MACHINE_COLUMNS,
    MODEL_COLUMNS,
)
from parbench.columns.job import (  # noqa: F401 - CURVE: what a crossover is per
    CURVE,
    IDENTITY,
    JOB_TIMES,
    OUTCOME,
    PROVENANCE,
    SAMPLE,
    SERIES,
    SETTINGS,
    VERSION,
)
from parbench.columns.table import (  # noqa: F401 - the vocabulary, for the declarers
    ANY,
    CROSSOVER,
    DESIGN,
    FIRST,
    FLAG,
    FORMAT_VERSION,
    GLOBAL_FILES,
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
    WORKLOAD_FILES,
    Column,
)

COLUMNS: tuple[Column, ...] = (
    IDENTITY + (VERSION,) + SERIES + OUTCOME + COMBINATION_STATISTICS + JOB_TIMES + SETTINGS
    + SAMPLE + PROVENANCE + CROSSOVER_COLUMNS + DESIGN_COLUMNS + MACHINE_COLUMNS
    + MODEL_COLUMNS)
BY_NAME = {column.name: column for column in COLUMNS}
if len(BY_NAME) != len(COLUMNS):
    raise RuntimeError("a column is declared twice: "
                       f"{[c.name for c in COLUMNS if sum(o.name == c.name for o in COLUMNS) > 1]}")

def names(table: str, *, families: bool = False) -> list[str]:
    """The columns of `table`, in order; with `families`, `option_<name>` and the like."""
    found = [column.name for column in COLUMNS
             if (table in column.tables or (table == SUMMARY and column.to_summary))
             and (families or not column.family)]
    return list(dict.fromkeys(found))


def to_summary(how: str) -> list[str]:
    """Job columns summary.csv takes from the jobs, `how` (MEDIAN, FIRST or ANY)."""
    return [column.name for column in COLUMNS if column.to_summary == how and not column.family]


def of_kind(kind: str, table: str = JOB) -> list[str]:
    return [name for name in names(table) if BY_NAME[name].kind == kind]


def required() -> list[str]:
    """What every per-job CSV must have to be aggregated."""
    return [column.name for column in COLUMNS if column.required]


FAMILY_PREFIXES = tuple(column.name.partition("<")[0] for column in COLUMNS if column.family
                        if not column.name.startswith("<"))
FAMILY_SUFFIXES = tuple(column.name.partition(">")[2] for column in COLUMNS
                        if column.family and column.name.startswith("<"))


def family_of(name: str) -> Column | None:
    """The declared column a name belongs to: itself, or its family (`option_chunksize`)."""
    if name in BY_NAME:
        return BY_NAME[name]
    for column in COLUMNS:
        if column.family:
            prefix, _, rest = column.name.partition("<")
            suffix = rest.partition(">")[2]
            if name.startswith(prefix) and name.endswith(suffix) and len(name) > len(
                    prefix) + len(suffix):
                return column
    return None


def ordered(present: list[str], table: str = JOB) -> list[str]:
    """`present` in the table's order: a family's members at the family's place (by
    name), columns the table does not declare last (in the order given). The same
    columns give the same order, whichever rows brought them."""
    rank = {name: position for position, name in enumerate(names(table, families=True))}

    def place(name: str) -> tuple[int, str]:
        column = family_of(name)
        if column is None or column.name not in rank:
            return (len(rank), "")
        return (rank[column.name], name if column.family else "")

    return sorted(present, key=place)  # stable: undeclared ones keep their order


def in_group(group: str) -> list[str]:
    return [column.name for column in COLUMNS if column.group == group]


def row(values: Mapping[str, Any], table: str = JOB) -> dict[str, Any]:
    """`values` as one row of `table`: its declared columns in order (missing ones
    empty), a family's members at the family's place. A name the table does not
    declare is an error: every column is declared before it is written."""
    undeclared = [name for name in values
                  if (column := family_of(name)) is None
                  or not (table in column.tables or column.to_summary and table == SUMMARY)]
    if undeclared:
        raise ValueError(f"columns {undeclared} are not declared for the {table} table "
                         "(parbench.columns, or the plug-in's `columns`)")
    present = list(dict.fromkeys([*names(table), *values]))
    return {name: values.get(name) for name in ordered(present, table)}


def plugin_column_problems(owner: str, declared: tuple[Column, ...]) -> list[str]:
    """What a backend's or workload's own columns (`columns`) ask that aggregation cannot
    give: their values reach summary.csv as the first job's (the family's `to_summary`)
    and are read as text (aggregation may run without the plug-in, and has only the
    family's declaration); a declaration asking a median, say, would be silently
    ignored. Empty where it asks nothing else."""
    # The families plug-ins' columns belong to (`backend_<name>`, `workload_<name>`).
    read_as = {column.to_summary for column in COLUMNS
               if column.family and column.name.endswith("_<name>")}
    return [f"{owner}'s column {column.name!r} asks to_summary={column.to_summary!r}, "
            f"but a plug-in's column reaches summary.csv as its first job's value: declare "
            f"to_summary={' or '.join(repr(how) for how in sorted(read_as))}, or none"
            for column in declared if column.to_summary not in ("", *read_as)]


def family_members(frame_columns: list[str], table: str = JOB) -> list[str]:
    """The columns of a frame that belong to a family carried by `table`, in order."""
    return [name for name in frame_columns
            if name not in BY_NAME and (column := family_of(name)) is not None
            and (table in column.tables or (table == SUMMARY and column.to_summary))]
