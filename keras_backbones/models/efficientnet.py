"""EfficientNet B0-B7 (Tan & Le 2019) as torchvision's `efficientnet_b0..b7`.

The baseline B0 (table 1 of the paper): a 3x3 stride-2 stem of 32 channels, seven stages of
MBConv blocks (Sandler et al.'s inverted residual with a k x k depthwise convolution,
squeeze-and-excitation and a linear projection; MBConv1 in the first stage, MBConv6 after),
a 1x1 convolution to 1280 channels, global pooling, dropout and the classifier; swish (SiLU)
throughout. The squeeze-and-excitation reduces to a quarter of the block's INPUT width
(max(1, C_in // 4), not of the expanded width), SiLU inside, sigmoid gate.

Compound scaling (section 3.3): B1-B7 scale the baseline's depth, width and resolution by
the coefficients of the official code's `efficientnet_params`, which torchvision reproduces
(`SCALING`; the paper's alpha^phi, beta^phi, gamma^phi with alpha 1.2, beta 1.1, gamma 1.15,
rounded by the authors). Widths round as the official `round_filters`: c x width to the
nearest multiple of 8, never below 90% of it (`make_divisible`); depths as `round_repeats`:
ceil(n x depth) per stage. The head is 4x the last stage's width (1280 at B0).

Stochastic depth (the official "drop connect", torchvision's stochastic_depth_prob) on every
residual branch: the rate rises linearly with the block index, drop_path_rate x i / N for
block i of N (0.2: the paper's survival probability 0.8).

Reference-specific, as torchvision: BatchNorm epsilon 1e-5 and PyTorch momentum 0.1 for B0-B4,
1e-3 and 0.01 for B5-B7 (the TensorFlow original's 1e-3 and decay 0.99 everywhere); PyTorch's
symmetric padding (the TensorFlow original pads "same", asymmetrically at a stride); the
classifier U(+-1 / sqrt(classes)) with a zero bias. Departures: convolutions are He normal over
the fan-out as in the official code and timm, k x k for a depthwise kernel (torchvision's
kaiming_normal_ counts C x k x k there); the default input size is the paper's resolution
(B2: 260; torchvision evaluates its B2 weights at 288).
"""

import functools
import math

from keras_backbones import initializers, registry, weights
from keras_backbones.layers import make_divisible
from keras_backbones.models import _application as A
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
                       2019, "1905.11946")

# Table 1 of the paper, the B0 baseline. Stem: 32 channels. Per MBConv stage: (expansion,
# kernel, stride, output channels, repeats). Head: 1280 (4 x 320) channels.
STEM_WIDTH = 32
STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
SE_RATIO = 0.25  # of the block's input width
# The compound-scaled variants: (width, depth, resolution, dropout) as efficientnet_params.
SCALING = {
    "b0": (1.0, 1.0, 224, 0.2), "b1": (1.0, 1.1, 240, 0.2), "b2": (1.1, 1.2, 260, 0.3),
    "b3": (1.2, 1.4, 300, 0.3), "b4": (1.4, 1.8, 380, 0.4), "b5": (1.6, 2.2, 456, 0.4),
    "b6": (1.8, 2.6, 528, 0.5), "b7": (2.0, 3.1, 600, 0.5),
}
NORMS = {"torchvision": M.Norm(epsilon=1e-5, momentum=0.1),  # B0-B4
         "tensorflow": M.Norm(epsilon=1e-3, momentum=0.01)}  # B5-B7: the TF original's


def round_filters(channels, width):
    """The official round_filters: channels x width to the nearest multiple of 8, not below
    90% of it."""
    return make_divisible(channels * width)


def round_repeats(repeats, depth):
    """The official round_repeats: ceil(repeats x depth)."""
    return math.ceil(repeats * depth)


def scaled_stages(width=1.0, depth=1.0):
    """The baseline's MBConv stages at (width, depth): [(expansion, kernel, stride, output
    channels, repeats)]."""
    return [(t, k, s, round_filters(c, width), round_repeats(n, depth)) for t, k, s, c, n in STAGES]


def _check_coefficient(name, argument, value):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}: `{argument}` must be a positive number; got {value!r}.")


def check_drop_path_rate(name, drop_path_rate):
    if not 0.0 <= drop_path_rate < 1.0:
        raise ValueError(f"{name}: `drop_path_rate` must be in [0, 1); got {drop_path_rate!r}.")


