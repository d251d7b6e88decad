"""GhostNet (Han et al. 2020) as timm's `ghostnet_050/100/130` (the V1 network of
huawei-noah/CV-backbones that timm ports; not GhostNetV2 or V3).

The Ghost module (section 3.1) makes its `filters` output channels in two halves: a primary
1x1 convolution (BatchNorm, ReLU) to ceil(filters / 2) intrinsic maps, and a cheap operation,
a 3x3 depthwise convolution (BatchNorm, ReLU) of those maps, giving the other half ("ghosts";
ratio s = 2); the two are concatenated (and cut to `filters`: with the widths rounded to
multiples of 4 below, the cut never removes anything). The second module of a bottleneck has
no ReLU.

The Ghost bottleneck (section 3.2, figure 3): Ghost module (expansion) -> [3x3 or 5x5
depthwise convolution, BatchNorm, at stride 2 only] -> [squeeze-and-excitation] -> Ghost module
(projection, linear), added to the input, or where the shape changes to a shortcut of a
depthwise convolution of the block's kernel and stride (BatchNorm) and a 1x1 convolution
(BatchNorm). The SE is timm's: reduced to make_divisible(0.25 x width, 4), ReLU inside,
hard-sigmoid gate.

Table 7 of the paper, as timm groups it (its nine groups of blocks are the checkpoint's
`blocks.0` to `blocks.8`): a 3x3 stride-2 stem of 16 channels, 16 bottlenecks, a 1x1
convolution (BatchNorm, ReLU) to 960 channels, global pooling, then a 1x1 convolution to 1280
channels WITH bias (timm's conv_head, applied to the pooled 1x1 map: a Dense layer here) and
ReLU, dropout 0.2 and the classifier.

Width multiplier `alpha` (timm's `width`): the stem, every expanded and output width and the
960-channel convolution are make_divisible(c x alpha, 4); the 1280-channel layer is not scaled.

Initialization is timm's, which keeps PyTorch's defaults (its code says "FIXME init"): every
kernel U(+-1 / sqrt(fan_in)) (a depthwise kernel's fan-in is k x k), the 1280-wide layer's and
the classifier's biases likewise; BatchNorm at identity. Departure: the SE convolutions' biases
start at zero (PyTorch draws them like the kernels). The reference's initialization matters
beyond training: with He initialization the activations of this residual network grow by
orders of magnitude at BatchNorm's identity, past what int8 quantization can represent.
"""

import functools
import math

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import SqueezeExcite, make_divisible
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("GhostNet: More Features from Cheap Operations", 2020, "1911.11907")

# Table 7 of the paper, one list per timm group: (kernel, #exp, #out, SE, stride). The SE
# column is the ratio of the reduction (0: none).
TABLE = [
    [(3, 16, 16, 0, 1)],
    [(3, 48, 24, 0, 2)],
    [(3, 72, 24, 0, 1)],
    [(5, 72, 40, 0.25, 2)],
    [(5, 120, 40, 0.25, 1)],
    [(3, 240, 80, 0, 2)],
    [(3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 0.25, 1),
     (3, 672, 112, 0.25, 1)],
    [(5, 672, 160, 0.25, 2)],
    [(5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1),
     (5, 960, 160, 0.25, 1)],
]
STEM_WIDTH = 16
HEAD_WIDTH = 960  # the last row's #exp
PRE_LOGITS_WIDTH = 1280
RATIO = 2  # s: each intrinsic map gives s - 1 ghosts
CHEAP_KERNEL = 3  # d: the cheap operation's depthwise kernel
DIVISOR = 4  # timm rounds every width to a multiple of 4
NORM = M.Norm(epsilon=1e-5, momentum=0.1)


# PyTorch's default initialization of nn.Conv2d: U(+-1 / sqrt(fan_in)). Keras counts a
# depthwise kernel's fan-in as k x k x C; its fan-out, k x k x multiplier, is PyTorch's fan-in
# (k x k) at multiplier 1 (RATIO 2).
CONV_INIT = initializers.TORCH_DEFAULT_UNIFORM
DEPTHWISE_INIT = initializers.UNIFORM_FAN_OUT


# `{name}_conv` -> `{name}_bn` [-> `{name}_act`] with timm's initialization.
conv_bn = functools.partial(M.conv_norm_act, kernel_initializer=CONV_INIT, norm=NORM)
depthwise_bn = functools.partial(M.depthwise_norm_act, initializer=DEPTHWISE_INIT, norm=NORM)


def ghost_module(filters, *, name, relu=True):
    """The Ghost module: `{name}_primary_conv/_bn[/_act]` (1x1 to ceil(filters / s)),
    `{name}_cheap_conv/_bn[/_act]` (3x3 depthwise, s - 1 maps per intrinsic map),
    `{name}_concat`."""
    intrinsic = math.ceil(filters / RATIO)
    if intrinsic * RATIO != filters:
        raise ValueError(f"{name}: a Ghost module of {filters} channels would cut its "
                         f"concatenation; widths are multiples of {RATIO} here.")
    act = "relu" if relu else None

    def apply(x):
        primary = conv_bn(x, intrinsic, 1, act=act, name=f"{name}_primary")
        cheap = depthwise_bn(primary, CHEAP_KERNEL, multiplier=RATIO - 1, act=act,
                             name=f"{name}_cheap")
        return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([primary, cheap])
    return apply


