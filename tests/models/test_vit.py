"""ViT's own options and errors (the registry-wide contract is tests/models/test_contract.py).
A 1-block, 32-wide ViT stands in for the registered variants: the builder is the same."""

import numpy as np
import pytest

from keras_backbones import stats
from keras_backbones.layers import StochasticDepth
from keras_backbones.layers.transformer import bicubic_resize_matrix
from keras_backbones.models import vit
from keras_backbones.weights import load_weights, save_weights
from tests import support

SMALL = dict(patch_size=16, dim=32, depth=3, num_heads=2)


def small_vit(**kwargs):
    return vit.VisionTransformer(**SMALL, **kwargs)


def test_position_embedding_is_resized_not_resized_weights(tmp_path):
    """At 96x128 (6x8 patches) the weights are those of 224x224 (14x14 + class token), and a
    model trained at one size loads into the other."""
    default = small_vit(classifier_activation=None)
    other = small_vit(input_shape=(96, 128, 3), classifier_activation=None)
    assert stats.trainable_params(other) == stats.trainable_params(default)
    assert tuple(other.get_layer("embed").pos_embed.shape) == (1, 1 + 14 * 14, 32)
    assert tuple(other.get_layer("embed").output.shape) == (None, 1 + 6 * 8, 32)
    load_weights(other, save_weights(default, tmp_path / "w.npz"))
    embed = other.get_layer("embed")
    grid = embed.pos_embed.numpy()[0, 1:].reshape(14, 14, 32)
    expected = np.einsum("hi,ijc,wj->hwc", bicubic_resize_matrix(14, 6), grid,
                         bicubic_resize_matrix(14, 8))
    np.testing.assert_allclose(embed.position_embedding().numpy()[0, 1:], expected.reshape(48, 32),
                               atol=1e-6)
    images = support.random_images((96, 128, 3))
    assert np.isfinite(np.asarray(other(images, training=False))).all()


@pytest.mark.parametrize("shape", [(100, 224, 3), (224, 200, 3)])
def test_patch_size_must_divide_the_input(shape):
    with pytest.raises(ValueError, match=r"multiples of the patch size 16 \(e.g. 112, 160, 224\)"):
        small_vit(input_shape=shape)


def test_input_smaller_than_a_patch_or_of_unknown_size():
    with pytest.raises(ValueError, match="minimum of 16x16"):
        small_vit(input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match="fixed input size"):
        small_vit(input_shape=(None, None, 3), include_top=False)


def test_headless_outputs():
    shape = (64, 96, 3)
    assert tuple(small_vit(input_shape=shape, include_top=False).output.shape) == (None, 4, 6, 32)
    assert tuple(small_vit(input_shape=shape, include_top=False, pooling="avg").output.shape) == (None, 32)
    features = small_vit(input_shape=shape, features_only=True)
    assert features.output_names == ["stride16"]


def test_stochastic_depth_rises_linearly_over_the_blocks():
    model = small_vit(input_shape=(32, 32, 3), drop_path_rate=0.2)
    rates = {layer.name: layer.rate for layer in model.layers if isinstance(layer, StochasticDepth)}
    # timm: linspace(0, rate, depth); block 1's rate 0 adds no layer.
    assert rates == {"block2_drop_path1": 0.1, "block2_drop_path2": 0.1,
                     "block3_drop_path1": 0.2, "block3_drop_path2": 0.2}
    assert model.block_boundaries == ("block1_add2", "block2_add2", "block3_add2")


def test_timm_names():
    names = {path: vit.reference_name(path) for path in (
        "patch_embed", "embed", "block1_norm1", "block1_attn/qkv", "block12_attn/proj",
        "block3_mlp_fc2", "norm", "logits", "block1_add1")}
    assert names == {"patch_embed": "patch_embed.proj", "embed": "", "block1_norm1": "blocks.0.norm1",
                     "block1_attn/qkv": "blocks.0.attn.qkv", "block12_attn/proj": "blocks.11.attn.proj",
                     "block3_mlp_fc2": "blocks.2.mlp.fc2", "norm": "norm", "logits": "head",
                     "block1_add1": None}
