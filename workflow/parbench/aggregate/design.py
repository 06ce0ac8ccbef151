"""design.csv: how many replicates and samples a rerun needs (Kalibera & Jones)."""

from __future__ import annotations

import math

import pandas as pd

from parbench import columns, identity
from parbench.replication import Design, VarianceComponents, cheapest_design, half_width

IDENTITY = list(identity.COMBINATION)
# A workload's table and the global one alike (a workload's has no `sweep` row, and
# keeps the log-variance components the sweep's row is computed from).
DESIGN_COLUMNS = columns.names(columns.DESIGN)


def combination_designs(summary: pd.DataFrame) -> pd.DataFrame:
    """Per combination with at least two replicates, the cheapest replicates x repeats
    reaching its CI target (parbench.replication.cheapest_design), with the log-variance components
    behind it (`between_replicate_log_variance`, `within_replicate_log_variance`)."""
    rows = []
    for _, row in summary.iterrows():
        components, (replicate_cost, repeat_cost) = row["_components"], row["_costs"]
        ci_target = row["ci_target"] if pd.notna(row["ci_target"]) else 0.05
        design = cheapest_design(components, replicate_cost, repeat_cost, ci_target)
        known = all(map(math.isfinite, (components.between, components.within,
                                        replicate_cost, repeat_cost)))
        if design is None and not known:
            continue
        # Known, but no number of replicates reaches the target: a row without a
        # recommendation, still counted in the sweep's share that reaches it.
        design = design or Design(math.nan, math.nan, math.nan)
        rows.append({**{column: row[column] for column in IDENTITY}, "scope": "combination",
                     "replicates": row["replicates"],
                     "repeats_per_replicate": row["repeats"] / max(1, row["replicates"]),
                     "between_replicate_cv": components.between_cv,
                     "within_replicate_cv": components.within_cv,
                     "replicate_cost_seconds": replicate_cost,
                     "repeat_cost_seconds": repeat_cost, "ci_target": ci_target,
                     "recommended_replicates": design.replicates,
                     "recommended_repeats": design.repeats,
                     "recommended_seconds": design.seconds,
                     "between_replicate_log_variance": components.between,
                     "within_replicate_log_variance": components.within})
    return pd.DataFrame(rows, columns=DESIGN_COLUMNS).assign(
        format_version=columns.FORMAT_VERSION)


def with_sweep_design(table: pd.DataFrame) -> pd.DataFrame:
    """The combinations' designs and one `sweep` row: the cheapest design for the
    median combination (median variance components and costs: one combination's
    between-replicate variance rests on few replicates), and the share of
    combinations whose own components that design brings within the target."""
    if table.empty:
        return pd.DataFrame(columns=DESIGN_COLUMNS)
    within = table["within_replicate_log_variance"]
    repeats = table["repeats_per_replicate"]
    # What each combination's own design rested on (VarianceComponents.for_design).
    between = pd.Series([VarianceComponents(one, other, count).for_design for one, other, count
                         in zip(table["between_replicate_log_variance"], within, repeats)],
                        index=table.index)
    typical = VarianceComponents(float(between.median()), float(within.median()))
    ci_target = float(table["ci_target"].median())
    design = cheapest_design(typical, float(table["replicate_cost_seconds"].median()),
                             float(table["repeat_cost_seconds"].median()), ci_target)
    if design is None:  # no number of replicates brings the typical one within target
        return table.reindex(columns=DESIGN_COLUMNS)
    reached = pd.Series([half_width(one, other, design.repeats, design.replicates)
                         for one, other in zip(between, within)], index=table.index)
    allowed = table["ci_target"].map(math.log1p)
    sweep_row = {"scope": "sweep", "replicates": int(table["replicates"].median()),
                 "repeats_per_replicate": table["repeats_per_replicate"].median(),
                 # As measured (the median ANOVA estimate), not as designed on.
                 "between_replicate_cv": math.sqrt(
                     table["between_replicate_log_variance"].median()),
                 "within_replicate_cv": typical.within_cv,
                 "replicate_cost_seconds": table["replicate_cost_seconds"].median(),
                 "repeat_cost_seconds": table["repeat_cost_seconds"].median(),
                 "ci_target": ci_target, "recommended_replicates": design.replicates,
                 "recommended_repeats": design.repeats,
                 "recommended_seconds": float(
                     ((table["replicate_cost_seconds"]
                       + design.repeats * table["repeat_cost_seconds"])
                      * design.replicates).sum()),
                 "reaching_target": float((reached <= allowed).mean()),
                 "format_version": columns.FORMAT_VERSION}
    table = pd.concat([table, pd.DataFrame([sweep_row])], ignore_index=True)
    return table.reindex(columns=DESIGN_COLUMNS)


def recommended_design(summary: pd.DataFrame) -> pd.DataFrame:
    """design.csv for one summary: every combination's design, then the sweep's."""
    return with_sweep_design(combination_designs(summary))


def design_message(design: pd.DataFrame) -> str:
    """The sweep-wide recommendation, as the aggregate log prints it."""
    sweep = design[design["scope"] == "sweep"]
    if sweep.empty:
        return ("no recommendation: it needs combinations measured in at least two "
                "replicates (`replicates: 2`), whose target some number of replicates "
                "reaches")
    row = sweep.iloc[0]
    return (
        f"variance components (median over {len(design) - 1} combinations): between "
        f"replicates {row['between_replicate_cv']:.1%}, within {row['within_replicate_cv']:.1%}"
        f" of the time; one more replicate costs {row['replicate_cost_seconds']:.2f} s besides "
        f"its samples, a sample {row['repeat_cost_seconds']:.3f} s. To reach "
        f"±{row['ci_target']:.0%} at least cost (Kalibera & Jones): replicates: "
        f"{row['recommended_replicates']}, min_repeats: {row['recommended_repeats']} (about "
        f"{row['recommended_seconds'] / 60:.0f} min of measuring; it brings "
        f"{row['reaching_target']:.0%} of the combinations within the target; this run: "
        f"{row['replicates']} replicates x {row['repeats_per_replicate']:.0f} samples)"
    )

