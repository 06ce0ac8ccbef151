"""The cost model's reason for a crossover, in one paragraph: what each series of the
pair pays per map, per task and per byte, how many copies of the shared input a map
makes, and where the model puts the crossing beside where it was measured. The README's
headline (fitted on the regimes run) and each run's report (fitted on that run) say it
in the same words."""

from __future__ import annotations

import pandas as pd

from parbench.findings import words


def model_reason(row: pd.Series, model: pd.DataFrame | None,
                 summary: pd.DataFrame | None = None, measured_by: str = "the run") -> str:
    """Why `row` (a crossover.csv row, with its `predicted_crossover_size`) crosses
    where it does, by `model` (a model.csv), each series with the options its rows in
    `summary` ran with (a user's `pool-big: {shared_input: shared_memory}` copies as
    those say); "" where the model cannot say: a series not fitted, no prediction, or a
    workload without shared input to ship."""
    from parbench.model.terms import Problem, options_of_row, terms
    from parbench.workloads import workload_class

    if model is None or model.empty or pd.isna(row.get("predicted_crossover_size")):
        return ""
    pair = row["challenger"], row["baseline"]
    costs = model[model["workload"].fillna("") == ""].set_index(["series", "parameter"])
    if not all((series, "per_byte_seconds") in costs.index for series in pair):
        return ""
    try:
        nbytes = workload_class(row["workload"])().shared_input_bytes(1_000_000)
    except ValueError:  # a plug-in workload this process cannot load
        return ""
    if not nbytes:  # no shared input: no bytes to explain the crossing by
        return ""

    def copies(series: str) -> str:
        rows = summary[(summary["series"] == series) & (summary["status"] == "ok")] \
            if summary is not None else ()
        options = options_of_row(rows.iloc[0]) if len(rows) else None
        shipped = terms(Problem(row["workload"], row["kernel"], series, 1e6,
                                int(row["tasks"]), int(row["workers"]), options), 0.0,
                        int(row["workers"])).shipped_bytes
        return "once" if shipped == nbytes else f"{shipped / nbytes:.0f} times"

    def cost(series: str, parameter: str, per: str, scale: float = 1.0,
             unit: str = "") -> str:
        value, low, high = costs.loc[(series, parameter), ["value", "ci_low", "ci_high"]]
        return words.estimate(
            parameter, value, low, high,
            (lambda one: f"{one * scale:.3g}") if unit else words.seconds,
            "(at the fit's bound in every resample: none told from none)", unit, per)

    unit = row["size_unit"]
    sides = [f"`{series}` ships it {copies(series)} a map at "
             f"{cost(series, 'per_byte_seconds', 'a byte', 1e9, 'ns')}, and pays "
             f"{cost(series, 'per_map_seconds', 'a map')} and "
             f"{cost(series, 'dispatch_seconds', 'a task')} (the slope of its empty maps' "
             "time against the task count)" for series in pair]
    near = words.first_known(row, ("interpolated_size", "medians_cross"))
    if row.get("crossover_status") == "found":
        measured = (f"measured {words.size(row['crossover_size'], unit)} "
                    f"[{words.size(row['crossover_ci_low'], unit)}, "
                    f"{words.size(row['crossover_ci_high'], unit)}]")
    elif pd.notna(near):
        measured = (f"measured the medians crossing near {words.size(near, unit)}, "
                    f"{row.get('crossover_status')}")
    else:
        measured = f"measured no crossing ({row.get('crossover_status')})"
    return (f"A map's warm time is the fixed costs per map and per task, plus the bytes of "
            f"the shared input times the copies the series makes, plus the work: "
            f"{sides[0]}; {sides[1]}. `{pair[1]}`'s copies outweigh `{pair[0]}`'s fixed "
            f"costs above {words.size(row['predicted_crossover_size'], unit)} by the model; "
            f"{measured_by} {measured}.")
