"""Pre-activation ResNets: ResNet v2 (He et al., 2016) as timm's `resnetv2_*`, and the Wide
ResNet for CIFAR (Zagoruyko & Komodakis, 2016) as its official code.

Both are stacks of one pre-activation block: normalization and ReLU come before each
convolution, the identity path carries the un-normalized sum, and where the shape changes the
1x1 projection shortcut (no normalization) reads the pre-activated input. One final
normalization + ReLU precedes global pooling and the classifier.
"""

import math
import re

from keras_backbones import registry, weights
from keras_backbones.backend import keras
from keras_backbones.models import _builder as B
from keras_backbones.models import resnet

PAPER_V2 = registry.Paper("Identity Mappings in Deep Residual Networks", 2016, "1603.05027")
PAPER_WRN = registry.Paper("Wide Residual Networks", 2016, "1605.07146")

# The ResNet paper's table 1 (block type and blocks per stage), as for the v1 ResNets; timm's
# resnetv2_* use the same rows. Stage widths are those of the 3x3 convolutions.
CONFIGS = resnet.DEPTHS
WIDTHS = resnet.STAGE_PLANES

# Table 1 of the WRN paper: three groups of n = (depth - 4) / 6 basic blocks, widths x k.
WRN_GROUPS = ((16, 1), (32, 2), (64, 2))  # (base width, stride of the first block)
WRN_STEM_WIDTH = 16


# A residual branch is a list of (filters, kernel, stride) convolutions, each preceded by
# norm + ReLU. timm puts a bottleneck's stride on its 3x3 convolution (the "v1.5" placement).
def basic_branch(width, stride):
    return [(width, 3, stride), (width, 3, 1)]


def bottleneck_branch(width, stride):
    return [(width, 1, 1), (width, 3, stride), (4 * width, 1, 1)]


BRANCHES = {"basic": basic_branch, "bottleneck": bottleneck_branch}

