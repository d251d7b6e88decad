"""Bad input gets a clear error that names the problem and what is allowed."""

import numpy as np
import pytest

import keras_backbones
from keras_backbones import registry
from keras_backbones.backend import clear_session
from keras_backbones.weights import WeightsError, save_weights


@pytest.fixture(autouse=True)
def fresh_session():
    clear_session()
    yield
    clear_session()


def test_unknown_name_lists_the_closest_names():
    with pytest.raises(ValueError, match=r"Unknown model name 'vgg17'.*Closest names: .*vgg1[69]"):
        registry.create_model("vgg17")
    with pytest.raises(ValueError, match="list_models"):
        registry.model_info("no_such_net")


@pytest.mark.parametrize("name, shape, minimum", [
    ("vgg11", (16, 16, 3), "32x32"),
    ("alexnet", (62, 62, 3), "63x63"),
    ("alexnet_original", (66, 66, 3), "67x67"),
    ("lenet5", (28, 28, 1), "32x32"),
])
def test_input_smaller_than_the_minimum_names_the_minimum(name, shape, minimum):
    with pytest.raises(ValueError, match=rf"smaller than the network's minimum of {minimum}"):
        registry.create_model(name, input_shape=shape)


@pytest.mark.parametrize("name, shape", [("alexnet", (63, 63, 3)), ("alexnet_original", (67, 67, 3)),
                                         ("lenet5", (32, 32, 1)), ("vgg11", (32, 32, 3))])
def test_the_stated_minimum_builds_and_runs(name, shape):
    model = registry.create_model(name, input_shape=shape, classes=5)
    assert model(np.zeros((1, *shape), np.float32)).shape == (1, 5)


@pytest.mark.parametrize("classes", [0, -3, 2.5])
def test_classes_must_be_a_positive_integer(classes):
    with pytest.raises(ValueError, match="`classes` must be a positive integer"):
        registry.create_model("lenet5", classes=classes)


def test_pooling_must_be_none_avg_or_max():
    with pytest.raises(ValueError, match="`pooling` must be one of None, 'avg' or 'max'"):
        registry.create_model("lenet5", include_top=False, pooling="mean")


@pytest.mark.parametrize("name, size", [("vgg11", 100), ("alexnet", 150), ("alexnet_original", 300)])
def test_fixed_size_heads_adapt_to_other_sizes_as_torchvision(name, size):
    model = registry.create_model(name, input_shape=(size, size, 3), classes=7)
    assert model(np.zeros((1, size, size, 3), np.float32)).shape == (1, 7)


@pytest.mark.parametrize("name", ["vgg11", "alexnet", "lenet5"])
def test_fixed_size_heads_need_a_known_size(name):
    channels = 1 if name == "lenet5" else 3
    with pytest.raises(ValueError, match="needs a fixed input size"):
        registry.create_model(name, input_shape=(None, None, channels))
    # Without the head any size goes.
    registry.create_model(name, include_top=False, input_shape=(None, None, channels))


def test_input_shape_must_have_three_dimensions():
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        registry.create_model("lenet5", input_shape=(32, 32))


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such weights file"):
        registry.create_model("lenet5", weights=str(tmp_path / "nope.npz"))


def test_a_file_that_is_not_a_weights_file(tmp_path):
    garbage = tmp_path / "weights.npz"
    garbage.write_bytes(b"this is not a weights file")
    with pytest.raises(WeightsError, match="not a keras_backbones weights file"):
        registry.create_model("lenet5", weights=str(garbage))
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(3))
    with pytest.raises(WeightsError, match="no '__meta__' record"):
        registry.create_model("lenet5", weights=str(plain))


def test_weights_of_another_architecture(tmp_path):
    path = save_weights(keras_backbones.ResNet18(include_top=False), tmp_path / "resnet18.npz")
    with pytest.raises(WeightsError, match=r"80 model weights not in the file: stage1_block3"):
        registry.create_model("resnet34", weights=path, include_top=False, input_shape=(64, 64, 3))
    path = save_weights(registry.create_model("alexnet", input_shape=(63, 63, 3), include_top=False),
                        tmp_path / "alexnet.npz")
    with pytest.raises(WeightsError, match=r"model weights not in the file.*the file holds weights of 'alexnet'"):
        registry.create_model("lenet5", weights=path)


def test_weights_argument_type():
    with pytest.raises(ValueError, match="`weights` must be None, 'imagenet', 'SOURCE:TAG', a URL or the path"):
        registry.create_model("lenet5", weights=123)
