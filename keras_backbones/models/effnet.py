"""EffNet (Freeman, Roese-Koerner & Kummert, 2018): the CIFAR-10 network of the paper's tables.

The EffNet block stands in for a 3x3 convolution and the 2x2 max pool after it:

    1x1 conv to out / 2 (bottleneck factor 2)
    1x3 depthwise
    2x1 max pool, stride 2x1      ("separable pooling": rows now, columns in the last layer)
    3x1 depthwise
    2x1 conv to out, stride 1x2   (replaces the pointwise conv and the second half of the pool)

each layer followed by leaky ReLU and batch normalization. The paper's "optimized first layer":
where MobileNet and ShuffleNet keep a plain 3x3 convolution on the image, EffNet's first layer is
an EffNet block too. Three blocks (64, 128, 256 maps) take 32x32 to 4x4; a dense layer over the
flattened maps classifies (the input size is then fixed; include_top=False takes any size of at
least 8x8).

There is no code reference. Where the paper is silent this module follows the Keras code of its
time: activation before batch normalization, the leaky ReLU slope 0.3 (Keras's default), the
2x1 convolutions "same"-padded as TensorFlow pads (one row below), Glorot-uniform kernels. The
registered parameter count is this implementation's (tests/models/test_effnet.py derives it
from the table by hand).
"""

from keras_backbones import registry
from keras_backbones.backend import keras
from keras_backbones.layers import Flatten
from keras_backbones.models import _builder as B
from keras_backbones.models.resnet_v2 import CIFAR10_PREPROCESSING

PAPER = registry.Paper("EffNet: An Efficient Structure for Convolutional Neural Networks", 2018,
                       "1801.06434")

# Output maps of the three EffNet blocks (the paper's CIFAR-10 table); each block halves the
# height and the width.
WIDTHS = (64, 128, 256)
BOTTLENECK = 2
LEAKY_SLOPE = 0.3
MIN_SIZE = 2 ** len(WIDTHS)
EFFNET_PARAMS = 151_146  # at 32x32x3, 10 classes: see the module docstring


def post(x, *, name):
    """Leaky ReLU, then batch normalization: every layer of the block ends so."""
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)
    return keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3, name=f"{name}_bn")(x)


def effnet_block(x, filters, *, name):
    """The EffNet block: `filters` maps at half the height and half the width."""
    x = keras.layers.Conv2D(filters // BOTTLENECK, 1, use_bias=False, name=f"{name}_pw")(x)
    x = post(x, name=f"{name}_pw")
    x = keras.layers.DepthwiseConv2D((1, 3), padding="same", use_bias=False,
                                     name=f"{name}_dw1x3")(x)
    x = post(x, name=f"{name}_dw1x3")
    x = keras.layers.MaxPooling2D(pool_size=(2, 1), strides=(2, 1), name=f"{name}_pool")(x)
    x = keras.layers.DepthwiseConv2D((3, 1), padding="same", use_bias=False,
                                     name=f"{name}_dw3x1")(x)
    x = post(x, name=f"{name}_dw3x1")
    x = keras.layers.Conv2D(filters, (2, 1), strides=(1, 2), padding="same", use_bias=False,
                            name=f"{name}_conv2x1")(x)
    return post(x, name=f"{name}_conv2x1")


DOCSTRING = """{summary}

Reference: Freeman, Roese-Koerner & Kummert, "EffNet: An Efficient Structure for Convolutional
Neural Networks" (ICIP 2018); {reference}. Registered as `{name}` (32x32x3, 10 classes).

Args:
    widths: output maps of the EffNet blocks, (64, 128, 256) as the paper's table.
    include_top: whether to include the flatten + dense classifier (it fixes the input size).
    weights: None (random initialization) or the path to a weights file.
    input_tensor, input_shape: the input; (32, 32, 3) by default, at least 8x8.
    pooling: with include_top=False, None, "avg" or "max" over the last block's maps.
    classes: number of classes (10).
    classifier_activation: activation of the output layer ("softmax", or None for logits).
    features_only: return each block's output (strides 2, 4, 8).
"""


@registry.register_model("effnet", family="EffNet", paper=PAPER, preprocessing=CIFAR10_PREPROCESSING,
                         reference=("paper", "CIFAR-10 network, EffNet blocks 64-128-256"),
                         paper_params=EFFNET_PARAMS, doc=DOCSTRING, classes=10)
def EffNet(widths=WIDTHS, *, include_top=True, weights=None, input_tensor=None, input_shape=None,
           pooling=None, classes=10, classifier_activation="softmax", features_only=False,
           name="effnet"):
    """EffNet: three EffNet blocks, the first on the image itself, and a dense classifier."""
    B.check_arguments(name, include_top=include_top, classes=classes, pooling=pooling, weights=weights)
    widths = tuple(widths)
    if not widths or any(not isinstance(w, int) or w < BOTTLENECK or w % BOTTLENECK for w in widths):
        raise ValueError(f"{name}: `widths` must be even positive integers, one per block; "
                         f"got {widths!r}.")
    min_size = 2 ** len(widths)
    inputs = B.model_input(name, input_shape, input_tensor, default_size=32, min_size=min_size,
                           static=include_top and not features_only)
    x = inputs
    features = []
    for index, filters in enumerate(widths):
        x = effnet_block(x, filters, name=f"block{index + 1}")
        features.append((2 ** (index + 1), x))

    def head(x):
        x = Flatten(name="flatten")(x)
        return keras.layers.Dense(classes, name="logits")(x)

    return B.make_model(inputs, x, name=name, include_top=include_top, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation,
                        features=features, features_only=features_only, weights=weights, head=head)


__all__ = ["EffNet"]
