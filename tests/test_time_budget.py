"""The per-test time budget (tests/time_budget.py) fails a run on a slow test that is not
marked, and only then: checked on a small test file in a child pytest."""

import os
import subprocess
import sys
import textwrap

import pytest

from tests.support import ROOT

SLOW_TESTS = textwrap.dedent("""
    import time
    import pytest

    def test_quick():
        pass

    def test_slow_unmarked():
        time.sleep(0.6)

    @pytest.mark.allow_slow("a decision, with its reason")
    def test_slow_marked():
        time.sleep(0.6)
""")


def run_pytest(directory, *args, budget="0.3"):
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "KERAS_BACKBONES_TEST_BUDGET": budget}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.time_budget", "-q",
                           "-p", "no:cacheprovider", "--rootdir", str(directory), *args],
                          cwd=directory, env=environment, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_slow_unmarked_test_fails_the_run_and_is_named(tmp_path, workers):
    (tmp_path / "test_slow.py").write_text(SLOW_TESTS)
    done = run_pytest(tmp_path, *workers)
    assert done.returncode == 1, done.stdout
    assert "3 passed" in done.stdout  # every test passed: the budget alone fails the run
    assert "test_slow.py::test_slow_unmarked" in done.stdout
    assert "test_slow_marked" not in done.stdout.split("time budget")[-1]


def test_marked_or_within_budget_passes(tmp_path):
    (tmp_path / "test_slow.py").write_text(SLOW_TESTS)
    assert run_pytest(tmp_path, "-k", "not unmarked").returncode == 0
    assert run_pytest(tmp_path, budget="5").returncode == 0
    assert run_pytest(tmp_path, budget="0").returncode == 0  # 0: no budget
