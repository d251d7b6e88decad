"""AlexNet: torchvision's single-tower layout (Krizhevsky, "One weird trick", 2014) and the
original two-tower network of Krizhevsky, Sutskever & Hinton (2012).

The original splits conv2, conv4 and conv5 across two GPUs (here: grouped convolutions with
two groups), normalizes conv1 and conv2 with local response normalization, takes 227x227
inputs and initializes weights from N(0, 0.01) with biases of 1 in conv2/4/5 and the hidden
fully connected layers (so that the ReLUs start in their positive region). Both take any input
size with include_top, pooled to 6x6 as torchvision does.
"""

import collections

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import AdaptiveAveragePooling2D, Flatten, LocalResponseNormalization
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("ImageNet Classification with Deep Convolutional Neural Networks", 2012,
                       None)
PAPER_ONE_WEIRD_TRICK = registry.Paper("One weird trick for parallelizing convolutional neural "
                                       "networks", 2014, "1404.5997")

Conv = collections.namedtuple("Conv", "filters kernel stride padding groups bias lrn pool")
Layout = collections.namedtuple("Layout", "convs dropout_before_fc init min_size")

# conv1..conv5 as (filters, kernel, stride, padding, groups, bias init, LRN after, max pool after)
LAYOUTS = {
    "torchvision": Layout(
        convs=[Conv(64, 11, 4, 2, 1, 0.0, False, True),
               Conv(192, 5, 1, 2, 1, 0.0, False, True),
               Conv(384, 3, 1, 1, 1, 0.0, False, False),
               Conv(256, 3, 1, 1, 1, 0.0, False, False),
               Conv(256, 3, 1, 1, 1, 0.0, False, True)],
        dropout_before_fc=True,  # torchvision: Dropout -> Linear -> ReLU
        init=None,                # PyTorch's default init (kaiming uniform, a=sqrt(5))
        min_size=63),             # the smallest input side: conv5's pool has a window
    "original": Layout(
        convs=[Conv(96, 11, 4, 0, 1, 0.0, True, True),
               Conv(256, 5, 1, 2, 2, 1.0, True, True),
               Conv(384, 3, 1, 1, 1, 0.0, False, False),
               Conv(384, 3, 1, 1, 2, 1.0, False, False),
               Conv(256, 3, 1, 1, 2, 1.0, False, True)],
        dropout_before_fc=False,  # the paper: dropout on the outputs of fc6 and fc7
        init=0.01,                # N(0, 0.01)
        min_size=67),
}
FC_UNITS = 4096
FC_BIAS = {"torchvision": 0.0, "original": 1.0}


def _initializers(layout, bias, fan_in):
    if layout.init is None:  # PyTorch's defaults: U(+-1/sqrt(fan_in)) for weights and biases
        return initializers.TORCH_DEFAULT_UNIFORM, B.torch_bias_init(fan_in)
    return initializers.normal(layout.init), keras.initializers.Constant(bias)


_MIN_SIZES = " or ".join(f"{spec.min_size}x{spec.min_size} ({layout})"
                        for layout, spec in LAYOUTS.items())


def _min_size(arguments):
    """The layout's smallest input side (an unknown layout is refused by the builder)."""
    layout = LAYOUTS.get(arguments["layout"])
    return layout.min_size if layout else 1


@A.application(min_size=_min_size, fixed_size_top=True,
               head="adaptive average pool to 6x6, the 4096-4096 classifier with dropout, logits",
               input_note=f"any size of at least {_MIN_SIZES} works, pooled to 6x6 before the "
                          "classifier as torchvision does (None x None without the classifier)")
