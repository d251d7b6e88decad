"""DenseNet (Huang et al. 2016), the DenseNet-BC networks of the paper's ImageNet table, as
torchvision's `densenet*`.

A 7x7 stride-2 stem and a 3x3 stride-2 max pool, then four dense blocks. Each layer of a block
is a bottleneck, BN-ReLU-1x1 conv (4k channels)-BN-ReLU-3x3 conv (k channels, the growth rate),
whose k new channels are concatenated to everything before it (along the channel axis, so a
block of n layers adds n x k channels). Between blocks a transition, BN-ReLU-1x1 conv halving
the channels (compression 0.5)-2x2 average pool; after the last block a final BN-ReLU, the
global average pool and the classifier.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("Densely Connected Convolutional Networks", 2016, "1608.06993")

# Table 1 of the paper (torchvision's block_config): growth rate k, layers per dense block,
# and the stem's width (2k, except DenseNet-161's 96).
CONFIGS = {
    121: (32, (6, 12, 24, 16), 64),
    161: (48, (6, 12, 36, 24), 96),
    169: (32, (6, 12, 32, 32), 64),
    201: (32, (6, 12, 48, 32), 64),
    264: (32, (6, 12, 64, 48), 64),
}
BOTTLENECK_WIDTH = 4  # the 1x1 conv of a dense layer has 4k channels (torchvision's bn_size)
COMPRESSION = 0.5     # a transition keeps half of the channels

# torchvision's init: convolutions nn.init.kaiming_normal_ (fan_in), the classifier's bias 0.
CONV_INIT = initializers.HE_NORMAL_FAN_IN


def norm_act_conv(x, filters, kernel, *, name, index=""):
    """The pre-activation unit: {name}_bn{index} -> {name}_relu{index} -> {name}_conv{index}."""
    x = B.norm(x, name=f"{name}_bn{index}")
    x = B.activation(x, "relu", name=f"{name}_relu{index}")
    return B.conv2d(x, filters, kernel, kernel_initializer=CONV_INIT, name=f"{name}_conv{index}")


def dense_layer(growth_rate, *, name, dropout_rate=0.0):
    """BN-ReLU-1x1 (4k)-BN-ReLU-3x3 (k); its k channels are appended to its input."""
    def apply(x):
        y = norm_act_conv(x, BOTTLENECK_WIDTH * growth_rate, 1, name=name, index=1)
        y = norm_act_conv(y, growth_rate, 3, name=name, index=2)
        if dropout_rate:
            y = keras.layers.Dropout(rate=dropout_rate, name=f"{name}_dropout")(y)
        return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([x, y])
    return apply


def transition(*, name):
    """BN-ReLU-1x1 conv to half the channels, then a 2x2 average pool."""
    def apply(x):
        x = norm_act_conv(x, int(x.shape[-1] * COMPRESSION), 1, name=name)
        return B.avg_pool(x, 2, name=f"{name}_pool")
    return apply


# 29 pixels: the stem and three transitions leave a 1x1 map for the last block.
@A.application(min_size=29)
def DenseNet(inputs, depth, *, layer_dropout_rate=0.0, name="densenet", dropout_rate=0.0):
    """Builds DenseNet-`depth` (121, 161, 169, 201 or 264) from `CONFIGS`."""
    B.check_choice(name, "depth", depth, tuple(CONFIGS))
    growth_rate, blocks, stem_width = CONFIGS[depth]
    x = B.conv_norm_act(inputs, stem_width, 7, strides=2, kernel_initializer=CONV_INIT,
                        name="stem", act_name="relu")
    features = [(2, x)]
    x = B.max_pool(x, 3, strides=2, padding=1, after_relu=True, name="stem_pool")
    for b, layers in enumerate(blocks, start=1):
        if b > 1:
            x = transition(name=f"transition{b - 1}")(x)
        for i in range(1, layers + 1):
            x = dense_layer(growth_rate, name=f"block{b}_layer{i}",
                            dropout_rate=layer_dropout_rate)(x)
        features.append((2 ** (b + 1), x))
    x = B.norm(x, name="final_bn")
    x = B.activation(x, "relu", name="final_relu")
    features.append((32, x))
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=(initializers.TORCH_DEFAULT_UNIFORM, "zeros"))


DOCSTRING = """{summary}

