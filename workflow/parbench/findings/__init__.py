"""What a run found, in words a reader can quote: results/findings.md (and its reST
twin, the report's front page), every number formatted from the aggregates.

  document   headings, paragraphs and tables as Markdown and as reST
  words      how sizes, times and crossovers are said
  sections   the answer up front, the regime table, the page in order
  detail     each workload, what the run could not decide, the machine
  runs, headline, pages
             the docs generated from the committed runs: the README's headline, the
             regime table, a page per run, the cost model's pages

Reads summary.csv, crossover.csv and machines.csv (and the cost model's tables where
a run has them); writes nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from parbench.findings.document import markdown, rst
from parbench.findings.sections import findings
from parbench.migrations import read_table
from parbench.tables import write_text_atomically


def write_findings(summary_csv: str | Path, crossover_csv: str | Path,
                   machines_csv: str | Path, markdown_path: str | Path,
                   rst_path: str | Path | None = None,
                   figures: Mapping[str, str | Path] | None = None,
                   model_csv: str | Path | None = None) -> str:
    """The findings of one run's aggregates, as Markdown (and reST for the report, the
    headline's figure embedded); `figures`: each workload's scaling figure (PNG);
    `model_csv`: the cost model's parameters, for the line of why."""
    model = read_table(model_csv) if model_csv and Path(model_csv).is_file() else None
    blocks = findings(read_table(summary_csv), read_table(crossover_csv),
                      read_table(machines_csv),
                      {name: str(path) for name, path in (figures or {}).items()}, model)
    text = markdown(blocks)
    write_text_atomically(text, markdown_path)
    if rst_path is not None:
        write_text_atomically(rst(blocks), rst_path)
    return text


__all__ = ["findings", "write_findings"]
