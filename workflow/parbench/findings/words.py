"""How the findings say sizes, times and crossovers: three significant digits, the
size in its workload's unit, and a crossover's status in plain words."""

from __future__ import annotations

import math

import pandas as pd


def seconds(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    for factor, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if value >= factor:
            return f"{value / factor:.3g} {name}"
    return f"{value * 1e9:.3g} ns"


def size(value: float, unit: str) -> str:
    """A size in its workload's unit: bytes as kB, MB and GB."""
    if not math.isfinite(value):
        return "—"
    if "bytes" in unit:
        for factor, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if value >= factor:
                return f"{value / factor:.3g} {name}"
        return f"{value:.3g} B"
    if 1e3 <= abs(value) < 1e7:  # three significant digits, without an exponent
        return f"{float(f'{value:.3g}'):,.0f}"
    return f"{value:.3g}".replace("e+0", "e").replace("e+", "e")


def method(row: pd.Series) -> str:
    """How a found crossover was estimated, in a clause."""
    if row["method"] == "fit":
        return (f"fitted on {row['fit_sizes']:.0f} sizes from "
                f"{size(row['fit_size_low'], row['size_unit'])} to "
                f"{size(row['fit_size_high'], row['size_unit'])}, "
                f"{row['fit_replicates']:.0f} replicates side by side")
    if row["method"] == "bracket":
        return ("the interval is the two measured sizes where the paired times change sign, "
                "each side told from noise; a straight line does not hold there")
    return (f"interpolated between the grid's {size(row['size_below'], row['size_unit'])} "
            f"and {size(row['size_above'], row['size_unit'])}, a bootstrap interval that "
            "few replicates make too narrow")


def crossover(row: pd.Series) -> str:
    """A compared pair on one curve, in a sentence."""
    challenger, baseline, unit = f"`{row['challenger']}`", f"`{row['baseline']}`", \
        row["size_unit"]
    status = row["crossover_status"]
    if status == "found":
        return (f"{challenger} overtakes {baseline} above **{size(row['crossover_size'], unit)}"
                f"** (95 % CI {size(row['crossover_ci_low'], unit)} to "
                f"{size(row['crossover_ci_high'], unit)}; {method(row)}).")
    near = next((row[column] for column in ("fit_size", "interpolated_size", "medians_cross")
                 if column in row and pd.notna(row[column])), math.nan)
    near_words = f" near {size(near, unit)}" if math.isfinite(near) else ""
    phrases = {
        "none in range": f"{challenger} does not overtake {baseline} in the sizes measured.",
        "not significant": f"the medians of {challenger} and {baseline} cross{near_words}, "
                           f"but {challenger}'s lead above is within the noise.",
        "no clear winner": f"{challenger} and {baseline} cannot be told apart at any size "
                           "measured.",
        "poor fit": f"a straight line does not fit the times of {challenger} and {baseline} "
                    f"near their crossing (residuals {row.get('fit_residual_challenger', 0):.0%}"
                    f" and {row.get('fit_residual_baseline', 0):.0%}); their medians cross"
                    f"{near_words}.",
        "unbounded interval": f"{challenger} and {baseline} cross{near_words}, but "
                              f"{row.get('fit_replicates', 0):.0f} replicates cannot bound "
                              "where.",
        "outside the fitted sizes": f"the lines fitted to {challenger} and {baseline} cross "
                                    "outside the sizes fitted.",
        "too few sizes": f"{challenger} and {baseline} ran together at too few sizes to tell.",
    }
    if status == "too few sizes" and not row.get("sizes_compared", 1):
        return f"{challenger} and {baseline} were not both measured at any size."
    if status.endswith("faster throughout"):
        return f"{challenger} is faster than {baseline} at every size measured."
    return phrases.get(status, f"{challenger} against {baseline}: {status}.")


def crossover_cell(row: pd.Series) -> str:
    """A crossover in a table cell: the size and its interval, or the status."""
    if row["crossover_status"] == "found":
        unit = row["size_unit"]
        return (f"{size(row['crossover_size'], unit)} [{size(row['crossover_ci_low'], unit)}, "
                f"{size(row['crossover_ci_high'], unit)}] ({row['method']})")
    return row["crossover_status"]


def counted(count: float, noun: str) -> str:
    """`1 worker`, `16 workers`."""
    return f"{count:.0f} {noun}" + ("" if count == 1 else "s")


def listed(names: list[str]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
