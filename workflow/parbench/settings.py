"""How a job measures: the config keys every timing job takes, as one dataclass.

Each field is a config key (its meaning and bounds: workflow/schemas/config.schema.yaml,
whose defaults a test holds equal to these) and a column of every per-job row, so a
row says how it was measured. Light: the planning code reads it at parse time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class JobSettings:
    min_repeats: int = 5
    max_repeats: int = 30
    ci_target: float = 0.05  # stop once the median's 95 % CI is within ±5 %
    job_budget_seconds: float = 60.0  # no new repeat starts past this
    warmups: int = 1
    calibration_repeats: int = 3
    blas_threads: int = 1
    map_timeout_seconds: float = 300.0
    sample_interval_seconds: float = 0.05
    min_sample_seconds: float = 0.1  # a timed sample is k maps lasting at least this
    quiet_wait_seconds: float = 30.0  # wait this long at most for a quiet machine
    quiet_cpu_fraction: float = 0.25  # others' CPU use above this share is `loaded`
    remeasure_loaded: int = 1  # measure a loaded job again this many times at most

    def __post_init__(self) -> None:
        # The first map is timed alone, as the cold one: at least one warm-up runs, and
        # the rows say so (settings built in code, not from a config, may give 0).
        if self.warmups < 1:
            object.__setattr__(self, "warmups", 1)

    def recorded(self) -> dict[str, Any]:
        """Every setting, as the columns of the job's rows."""
        return {name: getattr(self, name) for name in SETTING_NAMES}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> JobSettings:
        """The settings of a validated config (numbers typed as the fields are)."""
        return cls(**{one.name: float(config[one.name]) if one.type == "float"
                      else config[one.name] for one in fields(cls)})


SETTING_NAMES = tuple(one.name for one in fields(JobSettings))
