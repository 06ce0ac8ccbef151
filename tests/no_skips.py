"""A pytest plugin (loaded by conftest.py): where CI sets up everything the suite needs
(.ci/run sets PARBENCH_NO_SKIPS=1), a skipped test is one that did not run, and it
fails the suite. Elsewhere a skip says its reason, as usual."""

from __future__ import annotations

import os

import pytest

NO_SKIPS_VARIABLE = "PARBENCH_NO_SKIPS"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In the process that began the suite (with `-n`, xdist's controller, which
    # hears every worker's reports).
    if hasattr(session.config, "workerinput") or os.environ.get(NO_SKIPS_VARIABLE) != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [report.nodeid for report in reporter.stats.get("skipped", [])] \
        if reporter else []
    if skipped:
        session.config.get_terminal_writer().line(
            f"FAILED: {len(skipped)} test(s) skipped with {NO_SKIPS_VARIABLE}=1: {skipped}",
            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
