"""HarDNet specifics: the harmonic links (layer k reads k - 2^j for every 2^j dividing k), the
channel weighting m and its even rounding, what a block outputs, the ds variants' separable
layers and stems, the dropouts, and argument errors. The registry-wide contract covers the
listed counts and the generic checks."""

import pytest

from keras_backbones import registry, stats
from keras_backbones.backend import keras
from keras_backbones.models import hardnet as H

SMALL = dict(input_shape=(64, 64, 3), classes=10)


def model_names(model):
    return {layer.name for layer in model.layers}


def test_harmonic_links_and_widths():
    assert H.harmonic_links(1) == [0]
    assert H.harmonic_links(6) == [5, 4]
    assert H.harmonic_links(8) == [7, 6, 4, 0]
    assert H.harmonic_links(12) == [11, 10, 8]
    # HarDNet68's first block: k = 14, m = 1.7: 14, 14 x 1.7 = 23.8 -> 24, 14 x 1.7^2 = 40.46
    # -> 40, 14 x 1.7^3 = 68.78 -> 68 (int((c + 1) / 2) * 2).
    assert H.harmonic_widths(14, 1.7, 8) == [14, 24, 14, 40, 14, 24, 14, 68]
    assert H.block_outputs(8) == [1, 3, 5, 7, 8]
    assert H.block_outputs(5) == [1, 3, 5]


def test_hardnet68_block_wiring():
    model = registry.create_model("hardnet68", **SMALL)
    concat = model.get_layer("block1_layer8_concat")
    # Layer 8 reads layers 7, 6, 4 and the block input (64 channels), nearest first.
    assert [t.shape[-1] for t in concat.input] == [14, 24, 40, 64]
    assert "block1_layer1_concat" not in model_names(model)  # one link
    assert model.get_layer("block1_concat").output.shape[-1] == 14 + 14 + 14 + 14 + 68
    assert model.get_layer("block1_layer2_conv").kernel_size == (3, 3)
    assert model.get_layer("block1_layer2_relu").max_value == 6.0
    assert model.get_layer("stem2_conv").kernel_size == (3, 3)
    names = {layer.name for layer in model.layers}
    assert "stem_pool" in names and "stem_down_dw_conv" not in names  # a max pool, not a dw conv
    assert model.get_layer("transition1_pool").pool_size == (2, 2)
    assert "transition2_pool" not in names
    assert model.get_layer("head_dropout").rate == 0.1


def test_ds_variant_is_depthwise_separable():
    model = registry.create_model("hardnet39ds", **SMALL)
    names = {layer.name for layer in model.layers}
    assert model.get_layer("block1_layer1_conv").kernel_size == (1, 1)
    assert isinstance(model.get_layer("block1_layer1_dw_conv"), keras.layers.DepthwiseConv2D)
    assert "block1_layer1_dw_relu" not in names  # no activation after the depthwise conv
    assert model.get_layer("stem2_conv").kernel_size == (1, 1)
    assert model.get_layer("stem_down_dw_conv").strides == (2, 2)
    assert model.get_layer("transition1_down_dw_conv").strides == (2, 2)
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    assert model.get_layer("head_dropout").rate == 0.05
    assert model.get_layer("transition4_conv").filters == 1024


def test_hardnet85_drops_after_its_last_block():
    model = registry.create_model("hardnet85", **SMALL)
    assert model.get_layer("block6_dropout").rate == 0.1
    assert model.get_layer("head_dropout").rate == 0.2


def test_a_constructor_called_directly_builds_its_variant():
    direct, registered = H.HarDNet39ds(**SMALL), registry.create_model("hardnet39ds", **SMALL)
    assert direct.name == "hardnet39ds" and direct.variant == "hardnet39ds"
    assert stats.trainable_params(direct) == stats.trainable_params(registered)
    assert "stem_down_dw_conv" in model_names(direct)  # depthwise-separable


def test_argument_errors():
    with pytest.raises(ValueError, match="depthwise-separable.*hardnet39ds"):
        H.HarDNet(39)
    with pytest.raises(ValueError, match="depth.*39, 68, 85.*got 50"):
        H.HarDNet(50)
    with pytest.raises(ValueError, match="smaller than the network's minimum"):
        H.HarDNet(68, input_shape=(16, 16, 3))
