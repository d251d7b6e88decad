"""SqueezeNet: the paper's bypass options, Caffe's ceil-mode pools, and the input-size checks.

Parameter counts of the vanilla networks, forward passes, saving and conversion are the
registry-wide tests' job; these build at small inputs and read the layer graph."""

import numpy as np
import pytest

from keras_backbones import registry, stats
from keras_backbones.backend import clear_session, keras
from tests import support

# The Fire modules that widen (in -> out channels), where the paper's complex bypass is a 1x1
# convolution; fire3, 5, 7 and 9 keep their width and get the identity.
WIDENING = {"squeezenet1_0": {"fire2": (96, 128), "fire4": (128, 256), "fire6": (256, 384),
                              "fire8": (384, 512)},
            "squeezenet1_1": {"fire2": (64, 128), "fire4": (128, 256), "fire6": (256, 384),
                              "fire8": (384, 512)}}
SHAPE = (64, 64, 3)


def producers(model, name):
    inputs = model.get_layer(name).input
    inputs = inputs if isinstance(inputs, list) else [inputs]
    return sorted(t._keras_history[0].name for t in inputs)


@pytest.mark.parametrize("name", sorted(WIDENING))
def test_bypass_parameter_counts_follow_the_paper(name):
    vanilla = support.reference_params(name)["params"]
    simple = registry.create_model(name, bypass="simple", input_shape=SHAPE)
    assert stats.trainable_params(simple) == vanilla  # "just a wire"
    clear_session()
    complex_ = registry.create_model(name, bypass="complex", input_shape=SHAPE)
    # A 1x1 convolution with a bias per widening module: in x out weights + out biases.
    added = sum(c_in * c_out + c_out for c_in, c_out in WIDENING[name].values())
    assert stats.trainable_params(complex_) == vanilla + added


def test_simple_bypass_adds_the_input_around_fire3_5_7_9():
    model = registry.create_model("squeezenet1_0", bypass="simple", input_shape=SHAPE)
    adds = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert adds == ["fire3_add", "fire5_add", "fire7_add", "fire9_add"]
    assert producers(model, "fire3_add") == ["fire2_concat", "fire3_concat"]
    assert producers(model, "fire5_add") == ["fire5_concat", "pool4"]
    assert producers(model, "fire4_squeeze") == ["fire3_add"]


def test_complex_bypass_convolves_around_the_widening_modules():
    model = registry.create_model("squeezenet1_1", bypass="complex", input_shape=SHAPE)
    for fire, (c_in, c_out) in WIDENING["squeezenet1_1"].items():
        conv = model.get_layer(f"{fire}_bypass")
        assert conv.kernel.shape == (1, 1, c_in, c_out) and conv.use_bias
        assert producers(model, f"{fire}_add") == sorted([f"{fire}_bypass", f"{fire}_concat"])
    assert producers(model, "fire2_bypass") == ["pool1"]
    assert producers(model, "fire9_add") == ["fire8_add", "fire9_concat"]


def test_ceil_mode_pools_and_the_conv_classifier():
    model = registry.create_model("squeezenet1_0", features_only=True)
    # torchvision at 224: conv1 109, ceil-mode pools 54, 27, 13.
    sizes = [tuple(out.shape[1:3]) for out in model.outputs]
    assert sizes == [(109, 109), (54, 54), (27, 27), (13, 13)]
    clear_session()
    model = registry.create_model("squeezenet1_1", input_shape=SHAPE, classes=7,
                                  classifier_activation=None)
    logits = model.get_layer("logits")
    assert isinstance(logits, keras.layers.Conv2D) and logits.kernel.shape == (1, 1, 512, 7)
    assert model.get_layer("head_dropout").rate == 0.5
    assert (np.asarray(model(support.random_images(SHAPE))) >= 0).all()  # ReLU before the pool


def test_bypass_must_be_none_simple_or_complex():
    with pytest.raises(ValueError, match="`bypass` must be one of None, 'simple', 'complex'"):
        registry.create_model("squeezenet1_0", bypass="residual")


@pytest.mark.parametrize("name, minimum", [("squeezenet1_0", 21), ("squeezenet1_1", 17)])
def test_minimum_input_size(name, minimum):
    with pytest.raises(ValueError, match=f"minimum of {minimum}x{minimum}"):
        registry.create_model(name, input_shape=(minimum - 1, minimum, 3))
    model = registry.create_model(name, input_shape=(minimum, minimum, 3), classes=3)
    assert model(np.zeros((1, minimum, minimum, 3), np.float32)).shape == (1, 3)


def test_unknown_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match="ceil-mode max pools need a known input size"):
        registry.create_model("squeezenet1_1", include_top=False, input_shape=(None, None, 3))
