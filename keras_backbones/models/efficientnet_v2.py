"""EfficientNetV2 (Tan & Le 2021): S, M and L as torchvision's `efficientnet_v2_s/m/l`, and B0
as timm's `tf_efficientnetv2_b0` (a port of the official TensorFlow model).

Table 4 of the paper (S; M and L from the official code, as torchvision): a 3x3 stride-2 stem,
Fused-MBConv stages first (MBConv's 1x1 expansion and depthwise convolution fused into one
3x3 convolution, no squeeze-and-excitation; expansion 1 is a single 3x3 convolution), MBConv
stages after (3x3 depthwise, squeeze-and-excitation reduced to a quarter of the block's input
width, SiLU inside, sigmoid gate), a 1x1 convolution to 1280 channels, global pooling,
dropout and the classifier; SiLU throughout. Stochastic depth on every residual branch, rising
linearly with the block index (drop_path_rate x i / N; 0.2, the paper's survival 0.8).

BatchNorm epsilon 1e-3 (the TensorFlow original's), PyTorch momentum 0.1 as both references.
S, M and L pad as PyTorch (symmetric k // 2, torchvision); B0 pads as TensorFlow's "same"
(asymmetric at a stride: stem, strided fused and depthwise convolutions), as timm's tf_ port
of the official weights does. Convolutions are He normal over the fan-out, the classifier
U(+-1 / sqrt(classes)) with a zero bias; depthwise kernels as each reference draws them:
torchvision counts the fan-out of a depthwise kernel as C x k x k (S, M, L), timm and the
official code as k x k (B0). The former also keeps the 40-79-block networks usable at
initialization: with k x k, inference at init (BatchNorm an identity) grows M's and L's
logits to 1e5-1e7 through the residual stream, past what int8 can follow. Default input sizes
are the evaluation sizes of the paper (384, 480, 480; B0 224).
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M
from keras_backbones.models import efficientnet as V1

PAPER = registry.Paper("EfficientNetV2: Smaller Models and Faster Training", 2021, "2104.00298")

FUSED, MBCONV = "fused", "mbconv"
# Per stage: (block, expansion, stride, output channels, repeats); every kernel is 3x3, every
# MBConv stage has squeeze-and-excitation (0.25 of its input), no Fused-MBConv stage has.
CONFIGS = {
    # timm's _gen_efficientnetv2_base (the official v2_base_block).
    "b0": dict(stem=32, padding="same", torchvision_init=False, stages=[
        (FUSED, 1, 1, 16, 1), (FUSED, 4, 2, 32, 2), (FUSED, 4, 2, 48, 2),
        (MBCONV, 4, 2, 96, 3), (MBCONV, 6, 1, 112, 5), (MBCONV, 6, 2, 192, 8)]),
    "s": dict(stem=24, padding="torch", torchvision_init=True, stages=[
        (FUSED, 1, 1, 24, 2), (FUSED, 4, 2, 48, 4), (FUSED, 4, 2, 64, 4),
        (MBCONV, 4, 2, 128, 6), (MBCONV, 6, 1, 160, 9), (MBCONV, 6, 2, 256, 15)]),
    "m": dict(stem=24, padding="torch", torchvision_init=True, stages=[
        (FUSED, 1, 1, 24, 3), (FUSED, 4, 2, 48, 5), (FUSED, 4, 2, 80, 5),
        (MBCONV, 4, 2, 160, 7), (MBCONV, 6, 1, 176, 14), (MBCONV, 6, 2, 304, 18),
        (MBCONV, 6, 1, 512, 5)]),
    "l": dict(stem=32, padding="torch", torchvision_init=True, stages=[
        (FUSED, 1, 1, 32, 4), (FUSED, 4, 2, 64, 7), (FUSED, 4, 2, 96, 7),
        (MBCONV, 4, 2, 192, 10), (MBCONV, 6, 1, 224, 19), (MBCONV, 6, 2, 384, 25),
        (MBCONV, 6, 1, 640, 7)]),
}
KERNEL = 3
SE_RATIO = 0.25  # of the block's input width
HEAD_WIDTH = 1280
NORM = M.Norm(epsilon=1e-3, momentum=0.1)


def torchvision_depthwise_init(channels):
    """A depthwise kernel as torchvision initializes it: kaiming_normal_(mode="fan_out") on a
    (C, 1, k, k) weight counts C x k x k (PyTorch does not divide by the groups),
    N(0, 2 / (C k k)), where `_mobile` draws the official code's and timm's N(0, 2 / (k k))."""
    return {"class_name": "VarianceScaling",
            "config": {"scale": 2.0 / channels, "mode": "fan_out",
                       "distribution": "untruncated_normal"}}


def block_table(stages, *, padding, depthwise_initializer, norm=NORM):
    """`_mobile.stages` rows of a CONFIGS stage list."""
    table = []
    for block, expansion, stride, filters, repeats in stages:
        rows = []
        for b in range(repeats):
            kwargs = dict(filters=filters, expansion=expansion, kernel_size=KERNEL,
                          strides=stride if b == 0 else 1, activation="swish", norm=norm,
                          padding=padding)
            if block == FUSED:
                rows.append(dict(kwargs, block=M.fused_inverted_residual))
            else:
                rows.append(dict(kwargs, se_ratio=SE_RATIO / expansion,
                                 depthwise_initializer=depthwise_initializer))
        table.append(rows)
    return table


@A.application(default_size=384, head="global average pool, dropout, logits")
def EfficientNetV2(inputs, config="s", *, padding=None, norm_epsilon=1e-3, norm_momentum=0.1,
                   name="efficientnet_v2", dropout_rate=0.2, drop_path_rate=0.2):
    """EfficientNetV2 `config` ("b0", "s", "m" or "l"; Tan & Le 2021); padding None: the
    reference's."""
    B.check_choice(name, "config", config, tuple(CONFIGS))
    spec = CONFIGS[config]
    padding = spec["padding"] if padding is None else padding
    B.check_choice(name, "padding", padding, M.PADDINGS)
    V1.check_drop_path_rate(name, drop_path_rate)
    norm = M.Norm(epsilon=norm_epsilon, momentum=norm_momentum)
    x = M.conv_norm_act(inputs, spec["stem"], 3, strides=2, act="swish", norm=norm,
                        padding=padding, name="stem")
    features = [(2, x)]
    table = block_table(spec["stages"], padding=padding, norm=norm, depthwise_initializer=(
        torchvision_depthwise_init if spec["torchvision_init"]
        else initializers.HE_NORMAL_FAN_OUT))
    x, stage_features = M.stages(x, table, drop_path_rate=drop_path_rate)
    x = M.conv_norm_act(x, HEAD_WIDTH, 1, act="swish", norm=norm, name="head")
    features += [*stage_features, (32, x)]
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=(initializers.UNIFORM_FAN_OUT, "zeros"))


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    padding: "torch" (symmetric, PyTorch's) or "same" (TensorFlow's); None: the reference's
        (torchvision's S/M/L "torch", timm's tf_ B0 "same").
    norm_epsilon, norm_momentum: BatchNorm epsilon (1e-3) and PyTorch momentum (0.1, the
        references'; Keras's is 1 - it). The paper trains with momentum 0.01 (TensorFlow's
        0.99).
    dropout_rate: dropout before the logits layer (the official final rate of the variant).
    drop_path_rate: stochastic depth, rising linearly over the blocks from 0 (the rate x
        i / N of block i of N; 0.2 as the paper).
