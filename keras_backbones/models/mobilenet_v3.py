"""MobileNetV3 large and small (Howard et al. 2019) as torchvision's `mobilenet_v3_large/small`
and timm's `mobilenetv3_large_075/small_075`, the paper's minimalistic variants, and the
LR-ASPP segmentation head (section 6.4).

Tables 1 and 2 of the paper: a 3x3 stride-2 stem of 16 channels (h-swish), inverted residual
blocks with per-row kernel (3 or 5), expansion, squeeze-and-excitation (reduced to a quarter of
the expanded width rounded to a multiple of 8, ReLU inside, hard-sigmoid gate) and activation
(ReLU early, h-swish late), a 1x1 convolution to 960 (576) channels, then the efficient last
stage: global pooling, a 1280 (1024) wide linear layer with h-swish, dropout and the classifier.

Width multiplier `alpha` follows timm (the reference of the 0.75 counts): each block's expanded
width is make_divisible(input x expansion, 8) with timm's expansion ratios (3.67 for the
paper's 88 = 24 x 3.67), the stem keeps 16 channels below alpha 0.75 and the 1280 (1024)
head width is not scaled. At alpha 1 this is torchvision's network exactly (torchvision scales
the head at other widths: its 0.75 network differs). BatchNorm epsilon follows the reference:
1e-3 (torchvision, the TensorFlow original) at alpha 1, 1e-5 (timm) otherwise.

Options: `minimalistic` (section 6.1.2 of the paper; timm's *_minimal_100): no
squeeze-and-excitation, ReLU everywhere, 3x3 kernels only. `dilated` (torchvision's option for
segmentation): the last stage runs at stride 16 with dilation 2. `reduced_tail` (section 6.4
and torchvision): the last stage and head at half width.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import make_divisible
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B
from keras_backbones.models import _mobile as M

PAPER = registry.Paper("Searching for MobileNetV3", 2019, "1905.02244")

RE, HS = "relu", "hard_swish"
# Tables 1 and 2 of the paper, one list per stage (timm's grouping, by resolution and width):
# (kernel, expansion = exp size / input channels, output channels, SE, activation, stride).
CONFIGS = {
    "large": dict(head=960, pre_logits=1280, stages=[
        [(3, 1, 16, False, RE, 1)],
        [(3, 4, 24, False, RE, 2), (3, 3, 24, False, RE, 1)],
        [(5, 3, 40, True, RE, 2), (5, 3, 40, True, RE, 1), (5, 3, 40, True, RE, 1)],
        [(3, 6, 80, False, HS, 2), (3, 2.5, 80, False, HS, 1), (3, 2.3, 80, False, HS, 1),
         (3, 2.3, 80, False, HS, 1)],
        [(3, 6, 112, True, HS, 1), (3, 6, 112, True, HS, 1)],
        [(5, 6, 160, True, HS, 2), (5, 6, 160, True, HS, 1), (5, 6, 160, True, HS, 1)],
    ]),
    "small": dict(head=576, pre_logits=1024, stages=[
        [(3, 1, 16, True, RE, 2)],
        [(3, 4.5, 24, False, RE, 2), (3, 3.67, 24, False, RE, 1)],
        [(5, 4, 40, True, HS, 2), (5, 6, 40, True, HS, 1), (5, 6, 40, True, HS, 1)],
        [(5, 3, 48, True, HS, 1), (5, 3, 48, True, HS, 1)],
        [(5, 6, 96, True, HS, 2), (5, 6, 96, True, HS, 1), (5, 6, 96, True, HS, 1)],
    ]),
}
STEM_WIDTH = 16
TORCHVISION_NORM = M.Norm(epsilon=1e-3, momentum=0.01)
TIMM_NORM = M.Norm(epsilon=1e-5, momentum=0.1)


def block_table(stages, width, *, norm, minimalistic, dilated, reduced_tail):
    """`_mobile.stages` keyword arguments from a row table."""
    table = []
    for index, rows in enumerate(stages):
        last = index == len(stages) - 1
        blocks = []
        for kernel, expansion, filters, se, act, stride in rows:
            if last and reduced_tail:
                filters //= 2
            block = dict(filters=width(filters), expansion=expansion, kernel_size=kernel,
                         strides=stride, activation=act, norm=norm)
            if minimalistic:
                block.update(kernel_size=3, activation=RE)
            elif se:
                block.update(se_ratio=0.25, se_divisor=8, se_gate="hard_sigmoid",
                             se_activation=RE)
            if last and dilated:  # the dilated block that would stride adds no residual
                block.update(strides=1, dilation=2, skip=stride == 1)
            blocks.append(block)
        table.append(blocks)
    return table


@A.application(head="the efficient last stage: global average pool, the 1280 (1024) wide "
                    "layer, dropout, logits")
def MobileNetV3(inputs, size="large", alpha=1.0, *, minimalistic=False, dilated=False,
                reduced_tail=False, norm_epsilon=None, name="mobilenet_v3", dropout_rate=0.2,
                drop_path_rate=0.0, classes):
    """MobileNetV3 `size` ("large" or "small", Howard et al. 2019) of width multiplier
    `alpha`."""
    B.check_choice(name, "size", size, tuple(CONFIGS))
    M.check_alpha(name, alpha)
    config = CONFIGS[size]
    norm = TORCHVISION_NORM if alpha == 1 else TIMM_NORM
    if norm_epsilon is not None:
        norm = M.Norm(epsilon=norm_epsilon, momentum=norm.momentum)
    act = RE if minimalistic else HS
    tail = 2 if reduced_tail else 1

    def width(channels):
        return make_divisible(channels * alpha)

    stem = STEM_WIDTH if alpha < 0.75 else width(STEM_WIDTH)  # timm's fix_stem
    x = M.conv_norm_act(inputs, stem, 3, strides=2, act=act, norm=norm, name="stem")
    features = [(2, x)]
    table = block_table(config["stages"], width, norm=norm, minimalistic=minimalistic,
                        dilated=dilated, reduced_tail=reduced_tail)
    x, stage_features = M.stages(x, table, drop_path_rate=drop_path_rate)
    x = M.conv_norm_act(x, width(config["head"] // tail), 1, act=act, norm=norm, name="head")
    features += [*stage_features, (stage_features[-1][0], x)]
    # Section 5.1's efficient last stage; both linear layers as torchvision's: N(0, 0.01),
    # bias zero.
    head = M.efficient_head(classes, config["pre_logits"] // tail, act=act,
                            dropout_rate=dropout_rate,
                            pre_logits_initializers=(initializers.NORMAL_001, "zeros"),
                            logits_initializers=(initializers.NORMAL_001, "zeros"))
    return A.Network(x, features, head=head)


# --- LR-ASPP ----------------------------------------------------------------------------------

def lraspp(backbone_features, num_classes, *, inter_channels=128, name="lraspp"):
    """The Lite R-ASPP segmentation head (section 6.4, figure 10) on a features_only model, as
    torchvision's LRASPPHead: the last feature map (the 1x1 head convolution; at stride 16 with
    `dilated=True`, torchvision's setting) goes through 1x1 conv-BN-ReLU to `inter_channels`,
    gated by a sigmoid of its globally pooled 1x1 projection; upsampled bilinearly to the
    stride-8 map, classified by a 1x1 convolution and added to the stride-8 map's own 1x1
    classifier; the sum is upsampled bilinearly (half-pixel centres, PyTorch's
    align_corners=False) to the input size. Returns logits (batch, height, width, classes).

    torchvision taps the output of the first stride-8 block; `features_only` gives the
    stride-8 stage's output (two blocks later), which this head uses.

        backbone = create_model("mobilenet_v3_large", features_only=True, dilated=True,
                                input_shape=(512, 512, 3))
        model = lraspp(backbone, num_classes=21)
    """
    inputs = backbone_features.input
    height, width = inputs.shape[1:3]
    if height is None or width is None:
        raise ValueError(f"lraspp: the backbone needs a fixed input size to upsample to; got "
                         f"{tuple(inputs.shape[1:])}.")
    low = backbone_features.get_layer("stride8").output
    high = backbone_features.outputs[-1]
    x = B.conv_norm_act(high, inter_channels, 1, act_name="relu", name=f"{name}_cbr")
    scale = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_scale_pool")(high)
    scale = B.conv2d(scale, inter_channels, 1, name=f"{name}_scale_conv")
    scale = B.activation(scale, "sigmoid", name=f"{name}_scale_sigmoid")
    x = keras.layers.Multiply(name=f"{name}_gate")([x, scale])
    x = keras.layers.Resizing(height=low.shape[1], width=low.shape[2], interpolation="bilinear",
                              name=f"{name}_upsample")(x)
    low_logits = B.conv2d(low, num_classes, 1, use_bias=True, name=f"{name}_low_classifier")
    high_logits = B.conv2d(x, num_classes, 1, use_bias=True, name=f"{name}_high_classifier")
    x = keras.layers.Add(name=f"{name}_add")([low_logits, high_logits])
    x = keras.layers.Resizing(height=height, width=width, interpolation="bilinear",
                              dtype="float32", name=f"{name}_resize")(x)
    return keras.Model(inputs, x, name=name)


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    alpha: width multiplier (timm's rounding; 0.75 and 1.0 have reference counts).
    minimalistic: the paper's minimalistic variant: no squeeze-and-excitation, ReLU only,
        3x3 kernels only.
    dilated: the last stage at stride 16 with dilation 2 (torchvision's segmentation setting;
        its features_only model is the input of `lraspp`).
    reduced_tail: the last stage and the head at half width (torchvision, paper section 6.4).
    norm_epsilon: BatchNorm epsilon; None: the reference's (1e-3 at alpha 1, 1e-5 otherwise).
    dropout_rate: dropout before the logits layer (0.2, the paper's keep probability 0.8).
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm).
""" + MobileNetV3.args_doc


