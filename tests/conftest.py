import importlib.util
import os

import pytest


def pytest_configure(config):
    if os.environ.get("KERAS_BACKBONES_REQUIRE_TORCH") == "1" and \
            importlib.util.find_spec("torch") is None:
        raise pytest.UsageError("KERAS_BACKBONES_REQUIRE_TORCH=1 but torch is not installed: "
                                "install the parity extra (pip install -e '.[test,parity]').")
