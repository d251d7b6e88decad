"""MNASNet (Tan et al. 2018): torchvision's `mnasnet0_5/0_75/1_0/1_3` (the B1 network of the
official TensorFlow code) and timm's `mnasnet_small`.

A 3x3 stride-2 stem, a depthwise-separable block (3x3 depthwise, 1x1 projection without
activation), six stages of inverted residuals (MBConv3/6 with 3x3 or 5x5 depthwise
convolutions, ReLU), a 1x1 convolution to 1280 channels, global pooling, dropout and the
classifier. B1 has no squeeze-and-excitation (the paper's searched A1, figure 7, has it);
mnasnet_small, timm's port of the official small model, has it in its middle stages (reduced
to a quarter of the block's input width, ReLU inside, sigmoid gate) and an 8-channel stem.

torchvision's width multiplier `alpha` scales the stem and every stage (rounded to a multiple
of 8, rounding up unless that adds more than 10%: make_divisible); the 1280-channel head is
not scaled.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.layers import make_divisible
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("MnasNet: Platform-Aware Neural Architecture Search for Mobile", 2018,
                       "1807.11626")

# Per stage: (expansion, output channels, repeats, stride, kernel, SE ratio of the input). The
# first stage is the depthwise-separable block (expansion 1).
CONFIGS = {
    "b1": dict(stem=32, separable_skip=False, stages=[
        (1, 16, 1, 1, 3, 0), (3, 24, 3, 2, 3, 0), (3, 40, 3, 2, 5, 0), (6, 80, 3, 2, 5, 0),
        (6, 96, 2, 1, 3, 0), (6, 192, 4, 2, 5, 0), (6, 320, 1, 1, 3, 0)]),
    "small": dict(stem=8, separable_skip=True, stages=[
        (1, 8, 1, 1, 3, 0), (3, 16, 1, 2, 3, 0), (6, 16, 2, 2, 3, 0), (6, 32, 4, 2, 5, 0.25),
        (6, 32, 3, 1, 3, 0.25), (6, 88, 3, 2, 5, 0.25), (6, 144, 1, 1, 3, 0)]),
}
HEAD_WIDTH = 1280
NORMS = {"b1": M.Norm(epsilon=1e-5, momentum=3e-4),  # torchvision: the paper's TF decay 0.9997
         "small": M.Norm(epsilon=1e-5, momentum=0.1)}  # timm
# The classifier's initialization: torchvision's kaiming_uniform_(mode="fan_out",
# nonlinearity="sigmoid") is U(+-sqrt(3 / classes)); timm's U(+-1 / sqrt(classes)). Biases zero.
LOGITS_INITS = {
    "b1": {"class_name": "VarianceScaling",
           "config": {"scale": 1.0, "mode": "fan_out", "distribution": "uniform"}},
    "small": initializers.UNIFORM_FAN_OUT,
}


@A.application(head="global average pool, dropout, logits")
def MNASNet(inputs, alpha=1.0, config="b1", *, name="mnasnet", dropout_rate=0.2,
            drop_path_rate=0.0):
    """MNASNet `config` ("b1" or "small"; Tan et al. 2018) of width multiplier `alpha`."""
    B.check_choice(name, "config", config, tuple(CONFIGS))
    M.check_alpha(name, alpha)
    spec, norm = CONFIGS[config], NORMS[config]

    def width(channels):
        return make_divisible(channels * alpha)

    x = M.conv_norm_act(inputs, width(spec["stem"]), 3, strides=2, act="relu", norm=norm,
                        name="stem")
    features = [(2, x)]
    table = [[dict(filters=width(c), expansion=t, kernel_size=k, strides=s if b == 0 else 1,
                   activation="relu", se_ratio=se / t, norm=norm,
                   skip=t != 1 or spec["separable_skip"]) for b in range(n)]
             for t, c, n, s, k, se in spec["stages"]]
    x, stage_features = M.stages(x, table, drop_path_rate=drop_path_rate)
    x = M.conv_norm_act(x, HEAD_WIDTH, 1, act="relu", norm=norm, name="head")
    features += [*stage_features, (32, x)]
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=(LOGITS_INITS[config], "zeros"))


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer.
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm's
        rule; 0 in the references).
""" + MNASNet.args_doc


# Checkpoint names. torchvision: one nn.Sequential `layers`: the stem (0, 1), the separable
# block (3, 4, 6, 7), stacks 8-13 of _InvertedResidual (each an nn.Sequential `layers`:
# expand 0, 1; depthwise 3, 4; project 6, 7), the head (14, 15); then classifier.1.
TORCHVISION_TOP = {"stem_conv": "layers.0", "stem_bn": "layers.1",
                   "stage1_block1_dw_conv": "layers.3", "stage1_block1_dw_bn": "layers.4",
                   "stage1_block1_project_conv": "layers.6", "stage1_block1_project_bn": "layers.7",
                   "head_conv": "layers.14", "head_bn": "layers.15", "logits": "classifier.1"}
TORCHVISION_BLOCK = {"expand_conv": 0, "expand_bn": 1, "dw_conv": 3, "dw_bn": 4,
                     "project_conv": 6, "project_bn": 7}


def torchvision_names(path, model=None):
    match = M.BLOCK.fullmatch(path)
    if path in TORCHVISION_TOP or not match or match.group(3) not in TORCHVISION_BLOCK:
        return TORCHVISION_TOP.get(path)
    stage, block, part = match.groups()
    return f"layers.{6 + int(stage)}.{int(block) - 1}.layers.{TORCHVISION_BLOCK[part]}"


CHECKPOINTS = {"torchvision": weights.CheckpointMap(torchvision_names, head=("classifier.",)),
               "timm": weights.CheckpointMap(M.timm_names(), head=("classifier.",))}


register = functools.partial(registry.register_model, family="MNASNet", paper=PAPER,
                             doc=DOCSTRING)


@register("mnasnet_small", reference=("timm", "mnasnet_small"),
          preprocessing=registry.Preprocessing(interpolation="bicubic"))
def MNASNetSmall(**kwargs):
    """MNASNet-small (Tan et al. 2018): 8-channel stem, squeeze-and-excitation in the middle."""
    return MNASNet(1.0, "small", **{"name": "mnasnet_small", **kwargs})


@register("mnasnet0_5", reference=("torchvision", "mnasnet0_5"))
def MNASNet0_5(**kwargs):
    """MNASNet-B1 at width 0.5 (Tan et al. 2018)."""
    return MNASNet(0.5, **{"name": "mnasnet0_5", **kwargs})


@register("mnasnet0_75", reference=("torchvision", "mnasnet0_75"))
def MNASNet0_75(**kwargs):
    """MNASNet-B1 at width 0.75 (Tan et al. 2018)."""
    return MNASNet(0.75, **{"name": "mnasnet0_75", **kwargs})


@register("mnasnet1_0", reference=("torchvision", "mnasnet1_0"))
def MNASNet1_0(**kwargs):
    """MNASNet-B1 (Tan et al. 2018)."""
    return MNASNet(1.0, **{"name": "mnasnet1_0", **kwargs})


@register("mnasnet1_3", reference=("torchvision", "mnasnet1_3"))
def MNASNet1_3(**kwargs):
    """MNASNet-B1 at width 1.3 (Tan et al. 2018)."""
    return MNASNet(1.3, **{"name": "mnasnet1_3", **kwargs})


__all__ = ["MNASNet", "MNASNetSmall", "MNASNet0_5", "MNASNet0_75", "MNASNet1_0",
           "MNASNet1_3"]
