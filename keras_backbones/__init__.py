"""keras_backbones: every image-classification backbone, in Keras, equal to its reference."""

__version__ = "0.1.0"

from keras_backbones.registry import create_model, list_models, model_info  # noqa: E402
from keras_backbones.models import *  # noqa: E402,F401,F403  (public constructors)
