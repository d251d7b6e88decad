import gc
import importlib.util
import os
import time

import pytest


def pytest_configure(config):
    if os.environ.get("KERAS_BACKBONES_REQUIRE_TORCH") == "1" and \
            importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("KERAS_BACKBONES_REQUIRE_TORCH=1 but torch is not installed: "
                                "install the parity extra (pip install -e '.[test,parity]').")


def pytest_sessionstart(session):
    """TensorFlow, Keras and the package, imported once per process, are a third of a million
    objects that live as long as it: frozen out of the garbage collector's walks (which the
    tests trigger after each model they free: tests/support.py). Not in pytest-xdist's
    controller, which runs no test."""
    config = session.config
    if not hasattr(config, "workerinput") and config.getoption("numprocesses", default=None):
        return
    import keras_backbones.models  # noqa: F401  (TensorFlow and Keras with it)

    gc.collect()
    gc.freeze()


# The README's main job, trained once for every test that needs its run: its own checks
# (tests/training/test_main_job.py) and the deployment of its model (tests/export): those
# modules share an xdist group (helpers.DIGITS_JOB), so one worker trains it once.
@pytest.fixture(scope="session")
def digits_job(tmp_path_factory):
    """The main job run through the command line: (work directory, its run directory,
    CompletedProcess, seconds it took)."""
    from tests.training.helpers import DIGITS, run_cli

    work = tmp_path_factory.mktemp("digits_job")
    started = time.time()
    done = run_cli("train", "--recipe", DIGITS, "--workdir", work / "run", timeout=600)
    return work, work / "run", done, time.time() - started


# The per-test time budget of CI's runs (see tests/time_budget.py).
pytest_plugins = ("tests.time_budget",)
