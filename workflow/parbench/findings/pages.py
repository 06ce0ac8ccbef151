"""The docs' pages of findings, generated from the committed runs (docs/data/<run>):
the README's headline (figure and caption) and a page per run, refreshed by
`parbench describe --write` (`make docs`) and checked current by a test, so that no
result number in the docs is typed by hand."""

from __future__ import annotations

from pathlib import Path

from parbench.findings.document import Heading, Paragraph, markdown
from parbench.findings.sections import findings, headline_row
from parbench.findings.words import crossover
from parbench.migrations import read_table

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "docs/data"
# The run the README leads with: the reference (dense, slow, the method of today),
# else the first committed one.
HEADLINE_RUNS = ("reference", "2cpu")


def _tables(run: str):
    folder = DATA / run
    return (read_table(folder / "summary.csv"), read_table(folder / "crossover.csv"),
            read_table(folder / "machines.csv"))


def run_findings(run: str) -> str:
    """docs/data/<run>'s findings, one heading level down (the page has its own title)."""
    blocks = findings(*_tables(run))
    shifted = [Heading(block.text, min(block.level + 1, 3)) if isinstance(block, Heading)
               else block for block in blocks]
    return markdown(shifted).rstrip()


def headline_run() -> str:
    return next(run for run in HEADLINE_RUNS if (DATA / run / "crossover.csv").is_file())


def headline() -> str:
    """The README's figure and its caption, from the headline run."""
    run = headline_run()
    summary, table, machines = _tables(run)
    row = headline_row(table)
    machine = machines.iloc[0]
    figure = f"docs/figures/{run}/scaling_{row['workload']}.png"
    caption = (f"*`{row['workload']}`, {row['tasks']:.0f} tasks, {row['workers']:.0f} "
               f"workers, run `{run}` (`docs/data/{run}`: {machine['cpu_model']}, "
               f"{machine['available_cores']:.0f} cores, {str(machine['first_utc'])[:10]}): "
               + crossover(row) + "*")
    return markdown([Paragraph(f"![Where Ray overtakes Pool]({figure})"),
                     Paragraph(caption)]).rstrip()


def block(name: str) -> str | None:
    """A generated block of this module, by name (None: not one of them)."""
    if name == "headline":
        return headline()
    if name.startswith("findings-"):
        return run_findings(name.removeprefix("findings-"))
    return None
