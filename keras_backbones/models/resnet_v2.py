"""Pre-activation ResNets: ResNet v2 (He et al., 2016) as timm's `resnetv2_*`, and the Wide
ResNet for CIFAR (Zagoruyko & Komodakis, 2016) as its official code.

Both are stacks of one pre-activation block: normalization and ReLU come before each
convolution, the identity path carries the un-normalized sum, and where the shape changes the
1x1 projection shortcut (no normalization) reads the pre-activated input. One final
normalization + ReLU precedes global pooling and the classifier.
"""

import dataclasses
import functools
import math
import re

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.models import _application as A
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

# The classifiers' initialization (the convolutions are He normal, fan_out, in both): timm's
# resnetv2 N(0, 0.01), the official WRN code Torch's default uniform; both with zero bias.
V2_LOGITS_INIT = (initializers.NORMAL_001, "zeros")
WRN_LOGITS_INIT = (initializers.TORCH_DEFAULT_UNIFORM, "zeros")


def norm_relu(x, prefix, suffix="", *, norm):
    """The pre-activation: norm + ReLU (timm's BatchNormAct2d: BN with PyTorch's eps 1e-5 and
    momentum 0.1). norm: a `B.Norm`."""
    x = norm(x, name=f"{prefix}_norm{suffix}")
    return B.activation(x, "relu", name=f"{prefix}_relu{suffix}")


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
        # Not B.residual (shortcut first): the branch first keeps the order in which the
        # layers, and so the weights, have always been listed.
        return keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return apply


def preact_stage(index, branch_fn, width, blocks, stride, *, norm, dropout_rate=0.0):
    def apply(x):
        for b in range(1, blocks + 1):
            x = preact_block(f"stage{index}_block{b}", branch_fn(width, stride if b == 1 else 1),
                             norm=norm, dropout_rate=dropout_rate)(x)
        return x
    return apply


@A.application(head="global average pool, logits")
def ResNetV2(inputs, depth, *, name="resnetv2", norm="batch"):
    """Builds a pre-activation ResNet from a row of `CONFIGS` (18, 34, 50, 101 or 152)."""
    B.check_choice(name, "depth", depth, tuple(CONFIGS))
    B.check_choice(name, "norm", norm, B.NORMS)
    norm = B.Norm(norm)
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
    x = norm_relu(x, "final", norm=norm)
    return A.Network(x, features, logits_initializers=V2_LOGITS_INIT)


@A.application(default_size=32, min_size=8)
def WideResNetCIFAR(inputs, depth=28, width=10, dropout_rate=0.0, *, name="wide_resnet",
                    norm="batch", classes=10):
    """Builds WRN-`depth`-`width` for 32x32 inputs: depth = 6n + 4, n blocks per group."""
    if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6 != 0:
        raise ValueError(f"{name}: `depth` must be 6n + 4 for a whole number of blocks n >= 1 "
                         f"(10, 16, 22, 28, 40, ...); got {depth!r}.")
    if not isinstance(width, int) or width < 1:
        raise ValueError(f"{name}: `width` (the widening factor k) must be a positive integer; "
                         f"got {width!r}.")
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"{name}: `dropout_rate` must be in [0, 1); got {dropout_rate!r}.")
    B.check_choice(name, "norm", norm, B.NORMS)
    norm = B.Norm(norm)
    blocks = (depth - 4) // 6
    x = B.conv2d(inputs, WRN_STEM_WIDTH, 3, name="stem_conv")
    features = []
    current_stride = 1
    for index, (base_width, stride) in enumerate(WRN_GROUPS, start=1):
        x = preact_stage(index, basic_branch, base_width * width, blocks, stride, norm=norm,
                         dropout_rate=dropout_rate)(x)
        current_stride *= stride
        features.append((current_stride, x))
    x = norm_relu(x, "final", norm=norm)
    return A.Network(x, features, logits_initializers=WRN_LOGITS_INIT)


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


NORM_ARG = """\
    norm: "batch" (the reference's BatchNorm), "syncbatch" (statistics across replicas) or
        "group" (GroupNorm, 32 groups where the channels allow).
"""

