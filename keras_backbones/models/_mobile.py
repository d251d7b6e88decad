"""What the mobile families share: the inverted residual block (MBConv) of MobileNetV2, MNASNet,
MobileNetV3 and the EfficientNets (with expansion 1 and an activated projection, it is
MobileNetV1's depthwise-separable block), EfficientNetV2's Fused-MBConv (MobileNetV4's
FusedIB), the conv-norm-act and depthwise-norm-act units that GhostNet and MobileNetV4 build
their own blocks from, PyTorch's ("torch") or TensorFlow's ("same") padding, the stage walker
that names and strides the blocks, and timm's names for checkpoint import.

Block layers are named `{name}_expand_conv/_bn/_act`, `{name}_dw_conv/_bn/_act`, `{name}_se`,
`{name}_project_conv/_bn[/_act]`, `{name}_eca`, `{name}_layer_scale`, `{name}_drop_path`,
`{name}_add`.

Initialization follows the TensorFlow references of the papers, which timm reproduces: every
convolution He normal over its fan-out (k x k x out / groups: k x k for a depthwise kernel);
`kernel_initializer` / `initializer` arguments take a reference's other choice (GhostNet's
PyTorch defaults, torchvision's depthwise fan-out).
"""

import re

from keras_backbones import initializers
from keras_backbones.backend import keras
from keras_backbones.layers import ECA, LayerScale, SqueezeExcite, make_divisible
from keras_backbones.models import _builder as B

PADDINGS = ("torch", "same")
Norm = B.Norm


def check_padding(name, padding):
    if padding not in PADDINGS:
        raise ValueError(f"{name}: `padding` must be 'torch' or 'same'; got {padding!r}.")


def conv_norm_act(x, filters, kernel_size, *, name, act=None, norm=Norm(), strides=1,
                  padding="torch", kernel_initializer=initializers.HE_NORMAL_FAN_OUT):
    """`B.conv_norm_act` with the mobile families' defaults (no activation) and padding:
    "torch" (symmetric k // 2, PyTorch's) or "same" (TensorFlow's, asymmetric at a stride:
    the official TF models and timm's tf_ ports); they differ only at a stride."""
    check_padding(name, padding)
    return B.conv_norm_act(x, filters, kernel_size, strides=strides, act=act, norm=norm,
                           padding="same" if padding == "same" else None,
                           kernel_initializer=kernel_initializer, name=name)


def depthwise_conv2d(x, kernel_size, *, name, strides=1, dilation=1, multiplier=1,
                     padding="torch", initializer=initializers.HE_NORMAL_FAN_OUT, use_bias=False):
    """nn.Conv2d(C, C x multiplier, k, groups=C, padding=k // 2 * dilation, bias=use_bias) as a
    DepthwiseConv2D (TFLite's DEPTHWISE_CONV_2D): with padding "torch", explicit symmetric
    padding where TensorFlow's "same" would pad asymmetrically (strided convolutions); with
    "same", TensorFlow's. initializer: an initializer, or a function of the input channels
    returning one (torchvision's, whose fan-out counts them)."""
    check_padding(name, padding)
    if callable(initializer) and not isinstance(initializer, keras.initializers.Initializer):
        initializer = initializer(x.shape[-1])
    pad = (kernel_size - 1) // 2 * dilation
    same = padding == "same" or (strides == 1 and kernel_size % 2 == 1)
    if pad and not same:
        x = keras.layers.ZeroPadding2D(padding=pad, name=f"{name}_pad")(x)
    return keras.layers.DepthwiseConv2D(
        kernel_size=kernel_size, strides=strides, padding="same" if same else "valid",
        dilation_rate=dilation, depth_multiplier=multiplier, use_bias=use_bias,
        depthwise_initializer=initializers.get(initializer), bias_initializer="zeros",
        name=name)(x)


def depthwise_norm_act(x, kernel_size, *, name, act=None, norm=Norm(), **kwargs):
    """`{name}_conv` (`depthwise_conv2d`, its keyword arguments) -> `{name}_bn`
    [-> `{name}_act`]."""
    x = depthwise_conv2d(x, kernel_size, name=f"{name}_conv", **kwargs)
    x = norm(x, name=f"{name}_bn")
    return B.activation(x, act, name=f"{name}_act")


def residual(y, x, *, name, skip=True, drop_path=0.0, layer_scale=None):
    """`B.residual` of the block's input `x` and branch `y` where `skip` and the shapes allow;
    else the branch alone (after its layer scale)."""
    if not skip or tuple(x.shape[1:]) != tuple(y.shape[1:]):
        if layer_scale is not None:
            y = LayerScale(init_value=layer_scale, name=f"{name}_layer_scale")(y)
        return y
    return B.residual(x, y, drop_path=drop_path, layer_scale=layer_scale, name=name)