# timm's resnetv2 init: convolutions He normal (fan_out), the classifier N(0, 0.01) with zero
# bias. The official WRN code: convolutions He normal (fan_out, its MSRinit), the linear layer
# Torch's default uniform with zero bias.
V2_HEAD_INIT = {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": 0.01}}


def norm_relu(x, prefix, suffix="", *, norm):
    """The pre-activation: norm + ReLU (timm's BatchNormAct2d: BN with PyTorch's eps 1e-5 and
    momentum 0.1)."""
    x = B.norm(x, kind=norm, name=f"{prefix}_norm{suffix}")
    return keras.layers.ReLU(name=f"{prefix}_relu{suffix}")(x)


def preact_block(name, branch, *, norm, dropout_rate=0.0):
    """timm's PreActBasic / PreActBottleneck and WRN's wide_basic, for `branch` convolutions.

    dropout_rate: WRN's dropout, where its official code puts it: after the last ReLU, just
    before the last convolution."""
    def apply(x):
        out_channels = branch[-1][0]
        stride = math.prod(s for _, _, s in branch)
        preact = norm_relu(x, name, 1, norm=norm)
        shortcut = x
        if stride != 1 or x.shape[-1] != out_channels:
            shortcut = B.conv2d(preact, out_channels, 1, strides=stride,
                                name=f"{name}_downsample_conv")
        y = preact
        for i, (filters, kernel, conv_stride) in enumerate(branch, start=1):
            if i > 1:
                y = norm_relu(y, name, i, norm=norm)
            if dropout_rate and i == len(branch):
                y = keras.layers.Dropout(rate=dropout_rate, name=f"{name}_dropout")(y)
            y = B.conv2d(y, filters, kernel, strides=conv_stride, name=f"{name}_conv{i}")
        return keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return apply


def preact_stage(index, branch_fn, width, blocks, stride, *, norm, dropout_rate=0.0):
    def apply(x):
        for b in range(1, blocks + 1):
            x = preact_block(f"stage{index}_block{b}", branch_fn(width, stride if b == 1 else 1),
                             norm=norm, dropout_rate=dropout_rate)(x)
        return x
    return apply


def _finish(inputs, x, features, *, norm, **model_kwargs):
    """final_norm + final_relu, then the head (or pooling, or the features)."""
    x = norm_relu(x, "final", norm=norm)
    return B.make_model(inputs, x, features=features, **model_kwargs)


def ResNetV2(depth, *, name="resnetv2", include_top=True, weights=None, input_tensor=None,
             input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
             norm="batch", features_only=False):
    """Builds a pre-activation ResNet from a row of `CONFIGS` (18, 34, 50, 101 or 152)."""
    if depth not in CONFIGS:
        raise ValueError(f"{name}: `depth` must be one of {sorted(CONFIGS)}; got {depth!r}.")
    B.check_arguments(name, include_top=include_top, classes=classes, pooling=pooling,
                      weights=weights)
    B.check_choice(name, "norm", norm, B.NORMS)
    inputs = B.model_input(name, input_shape, input_tensor, default_size=224, min_size=32)
    block, stage_blocks = CONFIGS[depth]
    # The stem has no norm: the first block's norm1 pre-activates it. Its max pool pads with
    # PyTorch's never-selected padding (its input is not post-ReLU, so zeros would win).
    x = B.conv2d(inputs, 64, 7, strides=2, name="stem_conv")
    features = [(2, x)]
    x = B.max_pool(x, 3, strides=2, padding=1, name="stem_pool")
    current_stride = 4
    for index, (width, blocks) in enumerate(zip(WIDTHS, stage_blocks), start=1):
        stride = 1 if index == 1 else 2
        x = preact_stage(index, BRANCHES[block], width, blocks, stride, norm=norm)(x)
        current_stride *= stride
        features.append((current_stride, x))
    return _finish(inputs, x, features, name=name, include_top=include_top, weights=weights,
                   pooling=pooling, classes=classes, classifier_activation=classifier_activation,
                   features_only=features_only, norm=norm,
                   logits_initializers=(V2_HEAD_INIT, "zeros"))


def WideResNetCIFAR(depth=28, width=10, dropout_rate=0.0, *, name="wide_resnet",
                    include_top=True, weights=None, input_tensor=None, input_shape=None,
                    pooling=None, classes=10, classifier_activation="softmax", norm="batch",
                    features_only=False):
    """Builds WRN-`depth`-`width` for 32x32 inputs: depth = 6n + 4, n blocks per group."""
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6 != 0:
        raise ValueError(f"{name}: `depth` must be 6n + 4 for a whole number of blocks n >= 1 "
                         f"(10, 16, 22, 28, 40, ...); got {depth!r}.")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"{name}: `width` (the widening factor k) must be a positive integer; "
                         f"got {width!r}.")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"{name}: `dropout_rate` must be in [0, 1); got {dropout_rate!r}.")
    B.check_arguments(name, include_top=include_top, classes=classes, pooling=pooling,
                      weights=weights)
    B.check_choice(name, "norm", norm, B.NORMS)
    inputs = B.model_input(name, input_shape, input_tensor, default_size=32, min_size=8)
    blocks = (depth - 4) // 6
    x = B.conv2d(inputs, WRN_STEM_WIDTH, 3, name="stem_conv")
    features = []
    current_stride = 1
    for index, (base_width, stride) in enumerate(WRN_GROUPS, start=1):
        x = preact_stage(index, basic_branch, base_width * width, blocks, stride, norm=norm,
                         dropout_rate=dropout_rate)(x)
        current_stride *= stride
        features.append((current_stride, x))
    return _finish(inputs, x, features, name=name, include_top=include_top, weights=weights,
                   pooling=pooling, classes=classes, classifier_activation=classifier_activation,
                   features_only=features_only, norm=norm,
                   logits_initializers=(B.TORCH_LINEAR_INIT, "zeros"))


# Checkpoint names of timm's resnetv2_*: blocks are stages.{stage - 1}.blocks.{block - 1}; the
# classifier is a 1x1 convolution (read as the dense kernel it is).
REFERENCE_NAMES = {"stem_conv": "stem.conv", "final_norm": "norm", "logits": "head.fc"}


def reference_name(path, model=None):
    match = re.fullmatch(r"stage(\d)_block(\d+)_(norm\d|conv\d|downsample_conv)", path)
    if not match:
        return REFERENCE_NAMES.get(path)
    stage, block, part = match.groups()
    return f"stages.{int(stage) - 1}.blocks.{int(block) - 1}.{part.replace('_', '.')}"


CHECKPOINTS = {"timm": weights.CheckpointMap(reference_name, head=("head.",))}


def _docstring(reference_line, *, top, size, min_size, classes, extra_args, strides, features):
    """The family's docstring template ({summary}, {reference} and {name} are the variant's)."""
    return f"""{{summary}}

Reference: {reference_line}

Args:
    include_top: whether to include the average pool and the {top} classifier.
    weights: None (random initialization) or the path to a weights file.
    input_tensor: optional Keras tensor to use as the model's input.
    input_shape: (height, width, channels); ({size}, {size}, 3) by default, >= {min_size}x{min_size}.
    pooling: with include_top=False, None (4-D output), "avg" or "max".
    classes: number of classes ({classes} by default).
    classifier_activation: output activation ("softmax", or None for logits).{extra_args}
    norm: "batch" (the reference's BatchNorm), "syncbatch" (statistics across replicas) or
        "group" (GroupNorm, 32 groups where the channels allow).
    features_only: return the feature maps at strides {strides}:
        {features}, the un-normalized residual sums that timm's features_only gives
        for its pre-activation ResNets (final_norm is not applied).
"""


