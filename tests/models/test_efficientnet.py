"""EfficientNet and EfficientNetV2 specifics: compound scaling gives the published widths and
depths, the MBConv block (squeeze-and-excitation of the block's input width, swish, linear
projection), stochastic depth linear in the block index, Fused-MBConv in V2's early stages,
TensorFlow's padding in the tf_ port, the reference's BatchNorm settings, checkpoint names and
argument errors. The registry-wide contract checks every variant's parameter count; this file
builds few models, at 64x64."""

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import keras
from keras_backbones.layers import SqueezeExcite, StochasticDepth
from keras_backbones.models import efficientnet, efficientnet_v2
from tests import support

SMALL = dict(input_shape=(64, 64, 3), classes=10)


def names_of(model):
    return {layer.name for layer in model.layers}


# The official models' widths and depths (efficientnet_builder / keras.applications): stem,
# stage outputs, head, blocks per stage.
PUBLISHED = {
    "b0": (32, [16, 24, 40, 80, 112, 192, 320], 1280, [1, 2, 2, 3, 3, 4, 1]),
    "b1": (32, [16, 24, 40, 80, 112, 192, 320], 1280, [2, 3, 3, 4, 4, 5, 2]),
    "b2": (32, [16, 24, 48, 88, 120, 208, 352], 1408, [2, 3, 3, 4, 4, 5, 2]),
    "b3": (40, [24, 32, 48, 96, 136, 232, 384], 1536, [2, 3, 3, 5, 5, 6, 2]),
    "b4": (48, [24, 32, 56, 112, 160, 272, 448], 1792, [2, 4, 4, 6, 6, 8, 2]),
    "b5": (48, [24, 40, 64, 128, 176, 304, 512], 2048, [3, 5, 5, 7, 7, 9, 3]),
    "b6": (56, [32, 40, 72, 144, 200, 344, 576], 2304, [3, 6, 6, 8, 8, 11, 3]),
    "b7": (64, [32, 48, 80, 160, 224, 384, 640], 2560, [4, 7, 7, 10, 10, 13, 4]),
}


@pytest.mark.parametrize("variant", sorted(PUBLISHED))
def test_compound_scaling_gives_the_published_widths_and_depths(variant):
    width, depth, _, _ = efficientnet.SCALING[variant]
    stem, widths, head, repeats = PUBLISHED[variant]
    stages = efficientnet.scaled_stages(width, depth)
    assert efficientnet.round_filters(efficientnet.STEM_WIDTH, width) == stem
    assert [c for _, _, _, c, _ in stages] == widths
    assert [n for _, _, _, _, n in stages] == repeats
    assert 4 * widths[-1] == head == efficientnet.round_filters(1280, width)


def test_compound_scaling_grows_resolution_with_the_coefficients():
    sizes = [registry.get_spec(f"efficientnet_{v}").preprocessing.input_size[0]
             for v in sorted(PUBLISHED)]
    assert sizes == [224, 240, 260, 300, 380, 456, 528, 600]
    # The published coefficients are the paper's alpha^phi, beta^phi (alpha 1.2, beta 1.1)
    # rounded: phi = 1 gives B1's depth 1.1 < 1.2 ... they grow together, never shrink.
    scaling = [efficientnet.SCALING[v] for v in sorted(PUBLISHED)]
    for before, after in zip(scaling, scaling[1:]):
        assert all(b <= a for b, a in zip(before[:3], after[:3]))


