"""Swin Transformer (Liu et al. 2021), as timm's `swin_*_patch4_window7_224`.

Patch partition and linear embedding (a 4x4 stride-4 convolution, then LayerNorm), four
stages at strides 4, 8, 16 and 32; each stage but the first starts with patch merging (2 x 2
neighbourhood -> LayerNorm -> Linear 4C -> 2C), then alternates blocks of window attention
(W-MSA) and shifted window attention (SW-MSA, shift window // 2), each block
x + attn(norm1(x)), then x + mlp(norm2(x)) (Linear 4C, GELU, Linear C), with stochastic depth
rising linearly over the blocks. A final LayerNorm, average pool and the logits layer.

Any input whose sides are multiples of 4 (the patch) and at least 32 works, computing what
timm computes with a 224 checkpoint at that size: a map not divisible by the window is
zero-padded to whole windows (and odd maps before patch merging); a stage whose map is no
larger than the window attends over the whole map without a shift, with its relative position
tables (13x13 for window 7) resampled to that window by timm's resize_rel_pos_bias_table (a
constant linear map). The weights, and the parameter count, are the same at every size.
"""

import collections
import functools
import re

from keras_backbones import initializers, registry, weights
from keras_backbones.layers.transformer import layer_norm, mlp
from keras_backbones.layers.windows import PatchMerging, WindowAttention, fit_window
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
                       2021, "2103.14030")

PATCH_SIZE = 4
MLP_RATIO = 4
MIN_SIZE = 32

