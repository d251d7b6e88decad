"""ResNeSt (Zhang et al. 2020): split-attention networks, as timm's `resnest.py` builds them
(`resnest14d` ... `resnest269e`, the weights ported from GluonCV and the official
zhanghang1989/ResNeSt).

A ResNet-D body: the deep stem (three 3x3 convolutions of stem_width, stem_width and
2 x stem_width channels, the first strided; stem_width 32 for the 'd' models, 64 for the 'e'
models) and a 3x3 stride-2 max pool; four stages of bottlenecks whose 3x3 convolution is a
split-attention convolution (`layers.SplitAttention`: radix 2, cardinality 1, the attention
MLP a quarter of radix x width, at least 32); a strided block moves its stride to a 3x3 average
pool after the split attention (avd, "average downsampling", avd_first=False), and its shortcut
is a 2x2 average pool (ceil mode, padding not counted) before the 1x1 projection (avg_down).

Departures from the paper and the official code, all timm's: the last BatchNorm of each branch
starts at gamma 0 (zero_init_last) and every convolution is He normal (fan_out). Stochastic
depth (drop_path_rate) drops the residual branch, as in timm's other ResNets; timm's
ResNestBottleneck applies it to the block input instead (a no-op in eval, and for the parity).
DropBlock (the paper's regularizer, in timm a drop_block_rate option) is not built.
"""

import dataclasses
import functools

from keras_backbones import registry, weights
from keras_backbones.layers import SplitAttention
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import resnet

PAPER = registry.Paper("ResNeSt: Split-Attention Networks", 2020, "2004.08955")

# Blocks per stage (the paper's ResNeSt-50/101/200/269 and timm's smaller 14d and 26d), and
# stem width.
CONFIGS = {
    "resnest14d": ((1, 1, 1, 1), 32),
    "resnest26d": ((2, 2, 2, 2), 32),
    "resnest50d": ((3, 4, 6, 3), 32),
    "resnest101e": ((3, 4, 23, 3), 64),
    "resnest200e": ((3, 24, 36, 3), 64),
    "resnest269e": ((3, 30, 48, 8), 64),
}
EXPANSION = resnet.EXPANSION["bottleneck"]


@dataclasses.dataclass(frozen=True)
class SplitBlockConfig(resnet.BlockConfig):
    """resnet's block config (groups: the cardinality; avg_down shortcuts) and the split
    attention's knobs."""

    radix: int = 2
    avd: bool = True
    avd_first: bool = False


def bottleneck(planes, stride, *, name, cfg, drop_path=0.0):
    """1x1 -> split-attention 3x3 (-> 3x3 average pool where strided) -> 1x1 to 4 x planes."""
    width = planes * cfg.base_width // 64 * cfg.groups
    avd_stride = stride if cfg.avd and stride > 1 else 0

    def avd(y):  # nn.AvgPool2d(3, stride, padding=1): zero padding counted in the average
        return B.avg_pool(y, 3, strides=avd_stride, padding=1, name=f"{name}_avd")

    def apply(x):
        y = resnet.conv_norm(x, width, 1, name=name, index=1, cfg=cfg)
        if avd_stride and cfg.avd_first:
            y = avd(y)
        y = SplitAttention(filters=width, kernel_size=3, strides=1 if avd_stride else stride,
                           groups=cfg.groups, radix=cfg.radix, name=f"{name}_splat")(y)
        if avd_stride and not cfg.avd_first:
            y = avd(y)
        y = resnet.conv_norm(y, planes * EXPANSION, 1, act=None, name=name, index=3, cfg=cfg)
        return resnet.residual(x, y, stride, name=name, cfg=cfg, drop_path=drop_path)
    return apply


