"""Dual Path Networks (Chen et al. 2017), as timm's `dpn.py` builds them (`dpn68` ... `dpn131`,
the weights of the authors' MXNet models, cypw/DPNs).

A dual path block shares one bottleneck between a residual path and a densely connected path:
1x1 (reduce) -> grouped 3x3 -> 1x1 (expand) to `bw + inc` channels, every convolution preceded
by its BatchNorm and ReLU (pre-activation, timm's BnActConv2d); of the output, the first `bw`
channels are added to the first `bw` of the block's input (the residual path, ResNet-like)
and the other `inc` are appended to the rest of its input (the dense path, DenseNet-like).
The first block of each stage projects its input (pre-activated 1x1, strided in stages 2-4)
to `bw + 2 * inc` channels, so a stage of k blocks ends with bw + (k + 2) * inc channels.

Stages (paper, table 1): bw = 256, 512, 1024, 2048 (64 x 2^i for the small dpn68), the
bottleneck width r = k_r x 2^i in `groups` groups, blocks k_sec, growth inc_sec. The stem is a
7x7/2 conv (3x3/2 in dpn68) with BatchNorm and ReLU and a 3x3/2 max pool; the network ends
with a BatchNorm and a ReLU (timm's conv5_bn_ac, "CatBnAct"; measured against timm 1.0.31,
whose `get_norm_act_layer(norm_layer, act_layer="elu")` on the already-ReLU partial keeps the
ReLU; older timm passed `act_layer=nn.ELU` to BatchNormAct2d itself, which
`final_activation="elu"` reproduces), global average pooling and the classifier (a 1x1
convolution with bias in timm, here the equivalent Dense layer `logits`; the import reshapes its
(classes, C, 1, 1) weight).
BatchNorm epsilon 1e-3 throughout (the MXNet models'); PyTorch's default initialization (timm
re-initializes nothing).

features_only returns the stem (stride 2), the outputs of stages 1-3 and, at stride 32, the
last stage after the final BatchNorm and activation.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers.dual_path import DualPathMerge
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("Dual Path Networks", 2017, "1707.01629")

NORM = B.Norm(epsilon=1e-3)  # the MXNet models' BatchNorm
CONV_INIT = initializers.TORCH_DEFAULT_UNIFORM  # nn.Conv2d's default: U(+-1 / sqrt(fan_in))

# timm's model_args (the paper's table 1): stem width, small stem (dpn68), k_r, groups,
# blocks per stage k_sec, dense growth per block inc_sec.
CONFIGS = {
    "dpn68": dict(num_init_features=10, small=True, k_r=128, groups=32,
                  k_sec=(3, 4, 12, 3), inc_sec=(16, 32, 32, 64)),
    "dpn92": dict(num_init_features=64, small=False, k_r=96, groups=32,
                  k_sec=(3, 4, 20, 3), inc_sec=(16, 32, 24, 128)),
    "dpn98": dict(num_init_features=96, small=False, k_r=160, groups=40,
                  k_sec=(3, 6, 20, 3), inc_sec=(16, 32, 32, 128)),
    "dpn107": dict(num_init_features=128, small=False, k_r=200, groups=50,
                   k_sec=(4, 8, 20, 3), inc_sec=(20, 64, 64, 128)),
    "dpn131": dict(num_init_features=128, small=False, k_r=160, groups=40,
                   k_sec=(4, 8, 28, 3), inc_sec=(16, 32, 32, 128)),
}
FINAL_ACTIVATIONS = ("relu", "elu")
STAGE_BASE = (64, 128, 256, 512)  # bw = base x 4 (x 1 small); r = k_r x base / 64


def bn_act_conv(x, filters, kernel, *, name, strides=1, groups=1):
    """BatchNorm -> ReLU -> conv: `{name}_bn`, `{name}_relu`, `{name}_conv`."""
    x = NORM(x, name=f"{name}_bn")
    x = B.activation(x, "relu", name=f"{name}_relu")
    return B.conv2d(x, filters, kernel, strides=strides, groups=groups, name=f"{name}_conv",
                    kernel_initializer=CONV_INIT)


def dual_path_block(r, bw, inc, groups, *, block_type, name):
    """block_type "proj" (first block of stage 1), "down" (first of stages 2-4, strided) or
    "normal"."""
    stride = 2 if block_type == "down" else 1

    def apply(x):
        shortcut = x
        if block_type != "normal":
            shortcut = bn_act_conv(x, bw + 2 * inc, 1, strides=stride, name=f"{name}_proj")
        y = bn_act_conv(x, r, 1, name=f"{name}_reduce")
        y = bn_act_conv(y, r, 3, strides=stride, groups=groups, name=f"{name}_grouped")
        y = bn_act_conv(y, bw + inc, 1, name=f"{name}_expand")
        return DualPathMerge(residual_channels=bw, name=f"{name}_merge")([shortcut, y])
    return apply


@A.application(weights_note="the portable format, or a timm state dict")
def DPN(inputs, k_sec, inc_sec, *, k_r, groups, num_init_features=64, small=False,
        final_activation="relu", name="dpn", dropout_rate=0.0):
    """Builds a Dual Path Network.

    k_sec: blocks per stage; inc_sec: channels each block adds to the dense path, per stage;
    k_r: bottleneck width of stage 1 (x 2, 4, 8 in stages 2-4); groups: groups of the 3x3;
    num_init_features: stem width; small: the dpn68 stem (3x3) and residual widths (bw / 4).
    final_activation: after the last BatchNorm, "relu" (timm 1.0.31) or "elu" (older timm).
    """
    B.check_choice(name, "final_activation", final_activation, FINAL_ACTIVATIONS)
    k_sec = B.check_per_stage(name, "k_sec", k_sec)
    inc_sec = B.check_per_stage(name, "inc_sec", inc_sec)
    B.check_positive_ints(name, k_r=k_r, groups=groups, num_init_features=num_init_features)
    bad = [k_r * base // 64 for base in STAGE_BASE if (k_r * base // 64) % groups]
    if bad:
        raise ValueError(f"{name}: the bottleneck widths {bad} (k_r={k_r} x 1, 2, 4, 8) do not "
                         f"split into groups={groups}.")

    x = B.conv_norm_act(inputs, num_init_features, 3 if small else 7, strides=2, norm=NORM,
                        kernel_initializer=CONV_INIT, name="stem", act_name="relu")
    features = [(2, x)]
    x = B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    bw_factor = 1 if small else 4
    for s, (base, blocks, inc) in enumerate(zip(STAGE_BASE, k_sec, inc_sec), start=1):
        bw, r = base * bw_factor, k_r * base // 64
        for b in range(1, blocks + 1):
            block_type = "normal" if b > 1 else ("proj" if s == 1 else "down")
            x = dual_path_block(r, bw, inc, groups, block_type=block_type,
                                name=f"stage{s}_block{b}")(x)
        if s < 4:
            features.append((2 ** (s + 1), x))
    x = NORM(x, name="final_bn")
    # An Activation layer for "relu" too (B.activation's is a ReLU layer): the class that
    # saved models hold, whichever activation is chosen.
    x = keras.layers.Activation(final_activation, name="final_act")(x)
    features.append((32, x))
    return A.Network(x, features, dropout_rate=dropout_rate)


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer (0 in timm's models).
    final_activation: "relu" (default, timm 1.0.31) or "elu" (older timm).
""" + DPN.args_doc

