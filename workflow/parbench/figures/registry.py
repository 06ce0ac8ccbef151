"""Every figure, declared once: its name (its module, `parbench.figures.<name>`, and
its report caption, `workflow/report/<name>.rst`), its scope, where it goes and how
the report files it. Light: Snakemake reads this at parse time, without matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Scopes: one figure per workload, one for the whole sweep, one per workload on each
# cluster target.
WORKLOAD, OVERVIEW, TARGET = "workload", "overview", "target"


@dataclass(frozen=True)
class Figure:
    name: str
    scope: str
    category: str  # the report's section
    summary: str  # what it shows, in a line (docs, `parbench plot --list`)
    labels: dict[str, str] = field(default_factory=dict)  # the report's labels
    # Tables it reads besides summary.csv and crossover.csv (given to `draw` by name).
    reads: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return f"parbench.figures.{self.name}"

    @property
    def stem(self) -> str:
        """Its file under results/figures/ without the extension (wildcards left in)."""
        if self.scope == WORKLOAD:
            return f"{self.name}_{{workload}}"
        if self.scope == TARGET:
            return f"{{target}}/{self.name.removeprefix('target_')}_{{workload}}"
        return self.name

    @property
    def path(self) -> str:
        return f"results/figures/{self.stem}.{{extension}}"


FIGURES: dict[str, Figure] = {figure.name: figure for figure in (
    Figure("scaling", WORKLOAD, "1. Scaling curves",
           "median time per map against size, log-log, 95 % CI bands, the crossover and "
           "its interval", {"workload": "{workload}"}),
    Figure("speedup", WORKLOAD, "2. Speedup",
           "speedup over the serial loop against size, with the ideal",
           {"workload": "{workload}", "versus": "size"}),
    Figure("workers", WORKLOAD, "2. Speedup",
           "speedup and efficiency against worker count, with the ideal lines",
           {"workload": "{workload}", "versus": "workers"}),
    Figure("winner", WORKLOAD, "3. Winner map",
           "the fastest series per cell, shaded by its margin over the runner-up",
           {"workload": "{workload}"}),
    Figure("overhead", OVERVIEW, "4. Overheads",
           "start-up, dispatch per task and teardown per series: the fixed costs"),
    Figure("article", OVERVIEW, "5. The article, re-measured",
           "the article's table with intervals: warm and cold time per series"),
    Figure("model", OVERVIEW, "4. Overheads",
           "the cost model: predicted against measured warm time, held-out combinations "
           "marked", reads=("predictions",)),
    Figure("model_curves", OVERVIEW, "4. Overheads",
           "the cost model's curves beside the measured medians, per workload on its "
           "curve with the most measurements", reads=("predictions",)),
    Figure("interpreters", OVERVIEW, "7. Other interpreters",
           "series on other interpreters (a free-threaded CPython): one thread's cost "
           "over the project's serial loop, and the threads' scaling over their own"),
    Figure("target_scaling", TARGET, "6. Clusters",
           "a cluster target's scaling figure: its series alone",
           {"workload": "{workload}", "target": "{target}"}),
)}


# The figure a run's findings (and the README's headline) show with the answer.
HEADLINE = FIGURES["scaling"]


def headline_figure(workload: str, folder: str = "results/figures") -> str:
    """The headline figure's PNG for `workload`, under `folder`."""
    return f"{folder}/{HEADLINE.stem.format(workload=workload)}.png"


def of_scope(scope: str) -> list[Figure]:
    return [figure for figure in FIGURES.values() if figure.scope == scope]


def tables_read(scope: str) -> list[str]:
    """The tables a scope's figures read besides summary.csv and crossover.csv."""
    return sorted({table for figure in of_scope(scope) for table in figure.reads})
