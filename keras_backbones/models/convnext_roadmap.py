"""The roadmap of "A ConvNet for the 2020s" (Liu et al. 2022, section 2 and figure 2), every
step a model: from ResNet-50 to ConvNeXt-T, one change at a time.

`STEPS` is the paper's figure 2 as a table: each step names the one design choice it changes,
with the paper's GFLOPs and ImageNet-1k top-1 (the ResNet-50/Swin-T regime, trained with the
modern recipe of section 2.1). `create_model("convnext_roadmap", step=...)` builds a step; the
default is the last. The first step is the project's ResNet-50 (torchvision's v1.5: the same
layers, names and count); the last is ConvNeXt-T (timm's convnext_tiny: the same layers, names
and count, so its weights load). `kernel_size=` reruns the paper's kernel sweep (3 to 11).

The paper's "FLOPs" are fvcore's counts: multiply-accumulates plus 2 per BatchNorm element, 5
per LayerNorm element and the global pool's reads (`stats.fvcore_flops`; ResNet-50 4.11 G,
ConvNeXt-T 4.47 G). Counted so, every step rounds to its figure but one (`COUNTED_OTHERWISE`).

Where the paper leaves a detail unsaid, the roadmap takes the choice that leads to ConvNeXt-T
without an extra step:
- A convolution or linear layer has a bias unless a BatchNorm follows it (BatchNorm cancels a
  per-channel bias; a LayerNorm over the channels does not, and ConvNeXt-T's layers all have
  one). Kernels start as the normalization's family does: He normal (fan-out) with BatchNorm
  (torchvision's ResNet), N(0, 0.02) with LayerNorm (ConvNeXt).
- The patchified stem keeps the ResNet stem's norm and activation (the activation goes with
  "fewer activations", which leaves ConvNeXt-T's stem a convolution and a LayerNorm).
- "Wider" widens every layer by 96/64: the stem to 96 channels, the bottlenecks' inner width
  to 96 x 2^(s-1) and their outputs to 4x that, as a ResNeXt's width is its inner width.
- The inverted bottleneck's hidden width is 4x the block's output channels, in the blocks
  that change the width too, and each of its three layers keeps its BatchNorm. Until
  "separate downsampling", the first block of stages 2-4 strides its spatial convolution
  (v1.5) and projects its shortcut with a strided 1x1 convolution and a norm, which "fewer
  norms" keeps (the shortcut is not the residual branch) and "BN -> LN" makes a LayerNorm.
- Layer scale, which the paper lists among its training settings (appendix A.1) rather than
  as a roadmap step, is a step of its own, the last: the one before ends the figure's changes
  (82.0%), the last is ConvNeXt-T as published (table 1: 82.1%). The paper does not say
  whether its figure's runs had layer scale.
"""

import dataclasses
from typing import NamedTuple, Optional, Tuple

from keras_backbones import initializers, registry
from keras_backbones.backend import keras
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M
from keras_backbones.models import convnext, resnet


@dataclasses.dataclass(frozen=True)
class Design:
    """The choices the roadmap changes; the defaults are ResNet-50's."""

    depths: Tuple[int, ...] = (3, 4, 6, 3)
    stem: str = "resnet"  # "resnet": 7x7/2 conv, norm, act, 3x3/2 max pool; "patchify": 4x4/4
    width: int = 64  # the stem's channels and the first stage's (inner) width
    depthwise: bool = False  # the bottleneck's 3x3 is depthwise
    block: str = "bottleneck"  # "bottleneck", "inverted" (1x1, dw, 1x1), "depthwise_first"
    kernel_size: int = 3
    activation: str = "relu"
    fewer_activations: bool = False  # one activation per block, between the 1x1 layers
    fewer_norms: bool = False  # one norm per block, after the depthwise convolution
    norm: str = "batch"  # "batch" or "layer"
    separate_downsampling: bool = False  # stem norm, LayerNorm + 2x2/2 conv between stages
    layer_scale: Optional[float] = None


