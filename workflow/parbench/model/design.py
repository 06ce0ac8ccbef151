"""`parbench predict`: a design that never ran, answered from a model.csv in a second:
each combination's predicted time and each compared pair's predicted crossover."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from parbench import columns, config_checks, sweep
from parbench.identity import SERIAL
from parbench.interpreters import from_config as interpreters_from_config
from parbench.model.fit import Model
from parbench.model.tables import FIT_WORKLOADS, predict
from parbench.model.terms import Problem, crossing, options_of_series


def design_config(path: str | Path) -> dict[str, Any]:
    """A design file with the schema's defaults filled in, checked as the workflow
    checks it (names, options, kernels)."""
    config = yaml.safe_load(Path(path).read_text()) or {}
    if "workloads" not in config:
        raise ValueError("config key workloads: a design needs its workloads")
    schema = config_checks.config_schema()
    for key, spec in (schema["properties"] if schema else {}).items():
        if "default" in spec:
            config.setdefault(key, spec["default"])
    config_checks.check_consistency(config)
    return config


def predicted_design(config: dict[str, Any], model: Model) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every combination's predicted warm and cold time, every compared pair's
    predicted crossover per curve) of a design."""
    config_series = sweep.series(config)
    options = {name: options_of_series(one) for name, one in config_series.items()}
    # A series on an interpreter the design declares free-threaded runs without the GIL.
    free_threaded = {name for name, one in interpreters_from_config(
        config.get("interpreters")).items() if one.free_threaded}
    gils = {name: False if one.interpreter in free_threaded else None
            for name, one in config_series.items()}
    jobs = [job for job in sweep.combinations(config, config_series) if job.replicate == 0]
    rows = []
    for job in jobs:
        problem = Problem(job.workload, job.kernel, job.series, float(job.size), job.tasks,
                          job.workers, options.get(job.series), gils.get(job.series))
        rows.append({"workload": job.workload, "kernel": job.kernel, "series": job.series,
                     "size": job.size, "tasks": job.tasks, "workers": job.workers,
                     "measured_seconds": math.nan,
                     "predicted_seconds": predict(model, problem),
                     "cold_seconds": predict(model, problem, basis="cold")})
    times = pd.DataFrame(rows)
    crossings = []
    for challenger, baseline in sweep.comparisons(config):
        curves = times[times["series"] == challenger][
            ["workload", "kernel", "tasks", "workers"]].drop_duplicates()
        for curve in curves.to_dict("records"):
            sizes = times.loc[(times["workload"] == curve["workload"])
                              & (times["kernel"] == curve["kernel"]), "size"]
            sizes = sizes[sizes > 0]
            if sizes.empty:
                continue
            grid = np.geomspace(sizes.min() / 4, sizes.max() * 4, 64)
            for basis in ("warm", "cold"):
                sides = [[predict(model, Problem(curve["workload"], curve["kernel"], name,
                                                 float(size), int(curve["tasks"]),
                                                 1 if name == SERIAL else
                                                 int(curve["workers"]), options.get(name),
                                                 gils.get(name)),
                                  basis=basis)
                          for size in grid] for name in (challenger, baseline)]
                crossings.append({**curve, "challenger": challenger, "baseline": baseline,
                                  "time_basis": basis,
                                  "predicted_crossover_size": crossing(grid, *sides)})
    return times, pd.DataFrame(crossings)


def prediction_rows(times: pd.DataFrame) -> pd.DataFrame:
    """`predict --csv`: the columns of predictions.csv, the measured ones empty."""
    # Held out as predictions.csv says it: a workload the model was not fitted on.
    return times.assign(relative_error=math.nan,
                        held_out=~times["workload"].isin(FIT_WORKLOADS),
                        format_version=columns.FORMAT_VERSION)[
        columns.names(columns.PREDICTIONS)]