# Checkpoint names. torchvision: features.0 the stem, features.i the i-th block, whose `block`
# is an nn.Sequential of [expand], depthwise, [SE (fc1, fc2)], project (each conv, bn); the head
# convolution is the last of `features`; classifier.0 and classifier.3 the linear layers.
def torchvision_names(path, model):
    blocks = M.block_prefixes(model)
    top = {"stem_conv": "features.0.0", "stem_bn": "features.0.1",
           "head_conv": f"features.{len(blocks) + 1}.0", "head_bn": f"features.{len(blocks) + 1}.1",
           "pre_logits": "classifier.0", "logits": "classifier.3"}
    match = M.BLOCK.fullmatch(path)
    if not match:
        return top.get(path)
    stage, block, part = match.groups()
    prefix = f"stage{stage}_block{block}"
    names = M.layer_names(model)
    expand = int(f"{prefix}_expand_conv" in names)
    se = int(f"{prefix}_se" in names)
    modules = {"expand_conv": "0.0", "expand_bn": "0.1",
               "dw_conv": f"{expand}.0", "dw_bn": f"{expand}.1",
               "se/reduce": f"{expand + 1}.fc1", "se/expand": f"{expand + 1}.fc2",
               "project_conv": f"{expand + 1 + se}.0", "project_bn": f"{expand + 1 + se}.1"}
    if part not in modules:
        return None
    return f"features.{blocks.index(prefix) + 1}.block.{modules[part]}"