def inverted_residual(filters, *, name, expansion=1.0, kernel_size=3, strides=1, dilation=1,
                      activation="relu6", se_ratio=0.0, se_divisor=1, se_gate="sigmoid",
                      se_activation=None, eca_kernel_size=None, project_activation=False,
                      skip=True, drop_path=0.0, norm=Norm(), padding="torch",
                      depthwise_initializer=initializers.HE_NORMAL_FAN_OUT):
    """The inverted residual with linear bottleneck (Sandler et al. 2018), "MBConv":

        [1x1 expand, norm, act] -> k x k depthwise (strides, dilation), norm, act -> [SE]
        -> 1x1 project, norm [, act] -> [ECA] -> [drop path] -> [+ input]

    filters: output channels. expansion: the expanded width is make_divisible(C_in x expansion,
    8) (timm's rule; exact for the torchvision references); expansion 1 has no expand
    convolution (the depthwise-separable block of MobileNetV1 and of the first stages).
    activation: a `B.activation` name ("relu", "relu6", "hard_swish", "swish", "gelu", ...).
    se_ratio: squeeze-and-excitation after the depthwise convolution, reduced to
    se_ratio x the expanded width, rounded to a multiple of se_divisor (MobileNetV3: 0.25 and
    8) or, with se_divisor 1, to the nearest integer (MNASNet and EfficientNet, whose ratio is
    of the block's input: pass ratio / expansion). se_gate: "sigmoid" or "hard_sigmoid";
    se_activation: its inner activation (None: the block's).
    eca_kernel_size: efficient channel attention after the projection (ECA-MobileNetV2).
    project_activation: activate the projection (MobileNetV1's pointwise convolution).
    skip: add the input when the shape allows (stride 1, C_in == filters).
    drop_path: stochastic depth of the residual branch. norm: the reference's `Norm`.
    padding, depthwise_initializer: those of the depthwise convolution (`depthwise_conv2d`)."""
    check_padding(name, padding)

    def apply(x):
        channels = x.shape[-1]
        y = x
        if expansion != 1:
            channels = make_divisible(channels * expansion)
            y = conv_norm_act(y, channels, 1, act=activation, norm=norm, name=f"{name}_expand")
        y = depthwise_norm_act(y, kernel_size, strides=strides, dilation=dilation,
                               padding=padding, initializer=depthwise_initializer,
                               act=activation, norm=norm, name=f"{name}_dw")
        if se_ratio:
            reduced = (make_divisible(channels * se_ratio, se_divisor) if se_divisor > 1
                       else round(channels * se_ratio))
            y = SqueezeExcite(rd_channels=reduced, activation=se_activation or activation,
                              gate=se_gate, name=f"{name}_se")(y)
        y = conv_norm_act(y, filters, 1, act=activation if project_activation else None,
                          norm=norm, name=f"{name}_project")
        if eca_kernel_size:
            y = ECA(kernel_size=eca_kernel_size, name=f"{name}_eca")(y)
        return residual(y, x, skip=skip and strides == 1, drop_path=drop_path, name=name)
    return apply


def fused_inverted_residual(filters, *, name, expansion=4.0, kernel_size=3, strides=1,
                            activation="swish", skip=True, drop_path=0.0, norm=Norm(),
                            padding="torch"):
    """The Fused-MBConv of EfficientNetV2 (Tan & Le 2021, figure 2; MobileNetV4's FusedIB):
    MBConv's 1x1 expansion and k x k depthwise convolution fused into one regular k x k
    convolution,

        k x k conv (strides) to make_divisible(C_in x expansion, 8), norm, act
        -> 1x1 project, norm -> [drop path] -> [+ input]

    With expansion 1 the k x k convolution goes straight to `filters`, activated, with no
    projection (torchvision's FusedMBConv, timm's ConvBnAct). skip: add the input when the
    shape allows (stride 1, C_in == filters). padding: "torch" or "same" (`conv_norm_act`).
    Layers: `{name}_fused_conv/_bn/_act`, `{name}_project_conv/_bn`, `{name}_drop_path`,
    `{name}_add`."""
    check_padding(name, padding)

    def apply(x):
        channels = filters if expansion == 1 else make_divisible(x.shape[-1] * expansion)
        y = conv_norm_act(x, channels, kernel_size, strides=strides, act=activation, norm=norm,
                          padding=padding, name=f"{name}_fused")
        if expansion != 1:
            y = conv_norm_act(y, filters, 1, norm=norm, name=f"{name}_project")
        return residual(y, x, skip=skip and strides == 1, drop_path=drop_path, name=name)
    return apply


