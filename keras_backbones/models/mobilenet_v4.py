"""MobileNetV4 (Qin et al. 2024) as timm's `mobilenetv4_conv_small/medium/large` and
`mobilenetv4_hybrid_medium/large` (timm's port of the TensorFlow Model Garden reference).

Tables 8-12 of the paper, one list per stage (the checkpoint's `blocks.0` to `blocks.4`):

- Conv: a regular k x k convolution, BatchNorm, activation (no residual).
- FusedIB: k x k convolution to make_divisible(C_in x e, 8), BatchNorm, activation, 1x1
  projection, BatchNorm (timm's EdgeResidual; residual where the shape allows).
- UIB, the Universal Inverted Bottleneck (section 3.1, figure 4): [start k x k depthwise,
  BatchNorm] -> 1x1 expansion to make_divisible(C_in x e, 8), BatchNorm, activation ->
  [middle k x k depthwise, BatchNorm, activation] -> 1x1 projection, BatchNorm -> [layer
  scale] -> [+ input]. Its instances: ExtraDW (start and middle), IR (middle only), ConvNeXt
  (start only) and FFN (neither). The block's stride is on the middle depthwise convolution,
  else on the start one.
- Mobile MQA (section 4): BatchNorm, then multi-query attention: `num_heads` query heads
  (1x1 convolution) against ONE shared key head and ONE value head (1x1 convolutions of
  key_dim), each optionally downsampled first by a strided 3x3 depthwise convolution and
  BatchNorm (the hybrid models' stride-16 stage: "spatial reduction", kv stride 2); the heads'
  outputs through a 1x1 convolution; layer scale; + input.

then a 1x1 convolution to 960 channels (BatchNorm, activation), global pooling, the 1280-wide
1x1 convolution WITHOUT bias followed by BatchNorm and activation (timm's head_norm: the
norm after the pooled convolution), dropout and the classifier.

ReLU everywhere but in hybrid-large (GELU, exact). The hybrid models scale every block's
residual branch by a learned per-channel layer scale starting at 1e-5; the conv models have
none. Convolutions use PyTorch's symmetric padding (timm's default), BatchNorm epsilon 1e-5,
initialization timm's (the TensorFlow reference's): He normal over the fan-out, classifier
U(+-1 / sqrt(classes)) with zero bias. Width multiplier `alpha`: timm's round_channels (each
width make_divisible(c x alpha, 8), the stem kept below 1.0, the 1280-wide layer unscaled).
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.layers import make_divisible
from keras_backbones.layers.mobile_attention import MultiQueryAttention
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("MobileNetV4: Universal Models for the Mobile Ecosystem", 2024,
                       "2404.10518")


# --- the paper's table rows ------------------------------------------------------------------

def CONV(k, c, s=1):
    """Conv2D k x k to c channels, stride s."""
    return [dict(block="conv", kernel_size=k, filters=c, strides=s)]


def FIB(k, e, c, s=1):
    """FusedIB: k x k convolution expanding by e, 1x1 projection to c."""
    return [dict(block="fused_ib", kernel_size=k, expansion=e, filters=c, strides=s)]


def UIB(start, mid, e, c, s=1, repeats=1):
    """UIB with start and middle depthwise kernels (0: none), expansion e, output c."""
    return [dict(block="uib", start=start, mid=mid, expansion=e, filters=c,
                 strides=s if r == 0 else 1) for r in range(repeats)]


def MQA(heads, dim, kv_stride, c):
    """Mobile MQA: heads x dim queries, one key and value head of dim, kv downsampled."""
    return [dict(block="mqa", num_heads=heads, key_dim=dim, kv_stride=kv_stride, filters=c)]


HEAD = CONV(1, 960)
CONFIGS = {
    "conv_small": dict(stem=32, act="relu", layer_scale=None, stages=[
        [*CONV(3, 32, 2), *CONV(1, 32)],
        [*CONV(3, 96, 2), *CONV(1, 64)],
        [*UIB(5, 5, 3, 96, 2), *UIB(0, 3, 2, 96, repeats=4), *UIB(3, 0, 4, 96)],
        [*UIB(3, 3, 6, 128, 2), *UIB(5, 5, 4, 128), *UIB(0, 5, 4, 128), *UIB(0, 5, 3, 128),
         *UIB(0, 3, 4, 128, repeats=2)],
        HEAD]),
    "conv_medium": dict(stem=32, act="relu", layer_scale=None, stages=[
        FIB(3, 4, 48, 2),
        [*UIB(3, 5, 4, 80, 2), *UIB(3, 3, 2, 80)],
        [*UIB(3, 5, 6, 160, 2), *UIB(3, 3, 4, 160, repeats=2), *UIB(3, 5, 4, 160),
         *UIB(3, 3, 4, 160), *UIB(3, 0, 4, 160), *UIB(0, 0, 2, 160), *UIB(3, 0, 4, 160)],
        [*UIB(5, 5, 6, 256, 2), *UIB(5, 5, 4, 256), *UIB(3, 5, 4, 256, repeats=2),
         *UIB(0, 0, 4, 256), *UIB(3, 0, 4, 256), *UIB(3, 5, 2, 256), *UIB(5, 5, 4, 256),
         *UIB(0, 0, 4, 256, repeats=2), *UIB(5, 0, 2, 256)],
        HEAD]),
    "conv_large": dict(stem=24, act="relu", layer_scale=None, stages=[
        FIB(3, 4, 48, 2),
        [*UIB(3, 5, 4, 96, 2), *UIB(3, 3, 4, 96)],
        [*UIB(3, 5, 4, 192, 2), *UIB(3, 3, 4, 192, repeats=3), *UIB(3, 5, 4, 192),
         *UIB(5, 3, 4, 192, repeats=5), *UIB(3, 0, 4, 192)],
        [*UIB(5, 5, 4, 512, 2, repeats=4), *UIB(5, 0, 4, 512), *UIB(5, 3, 4, 512),
         *UIB(5, 0, 4, 512, repeats=2), *UIB(5, 3, 4, 512), *UIB(5, 5, 4, 512),
         *UIB(5, 0, 4, 512, repeats=3)],
        HEAD]),
    "hybrid_medium": dict(stem=32, act="relu", layer_scale=1e-5, stages=[
        FIB(3, 4, 48, 2),
        [*UIB(3, 5, 4, 80, 2), *UIB(3, 3, 2, 80)],
        [*UIB(3, 5, 6, 160, 2), *UIB(0, 0, 2, 160), *UIB(3, 3, 4, 160), *UIB(3, 5, 4, 160),
         *MQA(4, 64, 2, 160), *UIB(3, 3, 4, 160), *MQA(4, 64, 2, 160), *UIB(3, 0, 4, 160),
         *MQA(4, 64, 2, 160), *UIB(3, 3, 4, 160), *MQA(4, 64, 2, 160), *UIB(3, 0, 4, 160)],
        [*UIB(5, 5, 6, 256, 2), *UIB(5, 5, 4, 256), *UIB(3, 5, 4, 256, repeats=2),
         *UIB(0, 0, 2, 256), *UIB(3, 5, 2, 256), *UIB(0, 0, 2, 256), *UIB(0, 0, 4, 256),
         *MQA(4, 64, 1, 256), *UIB(3, 0, 4, 256), *MQA(4, 64, 1, 256), *UIB(5, 5, 4, 256),
         *MQA(4, 64, 1, 256), *UIB(5, 0, 4, 256), *MQA(4, 64, 1, 256), *UIB(5, 0, 4, 256)],
        HEAD]),
    "hybrid_large": dict(stem=24, act="gelu", layer_scale=1e-5, stages=[
        FIB(3, 4, 48, 2),
        [*UIB(3, 5, 4, 96, 2), *UIB(3, 3, 4, 96)],
        [*UIB(3, 5, 4, 192, 2), *UIB(3, 3, 4, 192, repeats=3), *UIB(3, 5, 4, 192),
         *UIB(5, 3, 4, 192, repeats=2), *MQA(8, 48, 2, 192), *UIB(5, 3, 4, 192),
         *MQA(8, 48, 2, 192), *UIB(5, 3, 4, 192), *MQA(8, 48, 2, 192), *UIB(5, 3, 4, 192),
         *MQA(8, 48, 2, 192), *UIB(3, 0, 4, 192)],
        [*UIB(5, 5, 4, 512, 2, repeats=4), *UIB(5, 0, 4, 512), *UIB(5, 3, 4, 512),
         *UIB(5, 0, 4, 512, repeats=2), *UIB(5, 3, 4, 512), *UIB(5, 5, 4, 512),
         *MQA(8, 64, 1, 512), *UIB(5, 0, 4, 512), *MQA(8, 64, 1, 512), *UIB(5, 0, 4, 512),
         *MQA(8, 64, 1, 512), *UIB(5, 0, 4, 512), *MQA(8, 64, 1, 512), *UIB(5, 0, 4, 512)],
        HEAD]),
}
PRE_LOGITS_WIDTH = 1280
KV_KERNEL = 3  # the key/value downsampling depthwise kernel
NORM = M.Norm(epsilon=1e-5, momentum=0.1)


# --- blocks ----------------------------------------------------------------------------------

def conv_block(filters, kernel_size, *, name, act, strides=1, **_):
    """Conv: `{name}_conv/_bn/_act`."""
    def apply(x):
        return M.conv_norm_act(x, filters, kernel_size, strides=strides, act=act, norm=NORM,
                               name=name)
    return apply


def fused_ib(filters, kernel_size, expansion, *, name, act, strides=1, drop_path=0.0, **_):
    """FusedIB: `_mobile.fused_inverted_residual` (`{name}_fused_*`, `{name}_project_*`)."""
    return M.fused_inverted_residual(filters, expansion=expansion, kernel_size=kernel_size,
                                     strides=strides, activation=act, drop_path=drop_path,
                                     norm=NORM, name=name)


def uib(filters, start, mid, expansion, *, name, act, strides=1, layer_scale=None,
        drop_path=0.0, **_):
    """UIB: `{name}_start_dw_*`, `{name}_expand_*`, `{name}_mid_dw_*`, `{name}_project_*`,
    `{name}_layer_scale`, `{name}_add`."""
    if strides > 1 and not (start or mid):
        raise ValueError(f"{name}: a strided UIB needs a depthwise convolution.")

    def apply(x):
        y = x
        if start:
            y = M.depthwise_norm_act(y, start, strides=1 if mid else strides, norm=NORM,
                                     name=f"{name}_start_dw")
        y = M.conv_norm_act(y, make_divisible(x.shape[-1] * expansion), 1, act=act, norm=NORM,
                            name=f"{name}_expand")
        if mid:
            y = M.depthwise_norm_act(y, mid, strides=strides, act=act, norm=NORM,
                                     name=f"{name}_mid_dw")
        y = M.conv_norm_act(y, filters, 1, norm=NORM, name=f"{name}_project")
        return M.residual(y, x, layer_scale=layer_scale, drop_path=drop_path, name=name)
    return apply


def mobile_mqa(filters, num_heads, key_dim, kv_stride, *, name, layer_scale=None,
               drop_path=0.0, **_):
    """Mobile MQA: `{name}_norm`, `{name}_query_conv`, `{name}_key_down_conv/_bn`,
    `{name}_key_conv`, `{name}_value_down_conv/_bn`, `{name}_value_conv`, `{name}_attention`,
    `{name}_output_conv`, `{name}_layer_scale`, `{name}_add`."""
    def apply(x):
        y = NORM(x, name=f"{name}_norm")
        q = B.conv2d(y, num_heads * key_dim, 1, name=f"{name}_query_conv")
        kv = []
        for part in ("key", "value"):
            z = y
            if kv_stride > 1:
                z = M.depthwise_norm_act(z, KV_KERNEL, strides=kv_stride, norm=NORM,
                                         name=f"{name}_{part}_down")
            kv.append(B.conv2d(z, key_dim, 1, name=f"{name}_{part}_conv"))
        out = MultiQueryAttention(num_heads=num_heads, key_dim=key_dim,
                                  name=f"{name}_attention")([q, *kv])
        out = B.conv2d(out, filters, 1, name=f"{name}_output_conv")
        return M.residual(out, x, layer_scale=layer_scale, drop_path=drop_path, name=name)
    return apply


BLOCKS = {"conv": conv_block, "fused_ib": fused_ib, "uib": uib, "mqa": mobile_mqa}


@A.application(head="global average pool, the 1280-wide layer, dropout, logits")
def MobileNetV4(inputs, config="conv_small", alpha=1.0, *, name="mobilenetv4", dropout_rate=0.0,
                drop_path_rate=0.0, classes):
    """MobileNetV4 `config` (a key of CONFIGS; Qin et al. 2024) of width multiplier `alpha`."""
    B.check_choice(name, "config", config, tuple(CONFIGS))
    M.check_alpha(name, alpha)
    spec = CONFIGS[config]
    act = spec["act"]

    def width(channels):
        return make_divisible(channels * alpha)

    stem = spec["stem"] if alpha < 1 else width(spec["stem"])  # timm's fix_stem
    x = M.conv_norm_act(inputs, stem, 3, strides=2, act=act, norm=NORM, name="stem")
    features = [(2, x)]
    table = [[dict(row, block=BLOCKS[row["block"]], filters=width(row["filters"]), act=act,
                   layer_scale=spec["layer_scale"]) for row in rows] for rows in spec["stages"]]
    x, stage_features = M.stages(x, table, drop_path_rate=drop_path_rate)
    features += stage_features
    # timm's head_norm head: the pooled 1x1 convolution without bias, then BatchNorm.
    head = M.efficient_head(classes, PRE_LOGITS_WIDTH, act=act, dropout_rate=dropout_rate,
                            norm=NORM,
                            pre_logits_initializers=(initializers.HE_NORMAL_FAN_OUT, None),
                            logits_initializers=(initializers.UNIFORM_FAN_OUT, "zeros"))
    return A.Network(x, features, head=head)


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    alpha: width multiplier (timm's round_channels; 1.0 has reference counts).
    dropout_rate: dropout before the logits layer (timm's default 0).
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm).
""" + MobileNetV4.args_doc


