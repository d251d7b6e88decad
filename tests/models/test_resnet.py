"""ResNet-family specifics: stride placement, shortcut options, norms, attention placement,
grouped convolutions, feature maps and argument errors. Small inputs and shallow networks
(one block per stage) keep it fast; the registry-wide tests cover every variant's count."""

import numpy as np
import pytest

from keras_backbones import registry, stats
from keras_backbones.backend import keras
from keras_backbones.models import resnet

SMALL = dict(input_shape=(64, 64, 3), classes=10)
ONE_BLOCK = (1, 1, 1, 1)


def layer_names(model):
    return [layer.name for layer in model.layers]


def inbound(model, name):
    """Names of the layers feeding layer `name` (its single call)."""
    layer = model.get_layer(name)
    tensors = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    producers = {id(other.output): other.name for other in model.layers}
    return [producers[id(t)] for t in tensors]


@pytest.mark.parametrize("variant, conv1_stride, conv2_stride", [("v1.5", 1, 2), ("v1", 2, 1)])
def test_bottleneck_variant_places_the_stride(variant, conv1_stride, conv2_stride):
    model = resnet.ResNet(ONE_BLOCK, "bottleneck", variant=variant, **SMALL)
    assert model.get_layer("stage2_block1_conv1").strides == (conv1_stride,) * 2
    assert model.get_layer("stage2_block1_conv2").strides == (conv2_stride,) * 2
    assert model.get_layer("stage2_block1_downsample_conv").strides == (2, 2)


def test_basic_block_strides_its_first_conv_in_both_variants():
    for variant in ("v1", "v1.5"):
        model = resnet.ResNet(ONE_BLOCK, "basic", variant=variant, **SMALL)
        assert model.get_layer("stage2_block1_conv1").strides == (2, 2)


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_shortcut_options_order_the_parameter_counts(block):
    models = {s: resnet.ResNet((2, 1, 1, 1), block, shortcut=s, **SMALL) for s in "ABC"}
    counts = {s: stats.trainable_params(m) for s, m in models.items()}
    assert counts["A"] < counts["B"] < counts["C"]
    assert not [n for n in layer_names(models["A"]) if n.endswith("downsample_conv")]
    # B projects only where the shape changes; C in every block.
    projected_b = [n for n in layer_names(models["B"]) if n.endswith("downsample_conv")]
    projected_c = [n for n in layer_names(models["C"]) if n.endswith("downsample_conv")]
    assert len(projected_c) == 5
    assert len(projected_b) == (3 if block == "basic" else 4)


def test_shortcut_a_subsamples_and_appends_zero_channels():
    model = resnet.ResNet(ONE_BLOCK, "basic", shortcut="A", include_top=False,
                          input_shape=(None, None, 3))
    probe = keras.Model(model.input, [model.get_layer("stage1_block1_out").output,
                                       model.get_layer("stage2_block1_downsample_to_clast").output])
    x = np.random.default_rng(0).random((1, 37, 37, 3), dtype=np.float32)
    before, shortcut = (np.asarray(t) for t in probe(x))
    assert shortcut.shape == (1, 5, 5, 128)
    np.testing.assert_array_equal(shortcut[..., :64], before[:, ::2, ::2])
    np.testing.assert_array_equal(shortcut[..., 64:], 0.0)


def test_deep_stem_width_and_average_downsampling_shortcut():
    """stem(width=w): 3x3 convs of w, w, 2w (ResNet-D, ResNeSt); avg_down: a strided projection
    is a 2x2 average pool (ceil mode, padding not counted: odd sizes too) then a 1x1 conv."""
    inputs = keras.Input(shape=(None, None, 3))
    stem = keras.Model(inputs, resnet.stem("deep", width=32)(inputs))
    assert [stem.get_layer(f"stem_conv{i}").filters for i in (1, 2, 3)] == [32, 32, 64]
    inputs = keras.Input(shape=(None, None, 8))
    cfg = resnet.BlockConfig(avg_down=True, down_kernel_size=3)  # avg_down: always a 1x1
    down = keras.Model(inputs, resnet.shortcut_path(inputs, 16, 2, name="b", cfg=cfg))
    assert inbound(down, "b_downsample_conv") == ["b_downsample_pool"]
    conv = down.get_layer("b_downsample_conv")
    assert (conv.kernel_size, conv.strides) == ((1, 1), (1, 1))
    x = np.random.default_rng(0).normal(size=(1, 5, 7, 8)).astype(np.float32)
    pooled = keras.Model(inputs, down.get_layer("b_downsample_pool").output)(x)
    expected = [[x[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2].mean(axis=(0, 1)) for j in range(4)]
                for i in range(3)]  # slices clip at the border: ceil mode, no padding counted
    np.testing.assert_allclose(np.asarray(pooled)[0], expected, rtol=1e-5, atol=1e-6)
    identity = resnet.shortcut_path(inputs, 8, 1, name="i", cfg=cfg)
    assert identity is inputs
    projected = keras.Model(inputs, resnet.shortcut_path(inputs, 16, 1, name="p", cfg=cfg))
    assert "p_downsample_pool" not in layer_names(projected)  # unstrided: no pool


