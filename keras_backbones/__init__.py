"""keras_backbones: every image-classification backbone, in Keras, equal to its reference.

The registry functions and the public constructors (`keras_backbones.ResNet50`, ...) load on
first use, so that `import keras_backbones` (and the command line's start) does not import
TensorFlow before the caller has configured it.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

_REGISTRY_FUNCTIONS = ("create_model", "list_models", "model_info")


def __getattr__(name):
    if name in _REGISTRY_FUNCTIONS:
        return getattr(importlib.import_module("keras_backbones.registry"), name)
    if name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        # A submodule not imported yet (`from keras_backbones import layers` asks here first):
        # importing every model for it could loop back into the module being imported.
        raise AttributeError(f"module 'keras_backbones' has no attribute {name!r}")
    models = importlib.import_module("keras_backbones.models")
    if name in models.__all__:
        return getattr(models, name)
    raise AttributeError(f"module 'keras_backbones' has no attribute {name!r}")


def __dir__():
    models = importlib.import_module("keras_backbones.models")
    return sorted([*globals(), *_REGISTRY_FUNCTIONS, *models.__all__])
