"""MobileNetV2 (Sandler et al. 2018) as torchvision's `mobilenet_v2` and timm's
`mobilenetv2_035/050/075/140`, and ECA-MobileNetV2 (Wang et al. 2019) as the official
BangguWu/ECANet `eca_mobilenet_v2`.

A 3x3 stride-2 stem of 32 channels, seven stages of inverted residuals with linear
bottlenecks (ReLU6 after the expand and depthwise convolutions, none after the projection;
the first stage does not expand), a 1x1 convolution to 1280 channels, global pooling, dropout
and the classifier. The width multiplier `alpha` scales every width and rounds it to a
multiple of 8 (make_divisible); the last convolution keeps at least 1280 channels. torchvision
and timm agree on this rounding, so one rule gives both references' networks.

ECA-MobileNetV2 adds efficient channel attention after each block's projection, with a 1-D
kernel of 1 in the stages of fewer than 96 channels and 3 beyond (the official code; its
parameter count 3,504,903 is that rule's), and dropout 0.25. The official code rounds the
widths with int(c x alpha) rather than to a multiple of 8: the same network at alpha 1.
"""

from keras_backbones import initializers, registry, weights
from keras_backbones.layers import make_divisible
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("MobileNetV2: Inverted Residuals and Linear Bottlenecks", 2018,
                       "1801.04381")
PAPER_ECA = registry.Paper("ECA-Net: Efficient Channel Attention for Deep Convolutional Neural "
                           "Networks", 2019, "1910.03151")

# Table 2 of the paper: expansion t, output channels c, repeats n, stride s of each stage.
STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1)]
STEM_WIDTH = 32
HEAD_WIDTH = 1280
ATTENTIONS = (None, "eca")


def eca_kernel_size(channels):
    """The official ECA-MobileNetV2's kernel: 1 below 96 channels, 3 from there on."""
    return 1 if channels < 96 else 3


@A.application(head="global average pool, dropout, logits",
               input_note="any size of at least 32x32 works (96 to 224 are the paper's "
                          "resolutions)")
def MobileNetV2(inputs, alpha=1.0, *, attention=None, name="mobilenet_v2", dropout_rate=0.2,
                   drop_path_rate=0.0):
    """MobileNetV2 (Sandler et al. 2018) of width multiplier `alpha` (other than 1: timm's
    mobilenetv2_*); attention "eca" gives ECA-MobileNetV2."""
    M.check_alpha(name, alpha)
    B.check_choice(name, "attention", attention, ATTENTIONS)

    def width(channels):
        return make_divisible(channels * alpha)

    x = B.conv_norm_act(inputs, width(STEM_WIDTH), 3, strides=2, act="relu6", name="stem")
    features = [(2, x)]
    table = [[dict(filters=width(c), expansion=t, strides=s if b == 0 else 1, activation="relu6",
                   eca_kernel_size=eca_kernel_size(c) if attention == "eca" else None)
              for b in range(n)] for t, c, n, s in STAGES]
    x, stage_features = M.stages(x, table, drop_path_rate=drop_path_rate)
    x = B.conv_norm_act(x, max(HEAD_WIDTH, width(HEAD_WIDTH)), 1, act="relu6", name="head")
    features += [*stage_features, (32, x)]
    # torchvision's and the official ECA code's classifier: N(0, 0.01), bias zero.
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=(initializers.NORMAL_001, "zeros"))


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    alpha: width multiplier (0.35, 0.5, 0.75, 1.0, 1.4 have reference counts); widths round
        to multiples of 8, the last convolution keeps at least 1280 channels.
    dropout_rate: dropout before the logits layer.
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm's
        rule; 0 in the references).
""" + MobileNetV2.args_doc


# Checkpoint names. torchvision (and the official ECA code): features.0 is the stem,
# features.i the i-th block, an nn.Sequential `conv` of [expand (conv, bn, relu6)], depthwise
# (conv, bn, relu6), project conv, project bn [, eca]; then the head and classifier.1.
TORCHVISION_BLOCK = {"expand_conv": (0, ".0"), "expand_bn": (0, ".1"), "dw_conv": (1, ".0"),
                     "dw_bn": (1, ".1"), "project_conv": (2, ""), "project_bn": (3, ""),
                     "eca/conv": (4, ".conv")}


def torchvision_names(path, model):
    blocks = M.block_prefixes(model)
    top = {"stem_conv": "features.0.0", "stem_bn": "features.0.1", "logits": "classifier.1",
           "head_conv": f"features.{len(blocks) + 1}.0",
           "head_bn": f"features.{len(blocks) + 1}.1"}
    match = M.BLOCK.fullmatch(path)
    if not match:
        return top.get(path)
    stage, block, part = match.groups()
    prefix = f"stage{stage}_block{block}"
    if part not in TORCHVISION_BLOCK:
        return None
    index, rest = TORCHVISION_BLOCK[part]
    if f"{prefix}_expand_conv" not in M.layer_names(model):
        index -= 1  # no expand convolution: everything moves up one
    return f"features.{blocks.index(prefix) + 1}.conv.{index}{rest}"


_TORCHVISION = weights.CheckpointMap(torchvision_names, head=("classifier.",))
CHECKPOINTS = {"torchvision": _TORCHVISION, "official:BangguWu/ECANet": _TORCHVISION,
               "timm": weights.CheckpointMap(M.timm_names(), head=("classifier.",))}


MobileNetV2 = registry.register_model(
    "mobilenet_v2", family="MobileNetV2", paper=PAPER, reference=("torchvision", "mobilenet_v2"),
    doc=DOCSTRING, alpha=1.0)(MobileNetV2)


@registry.register_model("eca_mobilenet_v2", family="ECA-Net", paper=PAPER_ECA,
                         reference=("official:BangguWu/ECANet", "eca_mobilenet_v2"),
                         doc=DOCSTRING)
def ECAMobileNetV2(**kwargs):
    """ECA-MobileNetV2 (Wang et al. 2019): efficient channel attention after each block."""
    return MobileNetV2(**{"name": "eca_mobilenet_v2", "attention": "eca",
                          "dropout_rate": 0.25, **kwargs})


__all__ = ["MobileNetV2", "ECAMobileNetV2"]
