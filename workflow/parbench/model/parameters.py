"""The cost model's parameters, declared once: each one's unit, its bound where it is
fitted, and what it is (model.csv's `parameter` and `unit`; the findings' words)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    name: str
    unit: str
    meaning: str
    # Where the fit bounds it from below (a non-negative least squares on its excess
    # over the bound); None: not fitted, measured or fitted elsewhere.
    bound: float | None = None


PARAMETERS = (
    # Fitted, in the order of the design matrix's columns (parbench.model.fit).
    Parameter("per_map_seconds", "s", "a fixed cost per map", bound=0.0),
    Parameter("per_byte_seconds", "s/byte", "the cost of a byte of the shared input shipped",
              bound=0.0),
    Parameter("compute_factor", "×", "the series' slowdown against the serial loop's work "
              "(a worker is never faster than the serial loop)", bound=1.0),
    # From the series' measurements (parbench.model.fit).
    Parameter("dispatch_seconds", "s", "the dispatch of one more task: the slope of "
              "the calibrated empty maps' time against the task count"),
    Parameter("startup_seconds", "s", "the start-up, which cold times add"),
    Parameter("first_map_extra_seconds", "s", "how much longer the first map after the "
              "start-up takes than a warm one (workers' imports, first connections), "
              "which cold times add too"),
    # The serial loop's work per task, per workload and kernel: a line in the size.
    Parameter("serial_task_seconds", "s", "the serial loop's seconds per task at size 0"),
    Parameter("serial_task_seconds_per_size", "s/size unit",
              "the serial loop's seconds per task per unit of size"),
)
FITTED = tuple(parameter.name for parameter in PARAMETERS if parameter.bound is not None)
BOUNDS = {parameter.name: parameter.bound for parameter in PARAMETERS
          if parameter.bound is not None}
UNITS = {parameter.name: parameter.unit for parameter in PARAMETERS}
