"""HarDNet (Chao et al. 2019) as the official PingoLH/Pytorch-HarDNet code (hardnet.py):
`hardnet39ds`, `hardnet68ds`, `hardnet68` and `hardnet85`.

A harmonic densely connected block (section 3.1 of the paper) of n layers: layer k takes the
concatenation of layers k - 2^j for every 2^j that divides k (layer 0 is the block's input;
the official order: k - 1, k - 2, k - 4, ...), and has growth_rate x m^(links - 1) channels,
rounded to an even number (int((c + 1) / 2) * 2): the channel weighting factor m (1.6 for
HarDNet39, 1.7 for 68 and 85) widens the layers that many later ones read. The block
outputs the concatenation of its odd layers and its last one (the input is not kept). A
layer is 3x3 conv-BN-ReLU6; in the "ds" (depthwise-separable) variants, 1x1 conv-BN-ReLU6 then
3x3 depthwise conv-BN without activation.

The network (Table 1): a 3x3 stride-2 conv-BN-ReLU6 stem and a second conv-BN-ReLU6 (3x3; 1x1
in the ds variants), a 3x3 stride-2 max pool (ds: a 3x3 stride-2 depthwise conv-BN), then per
block a 1x1 conv-BN-ReLU6 transition to the stage's width and, where the table downsamples,
a 2x2 max pool (ds: the depthwise conv-BN); global average pooling, dropout (0.1 for HarDNet68,
0.2 for 85, 0.05 for the ds variants) and the classifier. HarDNet85 also drops 10% of the last
block's output before its transition (the official code). HarDNet39 exists only as ds (the
official code builds no plain one).

Initialization: the official code sets none: PyTorch's default U(+-1/sqrt(fan_in)) for every
convolution (fan-in k x k for a depthwise kernel) and the classifier. BatchNorm: epsilon
1e-5, momentum 0.1.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("HarDNet: A Low Memory Traffic Network", 2019, "1909.00948")
REFERENCE = "official:PingoLH/Pytorch-HarDNet"

# The official code's table per depth: stem widths, m, and per block the growth rate, the
# number of layers, the transition's width and whether a downsampling follows; the dropout
# before the classifier (without ds).
CONFIGS = {
    39: dict(stem=(24, 48), grmul=1.6, dropout=None, blocks=[
        (16, 4, 96, True), (20, 16, 320, True), (64, 8, 640, True), (160, 4, 1024, False)]),
    68: dict(stem=(32, 64), grmul=1.7, dropout=0.1, blocks=[
        (14, 8, 128, True), (16, 16, 256, False), (20, 16, 320, True), (40, 16, 640, True),
        (160, 4, 1024, False)]),
    85: dict(stem=(48, 96), grmul=1.7, dropout=0.2, blocks=[
        (24, 8, 192, True), (24, 16, 256, False), (28, 16, 320, True), (36, 16, 480, False),
        (48, 16, 720, True), (256, 4, 1280, False)]),
}
DS_DROPOUT = 0.05  # the ds variants' dropout before the classifier
LAST_BLOCK_DROPOUT = {85: 0.1}  # the official HarDNet85's nn.Dropout after its last block


def harmonic_links(layer):
    """The layers that layer `layer` (1-based; 0 is the block input) reads: layer - 2^j for
    every 2^j dividing it, nearest first."""
    return [layer - 2 ** j for j in range(10) if layer % 2 ** j == 0]


def harmonic_widths(growth_rate, grmul, n_layers):
    """Output channels of layers 1..n: growth_rate x grmul per link beyond the first, rounded
    to an even number as the official code does (float products, then int((c + 1) / 2) * 2)."""
    widths = []
    for layer in range(1, n_layers + 1):
        channels = growth_rate
        for _ in harmonic_links(layer)[1:]:
            channels *= grmul
        widths.append(int(int(channels + 1) / 2) * 2)
    return widths


def block_outputs(n_layers):
    """The layers a block concatenates for its output: the odd ones and the last."""
    return [k for k in range(1, n_layers + 1) if k % 2 == 1 or k == n_layers]


def conv_bn_relu6(x, filters, kernel_size, *, name, strides=1):
    """ConvLayer: conv (padding k // 2, no bias, PyTorch's default init) -> BN -> ReLU6:
    {name}_conv, _bn, _relu."""
    return B.conv_norm_act(x, filters, kernel_size, strides=strides, act="relu6",
                           kernel_initializer=initializers.TORCH_DEFAULT_UNIFORM,
                           act_name="relu", name=name)


def dw_bn(x, *, name, strides=1):
    """DWConvLayer: 3x3 depthwise conv (padding 1, no bias, PyTorch's default init: on a
    depthwise kernel Keras's fan-out) -> BN: {name}_dw_conv, _dw_bn."""
    if strides != 1:
        x = keras.layers.ZeroPadding2D(padding=1, name=f"{name}_dw_pad")(x)
    x = keras.layers.DepthwiseConv2D(
        kernel_size=3, strides=strides, padding="same" if strides == 1 else "valid",
        use_bias=False, depthwise_initializer=initializers.get(initializers.UNIFORM_FAN_OUT),
        name=f"{name}_dw_conv")(x)
    return B.norm(x, name=f"{name}_dw_bn")


def harmonic_block(growth_rate, grmul, n_layers, *, name, depthwise=False):
    """The harmonic dense block: layers block{b}_layer{k}, each reading harmonic_links(k)."""
    widths = harmonic_widths(growth_rate, grmul, n_layers)

    def apply(x):
        outputs = [x]
        for k, width in enumerate(widths, start=1):
            inputs = [outputs[i] for i in harmonic_links(k)]
            y = (keras.layers.Concatenate(axis=-1, name=f"{name}_layer{k}_concat")(inputs)
                 if len(inputs) > 1 else inputs[0])
            if depthwise:
                y = conv_bn_relu6(y, width, 1, name=f"{name}_layer{k}")
                y = dw_bn(y, name=f"{name}_layer{k}")
            else:
                y = conv_bn_relu6(y, width, 3, name=f"{name}_layer{k}")
            outputs.append(y)
        return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")(
            [outputs[k] for k in block_outputs(n_layers)])
    return apply


@A.application(head="global average pool, dropout, logits")
def HarDNet(inputs, depth, *, depthwise=False, name="hardnet", dropout_rate=None):
    """HarDNet-`depth` (39, 68 or 85) from `CONFIGS`; `depthwise` gives the ds variant."""
    B.check_choice(name, "depth", depth, tuple(CONFIGS))
    if depth == 39 and not depthwise:
        raise ValueError(f"{name}: HarDNet39 exists only as the depthwise-separable variant "
                         "(hardnet39ds); pass depthwise=True.")
    config = CONFIGS[depth]
    if dropout_rate is None:
        dropout_rate = DS_DROPOUT if depthwise else config["dropout"]

    stem1, stem2 = config["stem"]
    x = conv_bn_relu6(inputs, stem1, 3, strides=2, name="stem1")
    x = conv_bn_relu6(x, stem2, 1 if depthwise else 3, name="stem2")
    features = [(2, x)]
    if depthwise:
        x = dw_bn(x, strides=2, name="stem_down")
    else:
        x = B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    stride = 4
    for b, (growth_rate, n_layers, width, downsample) in enumerate(config["blocks"], start=1):
        x = harmonic_block(growth_rate, config["grmul"], n_layers, depthwise=depthwise,
                           name=f"block{b}")(x)
        if b == len(config["blocks"]) and depth in LAST_BLOCK_DROPOUT:
            x = keras.layers.Dropout(rate=LAST_BLOCK_DROPOUT[depth], name=f"block{b}_dropout")(x)
        x = conv_bn_relu6(x, width, 1, name=f"transition{b}")
        features.append((stride, x))
        if downsample:
            if depthwise:
                x = dw_bn(x, strides=2, name=f"transition{b}_down")
            else:
                x = B.max_pool(x, 2, name=f"transition{b}_pool")
            stride *= 2
    return A.Network(x, features, dropout_rate=dropout_rate)


DOCSTRING = """{summary}

Reference: Chao, Kao, Ruan, Huang & Lin, "HarDNet: A Low Memory Traffic Network" (2019);
implementation: {reference}. Registered as `{name}`.

The feature maps (features_only) are the stem's and the transitions' outputs, the last at
each stride.

Args:
    dropout_rate: dropout before the logits layer (None: the official 0.1 for HarDNet68, 0.2
        for HarDNet85, 0.05 for the ds variants).
""" + HarDNet.args_doc


# Checkpoint names of the official code: one flat ModuleList `base`: the stem's two ConvLayers
# (.conv, .norm), the max pool or DWConvLayer (.dwconv, .norm), then per block the HarDBlock
# (.layers.{k-1}: a ConvLayer, or a CombConvLayer .layer1 (ConvLayer) .layer2 (DWConvLayer)),
# HarDNet85's last Dropout, the transition ConvLayer and the max pool or DWConvLayer; last the
# head Sequential (pool, flatten, dropout, .3 the Linear).
def official_indices(model):
    """{Keras unit prefix: index in `base`}, read from the model's layer names."""
    names = {layer.name for layer in model.layers}
    indices = {"stem1": 0, "stem2": 1, "stem_down": 2}
    index, b = 3, 1
    while f"block{b}_concat" in names:
        indices[f"block{b}"] = index
        index += 1 + (f"block{b}_dropout" in names)
        indices[f"transition{b}"] = index
        index += 1
        if f"transition{b}_pool" in names or f"transition{b}_down_dw_conv" in names:
            indices[f"transition{b}_down"] = index
            index += 1
        b += 1
    indices["head"] = index
    return indices


OFFICIAL_PART = {"conv": "conv", "bn": "norm", "dw_conv": "dwconv", "dw_bn": "norm"}


def official_names(path, model):
    indices = official_indices(model)
    if path == "logits":
        return f"base.{indices['head']}.3"
    for part, module in OFFICIAL_PART.items():
        unit = path.removesuffix(f"_{part}")
        if unit == path:
            continue
        if unit in indices:
            return f"base.{indices[unit]}.{module}"
        block, _, layer = unit.partition("_layer")
        if block in indices and layer.isdigit():
            prefix = f"base.{indices[block]}.layers.{int(layer) - 1}"
            if f"{unit}_dw_conv" in {layer.name for layer in model.layers}:  # CombConvLayer
                prefix += ".layer2" if part.startswith("dw") else ".layer1"
            return f"{prefix}.{module}"
    return None


# The head's Linear: base.14.3 (HarDNet39DS), base.16.3 (HarDNet68, 68DS), base.19.3 (85); no
# other variant has a module at these paths.
CHECKPOINTS = {REFERENCE: weights.CheckpointMap(
    official_names, head=("base.14.3.", "base.16.3.", "base.19.3."))}


register = functools.partial(registry.register_model, family="HarDNet", paper=PAPER,
                             doc=DOCSTRING)


@register("hardnet39ds", reference=(REFERENCE, "hardnet39ds"))
def HarDNet39ds(**kwargs):
    """HarDNet39DS: m = 1.6, 4-16-8-4 layers, depthwise-separable."""
    return HarDNet(39, depthwise=True, name="hardnet39ds", **kwargs)


@register("hardnet68ds", reference=(REFERENCE, "hardnet68ds"))
def HarDNet68ds(**kwargs):
    """HarDNet68DS: m = 1.7, 8-16-16-16-4 layers, depthwise-separable."""
    return HarDNet(68, depthwise=True, name="hardnet68ds", **kwargs)


@register("hardnet68", reference=(REFERENCE, "hardnet68"))
def HarDNet68(**kwargs):
    """HarDNet68: m = 1.7, 8-16-16-16-4 layers."""
    return HarDNet(68, name="hardnet68", **kwargs)


@register("hardnet85", reference=(REFERENCE, "hardnet85"))
def HarDNet85(**kwargs):
    """HarDNet85: m = 1.7, 8-16-16-16-16-4 layers."""
    return HarDNet(85, name="hardnet85", **kwargs)


__all__ = ["HarDNet", "HarDNet39ds", "HarDNet68ds", "HarDNet68", "HarDNet85"]
