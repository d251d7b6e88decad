"""ResNet (He et al. 2015) and the families built on its v1 blocks: Wide ResNet, ResNeXt,
SENet, ECA-Net and CBAM, as torchvision, timm and the official implementations build them.

A 7x7 stride-2 stem (or timm's deep stem of three 3x3 convolutions) and a 3x3 stride-2 max
pool, then four stages of residual blocks at strides 4 to 32 (the first block of stages 2-4
strides): basic blocks (two 3x3) for depths 18 and 34, bottlenecks (1x1 reduce, 3x3, 1x1 expand
to 4x) beyond. The other families are knobs of the one builder: a wider bottleneck
(`base_width`, Wide ResNet), a grouped 3x3 (`groups`, ResNeXt), and an attention module on the
residual branch after its last normalization, before the addition (SE, ECA, CBAM).

Options of the paper and its descendants:
- variant "v1.5" (torchvision, timm, default) strides the bottleneck's 3x3; "v1" strides its
  first 1x1, as the paper's Caffe models. Basic blocks stride their first 3x3 in both.
- shortcut "A": parameter-free (identity; where the shape changes, x[:, ::s, ::s] with zero
  channels appended); "B" (default): a projection (conv + norm) only where the shape changes;
  "C": a projection in every block. "A" is allowed with bottlenecks: the paper defines it for
  any increase of width, so the stage-1 bottleneck shortcut zero-pads 64 to 256 channels.
- norm "batch" (default), "syncbatch" (synchronized across replicas), "group" (32 groups; the
  same parameter count).
"""

import collections
import dataclasses
import functools
import re
from typing import Optional

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import CBAM, ECA, SqueezeExcite, StochasticDepth
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("Deep Residual Learning for Image Recognition", 2015, "1512.03385")
PAPER_WIDE = registry.Paper("Wide Residual Networks", 2016, "1605.07146")
PAPER_RESNEXT = registry.Paper("Aggregated Residual Transformations for Deep Neural Networks",
                               2016, "1611.05431")
PAPER_SE = registry.Paper("Squeeze-and-Excitation Networks", 2017, "1709.01507")
PAPER_CBAM = registry.Paper("CBAM: Convolutional Block Attention Module", 2018, "1807.06521")
PAPER_ECA = registry.Paper("ECA-Net: Efficient Channel Attention for Deep Convolutional Neural "
                           "Networks", 2019, "1910.03151")

# Table 1 of the paper: block type and blocks per stage (conv2_x ... conv5_x) for each depth.
DEPTHS = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}
STAGE_PLANES = (64, 128, 256, 512)  # a stage's output is planes x the block's expansion
EXPANSION = {"basic": 1, "bottleneck": 4}

STEMS = ("default", "deep")
VARIANTS = ("v1.5", "v1")
SHORTCUTS = ("A", "B", "C")

# Attention modules on the residual branch, with each reference's settings.
ATTENTIONS = {
    "se": lambda name: SqueezeExcite(rd_ratio=1 / 16, rd_divisor=8, name=name),  # timm SEModule
    "eca": lambda name: ECA(kernel_size=3, name=name),  # official: k_size=3 in every stage
    "cbam": lambda name: CBAM(reduction=16, kernel_size=7, name=name),
}

# A reference's initialization. Common to all: convolutions He normal (fan_out), norm gamma 1
# and beta 0. zero_init_last: the last norm of each residual branch starts at gamma 0;
# shortcut_conv: the projection's kernel initializer; logits: (kernel, bias) initializers of
# the logits layer (bias None: nn.Linear's default).
Init = collections.namedtuple(
    "Init", "zero_init_last shortcut_conv logits",
    defaults=(False, initializers.HE_NORMAL_FAN_OUT, (initializers.TORCH_DEFAULT_UNIFORM, None)))

