"""Where CI sets up everything the suite needs (.ci/run sets PARBENCH_NO_SKIPS=1), a
skipped test is one that did not run, and it fails the suite; elsewhere a skip says
its reason, as usual. conftest.py calls `fail_on_skips` at the suite's end; loaded as
a plugin (`-p tests.no_skips`), this module does so by itself."""

from __future__ import annotations

import os

import pytest

NO_SKIPS_VARIABLE = "PARBENCH_NO_SKIPS"


def fail_on_skips(session: pytest.Session) -> None:
    """Fail a suite that passed but skipped tests, where NO_SKIPS_VARIABLE says so. In
    the process that began the suite (with `-n`, xdist's controller, which hears every
    worker's reports)."""
    if (hasattr(session.config, "workerinput") or os.environ.get(NO_SKIPS_VARIABLE) != "1"
            or session.exitstatus != pytest.ExitCode.OK):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [report.nodeid for report in reporter.stats.get("skipped", [])] \
        if reporter else []
    if skipped:
        session.config.get_terminal_writer().line(
            f"FAILED: {len(skipped)} test(s) skipped with {NO_SKIPS_VARIABLE}=1: {skipped}",
            red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    fail_on_skips(session)
