"""The cost model: why one series overtakes another, fitted from a sweep, checked on
what it did not see, and asked about designs that never ran.

A series' warm time of one map of T tasks of a problem of size n is

    t = m + T·o + β·K(T, p, n)·B(n) + f·W(T, p)

m a fixed cost per map (fitted), o the dispatch per task (the series' measured
calibration), K the copies of the shared input one map makes (declared by the
backend's class: per chunk, once, once per worker, none) and B(n) its bytes, β the
cost per byte shipped (fitted), W the serial loop's work per task scheduled over
min(p, cores) workers with the series' own hand-out (chunks, one task at a time, an even
split; threads on a GIL-holding kernel one at a time) and f its slowdown against the
serial loop (fitted; 1/f is the compute efficiency). Cold adds the measured start-up.

  parameters  each parameter's unit, bound and meaning, declared once
  terms     what the classes declare, and the schedule of the tasks
  fit       the parameters from the rows of `FIT_WORKLOADS`, with bootstrap intervals
  tables    model.csv, predictions.csv (held-out rows marked), predicted crossovers
  check     the committed runs against the model's targets (docs/model.md)
"""

from parbench.model.fit import Model, SeriesModel, fit_model
from parbench.model.parameters import FITTED, PARAMETERS
from parbench.model.tables import (
    FIT_WORKLOADS,
    model_from_table,
    model_table,
    predicted_crossovers,
    predictions,
)

__all__ = ["FITTED", "FIT_WORKLOADS", "PARAMETERS", "Model", "SeriesModel", "fit_model",
           "model_from_table", "model_table", "predicted_crossovers", "predictions"]