class Step(NamedTuple):
    name: str
    change: dict  # Design fields
    paper_gflops: float  # figure 2 (fvcore's count: multiply-accumulates)
    paper_top1: float  # figure 2 and section 2 (ImageNet-1k, 224x224)
    title: str


STEPS = (
    Step("resnet50", {}, 4.1, 78.8, "ResNet-50, the modern training recipe"),
    Step("stage_ratio", {"depths": (3, 3, 9, 3)}, 4.5, 79.4, "stage compute ratio 3:3:9:3"),
    Step("patchify_stem", {"stem": "patchify"}, 4.4, 79.5, '"patchify" stem: 4x4 conv, stride 4'),
    Step("depthwise_conv", {"depthwise": True}, 2.4, 78.3, "ResNeXt-ify: depthwise 3x3"),
    Step("wider", {"width": 96}, 5.3, 80.5, "ResNeXt-ify: width 64 -> 96"),
    Step("inverted_bottleneck", {"block": "inverted"}, 4.6, 80.6, "inverted bottleneck"),
    Step("depthwise_conv_up", {"block": "depthwise_first"}, 4.1, 79.9,
         "move the depthwise conv up"),
    Step("kernel_7", {"kernel_size": 7}, 4.2, 80.6, "kernel size 3 -> 7"),
    Step("gelu", {"activation": "gelu"}, 4.2, 80.6, "ReLU -> GELU"),
    Step("fewer_activations", {"fewer_activations": True}, 4.2, 81.3, "fewer activations"),
    Step("fewer_norms", {"fewer_norms": True}, 4.2, 81.4, "fewer normalization layers"),
    Step("layer_norm", {"norm": "layer"}, 4.2, 81.5, "BatchNorm -> LayerNorm"),
    Step("separate_downsampling", {"separate_downsampling": True}, 4.5, 82.0,
         "separate downsampling layers"),
    Step("layer_scale", {"layer_scale": 1e-6}, 4.5, 82.1,
         "layer scale 1e-6 (a training setting of appendix A.1): ConvNeXt-T, table 1"),
)
STEP_NAMES = tuple(step.name for step in STEPS)

# Steps whose count differs from the figure's after rounding, and why.
COUNTED_OTHERWISE = {
    "inverted_bottleneck": "4.64 GMACs, as the figure's 4.6, but fvcore's count is 4.69: the "
                           "three BatchNorms over 4C, 4C and C channels add 0.046 G of norm "
                           "terms. The paper does not say how its inverted block normalizes.",
}
KERNEL_SIZES = (3, 5, 7, 9, 11)  # the paper's sweep (section 2.5)
BN_EPSILON = 1e-5  # PyTorch's, as the project's ResNet


def design(step, kernel_size=None):
    """The Design of `step` (a name of STEP_NAMES or its index): every change up to it."""
    if isinstance(step, int) and not isinstance(step, bool) and 0 <= step < len(STEPS):
        step = STEPS[step].name
    B.check_choice("convnext_roadmap", "step", step, STEP_NAMES)
    changes = {}
    for entry in STEPS[:STEP_NAMES.index(step) + 1]:
        changes.update(entry.change)
    if kernel_size is not None:
        B.check_choice("convnext_roadmap", "kernel_size", kernel_size, KERNEL_SIZES)
        changes["kernel_size"] = kernel_size
    return Design(**changes)


# --- layers that follow the design ------------------------------------------------------------

def kernel_init(d):
    return initializers.HE_NORMAL_FAN_OUT if d.norm == "batch" else convnext.LINEAR_INIT


def has_bias(d, normed):
    """A bias unless a BatchNorm follows (it would cancel it; a LayerNorm over the channels
    does not)."""
    return not (normed and d.norm == "batch")


def norm(x, d, *, name):
    if d.norm == "batch":
        return B.norm(x, epsilon=BN_EPSILON, name=name)
    return convnext.layer_norm(x, name=name)


def norm_name(d, prefix):
    """ResNet's name under BatchNorm (stem_bn), ConvNeXt's under LayerNorm (stem_norm)."""
    return f"{prefix}_bn" if d.norm == "batch" else f"{prefix}_norm"


