"""A cluster target's scaling figure: its series alone, and the crossovers of pairs
on it (its speedups would need the serial loop on the same target)."""

from __future__ import annotations

import pandas as pd

from parbench.backends import target_of
from parbench.figures import panels, scaling
from parbench.figures.style import DEFAULT_WIDTH


def draw(summary: pd.DataFrame, crossover: pd.DataFrame, workload: str,
         width: float = DEFAULT_WIDTH, target: str = ""):
    """`summary`: the target's rows alone (parbench.figures.draw chooses them)."""
    if summary[summary["workload"] == workload].empty:  # none of its series ran there
        return panels.message_figure(width, f"no series of this workload ran on {target}",
                                     f"{workload} on {target}")
    on_target = crossover[crossover["challenger"].map(target_of) == target]
    return scaling.draw(summary, on_target, workload, width)