def AlexNet(inputs, layout="torchvision", *, name="alexnet", dropout_rate=0.5, classes):
    """AlexNet in `layout` "torchvision" (single tower) or "original" (the 2012 paper)."""
    B.check_choice(name, "layout", layout, tuple(LAYOUTS))
    spec = LAYOUTS[layout]
    x = inputs
    features = []
    stride = 1
    for index, conv in enumerate(spec.convs, start=1):
        fan_in = x.shape[-1] // conv.groups * conv.kernel ** 2
        kernel_init, bias_init = _initializers(spec, conv.bias, fan_in)
        x = B.conv2d(x, conv.filters, conv.kernel, strides=conv.stride, padding=conv.padding,
                     groups=conv.groups, use_bias=True, kernel_initializer=kernel_init,
                     bias_initializer=bias_init, name=f"conv{index}")
        x = keras.layers.ReLU(name=f"conv{index}_relu")(x)
        stride *= conv.stride
        if conv.lrn:  # k=2, n=5, alpha=1e-4, beta=0.75 (section 3.3)
            x = LocalResponseNormalization(depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75,
                                           name=f"conv{index}_lrn")(x)
        if conv.pool:  # overlapping pooling: 3x3, stride 2 (section 3.4)
            x = keras.layers.MaxPooling2D(pool_size=3, strides=2, name=f"pool{index}")(x)
            stride *= 2
            features.append((stride, x))

    def head(x):
        x = AdaptiveAveragePooling2D(output_size=6, name="adaptive_pool")(x)
        x = Flatten(name="flatten")(x)
        for index in (6, 7):
            kernel_init, bias_init = _initializers(spec, FC_BIAS[layout], x.shape[-1])
            if spec.dropout_before_fc:
                x = keras.layers.Dropout(rate=dropout_rate, name=f"fc{index}_dropout")(x)
            x = B.dense(x, FC_UNITS, name=f"fc{index}", kernel_initializer=kernel_init,
                        bias_initializer=bias_init)
            x = keras.layers.ReLU(name=f"fc{index}_relu")(x)
            if not spec.dropout_before_fc:
                x = keras.layers.Dropout(rate=dropout_rate, name=f"fc{index}_dropout")(x)
        kernel_init, bias_init = _initializers(spec, 0.0, x.shape[-1])
        return B.dense(x, classes, name="logits", kernel_initializer=kernel_init,
                       bias_initializer=bias_init)

    return A.Network(x, features, head=head)


# Checkpoint names of torchvision's alexnet (features: conv, ReLU, pool ...; classifier:
# Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear).
REFERENCE_NAMES = {"conv1": "features.0", "conv2": "features.3", "conv3": "features.6",
                   "conv4": "features.8", "conv5": "features.10", "fc6": "classifier.1",
                   "fc7": "classifier.4", "logits": "classifier.6"}
CHECKPOINTS = {"torchvision": weights.CheckpointMap(
    lambda path, model: REFERENCE_NAMES.get(path), head=("classifier.",),
    flattened={"fc6": "flatten"})}

DOCSTRING = """{summary}

Reference: Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
Neural Networks" (2012); Krizhevsky, "One weird trick for parallelizing convolutional neural
networks" (2014); implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout in the two hidden fully connected layers.
""" + AlexNet.args_doc


@registry.register_model("alexnet", family="AlexNet", paper=PAPER_ONE_WEIRD_TRICK,
                         reference=("torchvision", "alexnet"), doc=DOCSTRING)
def AlexNetTorchvision(**kwargs):
    """AlexNet, torchvision's single-tower layout (64-192-384-256-256 channels)."""
    return AlexNet("torchvision", name="alexnet", **kwargs)


@registry.register_model("alexnet_original", family="AlexNet", paper=PAPER, doc=DOCSTRING,
                         reference=("paper", "two-tower network of section 3.5, figure 2"),
                         preprocessing=registry.Preprocessing(input_size=(227, 227, 3)))
def AlexNetOriginal(**kwargs):
    """AlexNet as the 2012 paper: 96-256-384-384-256 channels, LRN, two-tower grouped convs."""
    return AlexNet("original", name="alexnet_original", **kwargs)


__all__ = ["AlexNet", "AlexNetTorchvision", "AlexNetOriginal"]