# Checkpoint names: timm's MobileNetV3 class. blocks.{s-1}.{b-1} for stage{s}_block{b}.
TIMM_TOP = {"stem_conv": "conv_stem", "stem_bn": "bn1", "pre_logits": "conv_head",
            "pre_logits_bn": "norm_head", "logits": "classifier"}
TIMM_BLOCK = {
    # ConvBnAct
    "conv": "conv", "bn": "bn1",
    # EdgeResidual
    "fused_conv": "conv_exp", "fused_bn": "bn1",
    # UniversalInvertedResidual
    "start_dw_conv": "dw_start.conv", "start_dw_bn": "dw_start.bn",
    "expand_conv": "pw_exp.conv", "expand_bn": "pw_exp.bn",
    "mid_dw_conv": "dw_mid.conv", "mid_dw_bn": "dw_mid.bn",
    # MobileAttention
    "norm": "norm", "query_conv": "attn.query.proj",
    "key_down_conv": "attn.key.down_conv", "key_down_bn": "attn.key.norm",
    "key_conv": "attn.key.proj",
    "value_down_conv": "attn.value.down_conv", "value_down_bn": "attn.value.norm",
    "value_conv": "attn.value.proj", "output_conv": "attn.output.proj",
    "layer_scale": "layer_scale",
}


