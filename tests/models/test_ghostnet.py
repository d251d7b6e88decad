"""GhostNet specifics: the Ghost module makes half its maps by a 1x1 convolution and the other
half by a cheap depthwise convolution of them (ratio 2), the bottleneck's second module is
linear, the depthwise convolution only at stride 2, the shortcut convolutions only where the
shape changes, timm's SE (make_divisible by 4, hard-sigmoid gate), the width multiplier's
rounding and the unscaled 1280-wide layer with bias, timm's checkpoint names, argument errors.
The registry-wide contract checks every variant's parameter count; this builds two models at
64x64."""

import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session, keras
from keras_backbones.layers import SqueezeExcite
from keras_backbones.models import ghostnet

SMALL = dict(input_shape=(64, 64, 3), classes=10)


@pytest.fixture(scope="module")
def model():
    clear_session()
    yield registry.create_model("ghostnet_100", **SMALL)
    clear_session()


def names_of(model):
    return {layer.name for layer in model.layers}


def test_ghost_module_is_half_primary_half_cheap(model):
    # stage2_block1: 16 -> expanded 48 -> 24 channels.
    assert model.get_layer("stage2_block1_ghost1_primary_conv").filters == 24
    cheap = model.get_layer("stage2_block1_ghost1_cheap_conv")
    assert isinstance(cheap, keras.layers.DepthwiseConv2D)
    assert cheap.kernel_size == (3, 3) and cheap.depth_multiplier == 1
    assert model.get_layer("stage2_block1_ghost1_concat").output.shape[-1] == 48
    assert model.get_layer("stage2_block1_ghost2_concat").output.shape[-1] == 24
    # The expanding module has ReLU; the projecting one is linear.
    names = names_of(model)
    assert {"stage2_block1_ghost1_primary_act", "stage2_block1_ghost1_cheap_act"} <= names
    assert not {n for n in names if n.startswith("stage2_block1_ghost2") and n.endswith("_act")}


def test_depthwise_only_at_stride_2_and_shortcut_only_where_the_shape_changes(model):
    names = names_of(model)
    assert model.get_layer("stage2_block1_dw_conv").strides == (2, 2)
    assert "stage3_block1_dw_conv" not in names
    assert "stage1_block1_shortcut_dw_conv" not in names  # 16 -> 16 at stride 1: identity
    assert "stage2_block1_shortcut_pw_conv" in names  # stride 2
    assert "stage7_block4_shortcut_pw_conv" in names  # 80 -> 112 at stride 1
    assert model.get_layer("stage8_block1_shortcut_dw_conv").kernel_size == (5, 5)
    assert sum(n.endswith("_add") for n in names) == 16


def test_squeeze_excite_is_timms(model):
    se = {layer.name: layer for layer in model.layers if isinstance(layer, SqueezeExcite)}
    assert len(se) == 7
    first = se["stage4_block1_se"]  # 72 x 0.25 = 18 -> 20 (a multiple of 4)
    assert first.reduced_channels(72) == 20
    assert (first.activation, first.gate) == ("relu", "hard_sigmoid")
    assert se["stage9_block2_se"].reduced_channels(960) == 240


def test_head_has_the_960_convolution_and_the_1280_layer_with_bias(model):
    assert model.get_layer("head_conv").filters == 960
    pre_logits = model.get_layer("pre_logits")
    assert pre_logits.units == 1280 and pre_logits.use_bias


def test_width_multiplier_rounds_to_multiples_of_4_and_keeps_1280():
    clear_session()
    small = registry.create_model("ghostnet_050", **SMALL)
    assert small.get_layer("stem_conv").filters == 8
    assert small.get_layer("stage2_block1_ghost2_primary_conv").filters == 6  # 12 / 2
    assert small.get_layer("stage7_block2_ghost1_concat").output.shape[-1] == 92  # 184 x 0.5
    assert small.get_layer("head_conv").filters == 480
    assert small.get_layer("pre_logits").units == 1280
    widths = [layer.filters for layer in small.layers if isinstance(layer, keras.layers.Conv2D)
              and not isinstance(layer, keras.layers.DepthwiseConv2D)
              and not layer.name.endswith("primary_conv")]
    assert all(w % 4 == 0 for w in widths)
    clear_session()


def test_timm_names():
    names = ghostnet.timm_names
    assert names("stage1_block1_ghost1_primary_conv") == "blocks.0.0.ghost1.primary_conv.0"
    assert names("stage2_block1_ghost2_cheap_bn") == "blocks.1.0.ghost2.cheap_operation.1"
    assert names("stage8_block1_shortcut_pw_bn") == "blocks.7.0.shortcut.3"
    assert names("stage9_block4_se/expand") == "blocks.8.3.se.conv_expand"
    assert names("head_bn") == "blocks.9.0.bn1" and names("pre_logits") == "conv_head"


@pytest.mark.parametrize("options, message", [
    ({"alpha": 0}, "alpha"),
    ({"input_shape": (16, 16, 3)}, "minimum"),
    ({"pooling": "mean", "include_top": False}, "pooling"),
])
def test_bad_arguments_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        registry.create_model("ghostnet_050", **options)


def test_odd_ghost_width_is_refused():
    with pytest.raises(ValueError, match="multiples of 2"):
        ghostnet.ghost_module(25, name="odd")
