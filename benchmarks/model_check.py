"""The cost model checked on committed runs: fitted on the data, compute and dispatch
workloads of a run, how well does it predict the workloads it did not see (warm times,
and crossovers against their measured intervals)? And on 16 cores: fitted there on the
workers sweep, or carried over from a 2-core fit with the core count changed?

    python -m benchmarks.model_check                 # every committed run
    python -m benchmarks.model_check docs/data/regimes

Prints one table per run; nothing is written.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from parbench.migrations import read_table
from parbench.model import FIT_WORKLOADS, fit_model, predicted_crossovers, predictions
from parbench.model.fit import problem_of
from parbench.model.tables import predict

DATA = Path(__file__).resolve().parents[1] / "docs/data"


def errors(table: pd.DataFrame) -> str:
    """Median and worst relative error of the held-out series' warm times (the serial
    loop is the reference the model is given, not a prediction)."""
    held = table[table["held_out"].astype(bool) & (table["series"] != "serial")]
    held = held[held["predicted_seconds"].notna()]
    if held.empty:
        return "no held-out combination"
    size = held["relative_error"].abs()
    return (f"{len(held)} held-out combinations: median |error| {size.median():.0%}, "
            f"worst {size.max():.0%} ({held.loc[size.idxmax(), 'workload']} "
            f"{held.loc[size.idxmax(), 'series']})")


def crossover_check(crossover: pd.DataFrame, predicted, held: set[str]) -> list[str]:
    lines = []
    table = crossover.assign(predicted=predicted)
    table = table[(table["time_basis"] == "warm") & table["workload"].isin(held)
                  & (table["crossover_status"] == "found")]
    for _, row in table.iterrows():
        if not row["predicted"] > 0:  # the model's two curves do not cross in its grid
            lines.append(f"  {row['workload']} {row['kernel']} {row['challenger']} vs "
                         f"{row['baseline']}: measured {row['crossover_size']:.3g}, "
                         "predicted no crossing: missed")
            continue
        inside = row["crossover_ci_low"] <= row["predicted"] <= row["crossover_ci_high"]
        near = abs(row["predicted"] / row["crossover_size"] - 1)
        lines.append(f"  {row['workload']} {row['kernel']} {row['challenger']} vs "
                     f"{row['baseline']}: measured {row['crossover_size']:.3g} "
                     f"[{row['crossover_ci_low']:.3g}, {row['crossover_ci_high']:.3g}], "
                     f"predicted {row['predicted']:.3g}: "
                     + ("inside" if inside else f"outside, {near:.0%} off"))
    return lines or ["  no held-out crossover found in the data"]


def check(run: Path) -> str:
    summary, crossover = read_table(run / "summary.csv"), read_table(run / "crossover.csv")
    machines = read_table(run / "machines.csv")
    cores = int(machines["available_cores"].iloc[0])
    model = fit_model(summary, FIT_WORKLOADS, cores)
    held = set(summary["workload"]) - set(FIT_WORKLOADS)
    lines = [f"{run.name} ({machines['cpu_model'].iloc[0]}, {cores} cores): fitted on "
             f"{sorted(set(summary['workload']) & set(FIT_WORKLOADS))}, held out "
             f"{sorted(held)}", "  " + errors(predictions(summary, model))]
    return "\n".join(lines + crossover_check(crossover,
                                             predicted_crossovers(crossover, summary, model),
                                             held))


def across_machines(two: Path, sixteen: Path) -> str:
    """The 16-core rows predicted two ways: a model fitted on their workers sweep
    (`scaling` designs: problems measured at several worker counts), and the 2-core
    run's model with 16 cores."""
    summary = read_table(sixteen / "summary.csv")
    ok = summary[(summary["status"] == "ok") & (summary["series"] != "serial")]
    swept = ok.groupby(["workload", "kernel", "size", "tasks"])["workers"].transform("nunique")
    calibration, rest = ok[swept > 1], ok[swept == 1]
    sixteen_model = fit_model(summary[summary.index.isin(calibration.index)
                                      | (summary["series"] == "serial")], FIT_WORKLOADS, 16)
    two_model = fit_model(read_table(two / "summary.csv"), FIT_WORKLOADS, 16)
    lines = [f"16 cores ({sixteen.name}): {len(rest)} combinations not in the workers sweep"]
    for name, model in (("fitted on its workers sweep", sixteen_model),
                        (f"the {two.name} model, cores = 16", two_model)):
        sizes = []
        for _, row in rest.iterrows():
            value = predict(model, problem_of(row))
            if math.isfinite(value):
                sizes.append(abs(value / row["median_seconds"] - 1))
        if sizes:
            series = pd.Series(sizes)
            lines.append(f"  {name}: median |error| {series.median():.0%}, worst "
                         f"{series.max():.0%} ({len(series)} predicted)")
    return "\n".join(lines)


def main(arguments: list[str]) -> None:
    runs = [Path(argument) for argument in arguments] or sorted(
        path.parent for path in DATA.glob("*/summary.csv"))
    for run in runs:
        print(check(run), "\n")
    if not arguments and (DATA / "16cpu").is_dir():
        two = DATA / ("reference" if (DATA / "reference").is_dir() else "2cpu")
        print(across_machines(two, DATA / "16cpu"))


if __name__ == "__main__":
    main(sys.argv[1:])
