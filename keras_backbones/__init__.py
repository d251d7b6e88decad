"""keras_backbones: every image-classification backbone, in Keras, equal to its reference.

The registry functions and the public constructors (`keras_backbones.ResNet50`, ...) load on
first use, so that `import keras_backbones` (and the command line's start) does not import
TensorFlow before the caller has configured it.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

_REGISTRY_FUNCTIONS = ("create_model", "list_models", "model_info")
# Images in and labels out, as the published checkpoints' references do; a model folded for
# inference.
_FUNCTIONS = {"decode_predictions": "keras_backbones.pretrained.imagenet",
              "load_image": "keras_backbones.pretrained.images",
              "preprocess_input": "keras_backbones.pretrained.images",
              "predict": "keras_backbones.pretrained.predict",
              "fuse": "keras_backbones.fusion"}


def __getattr__(name):
    """The registry functions and the public constructors, imported on first use.

    Never a submodule: `from keras_backbones import initializers`, as the layers write it,
    asks here before it imports the submodule, and answering from the models would import
    every family, which import the layers while they are being imported (the cycle that broke
    `import keras_backbones.layers` as a first import). A submodule is the import system's."""
    if name in _REGISTRY_FUNCTIONS:
        return getattr(importlib.import_module("keras_backbones.registry"), name)
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    if name.isidentifier() and not name.startswith("_") and not _is_submodule(name):
        models = importlib.import_module("keras_backbones.models")
        if name in models.__all__ or name in models.RENAMED:
            return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_submodule(name):
    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __dir__():
    models = importlib.import_module("keras_backbones.models")
    return sorted([*globals(), *_REGISTRY_FUNCTIONS, *_FUNCTIONS, *models.__all__])