def timm_names(path, model):
    match = M.BLOCK.fullmatch(path)
    if not match:
        return TIMM_TOP.get(path)
    stage, block, part = match.groups()
    prefix = f"blocks.{int(stage) - 1}.{int(block) - 1}"
    if part in ("project_conv", "project_bn"):  # EdgeResidual's conv_pwl/bn2, UIR's pw_proj
        fused = f"stage{stage}_block{block}_fused_conv" in M.layer_names(model)
        return f"{prefix}." + ({"project_conv": "conv_pwl", "project_bn": "bn2"}[part] if fused
                               else {"project_conv": "pw_proj.conv",
                                     "project_bn": "pw_proj.bn"}[part])
    part = TIMM_BLOCK.get(part)
    return part and f"{prefix}.{part}"


CHECKPOINTS = {"timm": weights.CheckpointMap(timm_names, head=("classifier.",),
                                             norm_epsilon=NORM.epsilon)}


register = functools.partial(registry.register_model, family="MobileNetV4", paper=PAPER,
                             doc=DOCSTRING)


def timm_preprocessing(size, crop_pct):
    """The input size and crop of timm's first pretrained configuration of the variant."""
    return registry.Preprocessing(input_size=(size, size, 3), interpolation="bicubic",
                                  crop_pct=crop_pct)