def test_mbconv_block_of_efficientnet_b0():
    model = registry.create_model("efficientnet_b0", **SMALL)
    names = names_of(model)
    assert len(support.layers_of(model, keras.layers.DepthwiseConv2D)) == 16
    assert "stage1_block1_expand_conv" not in names  # MBConv1: no expansion
    assert model.get_layer("stage2_block1_expand_conv").filters == 96  # 16 x 6
    assert model.get_layer("stage3_block1_dw_conv").kernel_size == (5, 5)
    # Squeeze-and-excitation to a quarter of the BLOCK INPUT (16 // 4 = 4, not 96 // 4).
    se = {layer.name: layer for layer in support.layers_of(model, SqueezeExcite)}
    assert len(se) == 16
    assert model.get_layer("stage2_block1_se").reduce.filters == 4
    assert model.get_layer("stage1_block1_se").reduce.filters == 8  # 32 // 4
    assert {(s.activation, s.gate) for s in se.values()} == {("swish", "sigmoid")}
    assert not any(name.endswith("project_act") for name in names)  # linear bottleneck
    assert model.get_layer("stage2_block1_dw_act").get_config()["activation"] in ("swish", "silu")
    assert model.get_layer("head_conv").filters == 1280
    assert model.get_layer("head_dropout").rate == 0.2
    assert model.get_layer("stem_bn").epsilon == 1e-5


def test_stochastic_depth_rises_linearly_with_the_block_index():
    model = registry.create_model("efficientnet_b0", **SMALL)
    rates = {layer.name: layer.rate for layer in support.layers_of(model, StochasticDepth)}
    # Only residual blocks drop; block i of 16 at 0.2 x i / 16 (torchvision's rule).
    assert rates["stage2_block2_drop_path"] == pytest.approx(0.2 * 2 / 16)
    assert rates["stage6_block4_drop_path"] == pytest.approx(0.2 * 14 / 16)
    assert "stage2_block1_drop_path" not in rates  # strided: no residual
    assert len(rates) == 9
    model = registry.create_model("efficientnet_b0", drop_path_rate=0.0, **SMALL)
    assert not support.layers_of(model, StochasticDepth)


def test_b5_to_b7_use_the_tensorflow_batchnorm_settings():
    model = registry.create_model("efficientnet_b5", **SMALL)
    norm = model.get_layer("stage1_block1_dw_bn")
    assert norm.epsilon == 1e-3 and norm.momentum == pytest.approx(0.99)
    assert model.get_layer("head_dropout").rate == 0.4


def test_efficientnet_v2_s_starts_with_fused_mbconv():
    model = registry.create_model("efficientnet_v2_s", **SMALL)
    names = names_of(model)
    for stage, blocks in ((1, 2), (2, 4), (3, 4)):  # Fused-MBConv: no depthwise, no SE
        for b in range(1, blocks + 1):
            assert f"stage{stage}_block{b}_fused_conv" in names
            assert f"stage{stage}_block{b}_dw_conv" not in names
            assert f"stage{stage}_block{b}_se" not in names
    # Expansion 1: one 3x3 convolution, activated, with the residual; expansion 4: a strided
    # 3x3 convolution to 4 x the input, then the 1x1 projection.
    assert "stage1_block1_project_conv" not in names and "stage1_block2_add" in names
    fused = model.get_layer("stage2_block1_fused_conv")
    assert (fused.kernel_size, fused.strides, fused.filters) == ((3, 3), (2, 2), 96)
    assert model.get_layer("stage2_block1_project_conv").filters == 48
    activation = model.get_layer("stage2_block1_fused_act").get_config()["activation"]
    assert activation in ("swish", "silu")
    assert len(support.layers_of(model, keras.layers.DepthwiseConv2D)) == 6 + 9 + 15
    assert "stem_conv_pad" in names  # PyTorch's symmetric padding at the strided stem
    assert len(support.layers_of(model, SqueezeExcite)) == 30
    assert model.get_layer("stage4_block1_se").reduce.filters == 16  # 64 // 4
    assert model.get_layer("stem_bn").epsilon == 1e-3
    assert model.get_layer("stem_conv").filters == 24
    assert model.get_layer("head_conv").filters == 1280
    rates = {layer.name: layer.rate for layer in support.layers_of(model, StochasticDepth)}
    assert rates["stage1_block2_drop_path"] == pytest.approx(0.2 * 1 / 40)
    # torchvision's depthwise initialization: N(0, 2 / (C k k)), C = 64 x 4.
    kernel = np.asarray(model.get_layer("stage4_block1_dw_conv").weights[0])
    assert kernel.std() == pytest.approx(np.sqrt(2 / (256 * 9)), rel=0.1)
    assert model.get_layer("stage4_block1_dw_conv").get_config()["depthwise_initializer"][
        "config"]["scale"] == pytest.approx(2 / 256)


