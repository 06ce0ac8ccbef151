"""Runs last (file order): nothing the suite started may outlive it."""

import psutil

from tests.conftest import SESSION_STARTED, wait_until_gone


def test_no_ray_or_ipyparallel_process_left_behind():
    leftovers = wait_until_gone(SESSION_STARTED)
    assert leftovers == [], [" ".join(p.cmdline()[:3]) for p in leftovers]


def test_no_child_process_left_behind():
    # multiprocessing's own resource tracker lives until the interpreter exits.
    children = [
        c for c in psutil.Process().children(recursive=True)
        if c.status() != "zombie" and "resource_tracker" not in " ".join(c.cmdline())
    ]
    assert children == [], [" ".join(c.cmdline()[:3]) for c in children]