@register("mobilenetv4_conv_small", reference=("timm", "mobilenetv4_conv_small"),
          preprocessing=timm_preprocessing(224, 0.875))
def MobileNetV4ConvSmall(**kwargs):
    """MobileNetV4-Conv-S (Qin et al. 2024, table 8)."""
    return MobileNetV4(**{"config": "conv_small", "name": "mobilenetv4_conv_small", **kwargs})


@register("mobilenetv4_conv_medium", reference=("timm", "mobilenetv4_conv_medium"),
          preprocessing=timm_preprocessing(256, 0.95))
def MobileNetV4ConvMedium(**kwargs):
    """MobileNetV4-Conv-M (Qin et al. 2024, table 9)."""
    return MobileNetV4(**{"config": "conv_medium", "name": "mobilenetv4_conv_medium", **kwargs})


@register("mobilenetv4_conv_large", reference=("timm", "mobilenetv4_conv_large"),
          preprocessing=timm_preprocessing(384, 0.95))
def MobileNetV4ConvLarge(**kwargs):
    """MobileNetV4-Conv-L (Qin et al. 2024, table 10)."""
    return MobileNetV4(**{"config": "conv_large", "name": "mobilenetv4_conv_large", **kwargs})


@register("mobilenetv4_hybrid_medium", reference=("timm", "mobilenetv4_hybrid_medium"),
          preprocessing=timm_preprocessing(256, 0.95))
def MobileNetV4HybridMedium(**kwargs):
    """MobileNetV4-Hybrid-M (Qin et al. 2024, table 11): Mobile MQA in the last two stages."""
    return MobileNetV4(**{"config": "hybrid_medium", "name": "mobilenetv4_hybrid_medium",
                          **kwargs})


@register("mobilenetv4_hybrid_large", reference=("timm", "mobilenetv4_hybrid_large"),
          preprocessing=timm_preprocessing(384, 0.95))
def MobileNetV4HybridLarge(**kwargs):
    """MobileNetV4-Hybrid-L (Qin et al. 2024, table 12): Mobile MQA, GELU."""
    return MobileNetV4(**{"config": "hybrid_large", "name": "mobilenetv4_hybrid_large",
                          **kwargs})


__all__ = ["MobileNetV4", "MobileNetV4ConvSmall", "MobileNetV4ConvMedium",
           "MobileNetV4ConvLarge", "MobileNetV4HybridMedium", "MobileNetV4HybridLarge"]
