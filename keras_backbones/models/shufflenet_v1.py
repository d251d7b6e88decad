"""ShuffleNetV1 (Zhang et al. 2018) as the official megvii-model/ShuffleNet-Series code
(ShuffleNetV1/network.py, blocks.py): groups 3 and 8 at 0.5x, 1.0x, 1.5x and 2.0x.

Table 1 of the paper: a 3x3 stride-2 convolution and a 3x3 stride-2 max pool, three stages of
4, 8 and 4 ShuffleNet units, global average pooling and the classifier. A unit (figure 2):
1x1 group convolution to a quarter of the unit's output width, BN, ReLU, channel shuffle,
3x3 depthwise convolution (stride 2 in the first unit of a stage), BN, 1x1 group convolution,
BN; at stride 1 the input is added and the sum goes through a ReLU; at stride 2 the unit
concatenates a 3x3 stride-2 average pool of its input (padding 1, zeros counted as PyTorch's
count_include_pad) with the ReLU of its branch, whose last convolution therefore produces only
the missing channels. The first 1x1 convolution of stage 2 is not grouped (its input has too
few channels). The classifier has no bias.

Where the official code departs from the paper, this follows the code: the shuffle sits
after the depthwise convolution's BN (the paper's figure puts it before the depthwise
convolution), and it reads the channels as (C / g, g) and transposes them, the inverse of the
paper's (g, C / g) permutation: channel i * (C / g) + j of the output is channel j * g + i of
the input, which is `ChannelShuffle(groups=C / g)` in the package's (torchvision's) order. The
stem is 12 (0.5x), 24 (1.0x, 1.5x) or 48 (2.0x) channels, 16 for group 8 at 0.5x (so that the
first unit's branch, stage-2 width - stem, divides into the groups); the network ends with a
7x7 average pool, which is the global average pool at 224x224, used here at every size.

Groups 1, 2 and 4 are not in the official code: they come from the paper's Table 1 (stage-2
widths 144, 200, 240, 272, 384 at 1x for 1, 2, 3, 4, 8 groups, doubling per stage, a 24-channel
stem, about 140 MFLOPs each). The stage-2 width is scaled by the width multiplier and rounded
to a multiple of 4 x groups (make_divisible: a unit's bottleneck, a quarter of its width, must
divide into the groups; the official widths are such multiples already), then doubled per
stage; the stem is the official one for the multiplier, raised to the first width that leaves
stage-2 width - stem divisible by the groups (the rule that gives the official 16 for group 8
at 0.5x). Group 1 has no shuffle (the official code skips it).

Initialization: the official code's: the stem convolution N(0, 0.01), every other
convolution N(0, 1 / its kernel's input channels per group) (1 for a depthwise kernel),
BN gamma 1 and beta 1e-4, the classifier N(0, 0.01). BatchNorm: epsilon 1e-5, momentum 0.1.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import make_divisible
from keras_backbones.layers.shuffle import ChannelShuffle
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("ShuffleNet: An Extremely Efficient Convolutional Neural Network for "
                       "Mobile Devices", 2017, "1707.01083")
REFERENCE = "official:megvii-model/ShuffleNet-Series"

# Table 1: stage-2 output channels at 1x per number of groups (stages 3 and 4 double it).
STAGE2_WIDTHS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
REPEATS = (4, 8, 4)  # units of stage2, stage3, stage4
# The official code's stem per width multiplier (group 8 at 0.5x: 16, see `stem_width`).
STEM_WIDTHS = {0.5: 12, 1.0: 24, 1.5: 24, 2.0: 48}
BOTTLENECK_RATIO = 4  # a unit's bottleneck is a quarter of its output width
BN_BETA = 1e-4  # the official code's BatchNorm bias initialization


def stage_widths(groups, width_multiplier):
    """Output channels of stages 2, 3 and 4: Table 1's stage 2 x the multiplier, to a
    multiple of 4 x groups, doubled per stage."""
    width = make_divisible(STAGE2_WIDTHS[groups] * width_multiplier, BOTTLENECK_RATIO * groups)
    return (width, 2 * width, 4 * width)


def stem_width(groups, width_multiplier):
    """The official stem, raised until stage-2 width - stem divides into the groups."""
    width = STEM_WIDTHS[width_multiplier]
    while (stage_widths(groups, width_multiplier)[0] - width) % groups:
        width += 1
    return width


def bn(x, *, name, gamma_initializer="ones"):
    """The official code's BatchNorm (a `B.conv_norm_act` norm): PyTorch's epsilon and
    momentum, beta initialized to BN_BETA."""
    return keras.layers.BatchNormalization(
        axis=-1, epsilon=1e-5, momentum=0.9, gamma_initializer=gamma_initializer,
        beta_initializer=keras.initializers.Constant(BN_BETA), name=name)(x)


def pointwise(x, filters, *, groups, name):
    """1x1 group convolution (no bias, N(0, groups / input channels)) -> BN: {name}_conv,
    {name}_bn."""
    return B.conv_norm_act(x, filters, 1, groups=groups, act=None, norm=bn,
                           kernel_initializer=initializers.normal(groups / x.shape[-1]),
                           name=name)


def shuffle_unit(filters, *, name, groups, strides, first_group=False):
    """The ShuffleNet unit of figure 2 (b) at stride 1, (c) at stride 2 (official code)."""
    mid = filters // BOTTLENECK_RATIO

    def apply(x):
        outputs = filters - x.shape[-1] if strides == 2 else filters
        y = pointwise(x, mid, groups=1 if first_group else groups, name=f"{name}_pw1")
        y = keras.layers.ReLU(name=f"{name}_pw1_relu")(y)
        if strides == 2:
            y = keras.layers.ZeroPadding2D(padding=1, name=f"{name}_dw_pad")(y)
        y = keras.layers.DepthwiseConv2D(
            kernel_size=3, strides=strides, padding="same" if strides == 1 else "valid",
            use_bias=False, depthwise_initializer=initializers.get(initializers.normal(1.0)),
            name=f"{name}_dw_conv")(y)
        y = bn(y, name=f"{name}_dw_bn")
        if groups > 1:
            y = ChannelShuffle(groups=mid // groups, name=f"{name}_shuffle")(y)
        y = pointwise(y, outputs, groups=groups, name=f"{name}_pw2")
        if strides == 1:
            y = keras.layers.Add(name=f"{name}_add")([y, x])
            return keras.layers.ReLU(name=f"{name}_relu")(y)
        y = keras.layers.ReLU(name=f"{name}_relu")(y)
        shortcut = B.avg_pool(x, 3, strides=2, padding=1, name=f"{name}_proj_pool")
        return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([shortcut, y])
    return apply


@A.application(head="global average pool, [dropout], logits without bias")
def ShuffleNetV1(inputs, groups=3, width_multiplier=1.0, *, name="shufflenet_v1",
                 dropout_rate=0.0, classes):
    """The ShuffleNetV1 of Table 1 with `groups` (1, 2, 3, 4 or 8) at `width_multiplier` 0.5,
    1.0, 1.5 or 2.0."""
    B.check_choice(name, "groups", groups, tuple(STAGE2_WIDTHS))
    B.check_choice(name, "width_multiplier", width_multiplier, tuple(STEM_WIDTHS))

    x = B.conv_norm_act(inputs, stem_width(groups, width_multiplier), 3, strides=2, norm=bn,
                        kernel_initializer=initializers.NORMAL_001, act_name="relu",
                        name="stem")
    features = [(2, x)]
    x = B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    features.append((4, x))
    stride = 4
    for s, (filters, repeats) in enumerate(zip(stage_widths(groups, width_multiplier), REPEATS),
                                           start=2):
        for b in range(1, repeats + 1):
            x = shuffle_unit(filters, groups=groups, strides=2 if b == 1 else 1,
                             first_group=s == 2 and b == 1, name=f"stage{s}_block{b}")(x)
        stride *= 2
        features.append((stride, x))

    def head(x):  # global average pool, [dropout], a linear layer without bias
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate:
            x = keras.layers.Dropout(rate=dropout_rate, name="head_dropout")(x)
        return keras.layers.Dense(units=classes, use_bias=False, name="logits",
                                  kernel_initializer=initializers.get(initializers.NORMAL_001))(x)

    return A.Network(x, features, head=head)


DOCSTRING = """{summary}