Reference: Huang, Liu, van der Maaten & Weinberger, "Densely Connected Convolutional Networks"
(2016); implementation: {reference}. Registered as `{name}`. Its feature maps are the dense
blocks' outputs, and the final BN-ReLU at stride 32.

Args:
    dropout_rate: dropout before the logits layer (0 in the paper and torchvision).
    layer_dropout_rate: dropout after each dense layer's 3x3 convolution (torchvision's
        drop_rate; the paper's 0.2 on CIFAR without augmentation, 0 on ImageNet).
""" + DenseNet.args_doc


# Checkpoint names: torchvision's `features` (conv0, norm0, denseblock{b}.denselayer{i}.norm1,
# conv1, norm2, conv2, transition{b}.norm/conv, norm5) and `classifier`.
REFERENCE_NAMES = {"stem_conv": "features.conv0", "stem_bn": "features.norm0",
                   "final_bn": "features.norm5", "logits": "classifier"}


def reference_name(path, model=None, legacy=False):
    if path in REFERENCE_NAMES:
        return REFERENCE_NAMES[path]
    unit, _, part = path.rpartition("_")
    if unit.startswith("transition"):
        return f"features.{unit}.{part.replace('bn', 'norm')}"
    if unit.startswith("block"):
        block, layer = unit.removeprefix("block").split("_layer")
        module = part.replace("bn", "norm")
        if legacy:  # "norm1" -> "norm.1"
            module = f"{module[:-1]}.{module[-1]}"
        return f"features.denseblock{block}.denselayer{layer}.{module}"
    return None


CHECKPOINTS = {
    "torchvision": weights.CheckpointMap(reference_name, head=("classifier.",)),
    # The files torchvision publishes (densenet121-a639ec97.pth, ...) predate its module
    # names: their dense layers hold "norm.1", "conv.1", ..., renamed by torchvision on load.
    "torchvision:published": weights.CheckpointMap(
        lambda path, model: reference_name(path, model, legacy=True), head=("classifier.",)),
}


register = functools.partial(registry.register_model, family="DenseNet", paper=PAPER,
                             doc=DOCSTRING)


@register("densenet121", reference=("torchvision", "densenet121"))
def DenseNet121(**kwargs):
    """DenseNet-121 (k=32; 6-12-24-16 layers)."""
    return DenseNet(121, name="densenet121", **kwargs)


@register("densenet161", reference=("torchvision", "densenet161"))
def DenseNet161(**kwargs):
    """DenseNet-161 (k=48; 6-12-36-24 layers, a 96-channel stem)."""
    return DenseNet(161, name="densenet161", **kwargs)


@register("densenet169", reference=("torchvision", "densenet169"))
def DenseNet169(**kwargs):
    """DenseNet-169 (k=32; 6-12-32-32 layers)."""
    return DenseNet(169, name="densenet169", **kwargs)


@register("densenet201", reference=("torchvision", "densenet201"))
def DenseNet201(**kwargs):
    """DenseNet-201 (k=32; 6-12-48-32 layers)."""
    return DenseNet(201, name="densenet201", **kwargs)


# No code reference publishes it (timm's densenet264d has a deep stem and k=48): the paper's
# table with torchvision's layers. The paper states no parameter count; this is the exact count
# of that definition (torchvision's DenseNet(32, (6, 12, 64, 48), 64) has the same).
@register("densenet264", reference=("paper", "table 1, DenseNet-264 (k=32)"),
          paper_params=33_337_704)
def DenseNet264(**kwargs):
    """DenseNet-264 (k=32; 6-12-64-48 layers)."""
    return DenseNet(264, name="densenet264", **kwargs)


__all__ = ["DenseNet", "DenseNet121", "DenseNet161", "DenseNet169", "DenseNet201", "DenseNet264"]