def test_group_norm_keeps_the_parameter_count():
    batch = resnet.ResNet(ONE_BLOCK, "bottleneck", **SMALL)
    group = resnet.ResNet(ONE_BLOCK, "bottleneck", norm="group", **SMALL)
    assert stats.trainable_params(group) == stats.trainable_params(batch)
    kinds = {type(layer).__name__ for layer in group.layers}
    assert "GroupNormalization" in kinds and "BatchNormalization" not in kinds
    assert group.get_layer("stem_bn").groups == 32


def test_syncbatch_norm_is_synchronized():
    model = resnet.ResNet(ONE_BLOCK, "basic", norm="syncbatch", **SMALL)
    bn = model.get_layer("stage1_block1_bn1")
    assert isinstance(bn, keras.layers.BatchNormalization) and bn.synchronized
    batch = resnet.ResNet(ONE_BLOCK, "basic", **SMALL)
    assert not batch.get_layer("stage1_block1_bn1").synchronized


@pytest.mark.parametrize("stem_type", ["default", "deep"])
def test_features_only_strides(stem_type):
    model = resnet.ResNet(ONE_BLOCK, "bottleneck", stem_type=stem_type, features_only=True,
                          input_shape=(64, 64, 3))
    shapes = [tuple(t.shape[1:]) for t in model.outputs]
    assert shapes == [(32, 32, 128 if stem_type == "deep" else 64), (16, 16, 256),
                      (8, 8, 512), (4, 4, 1024), (2, 2, 2048)]


@pytest.mark.parametrize("attention, module", [("se", "SqueezeExcite"), ("eca", "ECA"),
                                               ("cbam", "CBAM")])
@pytest.mark.parametrize("block, last_bn", [("basic", "bn2"), ("bottleneck", "bn3")])
def test_attention_sits_after_the_last_norm_before_the_add(attention, module, block, last_bn):
    model = resnet.ResNet(ONE_BLOCK, block, attention=attention, **SMALL)
    for stage in range(1, 5):
        prefix = f"stage{stage}_block1"
        layer = model.get_layer(f"{prefix}_{attention}")
        assert type(layer).__name__ == module
        assert inbound(model, layer.name) == [f"{prefix}_{last_bn}"]
        assert layer.name in inbound(model, f"{prefix}_add")
    assert sum(type(layer).__name__ == module for layer in model.layers) == 4


def test_resnext_groups_only_the_3x3():
    model = resnet.ResNet(ONE_BLOCK, "bottleneck", groups=32, base_width=4, **SMALL)
    conv1, conv2, conv3 = (model.get_layer(f"stage1_block1_conv{i}") for i in (1, 2, 3))
    assert (conv1.groups, conv2.groups, conv3.groups) == (1, 32, 1)
    assert conv2.filters == 128 and conv2.kernel_size == (3, 3)  # 32 groups x 4 channels
    assert model.get_layer("stage4_block1_conv2").filters == 1024


def test_wide_bottleneck_doubles_the_inner_width():
    model = resnet.ResNet(ONE_BLOCK, "bottleneck", base_width=128, **SMALL)
    assert model.get_layer("stage1_block1_conv2").filters == 128
    assert model.get_layer("stage1_block1_conv3").filters == 256


def test_senet154_layout():
    model = resnet.ResNet(ONE_BLOCK, "bottleneck", groups=64, base_width=4, attention="se",
                          stem_type="deep", block_reduce_first=2, down_kernel_size=3,
                          init="timm", **SMALL)
    assert [model.get_layer(f"stem_conv{i}").filters for i in (1, 2, 3)] == [64, 64, 128]
    assert model.get_layer("stem_conv1").strides == (2, 2)
    assert model.get_layer("stage1_block1_conv1").filters == 128  # width 256 // 2
    assert model.get_layer("stage1_block1_conv2").filters == 256
    # The projection is 3x3 where it strides, 1x1 where it only widens (timm's rule).
    assert model.get_layer("stage1_block1_downsample_conv").kernel_size == (1, 1)
    assert model.get_layer("stage2_block1_downsample_conv").kernel_size == (3, 3)


