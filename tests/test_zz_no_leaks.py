"""Runs last (file order): nothing the suite started may outlive it."""

import psutil

from parbench.backends import BACKENDS
from parbench.resources import is_helper
from tests.conftest import SESSION_STARTED, wait_until_gone

HELPERS = [helper for backend in BACKENDS.values() for helper in backend.helper_processes]


def test_no_backend_process_left_behind():
    leftovers = wait_until_gone(SESSION_STARTED)
    assert leftovers == [], [" ".join(p.cmdline()[:3]) for p in leftovers]


def test_no_child_process_left_behind():
    # Interpreter-wide helpers (multiprocessing's and loky's resource trackers, the
    # forkserver) live until the interpreter exits.
    children = [
        c for c in psutil.Process().children(recursive=True)
        if c.status() != "zombie" and not is_helper(c, HELPERS)
    ]
    assert children == [], [" ".join(c.cmdline()[:3]) for c in children]
