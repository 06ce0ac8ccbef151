"""What a column is, and the tables and kinds there are (parbench.columns declares
every column; this holds the vocabulary they are declared in)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# The format of every table this version writes. Raise it when a column is renamed
# or changes meaning, and add the step that reads the old one (parbench.migrations).
FORMAT_VERSION = 4

# The tables: the per-job CSV (`timings.csv` is every job's rows), and the aggregates.
JOB, SUMMARY, CROSSOVER, DESIGN, MACHINES = "job", "summary", "crossover", "design", "machines"
MODEL, PREDICTIONS = "model", "predictions"  # the cost model's (parbench.model)
TABLES = (JOB, SUMMARY, CROSSOVER, DESIGN, MACHINES, MODEL, PREDICTIONS)
# The aggregate files and the table each holds: every workload's
# (results/aggregates/<workload>/<file>.csv), then the global ones (results/<file>.csv).
WORKLOAD_FILES = {"timings": JOB, "summary": SUMMARY, "crossover": CROSSOVER, "design": DESIGN}
GLOBAL_FILES = {**WORKLOAD_FILES, "machines": MACHINES, "model": MODEL,
                "predictions": PREDICTIONS}
TEXT, INTEGER, NUMBER, FLAG = "text", "integer", "number", "flag"
# How a per-job value reaches summary.csv: the median over the replicates, the
# first replicate's (a value every replicate shares), or whether any replicate's is
# true (a flag one replicate raising is enough).
MEDIAN, FIRST, ANY = "median", "first", "any"
# Units.
S, BYTES = "s", "bytes"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # TEXT, INTEGER, NUMBER or FLAG
    unit: str
    meaning: str
    tables: tuple[str, ...] = (JOB,)
    group: str = "measurement"  # where the docs list it
    to_summary: str = ""  # MEDIAN, FIRST or ANY: a job column summary.csv carries too
    required: bool = False  # a per-job CSV without it is invalid
    summary_meaning: str = ""  # where summary.csv's value means more than the job's

    @property
    def family(self) -> bool:
        """A pattern that stands for many columns (`option_<name>`)."""
        return "<" in self.name

    def prefixed(self, prefix: str) -> Column:
        return dataclasses.replace(self, name=f"{prefix}{self.name}")


def kind_of(python_type: str) -> str:
    """The kind of a dataclass field's type (as a string: postponed annotations)."""
    return {"int": INTEGER, "float": NUMBER, "bool": FLAG}.get(python_type, TEXT)


# Which identity columns key each table (a crossover is per curve: every size).
