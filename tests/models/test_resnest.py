"""ResNeSt specifics: the ResNet-D body of timm's resnest (deep stem of stem_width, 2 x
stem_width; average downsampling on the shortcut; avd: the stride moved from the
split-attention convolution to a 3x3 average pool after it), split attention in every block
with the paper's radix 2 and attention width, the average pools' PyTorch semantics, the
checkpoint names, argument errors. One registered build and two small custom ones at 64x64;
the registry-wide contract covers every variant's count, parity tests/parity."""

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session, keras
from keras_backbones.layers import SplitAttention
from keras_backbones.models import _builder as B
from keras_backbones.models import resnest

SMALL = dict(input_shape=(64, 64, 3), classes=10)


@pytest.fixture(scope="module")
def model():
    clear_session()
    yield registry.create_model("resnest14d", **SMALL)
    clear_session()


def inbound(model, name):
    producers = {id(other.output): other.name for other in model.layers}
    return producers[id(model.get_layer(name).input)]


def test_deep_stem_widths(model):
    widths = [model.get_layer(f"stem_conv{i}").filters for i in (1, 2, 3)]
    assert widths == [32, 32, 64]
    assert model.get_layer("stem_conv1").strides == (2, 2)
    assert [resnest.CONFIGS[n][1] for n in resnest.CONFIGS] == [32, 32, 32, 64, 64, 64]


def test_split_attention_in_every_block_with_avd(model):
    splats = [layer for layer in model.layers if isinstance(layer, SplitAttention)]
    assert [layer.name for layer in splats] == [f"stage{s}_block1_splat" for s in (1, 2, 3, 4)]
    for s, layer in enumerate(splats, start=1):
        width = 64 * 2 ** (s - 1)
        assert (layer.radix, layer.groups, layer.strides) == (2, 1, 1)  # stride moved to avd
        assert layer.conv.filters == 2 * width and layer.fc1.filters == max(32, width // 2)
        if s == 1:  # not strided: neither avd nor a shortcut pool, a 1x1 projection (64 -> 256)
            names = {layer.name for layer in model.layers}
            assert "stage1_block1_avd" not in names and "stage1_block1_downsample_pool" not in names
        else:
            avd = model.get_layer(f"stage{s}_block1_avd")
            assert (avd.pool_size, avd.strides) == ((3, 3), (2, 2))
            assert inbound(model, f"stage{s}_block1_avd_pad") == layer.name
            assert inbound(model, f"stage{s}_block1_downsample_conv") == \
                f"stage{s}_block1_downsample_pool"
    assert tuple(model.get_layer("stage4_block1_out").output.shape[1:]) == (2, 2, 2048)


def test_average_pools_have_pytorch_semantics():
    """avd: AvgPool2d(3, 2, padding=1) counts the zero padding; the shortcut's AvgPool2d(2, 2,
    ceil_mode=True, count_include_pad=False) averages the valid pixels of a clipped window."""
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 1)).astype(np.float32)
    inputs = keras.Input(shape=(5, 5, 1))
    avd = keras.Model(inputs, B.avg_pool(inputs, 3, strides=2, padding=1, name="avd"))
    padded = np.pad(x[0, :, :, 0], 1)
    expected = np.array([[padded[2 * i:2 * i + 3, 2 * j:2 * j + 3].sum() / 9 for j in range(3)]
                         for i in range(3)])
    np.testing.assert_allclose(np.asarray(avd(x))[0, :, :, 0], expected, rtol=1e-5, atol=1e-6)
    pool = keras.Model(inputs, B.avg_pool(inputs, 2, ceil_mode=True, count_include_pad=False,
                                          name="down"))
    expected = np.array([[x[0, 2 * i:2 * i + 2, 2 * j:2 * j + 2, 0].mean() for j in range(3)]
                         for i in range(3)])  # slices clip at the border, like ceil mode
    np.testing.assert_allclose(np.asarray(pool(x))[0, :, :, 0], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="2x2 stride-2 window"):
        B.avg_pool(inputs, 3, strides=2, ceil_mode=True, count_include_pad=False, name="p")


def test_odd_input_sizes_and_radix_options():
    clear_session()
    m = resnest.ResNeSt((1, 1, 1, 1), stem_width=64, radix=1, cardinality=2, base_width=32,
                        avd_first=True, input_shape=(65, 71, 3), classes=10,
                        classifier_activation=None)
    assert m.get_layer("stem_conv3").filters == 128
    splat = m.get_layer("stage2_block1_splat")
    assert (splat.radix, splat.groups, splat.conv.filters) == (1, 2, 128)  # 128 * 32/64 * 2
    assert inbound(m, "stage2_block1_splat") == "stage2_block1_avd"  # avd_first
    out = np.asarray(m(np.zeros((1, 65, 71, 3), np.float32), training=False))
    assert out.shape == (1, 10) and np.isfinite(out).all()


@pytest.mark.parametrize("path, expected", [
    ("stem_conv1", "conv1.0"), ("stem_bn2", "conv1.4"), ("stem_conv3", "conv1.6"),
    ("stem_bn3", "bn1"), ("logits", "fc"),
    ("stage1_block1_conv1", "layer1.0.conv1"), ("stage3_block2_bn3", "layer3.1.bn3"),
    ("stage2_block1_splat/conv", "layer2.0.conv2.conv"),
    ("stage2_block1_splat/bn0", "layer2.0.conv2.bn0"),
    ("stage4_block3_splat/fc2", "layer4.2.conv2.fc2"),
    ("stage2_block1_downsample_conv", "layer2.0.downsample.1"),
    ("stage2_block1_downsample_bn", "layer2.0.downsample.2"),
    ("stage2_block1_avd", None), ("stage2_block1_splat", None),
])
def test_timm_checkpoint_names(path, expected):
    assert resnest.reference_name(path) == expected


@pytest.mark.parametrize("kwargs, message", [
    (dict(layers=(1, 1, 1)), "`layers` must be four positive integers, one per stage"),
    (dict(layers=(1, 1, 1, 1), radix=0), "`radix` must be a positive integer"),
    (dict(layers=(1, 1, 1, 1), stem_width=True), "`stem_width` must be a positive integer"),
    (dict(layers=(1, 1, 1, 1), pooling="mean"), "`pooling`"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        resnest.ResNeSt(**kwargs)