def stages(x, table, *, stride=2, drop_path_rate=0.0):
    """Runs `table`, one list per stage of keyword arguments per block, naming the blocks
    stage{s}_block{b}: of `inverted_residual`, or of the block function a row names under
    "block" (any taking `name`, `drop_path` and returning `apply(x)`). Stochastic depth rises
    linearly over the blocks from 0 (timm's rule: rate x index / number of blocks); with
    drop_path_rate 0 no block is passed `drop_path`. `stride`: that of the input.

    Returns (x, features): features holds (stride, output) of each stage."""
    rates = B.drop_path_rates(drop_path_rate, sum(len(blocks) for blocks in table),
                              rule="efficientnet")
    index = 0
    features = []
    for s, blocks in enumerate(table, start=1):
        for b, kwargs in enumerate(blocks, start=1):
            kwargs = dict(kwargs)
            block = kwargs.pop("block", inverted_residual)
            if drop_path_rate:
                kwargs["drop_path"] = rates[index]
            x = block(name=f"stage{s}_block{b}", **kwargs)(x)
            stride *= kwargs.get("strides", 1)
            index += 1
        features.append((stride, x))
    return x, features


def efficient_head(classes, width, *, act, dropout_rate, pre_logits_initializers,
                   logits_initializers, norm=None):
    """MobileNetV3's efficient last stage (section 5.1), kept by GhostNet and MobileNetV4:
    `avg_pool` -> `pre_logits` (the references' 1x1 convolution of the pooled map: a Dense
    layer of `width`) [-> `pre_logits_bn`: with `norm`, after a pre_logits without bias,
    MobileNetV4's] -> `pre_logits_act` -> [`head_dropout`] -> `logits`. The initializers:
    (kernel, bias) of each Dense layer (bias None: nn.Linear's default)."""
    def apply(x):
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        kernel, bias = pre_logits_initializers
        if norm is None:
            x = B.dense(x, width, name="pre_logits", kernel_initializer=kernel,
                        bias_initializer=bias)
        else:
            x = keras.layers.Dense(units=width, use_bias=False,
                                   kernel_initializer=initializers.get(kernel),
                                   name="pre_logits")(x)
            x = norm(x, name="pre_logits_bn")
        x = B.activation(x, act, name="pre_logits_act")
        if dropout_rate:
            x = keras.layers.Dropout(rate=dropout_rate, name="head_dropout")(x)
        kernel, bias = logits_initializers
        return B.dense(x, classes, name="logits", kernel_initializer=kernel,
                       bias_initializer=bias)
    return apply


def check_alpha(name, alpha):
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or alpha <= 0:
        raise ValueError(f"{name}: `alpha` (the width multiplier) must be a positive number; "
                         f"got {alpha!r}.")


# --- checkpoint names -----------------------------------------------------------------------

BLOCK = B.BLOCK  # stage{s}_block{b}_{part}


def layer_names(model):
    return {layer.name for layer in model.layers}


def block_prefixes(model):
    """stage{s}_block{b} of every block, in network order (torchvision's flat indices)."""
    return [m.group(1) for layer in model.layers
            if (m := re.fullmatch(r"(stage\d+_block\d+)_dw_conv", layer.name))]


# timm's _efficientnet_blocks: InvertedResidual (with an expand convolution) and
# DepthwiseSeparableConv (without).
TIMM_BLOCK = {
    True: {"expand_conv": "conv_pw", "expand_bn": "bn1", "dw_conv": "conv_dw", "dw_bn": "bn2",
           "project_conv": "conv_pwl", "project_bn": "bn3"},
    False: {"dw_conv": "conv_dw", "dw_bn": "bn1", "project_conv": "conv_pw", "project_bn": "bn2"},
}
TIMM_SE = {"se/reduce": "se.conv_reduce", "se/expand": "se.conv_expand"}
TIMM_TOP = {"stem_conv": "conv_stem", "stem_bn": "bn1", "head_conv": "conv_head",
            "head_bn": "bn2", "logits": "classifier"}


def timm_names(top=None):
    """The names function of timm's EfficientNet / MobileNetV3 classes: blocks.{s-1}.{b-1}
    for stage{s}_block{b}; `top` overrides TIMM_TOP (MobileNetV3's head)."""
    top = {**TIMM_TOP, **(top or {})}

    def names(path, model):
        match = BLOCK.fullmatch(path)
        if not match:
            return top.get(path)
        stage, block, part = match.groups()
        expands = f"stage{stage}_block{block}_expand_conv" in layer_names(model)
        part = {**TIMM_BLOCK[expands], **TIMM_SE}.get(part)
        return part and f"blocks.{int(stage) - 1}.{int(block) - 1}.{part}"
    return names