V2_DOCSTRING = """{summary}

Reference: He et al., "Identity Mappings in Deep Residual Networks" (2016); implementation:
{reference}: plain convolutions and BatchNorm (not BiT's weight-standardized convolutions
and GroupNorm), the stride on the first block's 3x3 convolution. Registered as `{name}`.
Not keras.applications' ResNet*V2, which strides in the last block of each stage and has
conv biases: weights do not transfer between the two. Its feature maps are the stem
convolution's and each stage's output, the un-normalized residual sums that timm's
features_only gives for its pre-activation ResNets (final_norm is not applied).

Args:
""" + NORM_ARG + ResNetV2.args_doc

WRN_DOCSTRING = """{summary}

Reference: Zagoruyko & Komodakis, "Wide Residual Networks" (2016), {reference};
built as the official code (szagoruyko/wide-residual-networks): no conv biases, dropout
after the second ReLU of each block. Registered as `{name}`. Its feature maps are the
groups' outputs at strides 1, 2 and 4 (before final_norm).

Args:
    dropout_rate: dropout between the two convolutions of each block.
""" + NORM_ARG + WideResNetCIFAR.args_doc

# timm's default pretrained configurations: Inception mean/std, bicubic, crop_pct as given.
TIMM_V2 = registry.Preprocessing(mean=registry.INCEPTION_MEAN, std=registry.INCEPTION_STD,
                                 interpolation="bicubic")
register_v2 = functools.partial(registry.register_model, family="Pre-activation ResNet",
                                paper=PAPER_V2, doc=V2_DOCSTRING)


@register_v2("resnetv2_18", reference=("timm", "resnetv2_18"),
             preprocessing=dataclasses.replace(TIMM_V2, crop_pct=0.9))
def ResNet18V2(**kwargs):
    """Pre-activation ResNet-18 (basic blocks 2, 2, 2, 2)."""
    return ResNetV2(18, name="resnetv2_18", **kwargs)


@register_v2("resnetv2_34", reference=("timm", "resnetv2_34"),
             preprocessing=dataclasses.replace(TIMM_V2, crop_pct=0.9))
def ResNet34V2(**kwargs):
    """Pre-activation ResNet-34 (basic blocks 3, 4, 6, 3)."""
    return ResNetV2(34, name="resnetv2_34", **kwargs)


@register_v2("resnetv2_50", reference=("timm", "resnetv2_50"),
             preprocessing=dataclasses.replace(TIMM_V2, crop_pct=0.95))
def ResNet50V2(**kwargs):
    """Pre-activation ResNet-50 (bottleneck blocks 3, 4, 6, 3)."""
    return ResNetV2(50, name="resnetv2_50", **kwargs)


@register_v2("resnetv2_101", reference=("timm", "resnetv2_101"),
             preprocessing=dataclasses.replace(TIMM_V2, crop_pct=0.95))
def ResNet101V2(**kwargs):
    """Pre-activation ResNet-101 (bottleneck blocks 3, 4, 23, 3)."""
    return ResNetV2(101, name="resnetv2_101", **kwargs)


@register_v2("resnetv2_152", reference=("timm", "resnetv2_152"), preprocessing=TIMM_V2)
def ResNet152V2(**kwargs):
    """Pre-activation ResNet-152 (bottleneck blocks 3, 8, 36, 3)."""
    return ResNetV2(152, name="resnetv2_152", **kwargs)


@registry.register_model("wrn28_10", family="Wide ResNet", paper=PAPER_WRN,
                         reference=("paper", "WRN-28-10 on CIFAR-10"), paper_params=36_500_000,
                         preprocessing=registry.CIFAR10_PREPROCESSING, doc=WRN_DOCSTRING,
                         classes=10)
def WideResNet28_10(dropout_rate=0.3, **kwargs):
    """WRN-28-10: 4 blocks per group, widths 160, 320, 640, dropout 0.3 (the paper's best)."""
    return WideResNetCIFAR(28, 10, dropout_rate=dropout_rate, name="wrn28_10", **kwargs)


__all__ = ["ResNetV2", "WideResNetCIFAR", "ResNet18V2", "ResNet34V2", "ResNet50V2",
           "ResNet101V2", "ResNet152V2", "WideResNet28_10"]