def timm_names(path, model):
    """timm's MobileNetV3: the head convolution is one more stage (a ConvBnAct), conv_head
    the pre-logits layer."""
    stages = len({prefix.split("_")[0] for prefix in M.block_prefixes(model)})
    top = {"head_conv": f"blocks.{stages}.0.conv", "head_bn": f"blocks.{stages}.0.bn1",
           "pre_logits": "conv_head"}
    return top[path] if path in top else _TIMM(path, model)


_TIMM = M.timm_names()
CHECKPOINTS = {
    "torchvision": weights.CheckpointMap(torchvision_names, head=("classifier.",),
                                         norm_epsilon=TORCHVISION_NORM.epsilon),
    "timm": weights.CheckpointMap(timm_names, head=("conv_head.", "classifier."),
                                  norm_epsilon=TIMM_NORM.epsilon),
}


register = functools.partial(registry.register_model, family="MobileNetV3", paper=PAPER,
                             doc=DOCSTRING)


@register("mobilenet_v3_small", reference=("torchvision", "mobilenet_v3_small"))
def MobileNetV3Small(**kwargs):
    """MobileNetV3-Small (Howard et al. 2019); `alpha` other than 1 gives timm's
    mobilenetv3_small_*."""
    return MobileNetV3(**{"size": "small", "name": "mobilenet_v3_small", **kwargs})


@register("mobilenet_v3_large", reference=("torchvision", "mobilenet_v3_large"))
def MobileNetV3Large(**kwargs):
    """MobileNetV3-Large (Howard et al. 2019); `alpha` other than 1 gives timm's
    mobilenetv3_large_*."""
    return MobileNetV3(**{"size": "large", "name": "mobilenet_v3_large", **kwargs})


__all__ = ["MobileNetV3", "MobileNetV3Small", "MobileNetV3Large", "lraspp"]
