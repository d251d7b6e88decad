"""Xception (Chollet 2016), as timm's `legacy_xception` (the port of the Keras ImageNet model).

Figure 5 of the paper: an entry flow (two 3x3 convolutions without padding, the first strided,
then three blocks that each end in a 3x3 stride-2 max pool), a middle flow of eight blocks of
three separable convolutions, and an exit flow (a block to 1024 channels, then separable
convolutions of 1536 and 2048 channels), the global average pool and the classifier.

A separable convolution is a 3x3 depthwise convolution followed by a 1x1 pointwise one, with
no normalization or activation between them (the paper's section 4.7 finds that better), and
a BatchNorm after. Every block computes ReLU-separable conv-BN two or three times (the entry
flow's first block starts without the ReLU: its input has just been through one) and adds a
shortcut: the identity, or a 1x1 stride-2 convolution with BatchNorm where the block changes
the width or the size. The exit flow's convolutions are separable conv-BN-ReLU.
"""

import re

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("Xception: Deep Learning with Depthwise Separable Convolutions", 2016,
                       "1610.02357")

STEM = (32, 64)  # the entry flow's two 3x3 convolutions (the first with stride 2)
# The blocks of figure 5: the output channels of each separable convolution, and the stride
# (of the max pool that closes the block and of its shortcut).
BLOCKS = (
    ((128, 128), 2), ((256, 256), 2), ((728, 728), 2),  # entry flow
    *[((728, 728, 728), 1)] * 8,                        # middle flow, repeated eight times
    ((728, 1024), 2),                                   # exit flow
)
EXIT = (1536, 2048)  # the exit flow's separable convolutions after the last block

# timm's init: every convolution nn.init.kaiming_normal_(mode="fan_out"). PyTorch's fan_out
# of a depthwise kernel (C, 1, 3, 3) is 9C, which is Keras's fan_in of its (3, 3, C, 1).
CONV_INIT = initializers.HE_NORMAL_FAN_OUT
DEPTHWISE_INIT = initializers.HE_NORMAL_FAN_IN


def separable_conv(x, filters, *, name):
    """{name}_depthwise (3x3, stride 1, padding 1) -> {name}_pointwise (1x1); no bias."""
    x = keras.layers.DepthwiseConv2D(
        kernel_size=3, strides=1, padding="same", use_bias=False,
        depthwise_initializer=initializers.get(DEPTHWISE_INIT), name=f"{name}_depthwise")(x)
    return B.conv2d(x, filters, 1, kernel_initializer=CONV_INIT, name=f"{name}_pointwise")


def xception_block(widths, stride, *, name, start_with_relu=True):
    """[ReLU] -> sepconv -> BN, for each width; a 3x3 max pool where strided; plus the shortcut."""
    def apply(x):
        y = x
        for i, filters in enumerate(widths, start=1):
            if i > 1 or start_with_relu:
                y = keras.layers.ReLU(name=f"{name}_relu{i}")(y)
            y = separable_conv(y, filters, name=f"{name}_sepconv{i}")
            y = B.norm(y, name=f"{name}_bn{i}")
        if stride != 1:
            y = B.max_pool(y, 3, strides=stride, padding=1, name=f"{name}_pool")
        if stride != 1 or x.shape[-1] != widths[-1]:
            x = B.conv2d(x, widths[-1], 1, strides=stride, kernel_initializer=CONV_INIT,
                         name=f"{name}_skip_conv")
            x = B.norm(x, name=f"{name}_skip_bn")
        # The branch first (B.residual puts the shortcut first): Keras orders the layers,
        # and get_weights() the weights, by it.
        return keras.layers.Add(name=f"{name}_add")([y, x])
    return apply


# Checkpoint names: timm's (conv1, bn1, conv2, bn2; block{b}.rep is an nn.Sequential of
# [ReLU], SeparableConv2d (conv1: depthwise, pointwise), BatchNorm2d per convolution, the
# first block without its leading ReLU; block{b}.skip and .skipbn; conv3/bn3, conv4/bn4; fc).
REFERENCE_NAMES = {"stem_conv1": "conv1", "stem_bn1": "bn1", "stem_conv2": "conv2",
                   "stem_bn2": "bn2", "logits": "fc"}
_PART = {"depthwise": "conv1", "pointwise": "pointwise"}


def reference_name(path, model=None):
    if path in REFERENCE_NAMES:
        return REFERENCE_NAMES[path]
    match = re.fullmatch(r"exit_(?:sepconv(\d)_(depthwise|pointwise)|bn(\d))", path)
    if match:
        index, part, bn = match.groups()
        return f"conv{int(index) + 2}.{_PART[part]}" if index else f"bn{int(bn) + 2}"
    match = re.fullmatch(r"block(\d+)_(?:skip_(conv|bn)|sepconv(\d)_(depthwise|pointwise)|bn(\d))",
                         path)
    if not match:
        return None
    block, skip, conv, part, bn = match.groups()
    if skip:
        return f"block{block}.{'skip' if skip == 'conv' else 'skipbn'}"
    leading_relu = block != "1"  # rep holds [ReLU], conv, BN per separable convolution
    position = 3 * (int(conv or bn) - 1) + leading_relu + (0 if conv else 1)
    return f"block{block}.rep.{position}" + (f".{_PART[part]}" if conv else "")


CHECKPOINTS = {"timm": weights.CheckpointMap(reference_name, head=("fc.",))}


# 7 pixels: the two unpadded stem convolutions leave a 1x1 map.
@A.application(min_size=7)
def Xception(inputs, *, name="xception", dropout_rate=0.0):
    """Xception: 36 convolutions in 14 blocks, 299x299 inputs. Its feature maps at strides 2,
    4, 8, 16 and 32 are the stem's output, the outputs of blocks 1, 2 and 11 (before the ReLU
    that starts the next block, which timm's feature maps include), and the exit flow's last
    ReLU."""
    x = inputs
    for i, filters in enumerate(STEM, start=1):
        x = B.conv_norm_act(x, filters, 3, strides=2 if i == 1 else 1, padding=0, name="stem",
                            conv_name=f"conv{i}", norm_name=f"bn{i}", act_name=f"relu{i}",
                            kernel_initializer=CONV_INIT)
    stride = 2
    features = [(stride, x)]
    for b, (widths, block_stride) in enumerate(BLOCKS, start=1):
        x = xception_block(widths, block_stride, name=f"block{b}", start_with_relu=b > 1)(x)
        stride *= block_stride
        features.append((stride, x))
    for i, filters in enumerate(EXIT, start=1):
        x = separable_conv(x, filters, name=f"exit_sepconv{i}")
        x = B.norm(x, name=f"exit_bn{i}")
        x = keras.layers.ReLU(name=f"exit_relu{i}")(x)
    features.append((stride, x))
    return A.Network(x, features, dropout_rate=dropout_rate)


DOCSTRING = """{summary}

Reference: Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions" (2016);
implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer (the paper trains with 0.5 on ImageNet;
        timm's default is 0).
""" + Xception.args_doc

PREPROCESSING = registry.Preprocessing(input_size=(299, 299, 3), mean=registry.INCEPTION_MEAN,
                                      std=registry.INCEPTION_STD, interpolation="bicubic",
                                      crop_pct=0.8975)

Xception = registry.register_model(
    "xception", family="Xception", paper=PAPER, reference=("timm", "legacy_xception"),
    preprocessing=PREPROCESSING, doc=DOCSTRING)(Xception)


__all__ = ["Xception"]
