"""ShuffleNetV2 (Ma et al. 2018) as torchvision's `shufflenet_v2_x0_5/x1_0/x1_5/x2_0`.

Table 5 of the paper: a 3x3 stride-2 convolution of 24 channels and a 3x3 stride-2 max pool,
three stages of 4, 8 and 4 units, a 1x1 convolution to 1024 channels (2048 at 2x), global
average pooling and the classifier. A unit (figure 3c) splits its channels in two halves
(the channel split), leaves the first alone and runs the second through 1x1 conv-BN-ReLU,
3x3 depthwise conv-BN, 1x1 conv-BN-ReLU; the halves are concatenated and shuffled in two
groups. The first unit of a stage (figure 3d) splits nothing: both branches see the whole
input, the left one a 3x3 stride-2 depthwise conv-BN and a 1x1 conv-BN-ReLU, the right one the
unit's branch at stride 2, so the unit halves the size and doubles the width.

The channel shuffle is the package's `ChannelShuffle` (torchvision's channel order), the
channel split `ChannelSplit` (torch's `chunk`); both run in TFLite as builtins (TRANSPOSE,
SPLIT), in float and in int8.

Initialization: torchvision sets none, so convolutions and the classifier keep PyTorch's
default U(+-1/sqrt(fan_in)); the depthwise kernels get the mobile families' He normal over
their k x k fan-out. torchvision's BatchNorm: epsilon 1e-5, momentum 0.1. The paper adds
squeeze-and-excitation and residual variants (its "ShuffleNet v2 with SE/residual") that
torchvision does not publish; they are not built here.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers.shuffle import ChannelShuffle, ChannelSplit
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture "
                       "Design", 2018, "1807.11164")

# Table 5: output channels of conv1, stage2, stage3, stage4 and conv5, per width multiplier.
WIDTHS = {
    0.5: (24, 48, 96, 192, 1024),
    1.0: (24, 116, 232, 464, 1024),
    1.5: (24, 176, 352, 704, 1024),
    2.0: (24, 244, 488, 976, 2048),
}
REPEATS = (4, 8, 4)  # units of stage2, stage3, stage4


def conv_bn(x, filters, kernel_size=1, *, name, strides=1, relu=True):
    """conv (no bias, PyTorch's default init) -> BN [-> ReLU]: {name}_conv, _bn, _relu."""
    return B.conv_norm_act(x, filters, kernel_size, strides=strides, act="relu" if relu else None,
                           kernel_initializer=initializers.TORCH_DEFAULT_UNIFORM,
                           act_name="relu", name=name)


def shuffle_unit(filters, *, name, strides):
    """Figure 3 (c) at stride 1, (d) at stride 2: two branches of filters / 2 channels each,
    concatenated (left first, torchvision's order), then shuffled in two groups."""
    branch = filters // 2

    def apply(x):
        if strides == 1:
            left, right = ChannelSplit(num_splits=2, name=f"{name}_split")(x)
        else:
            left = M.depthwise_norm_act(x, 3, strides=2, name=f"{name}_branch1_dw")
            left = conv_bn(left, branch, name=f"{name}_branch1_pw")
            right = x
        right = conv_bn(right, branch, name=f"{name}_branch2_pw1")
        right = M.depthwise_norm_act(right, 3, strides=strides, name=f"{name}_branch2_dw")
        right = conv_bn(right, branch, name=f"{name}_branch2_pw2")
        x = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([left, right])
        return ChannelShuffle(groups=2, name=f"{name}_shuffle")(x)
    return apply


@A.application(head="global average pool, [dropout], logits")
def ShuffleNetV2(inputs, width_multiplier=1.0, *, name="shufflenet_v2", dropout_rate=0.0):
    """The ShuffleNetV2 of Table 5 at `width_multiplier` 0.5, 1.0, 1.5 or 2.0."""
    B.check_choice(name, "width_multiplier", width_multiplier, tuple(WIDTHS))
    stem, *stage_widths, head = WIDTHS[width_multiplier]

    x = conv_bn(inputs, stem, 3, strides=2, name="stem")
    features = [(2, x)]
    x = B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    features.append((4, x))
    stride = 4
    for s, (filters, repeats) in enumerate(zip(stage_widths, REPEATS), start=2):
        for b in range(1, repeats + 1):
            x = shuffle_unit(filters, strides=2 if b == 1 else 1, name=f"stage{s}_block{b}")(x)
        stride *= 2
        features.append((stride, x))
    x = conv_bn(x, head, name="head")
    features.append((32, x))
    return A.Network(x, features, dropout_rate=dropout_rate)


DOCSTRING = """{summary}

Reference: Ma, Zhang, Zheng & Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design" (2018); implementation: {reference}. Registered as `{name}`.

Args:
    width_multiplier: 0.5, 1.0, 1.5 or 2.0 (the widths of the paper's Table 5).
    dropout_rate: dropout before the logits layer (none in the paper and torchvision).
""" + ShuffleNetV2.args_doc


# Checkpoint names: torchvision's conv1.{0,1}, stage{2,3,4}.{i}.branch1.{0: dw conv, 1: bn,
# 2: pw conv, 3: bn}, .branch2.{0: pw conv, 1: bn, 3: dw conv, 4: bn, 5: pw conv, 6: bn},
# conv5.{0,1} and fc.
TORCHVISION_TOP = {"stem_conv": "conv1.0", "stem_bn": "conv1.1", "head_conv": "conv5.0",
                   "head_bn": "conv5.1", "logits": "fc"}
TORCHVISION_UNIT = {"branch1_dw_conv": "branch1.0", "branch1_dw_bn": "branch1.1",
                    "branch1_pw_conv": "branch1.2", "branch1_pw_bn": "branch1.3",
                    "branch2_pw1_conv": "branch2.0", "branch2_pw1_bn": "branch2.1",
                    "branch2_dw_conv": "branch2.3", "branch2_dw_bn": "branch2.4",
                    "branch2_pw2_conv": "branch2.5", "branch2_pw2_bn": "branch2.6"}


torchvision_names = B.checkpoint_names(
    TORCHVISION_TOP, lambda stage, block: f"stage{stage}.{block - 1}", TORCHVISION_UNIT)


CHECKPOINTS = {"torchvision": weights.CheckpointMap(torchvision_names, head=("fc.",))}


register = functools.partial(registry.register_model, family="ShuffleNetV2", paper=PAPER,
                             doc=DOCSTRING)


@register("shufflenet_v2_x0_5", reference=("torchvision", "shufflenet_v2_x0_5"))
def ShuffleNetV2x0_5(**kwargs):
    """ShuffleNetV2 0.5x (48-96-192 channels per stage)."""
    return ShuffleNetV2(0.5, name="shufflenet_v2_x0_5", **kwargs)


@register("shufflenet_v2_x1_0", reference=("torchvision", "shufflenet_v2_x1_0"))
def ShuffleNetV2x1_0(**kwargs):
    """ShuffleNetV2 1.0x (116-232-464 channels per stage)."""
    return ShuffleNetV2(1.0, name="shufflenet_v2_x1_0", **kwargs)


@register("shufflenet_v2_x1_5", reference=("torchvision", "shufflenet_v2_x1_5"))
def ShuffleNetV2x1_5(**kwargs):
    """ShuffleNetV2 1.5x (176-352-704 channels per stage)."""
    return ShuffleNetV2(1.5, name="shufflenet_v2_x1_5", **kwargs)


@register("shufflenet_v2_x2_0", reference=("torchvision", "shufflenet_v2_x2_0"))
def ShuffleNetV2x2_0(**kwargs):
    """ShuffleNetV2 2.0x (244-488-976 channels per stage, a 2048-channel conv5)."""
    return ShuffleNetV2(2.0, name="shufflenet_v2_x2_0", **kwargs)


__all__ = ["ShuffleNetV2", "ShuffleNetV2x0_5", "ShuffleNetV2x1_0", "ShuffleNetV2x1_5",
           "ShuffleNetV2x2_0"]
