"""Pre-activation ResNet (v2) and Wide ResNet: the structure that makes them pre-activation.

Parameter counts, forward passes, saving and conversion are the registry-wide tests' job;
these build small models (small inputs, small depths) and read the layer graph."""

import inspect

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import keras
from keras_backbones.layers import PaddedMaxPooling2D
from keras_backbones.models import resnet_v2


def producers(model, layer_name):
    """Names of the layers whose outputs `layer_name` consumes (looking through the explicit
    zero padding of a strided convolution)."""
    inputs = model.get_layer(layer_name).input
    names = []
    for tensor in inputs if isinstance(inputs, (list, tuple)) else [inputs]:
        layer = tensor._keras_history[0]
        if isinstance(layer, keras.layers.ZeroPadding2D):
            layer = layer.input._keras_history[0]
        names.append(layer.name)
    return sorted(names)


@pytest.fixture(scope="module")
def resnet18():
    return resnet_v2.ResNetV2(18, input_shape=(32, 32, 3), classes=7)


@pytest.fixture(scope="module")
def resnet50():
    return resnet_v2.ResNetV2(50, input_shape=(32, 32, 3), include_top=False)


@pytest.fixture(scope="module")
def wrn10():
    return resnet_v2.WideResNetCIFAR(10, 2, dropout_rate=0.3, input_shape=(16, 16, 3), classes=10)


@pytest.mark.parametrize("block,previous", [
    ("stage1_block1", "stem_pool"),            # identity shortcut (64 -> 64, stride 1)
    ("stage1_block2", "stage1_block1_add"),
    ("stage2_block1", "stage1_block2_add"),    # projection shortcut (64 -> 128, stride 2)
])
def test_block_starts_with_norm_then_relu(resnet18, block, previous):
    norm1 = resnet18.get_layer(f"{block}_norm1")
    assert isinstance(norm1, keras.layers.BatchNormalization)
    assert norm1.epsilon == pytest.approx(1e-5)
    assert producers(resnet18, f"{block}_norm1") == [previous]
    assert producers(resnet18, f"{block}_relu1") == [f"{block}_norm1"]
    assert producers(resnet18, f"{block}_conv1") == [f"{block}_relu1"]
    assert producers(resnet18, f"{block}_norm2") == [f"{block}_conv1"]


def test_identity_shortcut_carries_the_unnormalized_input(resnet18):
    assert producers(resnet18, "stage1_block2_add") == ["stage1_block1_add", "stage1_block2_conv2"]
    names = {layer.name for layer in resnet18.layers}
    assert "stage1_block1_downsample_conv" not in names
    assert "stage1_block2_downsample_conv" not in names


@pytest.mark.parametrize("fixture,block,stride", [
    ("resnet18", "stage2_block1", 2),
    ("resnet50", "stage1_block1", 1),  # a bottleneck widens 64 -> 256 at stride 1
    ("resnet50", "stage3_block1", 2),
    ("wrn10", "stage1_block1", 1),     # 16 -> 32 channels
    ("wrn10", "stage2_block1", 2),
])
def test_projection_shortcut_reads_the_preactivated_input(request, fixture, block, stride):
    model = request.getfixturevalue(fixture)
    conv = model.get_layer(f"{block}_downsample_conv")
    assert conv.kernel_size == (1, 1) and conv.strides == (stride, stride)
    assert not conv.use_bias
    assert producers(model, f"{block}_downsample_conv") == [f"{block}_relu1"]
    last_conv = "conv3" if fixture == "resnet50" else "conv2"
    assert producers(model, f"{block}_add") == [f"{block}_{last_conv}", f"{block}_downsample_conv"]


def test_bottleneck_strides_its_3x3_convolution(resnet50):
    convs = [resnet50.get_layer(f"stage2_block1_conv{i}") for i in (1, 2, 3)]
    assert [c.kernel_size for c in convs] == [(1, 1), (3, 3), (1, 1)]
    assert [c.strides for c in convs] == [(1, 1), (2, 2), (1, 1)]
    assert [c.filters for c in convs] == [128, 128, 512]


def test_stem_has_no_norm_and_pools_with_padding(resnet18):
    conv = resnet18.get_layer("stem_conv")
    assert conv.kernel_size == (7, 7) and conv.strides == (2, 2) and not conv.use_bias
    # PyTorch's MaxPool2d(3, 2, padding=1) straight on the conv output, which is not post-ReLU:
    # its padding must never be selected (zero padding would win over negative values).
    pool = resnet18.get_layer("stem_pool")
    assert isinstance(pool, PaddedMaxPooling2D)
    assert (pool.pool_size, pool.strides, pool.padding) == ((3, 3), (2, 2), (1, 1))
    assert producers(resnet18, "stem_pool") == ["stem_conv"]
    assert tuple(pool.output.shape[1:]) == (8, 8, 64)


