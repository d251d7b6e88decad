"""The per-test time budget: a run fails when a test took longer than BUDGET_SECONDS (its setup,
call and teardown together, as pytest-xdist's workers report them) unless it is marked
`@pytest.mark.allow_slow("why")`, so that a slow new test is a decision, not an accident.

CI's whole run has a fixed time; a test past the budget is a test to make cheaper (a smaller
variant, a smaller input, a shared fixture) or to mark with the reason it cannot be. Tests
marked `extended` run outside CI and are not held to it. KERAS_BACKBONES_TEST_BUDGET sets
another budget in seconds (0 turns the check off). Loaded by tests/conftest.py.
"""

import os

import pytest

BUDGET_SECONDS = 60.0
EXEMPT_MARKS = ("allow_slow", "extended")

_durations = {}  # nodeid -> seconds (setup + call + teardown)
_exempt = set()


def budget():
    return float(os.environ.get("KERAS_BACKBONES_TEST_BUDGET", BUDGET_SECONDS))


def _is_controller(config):
    """The process that sees every test's report: pytest-xdist's controller, or the one process
    of a run without workers (a worker sees only its own tests' reports)."""
    return not hasattr(config, "workerinput")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "allow_slow(reason): a test allowed past the per-test time budget "
                   "(tests/time_budget.py), with the reason it cannot be cheaper")


def pytest_runtest_logreport(report):
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration
    if any(mark in report.keywords for mark in EXEMPT_MARKS):
        _exempt.add(report.nodeid)


def over_budget():
    """[(seconds, nodeid)] of the tests past the budget that are not marked, slowest first."""
    limit = budget()
    if limit <= 0:
        return []
    return sorted(((seconds, nodeid) for nodeid, seconds in _durations.items()
                   if seconds > limit and nodeid not in _exempt), reverse=True)


def pytest_sessionfinish(session):
    if _is_controller(session.config) and over_budget() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, config):
    if not _is_controller(config):
        return
    slow = over_budget()
    if slow:
        terminalreporter.section("time budget", red=True)
        terminalreporter.line(
            f"{len(slow)} test(s) took more than the {budget():g} s budget: make them cheaper, "
            f"or mark them @pytest.mark.allow_slow(\"why\") (tests/time_budget.py)", red=True)
        for seconds, nodeid in slow:
            terminalreporter.line(f"{seconds:8.1f} s  {nodeid}", red=True)
