"""ConvNeXt (Liu et al. 2022), as timm's `convnext_*` (the official facebookresearch/ConvNeXt
models, plus timm's own small atto/femto/pico/nano).

A patchify stem (4x4 convolution, stride 4, then LayerNorm), four stages at strides 4 to 32
(each after the first opens with LayerNorm and a 2x2 convolution of stride 2), and blocks of
depthwise 7x7 -> LayerNorm -> Linear 4x -> GELU -> Linear -> layer scale -> stochastic depth,
added to the input; the head pools, normalizes and classifies. Every LayerNorm normalizes the
channels (epsilon 1e-6) channels-last, so the pointwise layers are Dense layers on the 4-D
tensor with no transposes; the LayerNorm and the MLP are the transformers' shared ones (that
LayerNorm converts to int8 TFLite builtins). Convolutions and linear layers start as timm's:
N(0, 0.02), zero biases. timm builds atto..nano with `conv_mlp=True` (1x1 convolutions and a
channels-first LayerNorm): the same function and parameters, and its checkpoints' 1x1
kernels convert like Linear weights.
"""

import functools

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import transformer
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("A ConvNet for the 2020s", 2022, "2201.03545")

# Blocks per stage and channels per stage (the paper's C = dims[0]). T..XL: the paper's
# section 2.6; atto..nano: timm's.
CONFIGS = {
    "atto": ((2, 2, 6, 2), (40, 80, 160, 320)),
    "femto": ((2, 2, 6, 2), (48, 96, 192, 384)),
    "pico": ((2, 2, 6, 2), (64, 128, 256, 512)),
    "nano": ((2, 2, 8, 2), (80, 160, 320, 640)),
    "tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "small": ((3, 3, 27, 3), (96, 192, 384, 768)),
    "base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "xlarge": ((3, 3, 27, 3), (256, 512, 1024, 2048)),
}

PATCH_SIZE = 4
KERNEL_SIZE = 7
MLP_RATIO = 4
NORM_EPSILON = 1e-6
LINEAR_INIT = initializers.NORMAL_002  # timm's trunc_normal_(std=.02) of every conv and Linear


def layer_norm(x, *, name):
    return transformer.layer_norm(x, epsilon=NORM_EPSILON, name=name)


def patch_conv(x, filters, size, *, name):
    """A non-overlapping size x size convolution of stride size (the stem, the downsamplers)."""
    return B.conv2d(x, filters, size, strides=size, padding=0, use_bias=True, name=name,
                    kernel_initializer=LINEAR_INIT)


def convnext_block(*, name, drop_path, layer_scale):
    """x + drop_path(gamma * mlp(norm(dwconv(x)))), the MLP Linear 4x -> GELU -> Linear."""
    def apply(x):
        channels = x.shape[-1]
        y = keras.layers.DepthwiseConv2D(
            kernel_size=KERNEL_SIZE, padding="same", use_bias=True,
            depthwise_initializer=initializers.get(LINEAR_INIT), bias_initializer="zeros",
            name=f"{name}_dwconv")(x)
        y = layer_norm(y, name=f"{name}_norm")
        y = transformer.mlp(y, MLP_RATIO * channels, name=f"{name}_mlp",
                            kernel_initializer=LINEAR_INIT)
        return B.residual(x, y, drop_path=drop_path, layer_scale=layer_scale, name=name)
    return apply


def convnext_head(classes, dropout_rate):
    """Global average pool -> LayerNorm -> (dropout) -> logits: timm's NormMlpClassifierHead."""
    def apply(x):
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layer_norm(x, name="head_norm")
        if dropout_rate:
            x = keras.layers.Dropout(rate=dropout_rate, name="head_dropout")(x)
        return B.dense(x, classes, name="logits", kernel_initializer=LINEAR_INIT,
                       bias_initializer="zeros")
    return apply


@A.application(head="global average pool, LayerNorm, logits",
               weights_note="the portable format, or a timm checkpoint")
def ConvNeXt(inputs, depths, dims, *, name="convnext", dropout_rate=0.0, drop_path_rate=0.0,
             layer_scale_init_value=1e-6, classes):
    """Builds a ConvNeXt from four block counts (`depths`) and four widths (`dims`)."""
    depths = B.check_per_stage(name, "depths", depths)
    dims = B.check_per_stage(name, "dims", dims)
    if not 0.0 <= drop_path_rate < 1.0:
        raise ValueError(f"{name}: `drop_path_rate` must be in [0, 1); got {drop_path_rate!r}.")
    if layer_scale_init_value is not None and layer_scale_init_value <= 0:
        raise ValueError(f"{name}: `layer_scale_init_value` must be positive, or None for no "
                         f"layer scale; got {layer_scale_init_value!r}.")

    x = patch_conv(inputs, dims[0], PATCH_SIZE, name="stem_conv")
    x = layer_norm(x, name="stem_norm")
    features = []
    drop_paths = iter(B.drop_path_rates(drop_path_rate, sum(depths)))
    for s, (depth, width) in enumerate(zip(depths, dims), start=1):
        if s > 1:
            x = layer_norm(x, name=f"stage{s}_downsample_norm")
            x = patch_conv(x, width, 2, name=f"stage{s}_downsample_conv")
        for b in range(1, depth + 1):
            x = convnext_block(name=f"stage{s}_block{b}", drop_path=next(drop_paths),
                               layer_scale=layer_scale_init_value)(x)
        features.append((2 ** (s + 1), x))
    return A.Network(x, features, head=convnext_head(classes, dropout_rate))