Reference: Zhang, Zhou, Lin & Sun, "ShuffleNet: An Extremely Efficient Convolutional Neural
Network for Mobile Devices" (2017); implementation: {reference}. Registered as `{name}`.

Args:
    groups: groups of the 1x1 convolutions: 3 or 8 (the official code), 1, 2 or 4 (the
        paper's Table 1 widths).
    width_multiplier: 0.5, 1.0, 1.5 or 2.0.
    dropout_rate: dropout before the logits layer (none in the paper and the official code).
""" + ShuffleNetV1.args_doc


# Checkpoint names of the official code: first_conv.{0,1}, features.{i}.branch_main_1.{0: pw
# conv, 1: bn, 3: dw conv, 4: bn}, .branch_main_2.{0: pw conv, 1: bn}, classifier.0.
OFFICIAL_TOP = {"stem_conv": "first_conv.0", "stem_bn": "first_conv.1", "logits": "classifier.0"}
OFFICIAL_UNIT = {"pw1_conv": "branch_main_1.0", "pw1_bn": "branch_main_1.1",
                 "dw_conv": "branch_main_1.3", "dw_bn": "branch_main_1.4",
                 "pw2_conv": "branch_main_2.0", "pw2_bn": "branch_main_2.1"}


# `features` is one flat Sequential: unit b of stage s is features.{units before s + b - 1}.
official_names = B.checkpoint_names(
    OFFICIAL_TOP, lambda stage, block: f"features.{sum(REPEATS[:stage - 2]) + block - 1}",
    OFFICIAL_UNIT)


CHECKPOINTS = {REFERENCE: weights.CheckpointMap(official_names, head=("classifier.",))}


register = functools.partial(registry.register_model, family="ShuffleNetV1", paper=PAPER,
                             doc=DOCSTRING)


@register("shufflenet_v1_g3_x0_5", reference=(REFERENCE, "ShuffleNetV1 group=3 0.5x"))
def ShuffleNetV1g3x0_5(**kwargs):
    """ShuffleNetV1 with 3 groups at 0.5x (120-240-480 channels per stage)."""
    return ShuffleNetV1(3, 0.5, name="shufflenet_v1_g3_x0_5", **kwargs)


@register("shufflenet_v1_g3_x1_0", reference=(REFERENCE, "ShuffleNetV1 group=3 1.0x"))
def ShuffleNetV1g3x1_0(**kwargs):
    """ShuffleNetV1 with 3 groups at 1.0x (240-480-960 channels per stage)."""
    return ShuffleNetV1(3, 1.0, name="shufflenet_v1_g3_x1_0", **kwargs)


@register("shufflenet_v1_g3_x1_5", reference=(REFERENCE, "ShuffleNetV1 group=3 1.5x"))
def ShuffleNetV1g3x1_5(**kwargs):
    """ShuffleNetV1 with 3 groups at 1.5x (360-720-1440 channels per stage)."""
    return ShuffleNetV1(3, 1.5, name="shufflenet_v1_g3_x1_5", **kwargs)


@register("shufflenet_v1_g3_x2_0", reference=(REFERENCE, "ShuffleNetV1 group=3 2.0x"))
def ShuffleNetV1g3x2_0(**kwargs):
    """ShuffleNetV1 with 3 groups at 2.0x (480-960-1920 channels per stage)."""
    return ShuffleNetV1(3, 2.0, name="shufflenet_v1_g3_x2_0", **kwargs)


@register("shufflenet_v1_g8_x0_5", reference=(REFERENCE, "ShuffleNetV1 group=8 0.5x"))
def ShuffleNetV1g8x0_5(**kwargs):
    """ShuffleNetV1 with 8 groups at 0.5x (192-384-768 channels per stage)."""
    return ShuffleNetV1(8, 0.5, name="shufflenet_v1_g8_x0_5", **kwargs)


@register("shufflenet_v1_g8_x1_0", reference=(REFERENCE, "ShuffleNetV1 group=8 1.0x"))
def ShuffleNetV1g8x1_0(**kwargs):
    """ShuffleNetV1 with 8 groups at 1.0x (384-768-1536 channels per stage)."""
    return ShuffleNetV1(8, 1.0, name="shufflenet_v1_g8_x1_0", **kwargs)


@register("shufflenet_v1_g8_x1_5", reference=(REFERENCE, "ShuffleNetV1 group=8 1.5x"))
def ShuffleNetV1g8x1_5(**kwargs):
    """ShuffleNetV1 with 8 groups at 1.5x (576-1152-2304 channels per stage)."""
    return ShuffleNetV1(8, 1.5, name="shufflenet_v1_g8_x1_5", **kwargs)


@register("shufflenet_v1_g8_x2_0", reference=(REFERENCE, "ShuffleNetV1 group=8 2.0x"))
def ShuffleNetV1g8x2_0(**kwargs):
    """ShuffleNetV1 with 8 groups at 2.0x (768-1536-3072 channels per stage)."""
    return ShuffleNetV1(8, 2.0, name="shufflenet_v1_g8_x2_0", **kwargs)


__all__ = ["ShuffleNetV1", "ShuffleNetV1g3x0_5", "ShuffleNetV1g3x1_0", "ShuffleNetV1g3x1_5",
           "ShuffleNetV1g3x2_0", "ShuffleNetV1g8x0_5", "ShuffleNetV1g8x1_0", "ShuffleNetV1g8x1_5",
           "ShuffleNetV1g8x2_0"]