# timm's state-dict names: features.conv1_1.{conv,bn}; block b of stage s is
# features.conv{s + 1}_{b} with c1x1_w_s1 (stage 1) or c1x1_w_s2 (the strided projection),
# c1x1_a, c3x3_b, c1x1_c, each a .bn and a .conv; features.conv5_bn_ac.bn; the classifier.
BLOCK_PARTS = {"reduce": "c1x1_a", "grouped": "c3x3_b", "expand": "c1x1_c"}
REFERENCE_NAMES = {"stem_conv": "features.conv1_1.conv", "stem_bn": "features.conv1_1.bn",
                   "final_bn": "features.conv5_bn_ac.bn", "logits": "classifier"}


def _block_part(part, stage):
    unit, _, kind = part.rpartition("_")
    module = ("c1x1_w_s1" if stage == 1 else "c1x1_w_s2") if unit == "proj" else \
        BLOCK_PARTS.get(unit)
    return f"{module}.{kind}" if module and kind in ("bn", "conv") else None


reference_name = B.checkpoint_names(
    REFERENCE_NAMES, lambda stage, block: f"features.conv{stage + 1}_{block}", _block_part)


CHECKPOINTS = {"timm": weights.CheckpointMap(reference_name, head=("classifier.",),
                                             norm_epsilon=NORM.epsilon)}

# timm's default_cfg: bicubic, crop 0.875, the MXNet models' mean and std (0-255 -> /255).
DPN_PREPROCESSING = registry.Preprocessing(
    mean=(124 / 255, 117 / 255, 104 / 255), std=(1 / (0.0167 * 255),) * 3,
    interpolation="bicubic")


register = functools.partial(registry.register_model, family="DPN", paper=PAPER,
                             preprocessing=DPN_PREPROCESSING, doc=DOCSTRING)


def _build(name, **kwargs):
    return DPN(name=name, **{**CONFIGS[name], **kwargs})


@register("dpn68", reference=("timm", "dpn68"))
def DPN68(**kwargs):
    """DPN-68 (Chen et al. 2017): the small DPN, a 3x3 stem of 10 channels, residual widths
    64-512, k_r 128 in 32 groups, 3-4-12-3 blocks."""
    return _build("dpn68", **kwargs)


@register("dpn92", reference=("timm", "dpn92"))
def DPN92(**kwargs):
    """DPN-92 (Chen et al. 2017): 7x7 stem of 64, k_r 96 in 32 groups, 3-4-20-3 blocks."""
    return _build("dpn92", **kwargs)


@register("dpn98", reference=("timm", "dpn98"))
def DPN98(**kwargs):
    """DPN-98 (Chen et al. 2017): stem 96, k_r 160 in 40 groups, 3-6-20-3 blocks."""
    return _build("dpn98", **kwargs)


@register("dpn107", reference=("timm", "dpn107"))
def DPN107(**kwargs):
    """DPN-107 (Chen et al. 2017): stem 128, k_r 200 in 50 groups, 4-8-20-3 blocks."""
    return _build("dpn107", **kwargs)


@register("dpn131", reference=("timm", "dpn131"))
def DPN131(**kwargs):
    """DPN-131 (Chen et al. 2017): stem 128, k_r 160 in 40 groups, 4-8-28-3 blocks."""
    return _build("dpn131", **kwargs)


__all__ = ["DPN", "DPN68", "DPN92", "DPN98", "DPN107", "DPN131"]
