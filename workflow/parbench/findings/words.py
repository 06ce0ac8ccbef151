"""How the findings say sizes, times and crossovers: three significant digits, the
size in its workload's unit, and a crossover's status in plain words."""

from __future__ import annotations

import math

import pandas as pd

from parbench.crossover.bracket import LACK_OF_FIT_ALPHA
from parbench.figures.style import first_known
from parbench.model.parameters import BOUNDS


def seconds(value: float) -> str:
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
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




def estimate(parameter: str, value: float, low: float, high: float, show,
             at_bound: str = "(bound)", unit: str = "", per: str = "") -> str:
    """A cost model parameter, `<value> <unit> [<interval>] <per>`, each number as `show`
    writes it: `—` where it was not fitted (no row needs it); `at_bound` last, in place
    of the interval, where it and its whole interval sit at the parameter's bound."""
    if pd.isna(value):
        parts = ["—", per]
    elif pd.isna(low):
        parts = [show(value), unit, per]
    # One that sits at its bound in every resample is not a measured "exactly none".
    elif parameter in BOUNDS and value == low == high == BOUNDS[parameter]:
        parts = [show(value), unit, per, at_bound]
    else:
        parts = [show(value), unit, f"[{show(low)}, {show(high)}]", per]
    return " ".join(part for part in parts if part)


def method(row: pd.Series) -> str:
    """How a found crossover was estimated, in a clause."""
    if row["method"] == "fit":
        return (f"fitted on {row['fit_sizes']:.0f} sizes from "
                f"{size(row['fit_size_low'], row['size_unit'])} to "
                f"{size(row['fit_size_high'], row['size_unit'])}, "
                f"{row['fit_replicates']:.0f} replicates side by side")
    if row["method"] == "bracket":
        return ("the interval is the two measured sizes where the paired times change sign, "
                f"each side told from noise; {why_no_fit(row)}")
    return (f"interpolated between the grid's {size(row['size_below'], row['size_unit'])} "
            f"and {size(row['size_above'], row['size_unit'])}, a bootstrap interval that "
            "few replicates make too narrow")


def why_no_fit(row: pd.Series) -> str:
    """Why a curve's headline is not the fitted line (parbench.crossover.bracket), in
    a clause: what the fit said."""
    status, unit = row.get("fit_status", ""), row["size_unit"]
    lack_of_fit = row.get("fit_lack_of_fit_p", math.nan)
    if status == "found" and pd.notna(lack_of_fit) and lack_of_fit < LACK_OF_FIT_ALPHA:
        return (f"the paired times bend away from a straight line there, lack-of-fit "
                f"p = {lack_of_fit:.2g}")
    if status == "found":
        return f"the fitted lines cross at {size(row['fit_size'], unit)}, outside it"
    return {"poor fit": "a straight line does not fit the times there",
            "unbounded interval": "the fitted lines cannot bound the crossing",
            "interval beyond the fitted sizes": "the fitted interval reaches past the sizes "
                                                "fitted",
            "outside the fitted sizes": "the fitted lines cross outside the sizes fitted",
            }.get(status, "too few sizes or replicates near the crossing to fit lines")


def crossover(row: pd.Series) -> str:
    """A compared pair on one curve, in a sentence."""
    challenger, baseline, unit = f"`{row['challenger']}`", f"`{row['baseline']}`", \
        row["size_unit"]
    status = row["crossover_status"]
    if status == "found":
        return (f"{challenger} overtakes {baseline} above **{size(row['crossover_size'], unit)}"
                f"** (95 % CI {size(row['crossover_ci_low'], unit)} to "
                f"{size(row['crossover_ci_high'], unit)}; {method(row)}).")
    # Where the medians cross, and where the pair crosses by the best estimate there is
    # (a fit's crossing, if one was placed): a sentence about the medians names theirs.
    medians_near = first_known(row, ("interpolated_size", "medians_cross"))
    medians_words = f" near {size(medians_near, unit)}" if math.isfinite(medians_near) else ""
    near = first_known(row, ("fit_size", "interpolated_size", "medians_cross"))
    near_words = f" near {size(near, unit)}" if math.isfinite(near) else ""
    phrases = {
        "none in range": f"{challenger} does not overtake {baseline} in the sizes measured.",
        "not significant": f"the medians of {challenger} and {baseline} cross{medians_words}, "
                           f"but {challenger}'s lead above is within the noise.",
        "no clear winner": f"{challenger} and {baseline} cannot be told apart at any size "
                           "measured.",
        "poor fit": f"a straight line does not fit the times of {challenger} and {baseline} "
                    f"near their crossing ({fit_misses(row)}); their medians cross"
                    f"{medians_words}.",
        "unbounded interval": f"{challenger} and {baseline} cross{near_words}, but "
                              f"{row.get('fit_replicates', 0):.0f} replicates cannot bound "
                              "where.",
        "outside the fitted sizes": f"the lines fitted to {challenger} and {baseline} cross "
                                    "outside the sizes fitted.",
        "interval beyond the fitted sizes": f"{challenger} and {baseline} cross{near_words}, "
                                            "but the fitted interval reaches past the sizes "
                                            "fitted, where nothing checked the lines.",
        "too few sizes": f"{challenger} and {baseline} ran together at too few sizes to tell.",
        "no sign change told from noise": (
            f"the medians of {challenger} and {baseline} cross{medians_words}, but over "
            "their replicates no size on one side of it is told from noise, so the "
            "crossing is not bounded."),
        "smallest size within the noise": (
            f"{challenger}'s median is below {baseline}'s at every size measured, but at "
            "the smallest the two are within the noise: a crossing there or below is not "
            "ruled out."),
        "largest size within the noise": (
            f"{challenger} does not overtake {baseline} in the sizes measured, but at the "
            "largest the two are within the noise: a crossing there or above is not "
            "ruled out."),
    }
    if status == "too few sizes" and not row.get("sizes_compared", 1):
        return f"{challenger} and {baseline} were not both measured at any size."
    if status.endswith("faster throughout"):
        compared, apart = row.get("sizes_compared", math.nan), row.get("sizes_told_apart",
                                                                         math.nan)
        if pd.notna(apart) and pd.notna(compared) and apart < compared:
            return (f"{challenger}'s median is below {baseline}'s at every size measured; "
                    f"the two are told apart at {apart:.0f} of the {compared:.0f}.")
        return f"{challenger} is faster than {baseline} at every size measured."
    return phrases.get(status, f"{challenger} against {baseline}: {status}.")


def fit_misses(row: pd.Series) -> str:
    """How a poor fit misses: the lack-of-fit test where it told the bend, else the
    residuals of the two series' lines."""
    lack_of_fit = row.get("fit_lack_of_fit_p", math.nan)
    if row.get("fit_status") == "found" and pd.notna(lack_of_fit):
        return f"lack-of-fit p = {lack_of_fit:.2g}"
    return (f"residuals {row.get('fit_residual_challenger', 0):.0%} and "
            f"{row.get('fit_residual_baseline', 0):.0%}")


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
