"""A map run as a loop in the job's own process (the serial loop, joblib on one worker)
still ends at `map_timeout_seconds`.

No engine stands between the job and such a task, so nothing else can stop one that
hangs: the job would wait for it, holding the timing slot and the sweep behind it.
While the backend is started a SIGALRM ticks (once a second, or a quarter of the limit
if that is shorter), and its handler raises TimeoutError in the task running past the
limit, again at every tick should the task swallow it. A tick costs a few microseconds
a second; a map, two attribute writes (arming the timer for each map would cost about
a microsecond a map, which biases the serial baseline of maps of 30 µs).

Only Python code is interrupted: a task inside one call into C (a long NumPy call, a
deadlock in an extension) is interrupted once that call returns. A tick interrupts the
job's blocking system calls too, which Python retries (PEP 475).

Where no SIGALRM can be had (the job does not run on the main thread, or something
else handles SIGALRM), a map that outlived the limit fails once it returns, and the
job's log says so.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

LONGEST_TICK_SECONDS = 1.0
SHORTEST_TICK_SECONDS = 0.005


class LoopTimeout:
    """Set `map_began` (a time.perf_counter() reading) as a map begins and None as it
    ends (in a `finally`); `refuse_late(began)` after it returns."""

    def __init__(self, limit_seconds: float) -> None:
        self.limit_seconds = limit_seconds
        self.map_began: float | None = None
        self._handler_before: Any = None

    def start(self) -> None:
        """Start ticking, where SIGALRM is free and this is the main thread."""
        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL):
            print("warning: SIGALRM is taken here (not the main thread, or another "
                  "handler): a map that hangs cannot be interrupted, and fails only once "
                  "it returns", file=sys.stderr, flush=True)
            return
        self._handler_before = signal.signal(signal.SIGALRM, self._tick)
        tick = min(LONGEST_TICK_SECONDS, max(SHORTEST_TICK_SECONDS, self.limit_seconds / 4))
        signal.setitimer(signal.ITIMER_REAL, tick, tick)

    def stop(self) -> None:
        """Stop ticking and give SIGALRM back. Idempotent."""
        self.map_began = None
        if self._handler_before is not None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._handler_before)
            self._handler_before = None

    def _tick(self, signum: int, frame: Any) -> None:
        began = self.map_began
        if began is not None and time.perf_counter() - began > self.limit_seconds:
            raise TimeoutError(f"the map was still running after {self.limit_seconds:g} s "
                               "(map_timeout_seconds); its task was interrupted")

    def refuse_late(self, began: float) -> None:
        """A map that ended past the limit, between two ticks or untimed, fails too."""
        seconds = time.perf_counter() - began
        if seconds > self.limit_seconds:
            raise TimeoutError(f"the map took {seconds:.3g} s, longer than "
                               f"map_timeout_seconds ({self.limit_seconds:g})")
