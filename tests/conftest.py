import gc
import importlib.util
import os

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
