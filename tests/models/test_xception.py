"""Xception: separable convolutions with nothing between depthwise and pointwise, the ReLU
placement and shortcuts of timm's legacy_xception, and the input checks. Counts, forward
passes, saving and conversion are the registry-wide tests' job."""

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session, keras
from keras_backbones.models import xception


@pytest.fixture(scope="module")
def model():
    clear_session()
    return registry.create_model("xception", input_shape=(7, 7, 3), classes=5)  # the minimum


def producer(model, name, index=None):
    inputs = model.get_layer(name).input
    names = [t._keras_history[0].name for t in (inputs if isinstance(inputs, list) else [inputs])]
    return names if index is None else names[index]


def test_separable_convolutions_are_depthwise_then_pointwise_then_bn(model):
    depthwise = model.get_layer("block4_sepconv2_depthwise")
    assert isinstance(depthwise, keras.layers.DepthwiseConv2D) and not depthwise.use_bias
    pointwise = model.get_layer("block4_sepconv2_pointwise")
    assert pointwise.kernel_size == (1, 1) and not pointwise.use_bias
    assert producer(model, "block4_sepconv2_pointwise") == ["block4_sepconv2_depthwise"]
    assert producer(model, "block4_bn2") == ["block4_sepconv2_pointwise"]
    assert producer(model, "block4_relu3") == ["block4_bn2"]


def test_relus_and_shortcuts(model):
    # Block 1 reads the stem's ReLU output directly; the others start with their own ReLU,
    # and their shortcut reads the block's input before it.
    assert producer(model, "block1_sepconv1_depthwise") == ["stem_relu2"]
    assert producer(model, "block2_relu1") == ["block1_add"]
    assert producer(model, "block2_skip_conv") == ["block1_add"]
    skip = model.get_layer("block2_skip_conv")
    assert skip.kernel_size == (1, 1) and skip.strides == (2, 2)
    assert producer(model, "block2_add") == ["block2_pool", "block2_skip_bn"]
    # The middle flow keeps width and size: identity shortcuts.
    assert producer(model, "block5_add") == ["block5_bn3", "block4_add"]
    assert "block5_skip_conv" not in [layer.name for layer in model.layers]
    # The exit flow: separable conv, BN, ReLU.
    assert producer(model, "exit_relu2") == ["exit_bn2"]
    assert model.get_layer("exit_sepconv2_pointwise").filters == 2048
    assert model(np.zeros((1, 7, 7, 3), np.float32)).shape == (1, 5)


def test_minimum_input_size():
    with pytest.raises(ValueError, match="minimum of 7x7"):
        registry.create_model("xception", input_shape=(6, 64, 3))


def test_timm_checkpoint_names():
    names = xception.CHECKPOINTS["timm"].names
    expected = {
        "stem_conv1": "conv1", "stem_bn2": "bn2",
        "block1_sepconv1_depthwise": "block1.rep.0.conv1", "block1_bn1": "block1.rep.1",
        "block1_sepconv2_pointwise": "block1.rep.3.pointwise", "block1_skip_conv": "block1.skip",
        "block2_sepconv1_depthwise": "block2.rep.1.conv1", "block2_bn2": "block2.rep.5",
        "block5_sepconv3_pointwise": "block5.rep.7.pointwise", "block12_skip_bn": "block12.skipbn",
        "exit_sepconv1_depthwise": "conv3.conv1", "exit_sepconv2_pointwise": "conv4.pointwise",
        "exit_bn1": "bn3", "exit_bn2": "bn4", "logits": "fc",
    }
    assert {path: names(path, None) for path in expected} == expected