# Section 3.3 of the paper: the channels C of the first stage (doubled at each merging),
# blocks per stage and heads per stage (32 channels per head).
Config = collections.namedtuple("Config", "embed_dim depths num_heads")
CONFIGS = {
    "tiny": Config(96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "small": Config(96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "base": Config(128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "large": Config(192, (2, 2, 18, 2), (6, 12, 24, 48)),
}


def swin_block(num_heads, window_size, shift_size, table_window_size, *, name, drop_path=0.0):
    """x + attn(norm1(x)), then x + mlp(norm2(x)), each branch with stochastic depth."""
    def apply(x):
        y = layer_norm(x, name=f"{name}_norm1")
        y = WindowAttention(num_heads, window_size=window_size, shift_size=shift_size,
                            table_window_size=table_window_size, name=f"{name}_attn")(y)
        x = B.residual(x, y, drop_path=drop_path, suffix="1", name=name)
        y = mlp(layer_norm(x, name=f"{name}_norm2"), MLP_RATIO * x.shape[-1], name=f"{name}_mlp")
        return B.residual(x, y, drop_path=drop_path, suffix="2", name=name)
    return apply


def patch_embedding(embed_dim):
    """Patch partition + linear embedding: a 4x4 stride-4 convolution (PyTorch's default
    init, as timm leaves it), then LayerNorm."""
    def apply(x):
        x = B.conv2d(x, embed_dim, PATCH_SIZE, strides=PATCH_SIZE, padding=0, use_bias=True,
                     kernel_initializer=initializers.TORCH_DEFAULT_UNIFORM,
                     bias_initializer=B.torch_bias_init(PATCH_SIZE * PATCH_SIZE * x.shape[-1]),
                     name="patch_embed_proj")
        return layer_norm(x, name="patch_embed_norm")
    return apply


def _check_size(name, inputs):
    height, width = inputs.shape[1:3]
    if height is None or width is None:
        raise ValueError(f"{name}: the windows need a fixed input size; got {height}x{width}. "
                         f"Pass input_shape=(224, 224, 3), or another multiple of {PATCH_SIZE}.")
    if height % PATCH_SIZE or width % PATCH_SIZE:
        raise ValueError(f"{name}: the input's height and width must be multiples of the patch "
                         f"size {PATCH_SIZE} (e.g. 224, 256 or 384), at least {MIN_SIZE}; got "
                         f"{height}x{width}.")


@A.application(min_size=MIN_SIZE, head="global average pool, [dropout], logits",
               input_note=f"height and width multiples of {PATCH_SIZE} (the patch) and at "
                          f"least {MIN_SIZE}; the windows pad as timm's do")
def SwinTransformer(inputs, config, *, window_size=7, name="swin", dropout_rate=0.0,
                    drop_path_rate=0.0, features_only):
    """A Swin Transformer from a row of `CONFIGS` (or a `Config`)."""
    if isinstance(config, str):
        B.check_choice(name, "config", config, tuple(CONFIGS))
        config = CONFIGS[config]
    B.check_positive_ints(name, window_size=window_size)
    _check_size(name, inputs)

    x = patch_embedding(config.embed_dim)(inputs)
    features = []
    drop_paths = iter(B.drop_path_rates(drop_path_rate, sum(config.depths)))
    for s, (depth, heads) in enumerate(zip(config.depths, config.num_heads), start=1):
        if s > 1:
            x = PatchMerging(name=f"stage{s}_downsample")(x)
        for b in range(1, depth + 1):
            # timm's rule per block: a map no larger than the window is one unshifted window.
            window, shift = fit_window(x.shape[1:3], window_size, 0 if b % 2 else window_size // 2)
            x = swin_block(heads, window, shift, window_size, name=f"stage{s}_block{b}",
                           drop_path=next(drop_paths))(x)
        features.append((PATCH_SIZE * 2 ** (s - 1), x))
    if not features_only:
        x = layer_norm(x, name="norm")
    return A.Network(x, features, dropout_rate=dropout_rate,
                     logits_initializers=(initializers.NORMAL_002, "zeros"))


DOCSTRING = """{summary}

Reference: Liu et al., "Swin Transformer: Hierarchical Vision Transformer using Shifted
Windows" (2021); implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer (0 in the reference).
    drop_path_rate: stochastic depth of the last block, linear from 0 at the first (timm's
        rule; the paper trains T/S/B with 0.2/0.3/0.5).
    window_size: the attention window (7); a stage whose map is no larger attends over it all.
""" + SwinTransformer.args_doc

PREPROCESSING = registry.Preprocessing(interpolation="bicubic", crop_pct=0.9)


# Checkpoint names: timm's. Stages are layers.{stage - 1}; blocks layers.{s}.blocks.{b - 1}.
def reference_name(path, model=None):
    if path in ("patch_embed_proj", "patch_embed_norm", "norm"):
        return path.replace("patch_embed_", "patch_embed.")
    if path == "logits":
        return "head.fc"
    match = re.fullmatch(r"stage(\d)_(?:block(\d+)_)?(.+)", path)
    if not match:
        return None
    stage, block, part = match.groups()
    prefix = f"layers.{int(stage) - 1}."
    if block is None:  # stage{s}_downsample and its /norm, /reduction
        return prefix + part.replace("/", ".")
    part = re.sub(r"^mlp_", "mlp.", part).replace("/", ".")
    return f"{prefix}blocks.{int(block) - 1}.{part}"


CHECKPOINTS = {"timm": weights.CheckpointMap(reference_name, head=("head.",))}


register = functools.partial(registry.register_model, family="Swin Transformer", paper=PAPER,
                             preprocessing=PREPROCESSING, doc=DOCSTRING)


@register("swin_tiny_patch4_window7_224", reference=("timm", "swin_tiny_patch4_window7_224"))
def SwinTiny(**kwargs):
    """Swin-T: C = 96, 2-2-6-2 blocks, 3-6-12-24 heads."""
    return SwinTransformer("tiny", name="swin_tiny_patch4_window7_224", **kwargs)


@register("swin_small_patch4_window7_224", reference=("timm", "swin_small_patch4_window7_224"))
def SwinSmall(**kwargs):
    """Swin-S: C = 96, 2-2-18-2 blocks, 3-6-12-24 heads."""
    return SwinTransformer("small", name="swin_small_patch4_window7_224", **kwargs)


@register("swin_base_patch4_window7_224", reference=("timm", "swin_base_patch4_window7_224"))
def SwinBase(**kwargs):
    """Swin-B: C = 128, 2-2-18-2 blocks, 4-8-16-32 heads."""
    return SwinTransformer("base", name="swin_base_patch4_window7_224", **kwargs)


@register("swin_large_patch4_window7_224", reference=("timm", "swin_large_patch4_window7_224"))
def SwinLarge(**kwargs):
    """Swin-L: C = 192, 2-2-18-2 blocks, 6-12-24-48 heads."""
    return SwinTransformer("large", name="swin_large_patch4_window7_224", **kwargs)


__all__ = ["SwinTransformer", "SwinTiny", "SwinSmall", "SwinBase", "SwinLarge"]