@pytest.mark.parametrize("fixture,last_add", [("resnet18", "stage4_block2_add"),
                                              ("resnet50", "stage4_block3_add"),
                                              ("wrn10", "stage3_block1_add")])
def test_final_norm_and_relu_close_the_network(request, fixture, last_add):
    model = request.getfixturevalue(fixture)
    assert isinstance(model.get_layer("final_norm"), keras.layers.BatchNormalization)
    assert producers(model, "final_norm") == [last_add]
    assert producers(model, "final_relu") == ["final_norm"]


def test_resnet_v2_head_and_init(resnet18):
    assert tuple(resnet18.output.shape) == (None, 7)
    logits = resnet18.get_layer("logits")
    assert producers(resnet18, "logits") == ["avg_pool"]
    assert float(np.std(np.asarray(logits.kernel))) == pytest.approx(0.01, rel=0.1)
    assert not np.any(np.asarray(logits.bias))


def test_resnet_v2_rejects_unknown_depth():
    with pytest.raises(ValueError, match="depth"):
        resnet_v2.ResNetV2(20)


@pytest.mark.parametrize("depth", [4, 27, 29, 30, 28.0])
def test_wrn_depth_must_be_6n_plus_4(depth):
    with pytest.raises(ValueError, match="6n"):
        resnet_v2.WideResNetCIFAR(depth, 1)


def test_wrn_dropout_sits_before_the_second_convolution(wrn10):
    dropouts = [layer for layer in wrn10.layers if isinstance(layer, keras.layers.Dropout)]
    assert [d.name for d in dropouts] == [f"stage{s}_block1_dropout" for s in (1, 2, 3)]
    assert all(d.rate == pytest.approx(0.3) for d in dropouts)
    assert producers(wrn10, "stage2_block1_dropout") == ["stage2_block1_relu2"]
    assert producers(wrn10, "stage2_block1_conv2") == ["stage2_block1_dropout"]


def test_wrn_without_dropout_has_no_dropout_layers():
    model = resnet_v2.WideResNetCIFAR(10, 1, input_shape=(8, 8, 3))
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in model.layers)


def test_wrn_structure(wrn10):
    convs = [layer for layer in wrn10.layers if isinstance(layer, keras.layers.Conv2D)]
    assert not any(c.use_bias for c in convs)  # the official code disables conv biases
    assert wrn10.get_layer("stem_conv").filters == 16
    assert [wrn10.get_layer(f"stage{s}_block1_conv2").filters for s in (1, 2, 3)] == [32, 64, 128]
    assert tuple(wrn10.output.shape) == (None, 10)


def test_wrn28_10_defaults():
    dropout_rate = inspect.signature(resnet_v2.WideResNet28_10).parameters["dropout_rate"]
    assert dropout_rate.default == 0.3  # the paper's best
    spec = registry.get_spec("wrn28_10")
    assert spec.kwargs == {"classes": 10}  # CIFAR-10, called directly too
    assert spec.family == "Wide ResNet" and spec.paper_params == 36_500_000
    assert spec.preprocessing.input_size == (32, 32, 3)


def test_features_only_strides_imagenet():
    model = resnet_v2.ResNetV2(18, input_shape=(64, 64, 3), features_only=True)
    assert [tuple(o.shape[1:]) for o in model.outputs] == [
        (32, 32, 64), (16, 16, 64), (8, 8, 128), (4, 4, 256), (2, 2, 512)]
    assert [model.get_layer(f"stride{s}").input._keras_history[0].name
            for s in (2, 4, 8, 16, 32)] == [
        "stem_conv", "stage1_block2_add", "stage2_block2_add", "stage3_block2_add",
        "stage4_block2_add"]


def test_features_only_strides_cifar():
    model = resnet_v2.WideResNetCIFAR(10, 2, input_shape=(16, 16, 3), features_only=True)
    assert [tuple(o.shape[1:]) for o in model.outputs] == [(16, 16, 32), (8, 8, 64), (4, 4, 128)]


@pytest.mark.parametrize("build", [
    lambda norm: resnet_v2.ResNetV2(18, input_shape=(32, 32, 3), norm=norm),
    lambda norm: resnet_v2.WideResNetCIFAR(10, 1, input_shape=(8, 8, 3), norm=norm),
])
def test_norm_option(build):
    grouped = build("group")
    norms = [layer for layer in grouped.layers if "norm" in layer.name]
    assert norms and all(isinstance(n, keras.layers.GroupNormalization) for n in norms)
    assert build("syncbatch").get_layer("final_norm").synchronized
    with pytest.raises(ValueError, match="norm"):
        build("layer")