""" + EfficientNetV2.args_doc


# Checkpoint names. torchvision: as its EfficientNet (efficientnet.torchvision_names). timm:
# blocks.{s-1}.{b-1}; a Fused-MBConv is an EdgeResidual (conv_exp, bn1, conv_pwl, bn2), or a
# ConvBnAct (conv, bn1) at expansion 1.
TIMM_FUSED = {True: {"fused_conv": "conv_exp", "fused_bn": "bn1", "project_conv": "conv_pwl",
                     "project_bn": "bn2"},
              False: {"fused_conv": "conv", "fused_bn": "bn1"}}
_TIMM = M.timm_names()


def timm_names(path, model):
    match = M.BLOCK.fullmatch(path)
    names = M.layer_names(model)
    if not match or f"stage{match.group(1)}_block{match.group(2)}_fused_conv" not in names:
        return _TIMM(path, model)
    stage, block, part = match.groups()
    projects = f"stage{stage}_block{block}_project_conv" in names
    part = TIMM_FUSED[projects].get(part)
    return part and f"blocks.{int(stage) - 1}.{int(block) - 1}.{part}"


CHECKPOINTS = {
    "torchvision": weights.CheckpointMap(V1.torchvision_names, head=("classifier.",),
                                         norm_epsilon=NORM.epsilon),
    "timm": weights.CheckpointMap(timm_names, head=("classifier.",), norm_epsilon=NORM.epsilon),
}


register = functools.partial(registry.register_model, family="EfficientNetV2", paper=PAPER,
                             doc=DOCSTRING)


def _build(config, dropout, kwargs):
    return EfficientNetV2(config, **{"name": f"efficientnet_v2_{config}", "dropout_rate": dropout,
                                     **kwargs})


@register("efficientnet_v2_b0", reference=("timm", "tf_efficientnetv2_b0"),
          preprocessing=registry.Preprocessing(interpolation="bicubic"))
def EfficientNetV2B0(**kwargs):
    """EfficientNetV2-B0 (Tan & Le 2021): the smallest of the base family, TF padding."""
    return _build("b0", 0.2, kwargs)


@register("efficientnet_v2_s", reference=("torchvision", "efficientnet_v2_s"),
          preprocessing=registry.Preprocessing(input_size=(384, 384, 3), crop_pct=1.0))
def EfficientNetV2S(**kwargs):
    """EfficientNetV2-S (Tan & Le 2021, table 4)."""
    return _build("s", 0.2, kwargs)


@register("efficientnet_v2_m", reference=("torchvision", "efficientnet_v2_m"),
          preprocessing=registry.Preprocessing(input_size=(480, 480, 3), crop_pct=1.0))
def EfficientNetV2M(**kwargs):
    """EfficientNetV2-M (Tan & Le 2021)."""
    return _build("m", 0.3, kwargs)


@register("efficientnet_v2_l", reference=("torchvision", "efficientnet_v2_l"),
          preprocessing=registry.Preprocessing(
              input_size=(480, 480, 3), interpolation="bicubic", crop_pct=1.0,
              mean=registry.INCEPTION_MEAN, std=registry.INCEPTION_STD))
def EfficientNetV2L(**kwargs):
    """EfficientNetV2-L (Tan & Le 2021)."""
    return _build("l", 0.4, kwargs)


__all__ = ["EfficientNetV2", "EfficientNetV2B0", "EfficientNetV2S", "EfficientNetV2M",
           "EfficientNetV2L"]