def test_efficientnet_v2_b0_pads_as_tensorflow():
    model = registry.create_model("efficientnet_v2_b0", input_shape=(65, 65, 3), classes=10)
    names = names_of(model)
    assert not support.layers_of(model, keras.layers.ZeroPadding2D)  # "same" everywhere
    for name in ("stem_conv", "stage2_block1_fused_conv", "stage4_block1_dw_conv"):
        assert model.get_layer(name).padding == "same"
        assert model.get_layer(name).strides == (2, 2)
    assert "stage1_block1_add" not in names  # 32 -> 16 channels: no residual
    assert "stage1_block1_project_conv" not in names
    # TensorFlow's "same": ceil(65 / 2) at each stride.
    assert model.get_layer("head_conv").output.shape[1] == 3
    # timm's (and the official code's) depthwise initialization: N(0, 2 / (k k)).
    kernel = np.asarray(model.get_layer("stage4_block1_dw_conv").weights[0])
    assert kernel.std() == pytest.approx(np.sqrt(2 / 9), rel=0.1)


def test_checkpoint_names():
    b0 = registry.create_model("efficientnet_b0", **SMALL)
    torchvision, timm = efficientnet.torchvision_names, efficientnet.CHECKPOINTS["timm"].names
    assert torchvision("stage1_block1_dw_conv", b0) == "features.1.0.block.0.0"
    assert torchvision("stage2_block1_se/reduce", b0) == "features.2.0.block.2.fc1"
    assert torchvision("stage2_block1_project_bn", b0) == "features.2.0.block.3.1"
    assert torchvision("head_conv", b0) == "features.8.0"
    assert timm("stage1_block1_se/expand", b0) == "blocks.0.0.se.conv_expand"
    assert timm("stage2_block1_expand_conv", b0) == "blocks.1.0.conv_pw"
    v2 = registry.create_model("efficientnet_v2_b0", **SMALL)
    timm_v2 = efficientnet_v2.timm_names
    assert timm_v2("stage1_block1_fused_conv", v2) == "blocks.0.0.conv"
    assert timm_v2("stage2_block2_fused_bn", v2) == "blocks.1.1.bn1"
    assert timm_v2("stage2_block2_project_conv", v2) == "blocks.1.1.conv_pwl"
    assert timm_v2("stage4_block1_dw_conv", v2) == "blocks.3.0.conv_dw"
    assert torchvision("stage2_block2_project_conv", v2) == "features.2.1.block.1.0"
    assert torchvision("head_bn", v2) == "features.7.1"


@pytest.mark.parametrize("name, options, message", [
    ("efficientnet_b0", {"width_coefficient": 0}, "width_coefficient"),
    ("efficientnet_b0", {"depth_coefficient": -1.0}, "depth_coefficient"),
    ("efficientnet_b0", {"drop_path_rate": 1.0}, "drop_path_rate"),
    ("efficientnet_b0", {"input_shape": (16, 16, 3)}, "minimum"),
    ("efficientnet_v2_s", {"padding": "valid"}, "padding"),
    ("efficientnet_v2_s", {"drop_path_rate": -0.1}, "drop_path_rate"),
])
def test_bad_arguments_are_named(name, options, message):
    with pytest.raises(ValueError, match=message):
        registry.create_model(name, **options)


def test_unknown_v2_config_is_named():
    with pytest.raises(ValueError, match="config"):
        efficientnet_v2.EfficientNetV2("xl")