DOCSTRING = """{summary}

Reference: Liu, Mao, Wu, Feichtenhofer, Darrell & Xie, "A ConvNet for the 2020s" (2022);
implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer (0 in the references).
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (the
        paper's training: 0.1, 0.4, 0.5, 0.5 for T, S, B, L).
    layer_scale_init_value: initial per-channel scale of each block's branch (1e-6), or None
        for no layer scale.
""" + ConvNeXt.args_doc


# Checkpoint names: timm's. The stem is nn.Sequential(conv, norm), each later stage's
# downsample nn.Sequential(norm, conv); a block's layer scale is its own `gamma` parameter.
REFERENCE_NAMES = {"stem_conv": "stem.0", "stem_norm": "stem.1", "head_norm": "head.norm",
                   "logits": "head.fc"}
REFERENCE_PARTS = {"downsample_norm": "downsample.0", "downsample_conv": "downsample.1"}
REFERENCE_BLOCK_PARTS = {"dwconv": "conv_dw", "norm": "norm", "mlp_fc1": "mlp.fc1",
                         "mlp_fc2": "mlp.fc2", "layer_scale": ""}


def reference_name(path, model=None):
    if path in REFERENCE_NAMES:
        return REFERENCE_NAMES[path]
    stage, _, rest = path.partition("_")
    stage = int(stage.removeprefix("stage")) - 1 if stage.startswith("stage") else None
    if stage is None:
        return None
    if rest in REFERENCE_PARTS:
        return f"stages.{stage}.{REFERENCE_PARTS[rest]}"
    block, _, part = rest.partition("_")
    if not block.startswith("block") or part not in REFERENCE_BLOCK_PARTS:
        return None
    module = f"stages.{stage}.blocks.{int(block.removeprefix('block')) - 1}"
    return ".".join(filter(None, (module, REFERENCE_BLOCK_PARTS[part])))


CHECKPOINTS = {"timm": weights.CheckpointMap(reference_name, head=("head.",))}

# timm's default pretrained configurations: bicubic, ImageNet mean/std, center crop 0.875
# (0.95 where timm's default weights are its ImageNet-12k fine-tunes).
TIMM = registry.Preprocessing(interpolation="bicubic")
TIMM_CROP_95 = registry.Preprocessing(interpolation="bicubic", crop_pct=0.95)


register = functools.partial(registry.register_model, family="ConvNeXt", paper=PAPER,
                             preprocessing=TIMM, doc=DOCSTRING)


def _convnext(size, **kwargs):
    return ConvNeXt(*CONFIGS[size], name=f"convnext_{size}", **kwargs)


@register("convnext_atto", reference=("timm", "convnext_atto"))
def ConvNeXtAtto(**kwargs):
    """ConvNeXt-Atto (timm): 2-2-6-2 blocks, 40 to 320 channels."""
    return _convnext("atto", **kwargs)


@register("convnext_femto", reference=("timm", "convnext_femto"))
def ConvNeXtFemto(**kwargs):
    """ConvNeXt-Femto (timm): 2-2-6-2 blocks, 48 to 384 channels."""
    return _convnext("femto", **kwargs)


@register("convnext_pico", reference=("timm", "convnext_pico"))
def ConvNeXtPico(**kwargs):
    """ConvNeXt-Pico (timm): 2-2-6-2 blocks, 64 to 512 channels."""
    return _convnext("pico", **kwargs)


@register("convnext_nano", reference=("timm", "convnext_nano"), preprocessing=TIMM_CROP_95)
def ConvNeXtNano(**kwargs):
    """ConvNeXt-Nano (timm): 2-2-8-2 blocks, 80 to 640 channels."""
    return _convnext("nano", **kwargs)


@register("convnext_tiny", reference=("timm", "convnext_tiny"), preprocessing=TIMM_CROP_95)
def ConvNeXtTiny(**kwargs):
    """ConvNeXt-T (Liu et al. 2022): 3-3-9-3 blocks, 96 to 768 channels."""
    return _convnext("tiny", **kwargs)


@register("convnext_small", reference=("timm", "convnext_small"), preprocessing=TIMM_CROP_95)
def ConvNeXtSmall(**kwargs):
    """ConvNeXt-S (Liu et al. 2022): 3-3-27-3 blocks, 96 to 768 channels."""
    return _convnext("small", **kwargs)


@register("convnext_base", reference=("timm", "convnext_base"))
def ConvNeXtBase(**kwargs):
    """ConvNeXt-B (Liu et al. 2022): 3-3-27-3 blocks, 128 to 1024 channels."""
    return _convnext("base", **kwargs)


@register("convnext_large", reference=("timm", "convnext_large"))
def ConvNeXtLarge(**kwargs):
    """ConvNeXt-L (Liu et al. 2022): 3-3-27-3 blocks, 192 to 1536 channels."""
    return _convnext("large", **kwargs)


@register("convnext_xlarge", reference=("timm", "convnext_xlarge"))
def ConvNeXtXLarge(**kwargs):
    """ConvNeXt-XL (Liu et al. 2022): 3-3-27-3 blocks, 256 to 2048 channels."""
    return _convnext("xlarge", **kwargs)


__all__ = ["ConvNeXt", "ConvNeXtAtto", "ConvNeXtFemto", "ConvNeXtPico", "ConvNeXtNano",
           "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge"]
