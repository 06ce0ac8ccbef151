"""The cost model checked on committed runs (parbench.model.check; docs/model.md has the
same verdicts, generated): fitted on the data, compute and dispatch workloads of a run
(as its aggregation wrote it: predictions.csv, crossover.csv), how well does it predict
the workloads it did not see (warm times, and crossovers against their measured
intervals)? And on 16 cores: fitted there on the workers sweep, or carried over from
each 2-core run with the core count changed?

    python -m benchmarks.model_check                 # every committed run
    python -m benchmarks.model_check docs/data/regimes

Prints one table per run; nothing is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from parbench.model import check

DATA = Path(__file__).resolve().parents[1] / "docs/data"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(run: check.RunCheck) -> str:
    lines = [f"{run.run} ({run.machine}, {run.cores} cores): fitted on {run.fitted_on}, "
             f"held out {run.held_out}"]
    if run.errors is None:
        lines.append("  no held-out combination predicted")
    else:
        lines.append(f"  {run.errors.sentence()}: median within "
                     f"{check.MEDIAN_ERROR_TARGET:.0%} {verdict(run.errors.met)}")
    for found in run.crossovers:
        lines.append(f"  {found.curve}: measured {found.measured:.3g} [{found.low:.3g}, "
                     f"{found.high:.3g}], predicted {found.predicted:.3g}: {found.verdict}")
    if not run.crossovers:
        lines.append("  no held-out crossover found in the data")
    return "\n".join(lines)


def main(arguments: list[str]) -> None:
    folders = [Path(argument) for argument in arguments] or check.committed_runs(DATA)
    runs = [check.check_run(folder) for folder in folders]
    for run in runs:
        print(report(run), "\n")
    if arguments:
        return
    for sixteen, answers in check.many_core_checks(runs, DATA):
        print(f"{sixteen.run}: the combinations outside its workers sweep")
        for name, errors in answers:
            print(f"  {name}: " + (f"{errors.sentence()}: {verdict(errors.met)}" if errors
                                   else "predicts none of them"))

if __name__ == "__main__":
    main(sys.argv[1:])
