"""Swin Transformer: timm's window rule per stage, the input sizes it takes, and the checkpoint
names (the parameter counts, the forward pass, TFLite and parity are the contract's)."""

import numpy as np
import pytest

from keras_backbones import registry, stats
from keras_backbones.models import swin


def test_windows_and_shifts_follow_timm_at_a_small_size():
    """At 64x64 the maps are 16, 8, 4 and 2: stages 1-2 pad to whole 7x7 windows and shift
    every second block; stages 3-4 are one window, unshifted, their 7x7 windows' tables
    resampled: the weights are those of 224."""
    model = swin.SwinTiny(input_shape=(64, 64, 3), drop_path_rate=0.3)
    attention = lambda s, b: model.get_layer(f"stage{s}_block{b}_attn")  # noqa: E731
    assert attention(1, 1).shift_size == (0, 0) and attention(1, 2).shift_size == (3, 3)
    assert attention(2, 2).window_size == (7, 7) and attention(2, 2).shift_size == (3, 3)
    assert attention(3, 2).window_size == (4, 4) and attention(3, 2).shift_size == (0, 0)
    assert attention(4, 2).window_size == (2, 2) and attention(4, 2).table_window_size == (7, 7)
    assert tuple(attention(4, 2).relative_position_bias_table.shape) == (13 * 13, 24)
    assert stats.trainable_params(model) == 28_288_354
    assert tuple(model.get_layer("stage2_downsample").output.shape) == (None, 8, 8, 192)
    # Stochastic depth rises linearly over the 12 blocks, from 0 (no layer) to 0.3.
    assert "stage1_block1_drop_path1" not in [layer.name for layer in model.layers]
    assert model.get_layer("stage4_block2_drop_path2").rate == pytest.approx(0.3)
    assert model.get_layer("stage2_block1_drop_path1").rate == pytest.approx(0.3 * 2 / 11)
    out = model(np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype(np.float32))
    assert out.shape == (1, 1000)


def test_window_size_option():
    model = swin.SwinTiny(input_shape=(64, 96, 3), window_size=4, include_top=False)
    assert model.get_layer("stage1_block2_attn").window_size == (4, 4)
    assert model.get_layer("stage1_block2_attn").shift_size == (2, 2)
    assert model.get_layer("stage3_block2_attn").shift_size == (0, 2)  # 4x6: one row of windows
    assert tuple(model.output.shape) == (None, 2, 3, 768)


@pytest.mark.parametrize("shape, message", [
    ((66, 64, 3), "multiples of the patch size 4"),
    ((None, None, 3), "fixed input size"),
    ((28, 28, 3), "minimum of 32x32"),
])
def test_input_sizes_it_refuses(shape, message):
    with pytest.raises(ValueError, match=message):
        swin.SwinTiny(input_shape=shape)


def test_bad_window_size():
    with pytest.raises(ValueError, match="window_size"):
        swin.SwinTiny(input_shape=(64, 64, 3), window_size=0)


def test_checkpoint_names_are_timms():
    names = {
        "patch_embed_proj": "patch_embed.proj", "patch_embed_norm": "patch_embed.norm",
        "stage1_block1_norm1": "layers.0.blocks.0.norm1",
        "stage1_block2_attn": "layers.0.blocks.1.attn",
        "stage3_block6_attn/qkv": "layers.2.blocks.5.attn.qkv",
        "stage4_block2_mlp_fc2": "layers.3.blocks.1.mlp.fc2",
        "stage2_downsample/reduction": "layers.1.downsample.reduction",
        "norm": "norm", "logits": "head.fc", "avg_pool": None,
    }
    assert {path: swin.reference_name(path) for path in names} == names


def test_registry_metadata():
    spec = registry.get_spec("swin_tiny_patch4_window7_224")
    assert spec.family == "Swin Transformer" and spec.reference == ("timm", spec.name)
    assert spec.preprocessing.interpolation == "bicubic" and spec.preprocessing.crop_pct == 0.9
