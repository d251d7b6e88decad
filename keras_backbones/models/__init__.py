"""One module per family. Importing this package registers every variant."""

from keras_backbones.models import alexnet, lenet, resnet, resnet_v2, vgg
from keras_backbones.models.alexnet import *  # noqa: F401,F403
from keras_backbones.models.lenet import *  # noqa: F401,F403
from keras_backbones.models.resnet import *  # noqa: F401,F403
from keras_backbones.models.resnet_v2 import *  # noqa: F401,F403
from keras_backbones.models.vgg import *  # noqa: F401,F403

__all__ = [*lenet.__all__, *alexnet.__all__, *vgg.__all__, *resnet.__all__, *resnet_v2.__all__]