INITS = {
    "torchvision": Init(),  # also the ECA-Net reference
    "timm": Init(zero_init_last=True),
    # Jongchan/attention-module re-initializes by state-dict key: keys without "conv" (the
    # shortcut's nn.Sequential) keep PyTorch's default; the fc is kaiming_normal_ (fan_in);
    # every bias is zeroed.
    "cbam": Init(shortcut_conv=initializers.TORCH_DEFAULT_UNIFORM,
                 logits=(initializers.HE_NORMAL_FAN_IN, "zeros")),
}


@dataclasses.dataclass(frozen=True)
class BlockConfig:
    """What every block of a network shares."""

    groups: int = 1
    base_width: int = 64
    reduce_first: int = 1  # the first conv's width is divided by it (SENet-154: 2)
    variant: str = "v1.5"
    shortcut: str = "B"
    down_kernel_size: int = 1  # kernel of strided projection shortcuts (SENet-154: 3)
    avg_down: bool = False  # strided projections: 2x2 average pool, then a 1x1 (ResNet-D)
    attention: Optional[str] = None
    norm: B.Norm = B.Norm()
    init: Init = Init()


def conv_norm(x, filters, kernel, *, name, index, cfg, strides=1, groups=1, act="relu"):
    """{name}_conv{index} -> {name}_bn{index} -> {name}_relu{index}. act=None marks the
    branch's last norm: no activation, and gamma 0 with zero_init_last."""
    zero_gamma = act is None and cfg.init.zero_init_last
    return B.conv_norm_act(x, filters, kernel, strides=strides, groups=groups, act=act,
                           norm=cfg.norm, name=name, conv_name=f"conv{index}",
                           norm_name=f"bn{index}", act_name=f"relu{index}",
                           gamma_initializer="zeros" if zero_gamma else "ones")


def shortcut_path(x, filters, stride, *, name, cfg):
    """The identity, or a projection where the block changes the shape (or always, "C").

    With avg_down, a strided projection is timm's downsample_avg: nn.AvgPool2d(stride, stride,
    ceil_mode=True, count_include_pad=False) (`{name}_downsample_pool`), then a 1x1 conv."""
    reshapes = stride != 1 or x.shape[-1] != filters
    if cfg.shortcut == "C" or (cfg.shortcut == "B" and reshapes):
        kernel = cfg.down_kernel_size if stride != 1 else 1
        if cfg.avg_down and stride != 1:
            x = B.avg_pool(x, stride, ceil_mode=True, count_include_pad=False,
                           name=f"{name}_downsample_pool")
            kernel, stride = 1, 1
        x = B.conv2d(x, filters, kernel, strides=stride, name=f"{name}_downsample_conv",
                     kernel_initializer=cfg.init.shortcut_conv)
        return cfg.norm(x, name=f"{name}_downsample_bn")
    if stride != 1:  # a 1x1 max pool with stride s is x[:, ::s, ::s]
        x = B.max_pool(x, 1, strides=stride, name=f"{name}_downsample_pool")
    if x.shape[-1] != filters:  # zero channels, appended: pad the channel axis moved to rows
        x = keras.layers.Permute(dims=(3, 1, 2), name=f"{name}_downsample_to_cfirst")(x)
        x = keras.layers.ZeroPadding2D(padding=((0, filters - x.shape[1]), (0, 0)),
                                       name=f"{name}_downsample_pad")(x)
        x = keras.layers.Permute(dims=(2, 3, 1), name=f"{name}_downsample_to_clast")(x)
    return x


def residual(x, branch, stride, *, name, cfg, drop_path):
    """Attention and stochastic depth on the branch, then branch + shortcut and the ReLU.

    Not B.residual, which adds the shortcut first: the branch first keeps the order in which
    the layers, and so the weights, have always been listed (RegNet's blocks likewise)."""
    if cfg.attention:
        branch = ATTENTIONS[cfg.attention](f"{name}_{cfg.attention}")(branch)
    if drop_path:
        branch = StochasticDepth(rate=drop_path, name=f"{name}_drop_path")(branch)
    x = shortcut_path(x, branch.shape[-1], stride, name=name, cfg=cfg)
    x = keras.layers.Add(name=f"{name}_add")([branch, x])
    return B.activation(x, "relu", name=f"{name}_out")


