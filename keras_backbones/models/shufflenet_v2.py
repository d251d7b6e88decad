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

from keras_backbones import registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers.shuffle import ChannelShuffle, ChannelSplit
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
CONV_INIT = B.TORCH_LINEAR_INIT  # PyTorch's default for nn.Conv2d: U(+-1/sqrt(fan_in))


def conv_bn(x, filters, *, name, relu=True):
    """1x1 conv (no bias) -> BN [-> ReLU], named {name}_conv, {name}_bn, {name}_relu."""
    x = B.conv2d(x, filters, 1, kernel_initializer=CONV_INIT, name=f"{name}_conv")
    x = B.norm(x, name=f"{name}_bn")
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def dw_bn(x, *, name, strides):
    """3x3 depthwise conv (padding 1, no bias) -> BN, named {name}_conv, {name}_bn."""
    x = M.depthwise_conv2d(x, 3, strides=strides, name=f"{name}_conv")
    return B.norm(x, name=f"{name}_bn")


def shuffle_unit(filters, *, name, strides):
    """Figure 3 (c) at stride 1, (d) at stride 2: two branches of filters / 2 channels each,
    concatenated (left first, torchvision's order), then shuffled in two groups."""
    branch = filters // 2

    def apply(x):
        if strides == 1:
            left, right = ChannelSplit(num_splits=2, name=f"{name}_split")(x)
        else:
            left = dw_bn(x, strides=2, name=f"{name}_branch1_dw")
            left = conv_bn(left, branch, name=f"{name}_branch1_pw")
            right = x
        right = conv_bn(right, branch, name=f"{name}_branch2_pw1")
        right = dw_bn(right, strides=strides, name=f"{name}_branch2_dw")
        right = conv_bn(right, branch, name=f"{name}_branch2_pw2")
        x = keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([left, right])
        return ChannelShuffle(groups=2, name=f"{name}_shuffle")(x)
    return apply


def ShuffleNetV2(width_multiplier=1.0, *, name="shufflenet_v2", include_top=True,
                weights=None, input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", dropout_rate=0.0,
                features_only=False):
    """Builds the ShuffleNetV2 of Table 5 at `width_multiplier` 0.5, 1.0, 1.5 or 2.0."""
    B.check_arguments(name, include_top=include_top, classes=classes, pooling=pooling,
                      weights=weights)
    B.check_choice(name, "width_multiplier", width_multiplier, tuple(WIDTHS))
    inputs = B.model_input(name, input_shape, input_tensor, default_size=224, min_size=32)
    stem, *stage_widths, head = WIDTHS[width_multiplier]

    x = B.conv_norm_act(inputs, stem, 3, strides=2, kernel_initializer=CONV_INIT, name="stem")
    features = [(2, x)]
    x = B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    features.append((4, x))
    stride = 4
    for s, (filters, repeats) in enumerate(zip(stage_widths, REPEATS), start=2):
        for b in range(1, repeats + 1):
            x = shuffle_unit(filters, strides=2 if b == 1 else 1, name=f"stage{s}_block{b}")(x)
        stride *= 2
        features.append((stride, x))
    x = B.conv_norm_act(x, head, 1, kernel_initializer=CONV_INIT, name="head")
    features.append((32, x))
    return B.make_model(inputs, x, name=name, include_top=include_top, pooling=pooling,
                        classes=classes, classifier_activation=classifier_activation,
                        features=features, features_only=features_only, weights=weights,
                        dropout_rate=dropout_rate)


DOCSTRING = """{summary}

Reference: Ma, Zhang, Zheng & Sun, "ShuffleNet V2: Practical Guidelines for Efficient CNN
Architecture Design" (2018); implementation: {reference}. Registered as `{name}`.

Args:
    width_multiplier: 0.5, 1.0, 1.5 or 2.0 (the widths of the paper's Table 5).
""" + B.application_args() + """\
    dropout_rate: dropout before the logits layer (none in the paper and torchvision).
    features_only: return the feature maps at strides 2, 4, 8, 16 and 32.
"""


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


def _register(name, width_multiplier):
    return registry.register_model(name, family="ShuffleNetV2", paper=PAPER,
                                   reference=("torchvision", name), doc=DOCSTRING,
                                   width_multiplier=width_multiplier)


@_register("shufflenet_v2_x0_5", 0.5)
def ShuffleNetV2x0_5(**kwargs):
    """ShuffleNetV2 0.5x (48-96-192 channels per stage)."""
    return ShuffleNetV2(**{"name": "shufflenet_v2_x0_5", **kwargs})


@_register("shufflenet_v2_x1_0", 1.0)
def ShuffleNetV2x1_0(**kwargs):
    """ShuffleNetV2 1.0x (116-232-464 channels per stage)."""
    return ShuffleNetV2(**{"name": "shufflenet_v2_x1_0", **kwargs})


@_register("shufflenet_v2_x1_5", 1.5)
def ShuffleNetV2x1_5(**kwargs):
    """ShuffleNetV2 1.5x (176-352-704 channels per stage)."""
    return ShuffleNetV2(**{"name": "shufflenet_v2_x1_5", **kwargs})


@_register("shufflenet_v2_x2_0", 2.0)
def ShuffleNetV2x2_0(**kwargs):
    """ShuffleNetV2 2.0x (244-488-976 channels per stage, a 2048-channel conv5)."""
    return ShuffleNetV2(**{"name": "shufflenet_v2_x2_0", **kwargs})


__all__ = ["ShuffleNetV2", "ShuffleNetV2x0_5", "ShuffleNetV2x1_0", "ShuffleNetV2x1_5",
           "ShuffleNetV2x2_0"]
