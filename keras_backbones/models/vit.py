"""Vision Transformer (Dosovitskiy et al. 2020), as timm's `vision_transformer.py`.

The image is cut into non-overlapping patches by a convolution with kernel = stride = patch
size; a learned class token is prepended and a learned position embedding (one per token,
the class token's included) added; then `depth` pre-norm encoder blocks (LayerNorm -> multi-head
self-attention -> residual; LayerNorm -> MLP of 4x width with GELU -> residual), a final
LayerNorm, and the class token's output goes through the linear head.

The position embedding has the default (224 / patch)^2 grid: at another input size it is
resized bicubically as timm's `resample_abs_pos_embed` does (`dynamic_img_size=True`), so the
parameter count and the checkpoints are the same at any input size. Height and width must be
multiples of the patch size.
"""

import functools
import re

from keras_backbones import initializers, registry, weights
from keras_backbones.backend import keras
from keras_backbones.layers import Flatten
from keras_backbones.layers.transformer import (ClassTokenPositionEmbedding,
                                                MultiHeadSelfAttention, layer_norm, mlp)
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B

PAPER = registry.Paper("An Image is Worth 16x16 Words: Transformers for Image Recognition at "
                       "Scale", 2020, "2010.11929")

# timm's model_args (the paper's Table 1, and DeiT's Ti and S): patch size, width (hidden size
# D), depth (layers), attention heads; the MLP is 4 x D wide in all.
CONFIGS = {
    "tiny16": dict(patch_size=16, dim=192, depth=12, num_heads=3),
    "small16": dict(patch_size=16, dim=384, depth=12, num_heads=6),
    "base16": dict(patch_size=16, dim=768, depth=12, num_heads=12),
    "base32": dict(patch_size=32, dim=768, depth=12, num_heads=12),
    "large16": dict(patch_size=16, dim=1024, depth=24, num_heads=16),
}
NORM_EPSILON = 1e-6  # timm's ViT: partial(nn.LayerNorm, eps=1e-6)


def encoder_block(index, num_heads, mlp_ratio, *, drop_path, drop_rate, attention_dropout):
    """timm's Block: x + attn(norm1(x)), then x + mlp(norm2(x)), stochastic depth on both."""
    prefix = f"block{index}"

    def apply(x):
        y = layer_norm(x, epsilon=NORM_EPSILON, name=f"{prefix}_norm1")
        y = MultiHeadSelfAttention(num_heads=num_heads, attention_dropout=attention_dropout,
                                   proj_dropout=drop_rate, name=f"{prefix}_attn")(y)
        x = B.residual(x, y, drop_path=drop_path, suffix="1", name=prefix)
        y = layer_norm(x, epsilon=NORM_EPSILON, name=f"{prefix}_norm2")
        y = mlp(y, int(x.shape[-1] * mlp_ratio), dropout_rate=drop_rate, name=f"{prefix}_mlp")
        return B.residual(x, y, drop_path=drop_path, suffix="2", name=prefix)
    return apply


def class_token_head(classes, drop_rate):
    """timm's global_pool="token": the class token's output -> dropout -> `logits` (timm's
    `head`, N(0, 0.02) kernel, zero bias)."""
    def apply(x):
        tokens = x.shape[1]
        x = keras.layers.Cropping1D(cropping=(0, tokens - 1), name="class_token")(x)
        x = Flatten(name="class_token_flatten")(x)
        if drop_rate:
            x = keras.layers.Dropout(rate=drop_rate, name="head_dropout")(x)
        return B.dense(x, classes, kernel_initializer=initializers.NORMAL_002,
                       bias_initializer="zeros", name="logits")
    return apply


def patch_grid(x, grid):
    """The patch tokens (class token dropped) as a (B, H / patch, W / patch, D) map."""
    x = keras.layers.Cropping1D(cropping=(1, 0), name="patch_tokens")(x)
    return keras.layers.Reshape(target_shape=(*grid, x.shape[-1]), name="patch_grid")(x)


def check_patch_grid(name, size, patch_size):
    """A known size, cut into whole patches (the position embedding is resized to the grid)."""
    height, width = size
    if height is None or width is None:
        raise ValueError(f"{name}: ViT needs a fixed input size (its position embedding is "
                         f"resized to the patch grid); got {height}x{width}.")
    if height % patch_size or width % patch_size:
        raise ValueError(
            f"{name}: the input's height and width must be multiples of the patch size "
            f"{patch_size} (e.g. {', '.join(str(patch_size * n) for n in (7, 10, 14))}); got "
            f"{height}x{width}.")


@A.application(min_size=lambda arguments: arguments["patch_size"],
               head="the class token's output, dropout, logits",
               weights_note="or a timm checkpoint",
               input_note="height and width multiples of the patch size; at another size the "
                          "position embedding is resized bicubically (the weights are those of "
                          "the default size)")
