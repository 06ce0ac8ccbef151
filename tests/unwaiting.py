"""How the tests' timing jobs measure: at once.

The suite loads its own machine (`make test` runs two workers side by side): its
timing jobs measure at once rather than wait up to 30 s for a quiet machine and
measure again, unless a test is about that. Merged into every design and JobSettings
of a test that times something, and into the job scripts the tests start in
processes of their own (hence a module this light: parbench.settings alone).
"""

from __future__ import annotations

from parbench.settings import JobSettings

UNWAITING = {"quiet_wait_seconds": 0, "remeasure_loaded": 0}


def job_settings(**settings) -> JobSettings:
    """JobSettings as a test asks for them, measuring at once unless it says otherwise."""
    return JobSettings(**{**UNWAITING, **settings})
