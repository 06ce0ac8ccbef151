"""Send a job's stderr, and its child processes' (Ray, engines), to its log file.

A job writes its identity there first, so a log is never empty: a killed job's
shows what it ran and, from its guard, what was stopped (parbench.guard).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def stderr_to(log_path: str | Path) -> Iterator[None]:
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "w") as log:
        # At the descriptor level, so processes this job starts inherit it too.
        os.dup2(log.fileno(), 2)
        try:
            yield
        except SystemExit:  # an exit status, said where it was decided
            raise
        except BaseException:
            # A job that crashes says why in its log, the file Snakemake points to
            # (restored, stderr would carry the traceback elsewhere).
            traceback.print_exc(file=sys.stderr)
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
