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
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("EffNet: An Efficient Structure for Convolutional Neural Networks", 2018,
                       "1801.06434")

# Output maps of the three EffNet blocks (the paper's CIFAR-10 table); each block halves the
# height and the width.
WIDTHS = (64, 128, 256)
BOTTLENECK = 2
LEAKY_SLOPE = 0.3
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


def check_widths(name, widths):
    """`widths` as a tuple of even positive integers, or a ValueError saying so."""
    checked = tuple(widths) if isinstance(widths, (tuple, list)) else ()
    if not checked or any(not isinstance(w, int) or isinstance(w, bool) or w < BOTTLENECK
                          or w % BOTTLENECK for w in checked):
        raise ValueError(f"{name}: `widths` must be even positive integers, one per block; "
                         f"got {widths!r}.")
    return checked


# Each block halves both sides: the input needs 2^blocks pixels a side.
@A.application(default_size=32, min_size=lambda arguments: 2 ** len(
                   check_widths(arguments["name"], arguments["widths"])),
               fixed_size_top=True, head="flatten, logits; it fixes the input size",
               input_note="at least 2^blocks on each side (8x8 for the paper's three blocks)")
def EffNet(inputs, widths=WIDTHS, *, name="effnet", classes):
    """EffNet: three EffNet blocks, the first on the image itself, and a dense classifier."""
    x = inputs
    features = []
    for index, filters in enumerate(check_widths(name, widths)):
        x = effnet_block(x, filters, name=f"block{index + 1}")
        features.append((2 ** (index + 1), x))

    def head(x):
        x = Flatten(name="flatten")(x)
        return B.dense(x, classes, name="logits", kernel_initializer="glorot_uniform",
                       bias_initializer="zeros")  # Keras's Dense defaults

    return A.Network(x, features, head=head)


DOCSTRING = """{summary}

Reference: Freeman, Roese-Koerner & Kummert, "EffNet: An Efficient Structure for Convolutional
Neural Networks" (ICIP 2018); {reference}. Registered as `{name}` (32x32x3, 10 classes).

Args:
    widths: output maps of the EffNet blocks, (64, 128, 256) as the paper's table.
""" + EffNet.args_doc

EffNet = registry.register_model(
    "effnet", family="EffNet", paper=PAPER, preprocessing=registry.CIFAR10_PREPROCESSING,
    reference=("paper", "CIFAR-10 network, EffNet blocks 64-128-256"),
    paper_params=EFFNET_PARAMS, doc=DOCSTRING, classes=10)(EffNet)

__all__ = ["EffNet"]