def basic_block(planes, stride, *, name, cfg, drop_path=0.0):
    """Two 3x3 convolutions, the first strided (ResNet-18/34)."""
    def apply(x):
        y = conv_norm(x, planes // cfg.reduce_first, 3, strides=stride, name=name, index=1, cfg=cfg)
        y = conv_norm(y, planes, 3, act=None, name=name, index=2, cfg=cfg)
        return residual(x, y, stride, name=name, cfg=cfg, drop_path=drop_path)
    return apply


def bottleneck_block(planes, stride, *, name, cfg, drop_path=0.0):
    """1x1 reduce, 3x3 (grouped in ResNeXt), 1x1 expand to 4 x planes."""
    width = planes * cfg.base_width // 64 * cfg.groups
    stride1, stride3 = (stride, 1) if cfg.variant == "v1" else (1, stride)

    def apply(x):
        y = conv_norm(x, width // cfg.reduce_first, 1, strides=stride1, name=name, index=1, cfg=cfg)
        y = conv_norm(y, width, 3, strides=stride3, groups=cfg.groups, name=name, index=2, cfg=cfg)
        y = conv_norm(y, planes * EXPANSION["bottleneck"], 1, act=None, name=name, index=3, cfg=cfg)
        return residual(x, y, stride, name=name, cfg=cfg, drop_path=drop_path)
    return apply


BLOCKS = {"basic": basic_block, "bottleneck": bottleneck_block}


def stem(kind, norm=B.Norm(), width=64):
    """7x7/2 conv of 64 channels, norm, ReLU; or timm's stem_type="deep": three 3x3 of `width`,
    `width` and 2 x `width` channels (SENet-154's 'S' stem: 64; ResNet-D, ResNeSt: 32 or 64),
    the first strided, each with norm and ReLU. (`stages` adds the max pool.)"""
    def apply(x):
        if kind == "deep":
            for i, filters in enumerate((width, width, 2 * width), start=1):
                x = B.conv_norm_act(x, filters, 3, strides=2 if i == 1 else 1, norm=norm,
                                    name="stem", conv_name=f"conv{i}", norm_name=f"bn{i}",
                                    act_name=f"relu{i}")
        else:
            x = B.conv_norm_act(x, 64, 7, strides=2, norm=norm, name="stem", act_name="relu")
        return x
    return apply


def stages(x, block, layers, *, cfg, drop_path_rate=0.0):
    """The stem's 3x3/2 max pool and four stages of `block(planes, stride, name=, cfg=,
    drop_path=)` (the first block of stages 2-4 strided), stochastic depth rising linearly to
    `drop_path_rate`. x: the stem's output. Returns the last output and the features
    [(stride, tensor)] from the stem's on."""
    features = [(2, x)]
    x = B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    drop_paths = iter(B.drop_path_rates(drop_path_rate, sum(layers)))
    for s, (planes, blocks) in enumerate(zip(STAGE_PLANES, layers), start=1):
        for b in range(1, blocks + 1):
            stride = 2 if s > 1 and b == 1 else 1
            x = block(planes, stride, name=f"stage{s}_block{b}", cfg=cfg,
                      drop_path=next(drop_paths))(x)
        features.append((2 ** (s + 1), x))
    return x, features


def _stage_blocks(name, depth, block):
    """(block type, blocks per stage) from a depth of `DEPTHS` or four block counts."""
    if isinstance(depth, int) and not isinstance(depth, bool):
        B.check_choice(name, "depth", depth, tuple(DEPTHS))
        default_block, layers = DEPTHS[depth]
        block = block or default_block
    else:
        layers = tuple(depth) if isinstance(depth, (tuple, list)) else ()
        if len(layers) != 4 or not all(isinstance(n, int) and n >= 1 for n in layers):
            raise ValueError(f"{name}: `depth` must be one of {', '.join(map(str, DEPTHS))} or "
                             f"four positive block counts per stage; got {depth!r}.")
        if block is None:
            raise ValueError(f"{name}: with block counts as `depth`, pass `block` "
                             f"({' or '.join(map(repr, BLOCKS))}).")
    B.check_choice(name, "block", block, tuple(BLOCKS))
    return block, layers


@A.application()
def ResNet(inputs, depth, block=None, *, groups=1, base_width=64, attention=None,
           stem_type="default", variant="v1.5", shortcut="B", norm="batch", block_reduce_first=1,
           down_kernel_size=1, init="torchvision", name="resnet", dropout_rate=0.0,
           drop_path_rate=0.0):
    """Builds a ResNet-family network.

    depth: 18, 34, 50, 101 or 152 (the paper's table 1), or four block counts per stage with
    `block` "basic" or "bottleneck". groups, base_width: the bottleneck's 3x3 has
    `groups * planes * base_width / 64` channels in `groups` groups (ResNeXt 32x4d: 32, 4;
    Wide ResNet-50-2: 1, 128). attention: None, "se", "eca" or "cbam". stem_type: "default"
    (7x7) or "deep" (3x3 convs of 64, 64, 128 channels). init: whose initialization to
    reproduce, "torchvision", "timm" (zero-init of each branch's last norm) or "cbam".
    drop_path_rate: stochastic depth of the last block, rising linearly from 0 (timm's rule).
    """
    block, layers = _stage_blocks(name, depth, block)
    B.check_choice(name, "attention", attention, (None, *ATTENTIONS))
    B.check_choice(name, "stem_type", stem_type, STEMS)
    B.check_choice(name, "variant", variant, VARIANTS)
    B.check_choice(name, "shortcut", shortcut, SHORTCUTS)
    B.check_choice(name, "norm", norm, B.NORMS)
    B.check_choice(name, "init", init, tuple(INITS))
    if block == "basic" and (groups != 1 or base_width != 64):
        raise ValueError(f"{name}: basic blocks have no groups or base width (as torchvision); "
                         f"got groups={groups}, base_width={base_width}. Use block='bottleneck'.")
    cfg = BlockConfig(groups=groups, base_width=base_width, reduce_first=block_reduce_first,
                      variant=variant, shortcut=shortcut, down_kernel_size=down_kernel_size,
                      attention=attention, norm=B.Norm(norm), init=INITS[init])
    x, features = stages(stem(stem_type, cfg.norm)(inputs), BLOCKS[block], layers, cfg=cfg,
                         drop_path_rate=drop_path_rate)
    return A.Network(x, features, dropout_rate=dropout_rate, logits_initializers=cfg.init.logits)


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer (0 in the references).
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm).
    variant: "v1.5" (stride on the bottleneck's 3x3, default) or "v1" (on its first 1x1).
    shortcut: "A" (parameter-free), "B" (projection where the shape changes, default) or "C"
        (projection everywhere), the options of the ResNet paper.
    norm: "batch" (default), "syncbatch" or "group" (GroupNormalization, 32 groups).
    init: "torchvision", "timm" or "cbam": whose initialization to reproduce.
""" + ResNet.args_doc

TIMM = registry.Preprocessing(interpolation="bicubic")

# Checkpoint names: torchvision's, which timm and the official ECA-Net and CBAM code share.
# Blocks are layer{stage}.{block - 1}; their convK and bnK keep their names.
REFERENCE_NAMES = {
    "stem_conv": "conv1", "stem_bn": "bn1", "logits": "fc",
    # timm's deep stem: one nn.Sequential (conv, bn, relu, conv, bn, relu, conv), then bn1
    "stem_conv1": "conv1.0", "stem_bn1": "conv1.1", "stem_conv2": "conv1.3",
    "stem_bn2": "conv1.4", "stem_conv3": "conv1.6", "stem_bn3": "bn1",
}
REFERENCE_BLOCK_NAMES = {
    "downsample_conv": "downsample.0", "downsample_bn": "downsample.1",
    "se/reduce": "se.fc1", "se/expand": "se.fc2",  # timm's SEModule
    "eca/conv": "eca.conv",
    "cbam/fc1": "cbam.ChannelGate.mlp.1", "cbam/fc2": "cbam.ChannelGate.mlp.3",
    "cbam/spatial_conv": "cbam.SpatialGate.spatial.conv",
    "cbam/spatial_bn": "cbam.SpatialGate.spatial.bn",
}


def reference_names(block_names):
    """The names function of torchvision's layout: layer{stage}.{block - 1}.{part}, a block's
    convK and bnK under their own names, its other layers by `block_names`."""
    return B.checkpoint_names(
        REFERENCE_NAMES, lambda stage, block: f"layer{stage}.{block - 1}",
        lambda part, stage: part if re.fullmatch(r"(conv|bn)\d", part) else block_names.get(part))


reference_name = reference_names(REFERENCE_BLOCK_NAMES)


ECA_REFERENCE = "official:BangguWu/ECANet"
CBAM_REFERENCE = "official:Jongchan/attention-module"
_CHECKPOINT = weights.CheckpointMap(reference_name, head=("fc.",))
CHECKPOINTS = {source: _CHECKPOINT for source in
               ("torchvision", "timm", ECA_REFERENCE, CBAM_REFERENCE)}


# One registration per family: its name, paper and docstring; each variant names its reference.
register_resnet = functools.partial(registry.register_model, family="ResNet", paper=PAPER,
                                    doc=DOCSTRING)
register_wide_resnet = functools.partial(registry.register_model, family="Wide ResNet",
                                         paper=PAPER_WIDE, doc=DOCSTRING)
register_resnext = functools.partial(registry.register_model, family="ResNeXt",
                                     paper=PAPER_RESNEXT, doc=DOCSTRING)
register_senet = functools.partial(registry.register_model, family="SENet", paper=PAPER_SE,
                                   preprocessing=TIMM, doc=DOCSTRING)
register_eca = functools.partial(registry.register_model, family="ECA-Net", paper=PAPER_ECA,
                                 doc=DOCSTRING)
register_cbam = functools.partial(registry.register_model, family="CBAM", paper=PAPER_CBAM,
                                  doc=DOCSTRING)


# --- ResNet -----------------------------------------------------------------------------------

@register_resnet("resnet18", reference=("torchvision", "resnet18"))
def ResNet18(**kwargs):
    """ResNet-18 (He et al. 2015): basic blocks, 2-2-2-2."""
    return ResNet(18, name="resnet18", **kwargs)


@register_resnet("resnet34", reference=("torchvision", "resnet34"))
def ResNet34(**kwargs):
    """ResNet-34 (He et al. 2015): basic blocks, 3-4-6-3."""
    return ResNet(34, name="resnet34", **kwargs)


@register_resnet("resnet50", reference=("torchvision", "resnet50"))
def ResNet50(**kwargs):
    """ResNet-50 (He et al. 2015): bottlenecks, 3-4-6-3; v1.5 unless variant="v1"."""
    return ResNet(50, name="resnet50", **kwargs)


@register_resnet("resnet101", reference=("torchvision", "resnet101"))
def ResNet101(**kwargs):
    """ResNet-101 (He et al. 2015): bottlenecks, 3-4-23-3; v1.5 unless variant="v1"."""
    return ResNet(101, name="resnet101", **kwargs)


@register_resnet("resnet152", reference=("torchvision", "resnet152"))
def ResNet152(**kwargs):
    """ResNet-152 (He et al. 2015): bottlenecks, 3-8-36-3; v1.5 unless variant="v1"."""
    return ResNet(152, name="resnet152", **kwargs)


# --- Wide ResNet ------------------------------------------------------------------------------

@register_wide_resnet("wide_resnet50_2", reference=("torchvision", "wide_resnet50_2"))
def WideResNet50_2(**kwargs):
    """Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): ResNet-50 with bottlenecks twice as wide."""
    return ResNet(50, base_width=128, name="wide_resnet50_2", **kwargs)


@register_wide_resnet("wide_resnet101_2", reference=("torchvision", "wide_resnet101_2"))
def WideResNet101_2(**kwargs):
    """Wide ResNet-101-2 (Zagoruyko & Komodakis 2016): ResNet-101 with bottlenecks twice as wide."""
    return ResNet(101, base_width=128, name="wide_resnet101_2", **kwargs)


# --- ResNeXt ----------------------------------------------------------------------------------

@register_resnext("resnext50_32x4d", reference=("torchvision", "resnext50_32x4d"))
def ResNeXt50_32x4d(**kwargs):
    """ResNeXt-50 32x4d (Xie et al. 2016): 32 groups of 4 channels in the first stage's 3x3."""
    return ResNet(50, groups=32, base_width=4, name="resnext50_32x4d", **kwargs)


@register_resnext("resnext101_32x4d", reference=("timm", "resnext101_32x4d"),
                  preprocessing=TIMM)
def ResNeXt101_32x4d(**kwargs):
    """ResNeXt-101 32x4d (Xie et al. 2016)."""
    return ResNet(101, groups=32, base_width=4, name="resnext101_32x4d", **kwargs)


@register_resnext("resnext101_32x8d", reference=("torchvision", "resnext101_32x8d"))
def ResNeXt101_32x8d(**kwargs):
    """ResNeXt-101 32x8d (Xie et al. 2016)."""
    return ResNet(101, groups=32, base_width=8, name="resnext101_32x8d", **kwargs)


@register_resnext("resnext101_64x4d", reference=("torchvision", "resnext101_64x4d"))
def ResNeXt101_64x4d(**kwargs):
    """ResNeXt-101 64x4d (Xie et al. 2016)."""
    return ResNet(101, groups=64, base_width=4, name="resnext101_64x4d", **kwargs)


# --- SENet (timm) -----------------------------------------------------------------------------

def _se(depth, name, **kwargs):
    return ResNet(depth, attention="se", name=name, **{"init": "timm", **kwargs})


@register_senet("seresnet18", reference=("timm", "seresnet18"))
def SEResNet18(**kwargs):
    """SE-ResNet-18 (Hu et al. 2017): squeeze-and-excitation (reduction 16) in every block."""
    return _se(18, "seresnet18", **kwargs)


@register_senet("seresnet34", reference=("timm", "seresnet34"))
def SEResNet34(**kwargs):
    """SE-ResNet-34 (Hu et al. 2017)."""
    return _se(34, "seresnet34", **kwargs)


@register_senet("seresnet50", reference=("timm", "seresnet50"),
                preprocessing=registry.Preprocessing(interpolation="bicubic", crop_pct=0.95))
def SEResNet50(**kwargs):
    """SE-ResNet-50 (Hu et al. 2017)."""
    return _se(50, "seresnet50", **kwargs)


@register_senet("seresnet101", reference=("timm", "seresnet101"))
def SEResNet101(**kwargs):
    """SE-ResNet-101 (Hu et al. 2017)."""
    return _se(101, "seresnet101", **kwargs)


@register_senet("seresnet152", reference=("timm", "seresnet152"))
def SEResNet152(**kwargs):
    """SE-ResNet-152 (Hu et al. 2017)."""
    return _se(152, "seresnet152", **kwargs)


@register_senet("seresnext50_32x4d", reference=("timm", "seresnext50_32x4d"))
def SEResNeXt50_32x4d(**kwargs):
    """SE-ResNeXt-50 32x4d (Hu et al. 2017)."""
    return _se(50, "seresnext50_32x4d", groups=32, base_width=4, **kwargs)


@register_senet("seresnext101_32x4d", reference=("timm", "seresnext101_32x4d"))
def SEResNeXt101_32x4d(**kwargs):
    """SE-ResNeXt-101 32x4d (Hu et al. 2017)."""
    return _se(101, "seresnext101_32x4d", groups=32, base_width=4, **kwargs)


@register_senet("senet154", reference=("timm", "senet154"))
def SENet154(**kwargs):
    """SENet-154 (Hu et al. 2017): SE-ResNeXt-152 64x4d with a deep stem, the first 1x1 of
    each bottleneck at half width, and 3x3 strided projection shortcuts."""
    return _se(152, "senet154", groups=64, base_width=4, stem_type="deep", block_reduce_first=2,
               down_kernel_size=3, **kwargs)


# --- ECA-Net (official) -----------------------------------------------------------------------

@register_eca("eca_resnet18", reference=(ECA_REFERENCE, "eca_resnet18"))
def ECAResNet18(**kwargs):
    """ECA-ResNet-18 (Wang et al. 2019): efficient channel attention (a 1-D convolution
    across the channels, k=3) in every block."""
    return ResNet(18, attention="eca", name="eca_resnet18", **kwargs)


@register_eca("eca_resnet34", reference=(ECA_REFERENCE, "eca_resnet34"))
def ECAResNet34(**kwargs):
    """ECA-ResNet-34 (Wang et al. 2019)."""
    return ResNet(34, attention="eca", name="eca_resnet34", **kwargs)


@register_eca("eca_resnet50", reference=(ECA_REFERENCE, "eca_resnet50"))
def ECAResNet50(**kwargs):
    """ECA-ResNet-50 (Wang et al. 2019)."""
    return ResNet(50, attention="eca", name="eca_resnet50", **kwargs)


@register_eca("eca_resnet101", reference=(ECA_REFERENCE, "eca_resnet101"))
def ECAResNet101(**kwargs):
    """ECA-ResNet-101 (Wang et al. 2019)."""
    return ResNet(101, attention="eca", name="eca_resnet101", **kwargs)


@register_eca("eca_resnet152", reference=(ECA_REFERENCE, "eca_resnet152"))
def ECAResNet152(**kwargs):
    """ECA-ResNet-152 (Wang et al. 2019)."""
    return ResNet(152, attention="eca", name="eca_resnet152", **kwargs)


# --- CBAM (official) --------------------------------------------------------------------------

def _cbam_net(depth, name, **kwargs):
    return ResNet(depth, attention="cbam", name=name, **{"init": "cbam", **kwargs})


@register_cbam("cbam_resnet18",
               reference=(CBAM_REFERENCE, "ResidualNet(ImageNet,18,CBAM)"))
def CBAMResNet18(**kwargs):
    """CBAM-ResNet-18 (Woo et al. 2018): channel then spatial attention in every block."""
    return _cbam_net(18, "cbam_resnet18", **kwargs)


@register_cbam("cbam_resnet34",
               reference=(CBAM_REFERENCE, "ResidualNet(ImageNet,34,CBAM)"))
def CBAMResNet34(**kwargs):
    """CBAM-ResNet-34 (Woo et al. 2018)."""
    return _cbam_net(34, "cbam_resnet34", **kwargs)


@register_cbam("cbam_resnet50",
               reference=(CBAM_REFERENCE, "ResidualNet(ImageNet,50,CBAM)"))
def CBAMResNet50(**kwargs):
    """CBAM-ResNet-50 (Woo et al. 2018)."""
    return _cbam_net(50, "cbam_resnet50", **kwargs)


@register_cbam("cbam_resnet101",
               reference=(CBAM_REFERENCE, "ResidualNet(ImageNet,101,CBAM)"))
def CBAMResNet101(**kwargs):
    """CBAM-ResNet-101 (Woo et al. 2018)."""
    return _cbam_net(101, "cbam_resnet101", **kwargs)


__all__ = ["ResNet", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152",
           "WideResNet50_2", "WideResNet101_2", "ResNeXt50_32x4d", "ResNeXt101_32x4d",
           "ResNeXt101_32x8d", "ResNeXt101_64x4d", "SEResNet18", "SEResNet34", "SEResNet50",
           "SEResNet101", "SEResNet152", "SEResNeXt50_32x4d", "SEResNeXt101_32x4d", "SENet154",
           "ECAResNet18", "ECAResNet34", "ECAResNet50", "ECAResNet101", "ECAResNet152",
           "CBAMResNet18", "CBAMResNet34", "CBAMResNet50", "CBAMResNet101"]