def VisionTransformer(inputs, patch_size, dim, depth, num_heads, mlp_ratio=4.0, *, name="vit",
                      drop_rate=0.0, attention_dropout=0.0, drop_path_rate=0.0, default_size,
                      include_top, features_only, classes):
    """A ViT from a row of `CONFIGS`."""
    check_patch_grid(name, inputs.shape[1:3], patch_size)
    grid = (inputs.shape[1] // patch_size, inputs.shape[2] // patch_size)

    # timm's PatchEmbed: nn.Conv2d with PyTorch's default init.
    x = B.conv2d(inputs, dim, patch_size, strides=patch_size, padding=0, use_bias=True,
                 kernel_initializer=initializers.TORCH_DEFAULT_UNIFORM,
                 bias_initializer=B.torch_bias_init(inputs.shape[-1] * patch_size ** 2),
                 name="patch_embed")
    default_grid = tuple(size // patch_size for size in default_size)
    x = ClassTokenPositionEmbedding(grid_size=default_grid, name="embed")(x)
    if drop_rate:
        x = keras.layers.Dropout(rate=drop_rate, name="embed_dropout")(x)
    features = []
    for i, drop_path in enumerate(B.drop_path_rates(drop_path_rate, depth), start=1):
        x = encoder_block(i, num_heads, mlp_ratio, attention_dropout=attention_dropout,
                          drop_rate=drop_rate, drop_path=drop_path)(x)
        features.append((patch_size, x))
    x = layer_norm(x, epsilon=NORM_EPSILON, name="norm")
    head = None
    if include_top and not features_only:
        head = class_token_head(classes, drop_rate)
    else:  # a plain ViT has one resolution: the patch grid
        x = patch_grid(x, grid)
        features.append((patch_size, x))
    return A.Network(x, features, head=head)


DOCSTRING = """{summary}

Reference: Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers for Image
Recognition at Scale" (2020); implementation: {reference}. Registered as `{name}`.

Without the classifier the output is the final patch tokens as a 4-D map at stride patch
size: what `pooling` pools, and the one feature map of features_only.

Args:
    drop_rate: dropout after the embedding, in the MLPs and attention projections, and
        before the head.
    attention_dropout: dropout of the attention weights.
    drop_path_rate: stochastic depth, rising linearly from 0 to this rate over the blocks.
""" + VisionTransformer.args_doc


# timm's names: blocks.{i}.norm1 / attn.qkv / attn.proj / norm2 / mlp.fc1 / mlp.fc2 (from 0),
# the class token and position embedding at its top level.
REFERENCE_NAMES = {"patch_embed": "patch_embed.proj", "embed": "", "norm": "norm",
                   "logits": "head"}


def reference_name(path, model=None):
    match = re.fullmatch(r"block(\d+)_(norm1|norm2|attn/qkv|attn/proj|mlp_fc1|mlp_fc2)", path)
    if not match:
        return REFERENCE_NAMES.get(path)
    index, part = match.groups()
    return f"blocks.{int(index) - 1}.{part.replace('/', '.').replace('_', '.')}"


CHECKPOINTS = {"timm": weights.CheckpointMap(reference_name, head=("head.",))}

TIMM = registry.Preprocessing(input_size=(224, 224, 3), mean=registry.INCEPTION_MEAN,
                              std=registry.INCEPTION_STD, interpolation="bicubic", crop_pct=0.9)


register = functools.partial(registry.register_model, family="ViT", paper=PAPER,
                             preprocessing=TIMM, doc=DOCSTRING)


@register("vit_tiny_patch16_224", reference=("timm", "vit_tiny_patch16_224"))
def ViTTiny16(**kwargs):
    """ViT-Ti/16 (DeiT-Ti's architecture): 192 wide, 12 blocks of 3 heads."""
    return VisionTransformer(**CONFIGS["tiny16"], name="vit_tiny_patch16_224", **kwargs)


@register("vit_small_patch16_224", reference=("timm", "vit_small_patch16_224"))
def ViTSmall16(**kwargs):
    """ViT-S/16 (DeiT-S's architecture): 384 wide, 12 blocks of 6 heads."""
    return VisionTransformer(**CONFIGS["small16"], name="vit_small_patch16_224", **kwargs)


@register("vit_base_patch16_224", reference=("timm", "vit_base_patch16_224"))
def ViTBase16(**kwargs):
    """ViT-B/16: 768 wide, 12 blocks of 12 heads, 16x16 patches."""
    return VisionTransformer(**CONFIGS["base16"], name="vit_base_patch16_224", **kwargs)


@register("vit_base_patch32_224", reference=("timm", "vit_base_patch32_224"))
def ViTBase32(**kwargs):
    """ViT-B/32: 768 wide, 12 blocks of 12 heads, 32x32 patches."""
    return VisionTransformer(**CONFIGS["base32"], name="vit_base_patch32_224", **kwargs)


@register("vit_large_patch16_224", reference=("timm", "vit_large_patch16_224"))
def ViTLarge16(**kwargs):
    """ViT-L/16: 1024 wide, 24 blocks of 16 heads, 16x16 patches."""
    return VisionTransformer(**CONFIGS["large16"], name="vit_large_patch16_224", **kwargs)


__all__ = ["VisionTransformer", "ViTTiny16", "ViTSmall16", "ViTBase16", "ViTBase32", "ViTLarge16"]
