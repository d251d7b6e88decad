"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016), as torchvision's `squeezenet1_0`/`1_1`, with
the paper's bypass connections as an option.

A strided convolution (conv1), then eight Fire modules (fire2 ... fire9) between 3x3 stride-2
max pools in Caffe's ceil mode; a Fire module squeezes its input with a 1x1 convolution and
expands it with a 1x1 and a 3x3 convolution side by side, their outputs concatenated, each
followed by a ReLU. The classifier is a convolution too: dropout 0.5, a 1x1 convolution to the
classes (conv10), ReLU, and the global average pool. Version 1.1 (the official repository's
SqueezeNet_v1.1) has a 3x3 conv1 of 64 filters and pools earlier: 2.4x less computation, the
same accuracy.

Bypass connections (the paper's section 6 and figure 2), `bypass=`:
- None: the vanilla network (the reference implementations).
- "simple": fire3, fire5, fire7 and fire9, whose input and output have the same number of
  channels, learn a residual: their input is added to their output (after the expand ReLUs,
  with no activation after the addition, as the authors' SqueezeNet-Residual prototxt). No
  parameters are added.
- "complex": the simple bypasses, and around the other Fire modules (fire2, fire4, fire6,
  fire8, where the channel count grows) a 1x1 convolution with as many filters as the module
  has output channels (with a bias, as Caffe's convolutions, and no activation) added to the
  module's output. This adds in x out + out parameters per bypass.
"""

import functools
import re

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("SqueezeNet: AlexNet-level accuracy with 50x fewer parameters and <0.5MB "
                       "model size", 2016, "1602.07360")

# Table 1 of the paper (v1.0) and the official SqueezeNet_v1.1: conv1 (filters, kernel, stride
# 2), then "pool" (3x3, stride 2, ceil mode) or a Fire module (squeeze 1x1, expand 1x1, expand
# 3x3 filters), in order. Fire modules are numbered from 2, pools after the layer they follow.
_FIRE = {128: (16, 64, 64), 256: (32, 128, 128), 384: (48, 192, 192), 512: (64, 256, 256)}
CONFIGS = {
    "1_0": ((96, 7), ["pool", _FIRE[128], _FIRE[128], _FIRE[256], "pool",
                      _FIRE[256], _FIRE[384], _FIRE[384], _FIRE[512], "pool", _FIRE[512]]),
    "1_1": ((64, 3), ["pool", _FIRE[128], _FIRE[128], "pool", _FIRE[256], _FIRE[256], "pool",
                      _FIRE[384], _FIRE[384], _FIRE[512], _FIRE[512]]),
}
BYPASSES = (None, "simple", "complex")
# The smallest input whose last pool still has a window (torchvision's min_size).
MIN_SIZE = {"1_0": 21, "1_1": 17}

# torchvision's init: convolutions nn.init.kaiming_uniform_ (fan_in, gain sqrt(2): Keras's
# he_uniform), conv10 N(0, 0.01), every bias 0.
CONV_INIT = "he_uniform"
LOGITS_INIT = initializers.NORMAL_001


def conv_relu(x, filters, kernel, *, name, strides=1, padding=None,
              kernel_initializer=CONV_INIT):
    """A biased convolution (nn.Conv2d's default) and its ReLU, `{name}` and `{name}_relu`."""
    x = B.conv2d(x, filters, kernel, strides=strides, padding=padding, use_bias=True, name=name,
                 kernel_initializer=kernel_initializer)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def fire(squeeze, expand1x1, expand3x3, *, name, bypass=None):
    """squeeze 1x1 -> [expand 1x1, expand 3x3] concatenated. `bypass` "simple": the input is
    added where the module keeps the channel count; "complex": also, where it widens, a 1x1
    convolution of the input (see the module docstring)."""
    def apply(x):
        s = conv_relu(x, squeeze, 1, name=f"{name}_squeeze")
        y = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([
            conv_relu(s, expand1x1, 1, name=f"{name}_expand1x1"),
            conv_relu(s, expand3x3, 3, name=f"{name}_expand3x3")])
        widens = x.shape[-1] != y.shape[-1]
        if bypass == "complex" and widens:
            x = B.conv2d(x, y.shape[-1], 1, use_bias=True, name=f"{name}_bypass",
                         kernel_initializer=CONV_INIT)
        if bypass == "complex" or (bypass == "simple" and not widens):
            y = B.residual(x, y, name=name)
        return y
    return apply


def classifier(classes, dropout_rate):
    """Dropout, conv10 (1x1 to the classes, named `logits`), ReLU, global average pool."""
    def apply(x):
        x = keras.layers.Dropout(rate=dropout_rate, name="head_dropout")(x)
        x = conv_relu(x, classes, 1, name="logits", kernel_initializer=LOGITS_INIT)
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return apply


@A.application(min_size=lambda arguments: MIN_SIZE.get(arguments["version"], 1),
               head="dropout, the 1x1 conv10 to the classes, ReLU, global average pool",
               input_note=f"any known size of at least {MIN_SIZE['1_0']}x{MIN_SIZE['1_0']} "
                          f"(1.0) or {MIN_SIZE['1_1']}x{MIN_SIZE['1_1']} (1.1) works: the "
                          "ceil-mode pools need the size")
def SqueezeNet(inputs, version, *, bypass=None, name="squeezenet", dropout_rate=0.5, classes):
    """SqueezeNet `version` "1_0" or "1_1" (`CONFIGS`) with `bypass` None, "simple" or
    "complex"."""
    B.check_choice(name, "version", version, tuple(CONFIGS))
    B.check_choice(name, "bypass", bypass, BYPASSES)
    if None in tuple(inputs.shape[1:3]):
        raise ValueError(f"{name}: the ceil-mode max pools need a known input size; got "
                         f"input_shape={tuple(inputs.shape[1:])}.")
    (stem_filters, stem_kernel), layers = CONFIGS[version]

    x = conv_relu(inputs, stem_filters, stem_kernel, strides=2, padding=0, name="conv1")
    stride, number = 2, 1  # the paper's layer number of the last layer built
    features = [(stride, x)]
    for layer in layers:
        if layer == "pool":
            x = B.max_pool(x, 3, strides=2, ceil_mode=True, name=f"pool{number}")
            stride *= 2
            continue
        number += 1
        x = fire(*layer, name=f"fire{number}", bypass=bypass)(x)
        features.append((stride, x))
    return A.Network(x, features, head=classifier(classes, dropout_rate))


DOCSTRING = """{summary}

Reference: Iandola, Han, Moskewicz, Ashraf, Dally & Keutzer, "SqueezeNet: AlexNet-level
accuracy with 50x fewer parameters and <0.5MB model size" (2016); implementation: {reference}.
Registered as `{name}`.

Args:
    bypass: None (vanilla, the reference), "simple" (identity bypasses around fire3, 5, 7, 9)
        or "complex" (also 1x1 convolution bypasses around fire2, 4, 6, 8): the paper's
        section 6.
    dropout_rate: dropout before conv10 (0.5).
""" + SqueezeNet.args_doc


# Checkpoint names: torchvision's `features` is one nn.Sequential of conv1, its ReLU, the pools
# and the Fire modules (squeeze, expand1x1, expand3x3) in network order; conv10 is
# classifier.1. A complex bypass is the Fire module's `bypass` (torchvision has none: the
# name of the parity reference, keras_backbones/parity_references/squeezenet.py).
def reference_name(path, model):
    if path == "conv1":
        return "features.0"
    if path == "logits":
        return "classifier.1"
    match = re.fullmatch(r"(fire\d+)_(squeeze|expand1x1|expand3x3|bypass)", path)
    if not match:
        return None
    modules = [re.sub(r"_squeeze$", "", layer.name) for layer in model.layers
               if layer.name in ("conv1", "conv1_relu") or re.fullmatch(r"pool\d+", layer.name)
               or re.fullmatch(r"fire\d+_squeeze", layer.name)]
    return f"features.{modules.index(match.group(1))}.{match.group(2)}"


CHECKPOINTS = {"torchvision": weights.CheckpointMap(reference_name, head=("classifier.",))}


register = functools.partial(registry.register_model, family="SqueezeNet", paper=PAPER,
                             doc=DOCSTRING)


@register("squeezenet1_0", reference=("torchvision", "squeezenet1_0"))
def SqueezeNet1_0(**kwargs):
    """SqueezeNet 1.0: a 7x7 conv1 of 96 filters, pools after conv1, fire4 and fire8."""
    return SqueezeNet("1_0", name="squeezenet1_0", **kwargs)


@register("squeezenet1_1", reference=("torchvision", "squeezenet1_1"))
def SqueezeNet1_1(**kwargs):
    """SqueezeNet 1.1: a 3x3 conv1 of 64 filters, pools after conv1, fire3 and fire5."""
    return SqueezeNet("1_1", name="squeezenet1_1", **kwargs)


__all__ = ["SqueezeNet", "SqueezeNet1_0", "SqueezeNet1_1"]