def stem(inputs, d):
    if d.stem == "resnet":  # the project's ResNet stem and its max pool
        x = resnet.stem("default", B.Norm(epsilon=BN_EPSILON))(inputs)
        return B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    x = B.conv2d(inputs, d.width, convnext.PATCH_SIZE, strides=convnext.PATCH_SIZE, padding=0,
                 use_bias=has_bias(d, True), kernel_initializer=kernel_init(d), name="stem_conv")
    x = norm(x, d, name=norm_name(d, "stem"))
    return x if d.fewer_activations else B.activation(x, d.activation, name="stem_act")


# --- the residual block ------------------------------------------------------------------------

def branch_layers(d, in_channels, out_channels):
    """The residual branch as (kind, name, channels): a "conv" (kernel_size x kernel_size, as
    ResNet's 3x3), a "depthwise" conv, or a 1x1 ("conv1x1" as ResNet's, "linear" as ConvNeXt's
    pointwise Dense layers once the bottleneck is inverted)."""
    if d.block == "bottleneck":  # ResNet's conv1..conv3
        inner = out_channels // resnet.EXPANSION["bottleneck"]
        return (("conv1x1", "conv1", inner), ("depthwise" if d.depthwise else "conv", "conv2", inner),
                ("conv1x1", "conv3", out_channels))
    hidden = convnext.MLP_RATIO * out_channels
    if d.block == "inverted":
        return (("linear", "mlp_fc1", hidden), ("depthwise", "dwconv", hidden),
                ("linear", "mlp_fc2", out_channels))
    return (("depthwise", "dwconv", in_channels), ("linear", "mlp_fc1", hidden),
            ("linear", "mlp_fc2", out_channels))


def norm_and_activation(d, kind, part, index, last):
    """The names of the norm and the activation after a branch layer (None where there is
    none): ResNet's bnK/reluK in the bottleneck, ConvNeXt's names in the inverted blocks."""
    if d.block == "bottleneck":
        norm_part, act_part = f"bn{index}", f"relu{index}"
    else:
        norm_part = "norm" if part == "dwconv" else f"{part}_norm"
        act_part = "mlp_act" if part == "mlp_fc1" else f"{part}_act"
    if last or (d.fewer_activations and part != "mlp_fc1"):
        act_part = None
    if d.fewer_norms and kind != "depthwise":
        norm_part = None
    return norm_part, act_part


def roadmap_block(d, out_channels, stride, *, name, drop_path):
    """The branch, then layer scale and stochastic depth, the shortcut (a strided 1x1 conv and
    a norm where the shape changes) and, until "fewer activations", an activation after the sum."""
    def apply(x):
        layers = branch_layers(d, x.shape[-1], out_channels)
        y = x
        for index, (kind, part, channels) in enumerate(layers, start=1):
            norm_part, act_part = norm_and_activation(d, kind, part, index, index == len(layers))
            bias, init = has_bias(d, bool(norm_part)), kernel_init(d)
            strides = stride if kind in ("conv", "depthwise") else 1
            if kind == "depthwise":
                y = M.depthwise_conv2d(y, d.kernel_size, strides=strides, initializer=init,
                                       use_bias=bias, name=f"{name}_{part}")
            elif kind == "linear":
                y = keras.layers.Dense(units=channels, use_bias=bias,
                                       kernel_initializer=initializers.get(init),
                                       bias_initializer="zeros", name=f"{name}_{part}")(y)
            else:
                y = B.conv2d(y, channels, d.kernel_size if kind == "conv" else 1, strides=strides,
                             use_bias=bias, kernel_initializer=init, name=f"{name}_{part}")
            if norm_part:
                y = norm(y, d, name=f"{name}_{norm_part}")
            if act_part:
                y = B.activation(y, d.activation, name=f"{name}_{act_part}")
        shortcut = x
        if stride != 1 or x.shape[-1] != out_channels:
            shortcut = B.conv2d(x, out_channels, 1, strides=stride, use_bias=has_bias(d, True),
                                kernel_initializer=kernel_init(d), name=f"{name}_downsample_conv")
            shortcut = norm(shortcut, d, name=norm_name(d, f"{name}_downsample"))
        x = B.residual(shortcut, y, drop_path=drop_path, layer_scale=d.layer_scale, name=name)
        return x if d.fewer_activations else B.activation(x, d.activation, name=f"{name}_out")
    return apply


