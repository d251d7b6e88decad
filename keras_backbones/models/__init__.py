"""One module per family. Importing this package registers every variant."""

from keras_backbones.models.vgg import *  # noqa: F401,F403
from keras_backbones.models import vgg as _vgg

__all__ = [*_vgg.__all__]