@A.application(head="global average pool, dropout, logits")
def EfficientNet(inputs, width_coefficient=1.0, depth_coefficient=1.0, *, norm_epsilon=1e-5,
                 norm_momentum=0.1, name="efficientnet", dropout_rate=0.2, drop_path_rate=0.2):
    """EfficientNet (Tan & Le 2019): the B0 baseline scaled by `width_coefficient` and
    `depth_coefficient`; BatchNorm `norm_epsilon` and `norm_momentum` (PyTorch's: Keras's is
    1 - it)."""
    _check_coefficient(name, "width_coefficient", width_coefficient)
    _check_coefficient(name, "depth_coefficient", depth_coefficient)
    check_drop_path_rate(name, drop_path_rate)
    norm = M.Norm(epsilon=norm_epsilon, momentum=norm_momentum)
    x = M.conv_norm_act(inputs, round_filters(STEM_WIDTH, width_coefficient), 3, strides=2,
                        act="swish", norm=norm, name="stem")
    features = [(2, x)]
    table = [[dict(filters=c, expansion=t, kernel_size=k, strides=s if b == 0 else 1,
                   activation="swish", se_ratio=SE_RATIO / t, norm=norm) for b in range(n)]
             for t, k, s, c, n in scaled_stages(width_coefficient, depth_coefficient)]
    x, stage_features = M.stages(x, table, drop_path_rate=drop_path_rate)
    x = M.conv_norm_act(x, 4 * x.shape[-1], 1, act="swish", norm=norm, name="head")
    features += [*stage_features, (32, x)]
    # torchvision's classifier: U(+-1 / sqrt(out_features)), bias zero.
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=(initializers.UNIFORM_FAN_OUT, "zeros"))


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    norm_epsilon, norm_momentum: BatchNorm epsilon and PyTorch momentum (Keras's is 1 - it);
        torchvision's by default (B0-B4: 1e-5, 0.1; B5-B7: 1e-3, 0.01). The paper trains with
        momentum 0.01 (TensorFlow's 0.99); checkpoints import at the reference's epsilon.
    dropout_rate: dropout before the logits layer (the paper's rate of the variant).
    drop_path_rate: stochastic depth, rising linearly over the blocks from 0 (the rate x
        i / N of block i of N, torchvision's stochastic_depth_prob; 0.2 as the paper).
""" + EfficientNet.args_doc


# Checkpoint names. torchvision: features.0 the stem (0 conv, 1 bn); features.s the s-th
# stage, whose b-th block's `block` is an nn.Sequential of [expand], depthwise,
# SqueezeExcitation (fc1, fc2), project for MBConv, or fused [, project] for FusedMBConv
# (each a Conv2dNormActivation: 0 conv, 1 bn); the head the last of `features`; classifier.1.
def torchvision_names(path, model):
    """torchvision's EfficientNet names, V1 and V2 (whose early stages are Fused-MBConv)."""
    names = M.layer_names(model)
    match = M.BLOCK.fullmatch(path)
    if not match:
        stages = max(int(M.BLOCK.fullmatch(n).group(1)) for n in names if M.BLOCK.fullmatch(n))
        return {"stem_conv": "features.0.0", "stem_bn": "features.0.1",
                "head_conv": f"features.{stages + 1}.0", "head_bn": f"features.{stages + 1}.1",
                "logits": "classifier.1"}.get(path)
    stage, block, part = match.groups()
    prefix = f"stage{stage}_block{block}"
    if f"{prefix}_fused_conv" in names:
        modules = {"fused_conv": "0.0", "fused_bn": "0.1", "project_conv": "1.0",
                   "project_bn": "1.1"}
    else:
        e = int(f"{prefix}_expand_conv" in names)
        modules = {"expand_conv": "0.0", "expand_bn": "0.1", "dw_conv": f"{e}.0",
                   "dw_bn": f"{e}.1", "se/reduce": f"{e + 1}.fc1", "se/expand": f"{e + 1}.fc2",
                   "project_conv": f"{e + 2}.0", "project_bn": f"{e + 2}.1"}
    module = modules.get(part)
    return module and f"features.{stage}.{int(block) - 1}.block.{module}"


CHECKPOINTS = {
    "torchvision": weights.CheckpointMap(  # B0-B4 at 1e-5, B5-B7 at 1e-3
        torchvision_names, head=("classifier.",),
        norm_epsilon=(NORMS["torchvision"].epsilon, NORMS["tensorflow"].epsilon)),
    "timm": weights.CheckpointMap(M.timm_names(), head=("classifier.",),
                                  norm_epsilon=NORMS["torchvision"].epsilon),
}


# torchvision's transforms (crop / resize, interpolation) of its DEFAULT weights.
TORCHVISION_EVAL = {"b0": (224 / 256, "bicubic"), "b1": (240 / 255, "bilinear"),
                    "b2": (288 / 288, "bicubic"), "b3": (300 / 320, "bicubic"),
                    "b4": (380 / 384, "bicubic"), "b5": (456 / 456, "bicubic"),
                    "b6": (528 / 528, "bicubic"), "b7": (600 / 600, "bicubic")}


def _build(variant, kwargs):
    width, depth, _, dropout = SCALING[variant]
    norm = NORMS["tensorflow" if variant in ("b5", "b6", "b7") else "torchvision"]
    return EfficientNet(**{"width_coefficient": width, "depth_coefficient": depth,
                           "norm_epsilon": norm.epsilon, "norm_momentum": norm.momentum,
                           "name": f"efficientnet_{variant}", "dropout_rate": dropout,
                           **kwargs})


register = functools.partial(registry.register_model, family="EfficientNet", paper=PAPER,
                             doc=DOCSTRING)


def preprocessing(variant):
    """The paper's resolution of `variant`, evaluated as torchvision's weights are."""
    resolution = SCALING[variant][2]
    crop_pct, interpolation = TORCHVISION_EVAL[variant]
    return registry.Preprocessing(input_size=(resolution, resolution, 3),
                                  interpolation=interpolation, crop_pct=crop_pct)


@register("efficientnet_b0", reference=("torchvision", "efficientnet_b0"),
          preprocessing=preprocessing("b0"))
def EfficientNetB0(**kwargs):
    """EfficientNet-B0 (Tan & Le 2019): the searched baseline, 224x224."""
    return _build("b0", kwargs)


@register("efficientnet_b1", reference=("torchvision", "efficientnet_b1"),
          preprocessing=preprocessing("b1"))
def EfficientNetB1(**kwargs):
    """EfficientNet-B1 (Tan & Le 2019): depth x1.1, 240x240."""
    return _build("b1", kwargs)


@register("efficientnet_b2", reference=("torchvision", "efficientnet_b2"),
          preprocessing=preprocessing("b2"))
def EfficientNetB2(**kwargs):
    """EfficientNet-B2 (Tan & Le 2019): width x1.1, depth x1.2, 260x260."""
    return _build("b2", kwargs)


@register("efficientnet_b3", reference=("torchvision", "efficientnet_b3"),
          preprocessing=preprocessing("b3"))
def EfficientNetB3(**kwargs):
    """EfficientNet-B3 (Tan & Le 2019): width x1.2, depth x1.4, 300x300."""
    return _build("b3", kwargs)


@register("efficientnet_b4", reference=("torchvision", "efficientnet_b4"),
          preprocessing=preprocessing("b4"))
def EfficientNetB4(**kwargs):
    """EfficientNet-B4 (Tan & Le 2019): width x1.4, depth x1.8, 380x380."""
    return _build("b4", kwargs)


@register("efficientnet_b5", reference=("torchvision", "efficientnet_b5"),
          preprocessing=preprocessing("b5"))
def EfficientNetB5(**kwargs):
    """EfficientNet-B5 (Tan & Le 2019): width x1.6, depth x2.2, 456x456."""
    return _build("b5", kwargs)


@register("efficientnet_b6", reference=("torchvision", "efficientnet_b6"),
          preprocessing=preprocessing("b6"))
def EfficientNetB6(**kwargs):
    """EfficientNet-B6 (Tan & Le 2019): width x1.8, depth x2.6, 528x528."""
    return _build("b6", kwargs)


@register("efficientnet_b7", reference=("torchvision", "efficientnet_b7"),
          preprocessing=preprocessing("b7"))
def EfficientNetB7(**kwargs):
    """EfficientNet-B7 (Tan & Le 2019): width x2.0, depth x3.1, 600x600."""
    return _build("b7", kwargs)


__all__ = ["EfficientNet", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2",
           "EfficientNetB3", "EfficientNetB4", "EfficientNetB5", "EfficientNetB6",
           "EfficientNetB7"]
