"""One module per family, in the order of their papers. Importing this package registers
every variant."""

from keras_backbones.models import lenet, alexnet, vgg, resnet, resnet_v2  # noqa: I001 (paper order)
from keras_backbones.models.lenet import *  # noqa: F401,F403
from keras_backbones.models.alexnet import *  # noqa: F401,F403
from keras_backbones.models.vgg import *  # noqa: F401,F403
from keras_backbones.models.resnet import *  # noqa: F401,F403
from keras_backbones.models.resnet_v2 import *  # noqa: F401,F403

__all__ = [*lenet.__all__, *alexnet.__all__, *vgg.__all__, *resnet.__all__, *resnet_v2.__all__]