@A.application(head="global average pool, logits (from \"separate downsampling\" on: "
                    "global average pool, LayerNorm, logits)",
               weights_note="the portable format (the last step also reads timm's convnext_tiny)")
def ConvNeXtRoadmap(inputs, step="layer_scale", *, kernel_size=None, name="convnext_roadmap",
                    dropout_rate=0.0, drop_path_rate=0.0, classes):
    """Builds the network of one step of ConvNeXt's roadmap (`STEP_NAMES`, or its index),
    optionally with the depthwise/3x3 kernel of the paper's sweep (`kernel_size`: 3 to 11)."""
    d = design(step, kernel_size)
    if not 0.0 <= drop_path_rate < 1.0:
        raise ValueError(f"{name}: `drop_path_rate` must be in [0, 1); got {drop_path_rate!r}.")
    x = stem(inputs, d)
    features = [] if d.stem == "patchify" else [(2, x)]
    drop_paths = iter(B.drop_path_rates(drop_path_rate, sum(d.depths)))
    expansion = resnet.EXPANSION["bottleneck"] if d.block == "bottleneck" else 1
    for s, depth in enumerate(d.depths, start=1):
        out_channels = d.width * 2 ** (s - 1) * expansion
        if s > 1 and d.separate_downsampling:  # ConvNeXt's: LayerNorm, 2x2 conv of stride 2
            x = norm(x, d, name=norm_name(d, f"stage{s}_downsample"))
            x = convnext.patch_conv(x, out_channels, 2, name=f"stage{s}_downsample_conv")
        for b in range(1, depth + 1):
            stride = 2 if s > 1 and b == 1 and not d.separate_downsampling else 1
            x = roadmap_block(d, out_channels, stride, name=f"stage{s}_block{b}",
                              drop_path=next(drop_paths))(x)
        features.append((2 ** (s + 1), x))
    if d.separate_downsampling:
        return A.Network(x, features, head=convnext.convnext_head(classes, dropout_rate))
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=resnet.INITS["torchvision"].logits)


DOCSTRING = """{summary}

Reference: Liu, Mao, Wu, Feichtenhofer, Darrell & Xie, "A ConvNet for the 2020s" (2022),
section 2 and figure 2. Registered as `{name}`; its default step is the last, ConvNeXt-T.

Args:
    step: the roadmap step, a name of `convnext_roadmap.STEP_NAMES` ("resnet50", "stage_ratio",
        "patchify_stem", "depthwise_conv", "wider", "inverted_bottleneck", "depthwise_conv_up",
        "kernel_7", "gelu", "fewer_activations", "fewer_norms", "layer_norm",
        "separate_downsampling", "layer_scale") or its index 0-13.
    kernel_size: the spatial (depthwise) kernel, 3, 5, 7, 9 or 11 (the paper's sweep), or None
        for the step's (3 until "kernel_7", then 7).
    dropout_rate: dropout before the logits layer.
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (the
        ConvNeXt recipe: 0.1 for the T-sized roadmap).
""" + ConvNeXtRoadmap.args_doc


# The last step's layers are ConvNeXt-T's, named alike: timm's convnext_tiny checkpoints map.
CHECKPOINTS = convnext.CHECKPOINTS

ConvNeXtRoadmap = registry.register_model(
    "convnext_roadmap", family="ConvNeXt", paper=convnext.PAPER, reference=("paper", "figure 2"),
    preprocessing=convnext.TIMM_CROP_95, doc=DOCSTRING)(ConvNeXtRoadmap)

__all__ = ["ConvNeXtRoadmap"]