@A.application(weights_note="the portable format, or a timm state dict")
def ResNeSt(inputs, layers, *, stem_width=32, radix=2, cardinality=1, base_width=64, avd=True,
            avd_first=False, zero_init_last=True, name="resnest", dropout_rate=0.0,
            drop_path_rate=0.0):
    """Builds a ResNeSt.

    layers: blocks per stage (four). stem_width: the deep stem's first width (32 'd', 64 'e').
    radix: splits per cardinal group (1: a sigmoid gate instead of the r-SoftMax).
    cardinality: cardinal groups; base_width: each group's width at planes 64 (the 3x3 has
    `planes * base_width / 64 * cardinality` channels). avd: strided blocks stride a 3x3 average
    pool instead of the convolution, after it (avd_first False) or before it (True).
    """
    layers = B.check_per_stage(name, "layers", layers)
    B.check_positive_ints(name, stem_width=stem_width, radix=radix, cardinality=cardinality,
                          base_width=base_width)
    cfg = SplitBlockConfig(groups=cardinality, base_width=base_width, avg_down=True,
                           init=resnet.Init(zero_init_last=bool(zero_init_last)), radix=radix,
                           avd=bool(avd), avd_first=bool(avd_first))
    x, features = resnet.stages(resnet.stem("deep", width=stem_width)(inputs), bottleneck,
                                layers, cfg=cfg, drop_path_rate=drop_path_rate)
    return A.Network(x, features, dropout_rate=dropout_rate)


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer (0 in timm's models).
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm).
    radix, cardinality, base_width, avd, avd_first: the split-attention knobs (`ResNeSt`).
    zero_init_last: start each branch's last BatchNorm at gamma 0 (timm; default True).
""" + ResNeSt.args_doc

# timm's state-dict names: the deep stem conv1.{0,1,3,4,6} and bn1 (resnet's), blocks
# layer{stage}.{block - 1}, the split attention conv2.{conv,bn0,fc1,bn1,fc2}, the shortcut
# downsample.{1,2} (downsample.0 is the pool).
reference_name = resnet.reference_names({
    "downsample_conv": "downsample.1", "downsample_bn": "downsample.2",
    **{f"splat/{part}": f"conv2.{part}" for part in ("conv", "bn0", "fc1", "bn1", "fc2")}})


CHECKPOINTS = {"timm": weights.CheckpointMap(reference_name, head=("fc.",), norm_epsilon=1e-5)}

register = functools.partial(registry.register_model, family="ResNeSt", paper=PAPER,
                             doc=DOCSTRING)


def _build(name, **kwargs):
    layers, stem_width = CONFIGS[name]
    return ResNeSt(layers, stem_width=stem_width, name=name, **kwargs)


@register("resnest14d", reference=("timm", "resnest14d"))
def ResNeSt14d(**kwargs):
    """ResNeSt-14d (timm, GluonCV weights): 1-1-1-1 split-attention bottlenecks, radix 2,
    deep stem of width 32, average downsampling."""
    return _build("resnest14d", **kwargs)


@register("resnest26d", reference=("timm", "resnest26d"))
def ResNeSt26d(**kwargs):
    """ResNeSt-26d (timm, GluonCV weights): 2-2-2-2 blocks, stem width 32."""
    return _build("resnest26d", **kwargs)


@register("resnest50d", reference=("timm", "resnest50d"))
def ResNeSt50d(**kwargs):
    """ResNeSt-50 (Zhang et al. 2020; timm's resnest50d): 3-4-6-3 blocks, stem width 32."""
    return _build("resnest50d", **kwargs)


@register("resnest101e", reference=("timm", "resnest101e"),
          preprocessing=registry.Preprocessing(input_size=(256, 256, 3)))
def ResNeSt101e(**kwargs):
    """ResNeSt-101 (Zhang et al. 2020; timm's resnest101e): 3-4-23-3 blocks, stem width 64,
    trained at 256x256."""
    return _build("resnest101e", **kwargs)


@register("resnest200e", reference=("timm", "resnest200e"),
          preprocessing=registry.Preprocessing(input_size=(320, 320, 3),
                                               interpolation="bicubic", crop_pct=0.909))
def ResNeSt200e(**kwargs):
    """ResNeSt-200 (Zhang et al. 2020; timm's resnest200e): 3-24-36-3 blocks, stem width 64,
    trained at 320x320."""
    return _build("resnest200e", **kwargs)


@register("resnest269e", reference=("timm", "resnest269e"),
          preprocessing=registry.Preprocessing(input_size=(416, 416, 3),
                                               interpolation="bicubic", crop_pct=0.928))
def ResNeSt269e(**kwargs):
    """ResNeSt-269 (Zhang et al. 2020; timm's resnest269e): 3-30-48-8 blocks, stem width 64,
    trained at 416x416."""
    return _build("resnest269e", **kwargs)


__all__ = ["ResNeSt", "ResNeSt14d", "ResNeSt26d", "ResNeSt50d", "ResNeSt101e", "ResNeSt200e",
           "ResNeSt269e"]