def test_timm_init_zeroes_the_last_norm_of_each_branch():
    model = resnet.ResNet(ONE_BLOCK, "basic", init="timm", **SMALL)
    for stage in range(1, 5):
        prefix = f"stage{stage}_block1"
        np.testing.assert_array_equal(model.get_layer(f"{prefix}_bn2").gamma.numpy(), 0.0)
        np.testing.assert_array_equal(model.get_layer(f"{prefix}_bn1").gamma.numpy(), 1.0)


def test_cbam_init_zeroes_the_logits_bias():
    torchvision = resnet.ResNet(ONE_BLOCK, "basic", **SMALL)
    cbam = resnet.ResNet(ONE_BLOCK, "basic", init="cbam", **SMALL)
    assert np.any(torchvision.get_layer("logits").bias.numpy() != 0)
    np.testing.assert_array_equal(cbam.get_layer("logits").bias.numpy(), 0.0)


def test_drop_path_rises_linearly_to_the_last_block():
    model = resnet.ResNet((2, 1, 1, 1), "basic", drop_path_rate=0.3, **SMALL)
    rates = {layer.name: layer.rate for layer in model.layers
             if type(layer).__name__ == "StochasticDepth"}
    assert rates == pytest.approx({
        "stage1_block2_drop_path": 0.075, "stage2_block1_drop_path": 0.15,
        "stage3_block1_drop_path": 0.225, "stage4_block1_drop_path": 0.3})
    assert inbound(model, "stage4_block1_add")[0] == "stage4_block1_drop_path"


def test_forward_pass_with_every_option():
    model = resnet.ResNet(ONE_BLOCK, "bottleneck", groups=4, base_width=16, attention="cbam",
                          stem_type="deep", variant="v1", shortcut="A", norm="group",
                          dropout_rate=0.2, drop_path_rate=0.1, input_shape=(None, None, 3),
                          classes=7)
    probabilities = np.asarray(model(np.zeros((2, 40, 48, 3), np.float32)))
    assert probabilities.shape == (2, 7)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(shortcut="D"), "'A', 'B', 'C'"),
    (dict(variant="v2"), "'v1.5', 'v1'"),
    (dict(norm="layer"), "'batch', 'syncbatch', 'group'"),
    (dict(stem_type="tiered"), "'default', 'deep'"),
    (dict(attention="bam"), "None, 'se', 'eca', 'cbam'"),
    (dict(init="keras"), "'torchvision', 'timm', 'cbam'"),
    (dict(depth=20), "18, 34, 50, 101, 152"),
    (dict(depth=(2, 2, 2)), "four positive block counts"),
    (dict(depth=(2, 2, 2, 2)), "pass `block`"),
    (dict(depth=(2, 2, 2, 2), block="dense"), "'basic', 'bottleneck'"),
    (dict(groups=32, base_width=4), "basic blocks have no groups"),
    (dict(input_shape=(16, 16, 3)), "minimum of 32x32"),
])
def test_invalid_arguments_say_what_is_allowed(kwargs, message):
    depth = kwargs.pop("depth", 18)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resnet.ResNet(depth, **kwargs)


def test_families_and_references_are_registered():
    expected = {
        "ResNet": ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"],
        "Wide ResNet": ["wide_resnet50_2", "wide_resnet101_2"],
        "ResNeXt": ["resnext50_32x4d", "resnext101_32x4d", "resnext101_32x8d", "resnext101_64x4d"],
        "SENet": ["seresnet18", "seresnet34", "seresnet50", "seresnet101", "seresnet152",
                  "seresnext50_32x4d", "seresnext101_32x4d", "senet154"],
        "ECA-Net": [f"eca_resnet{d}" for d in (18, 34, 50, 101, 152)],
        "CBAM": [f"cbam_resnet{d}" for d in (18, 34, 50, 101)],
    }
    for family, names in expected.items():
        assert set(names) <= set(registry.list_models(family=family)), family
    assert registry.get_spec("senet154").reference == ("timm", "senet154")
    assert registry.get_spec("cbam_resnet50").reference == (
        "official:Jongchan/attention-module", "ResidualNet(ImageNet,50,CBAM)")