V2_DOCSTRING = _docstring(
    'He et al., "Identity Mappings in Deep Residual Networks" (2016); implementation:\n'
    "{reference}: plain convolutions and BatchNorm (not BiT's weight-standardized convolutions\n"
    "and GroupNorm), the stride on the first block's 3x3 convolution. Registered as `{name}`.\n"
    "Not keras.applications' ResNet*V2, which strides in the last block of each stage and has\n"
    "conv biases: weights do not transfer between the two.",
    top="1000-way", size=224, min_size=32, classes=1000, extra_args="",
    strides="2, 4, 8, 16 and 32", features="the stem convolution and each stage's output")

WRN_DOCSTRING = _docstring(
    'Zagoruyko & Komodakis, "Wide Residual Networks" (2016), {reference};\n'
    "built as the official code (szagoruyko/wide-residual-networks): no conv biases, dropout\n"
    "after the second ReLU of each block. Registered as `{name}`.",
    top="CIFAR", size=32, min_size=8, classes=10,
    extra_args="\n    dropout_rate: dropout between the two convolutions of each block.",
    strides="1, 2 and 4", features="the output of each group")


def _register_v2(name, crop_pct):
    # timm's default pretrained configs: Inception mean/std, bicubic, crop_pct as given.
    preprocessing = registry.Preprocessing(
        mean=registry.INCEPTION_MEAN, std=registry.INCEPTION_STD, interpolation="bicubic",
        crop_pct=crop_pct)
    return registry.register_model(name, family="Pre-activation ResNet", paper=PAPER_V2,
                                   reference=("timm", name), preprocessing=preprocessing,
                                   doc=V2_DOCSTRING)


@_register_v2("resnetv2_18", crop_pct=0.9)
def ResNet18V2(**kwargs):
    """Pre-activation ResNet-18 (basic blocks 2, 2, 2, 2)."""
    return ResNetV2(18, name="resnetv2_18", **kwargs)


@_register_v2("resnetv2_34", crop_pct=0.9)
def ResNet34V2(**kwargs):
    """Pre-activation ResNet-34 (basic blocks 3, 4, 6, 3)."""
    return ResNetV2(34, name="resnetv2_34", **kwargs)


@_register_v2("resnetv2_50", crop_pct=0.95)
def ResNet50V2(**kwargs):
    """Pre-activation ResNet-50 (bottleneck blocks 3, 4, 6, 3)."""
    return ResNetV2(50, name="resnetv2_50", **kwargs)


@_register_v2("resnetv2_101", crop_pct=0.95)
def ResNet101V2(**kwargs):
    """Pre-activation ResNet-101 (bottleneck blocks 3, 4, 23, 3)."""
    return ResNetV2(101, name="resnetv2_101", **kwargs)


@_register_v2("resnetv2_152", crop_pct=0.875)
def ResNet152V2(**kwargs):
    """Pre-activation ResNet-152 (bottleneck blocks 3, 8, 36, 3)."""
    return ResNetV2(152, name="resnetv2_152", **kwargs)


# The official code's normalization (pytorch/main.py), in [0, 1] units.
CIFAR10_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR10_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)
CIFAR10_PREPROCESSING = registry.Preprocessing(input_size=(32, 32, 3), mean=CIFAR10_MEAN,
                                               std=CIFAR10_STD, crop_pct=1.0)


@registry.register_model("wrn28_10", family="Wide ResNet", paper=PAPER_WRN,
                         reference=("paper", "WRN-28-10 on CIFAR-10"), paper_params=36_500_000,
                         preprocessing=CIFAR10_PREPROCESSING, doc=WRN_DOCSTRING, classes=10)
def WideResNet28_10(dropout_rate=0.3, **kwargs):
    """WRN-28-10: 4 blocks per group, widths 160, 320, 640, dropout 0.3 (the paper's best)."""
    return WideResNetCIFAR(28, 10, dropout_rate=dropout_rate, name="wrn28_10", **kwargs)


__all__ = ["ResNetV2", "WideResNetCIFAR", "ResNet18V2", "ResNet34V2", "ResNet50V2",
           "ResNet101V2", "ResNet152V2", "WideResNet28_10"]