def ghost_bottleneck(filters, expanded, *, name, kernel_size=3, strides=1, se_ratio=0.0):
    """The Ghost bottleneck (figure 3; the stride-2 form with its depthwise convolution):
    `{name}_ghost1_*`, `{name}_dw_conv/_bn`, `{name}_se`, `{name}_ghost2_*`,
    `{name}_shortcut_dw_conv/_dw_bn/_pw_conv/_pw_bn`, `{name}_add`."""
    def apply(x):
        y = ghost_module(expanded, name=f"{name}_ghost1")(x)
        if strides > 1:
            y = depthwise_bn(y, kernel_size, strides=strides, name=f"{name}_dw")
        if se_ratio:
            y = SqueezeExcite(rd_ratio=se_ratio, rd_divisor=DIVISOR, round_limit=0.9,
                              activation="relu", gate="hard_sigmoid",
                              kernel_initializer=CONV_INIT, name=f"{name}_se")(y)
        y = ghost_module(filters, relu=False, name=f"{name}_ghost2")(y)
        shortcut = x
        if strides > 1 or x.shape[-1] != filters:
            shortcut = depthwise_bn(x, kernel_size, strides=strides,
                                    name=f"{name}_shortcut_dw")
            shortcut = conv_bn(shortcut, filters, 1, name=f"{name}_shortcut_pw")
        return B.residual(shortcut, y, name=name)
    return apply


@A.application(head="global average pool, the 1280-wide layer, dropout, logits")
def GhostNet(inputs, alpha=1.0, *, name="ghostnet", dropout_rate=0.2, classes):
    """GhostNet (Han et al. 2020) of width multiplier `alpha`."""
    M.check_alpha(name, alpha)

    def width(channels):
        return make_divisible(channels * alpha, DIVISOR)

    x = conv_bn(inputs, width(STEM_WIDTH), 3, strides=2, act="relu", name="stem")
    features = [(2, x)]
    table = [[dict(block=ghost_bottleneck, filters=width(filters), expanded=width(expanded),
                   kernel_size=kernel, strides=strides, se_ratio=se)
              for kernel, expanded, filters, se, strides in rows] for rows in TABLE]
    x, stage_features = M.stages(x, table)
    x = conv_bn(x, width(HEAD_WIDTH), 1, act="relu", name="head")
    features += [*stage_features, (32, x)]
    # timm's head: the pooled 1x1 convolution with bias, ReLU; PyTorch's default
    # initializations.
    head = M.efficient_head(classes, PRE_LOGITS_WIDTH, act="relu", dropout_rate=dropout_rate,
                            pre_logits_initializers=(CONV_INIT, None),
                            logits_initializers=(CONV_INIT, None))
    return A.Network(x, features, head=head)


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    alpha: width multiplier (timm's `width`, rounded to multiples of 4; 0.5, 1.0 and 1.3 have
        reference counts).
    dropout_rate: dropout before the logits layer (0.2, timm's).
""" + GhostNet.args_doc


# Checkpoint names: timm's GhostNet. blocks.{s-1}.{b-1} for stage{s}_block{b}; a Ghost module
# is primary_conv (0 conv, 1 bn) and cheap_operation (0 conv, 1 bn); the 960-channel
# ConvBnAct is blocks.9.0.
TIMM_TOP = {"stem_conv": "conv_stem", "stem_bn": "bn1", "head_conv": f"blocks.{len(TABLE)}.0.conv",
            "head_bn": f"blocks.{len(TABLE)}.0.bn1", "pre_logits": "conv_head",
            "logits": "classifier"}
TIMM_BLOCK = {"dw_conv": "conv_dw", "dw_bn": "bn_dw", "se/reduce": "se.conv_reduce",
              "se/expand": "se.conv_expand", "shortcut_dw_conv": "shortcut.0",
              "shortcut_dw_bn": "shortcut.1", "shortcut_pw_conv": "shortcut.2",
              "shortcut_pw_bn": "shortcut.3",
              **{f"ghost{g}_{part}_{kind}": f"ghost{g}.{module}.{index}"
                 for g in (1, 2) for part, module in (("primary", "primary_conv"),
                                                      ("cheap", "cheap_operation"))
                 for kind, index in (("conv", 0), ("bn", 1))}}


timm_names = B.checkpoint_names(TIMM_TOP, lambda stage, block: f"blocks.{stage - 1}.{block - 1}",
                                TIMM_BLOCK)


CHECKPOINTS = {"timm": weights.CheckpointMap(timm_names, head=("conv_head.", "classifier."),
                                             norm_epsilon=NORM.epsilon)}


register = functools.partial(registry.register_model, family="GhostNet", paper=PAPER,
                             doc=DOCSTRING,
                             preprocessing=registry.Preprocessing(interpolation="bicubic"))


@register("ghostnet_050", reference=("timm", "ghostnet_050"))
def GhostNet050(**kwargs):
    """GhostNet at width 0.5 (Han et al. 2020)."""
    return GhostNet(**{"alpha": 0.5, "name": "ghostnet_050", **kwargs})


@register("ghostnet_100", reference=("timm", "ghostnet_100"))
def GhostNet100(**kwargs):
    """GhostNet (Han et al. 2020), width 1.0."""
    return GhostNet(**{"alpha": 1.0, "name": "ghostnet_100", **kwargs})


@register("ghostnet_130", reference=("timm", "ghostnet_130"))
def GhostNet130(**kwargs):
    """GhostNet at width 1.3 (Han et al. 2020)."""
    return GhostNet(**{"alpha": 1.3, "name": "ghostnet_130", **kwargs})


__all__ = ["GhostNet", "GhostNet050", "GhostNet100", "GhostNet130"]
