"""LeNet-5, AlexNet and VGG: the details that make each the paper's (or torchvision's) network."""

import numpy as np
import pytest

import keras_backbones
from keras_backbones.backend import keras
from keras_backbones.layers import LocalResponseNormalization, ScaledTanh


def layer_types(model):
    return [type(layer).__name__ for layer in model.layers]


def test_lenet5_paper_and_modern_options():
    paper = keras_backbones.LeNet5()
    assert paper.output.shape[-1] == 10 and paper.input.shape[1:] == (32, 32, 1)
    assert [l.name for l in paper.layers if isinstance(l, ScaledTanh)] == ["c1_act", "c3_act", "c5_act", "f6_act"]
    assert sum(isinstance(l, keras.layers.AveragePooling2D) for l in paper.layers) == 2
    # U(+-2.4 / F_in): C1 has F_in = 25, so its weights lie within 0.096.
    c1 = paper.get_layer("c1").kernel.numpy()
    assert np.abs(c1).max() <= 2.4 / 25 and np.abs(c1).max() > 0.05
    modern = keras_backbones.LeNet5(modern=True)
    assert layer_types(modern).count("ReLU") == 4 and layer_types(modern).count("MaxPooling2D") == 2
    assert not any(isinstance(l, ScaledTanh) for l in modern.layers)


def test_scaled_tanh_is_lecuns_squashing_function():
    x = np.linspace(-3, 3, 13, dtype=np.float32)
    np.testing.assert_allclose(ScaledTanh()(x), 1.7159 * np.tanh(2.0 / 3.0 * x), rtol=1e-6)


def test_alexnet_original_two_towers_lrn_and_init():
    model = keras_backbones.AlexNetOriginal(include_top=True)
    groups = {f"conv{i}": model.get_layer(f"conv{i}").groups for i in range(1, 6)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}
    assert [l.name for l in model.layers if isinstance(l, LocalResponseNormalization)] == ["conv1_lrn", "conv2_lrn"]
    lrn = model.get_layer("conv1_lrn")
    assert (lrn.depth_radius, lrn.bias, lrn.alpha, lrn.beta) == (2, 2.0, 1e-4, 0.75)
    # N(0, 0.01) weights; biases 1 in conv2/4/5 and the hidden fully connected layers, else 0.
    bias = {name: float(np.unique(model.get_layer(name).bias.numpy())[0])
            for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "logits")}
    assert bias == {"conv1": 0, "conv2": 1, "conv3": 0, "conv4": 1, "conv5": 1, "fc6": 1, "fc7": 1, "logits": 0}
    assert abs(float(np.std(model.get_layer("fc6").kernel.numpy())) - 0.01) < 1e-3
    assert model.get_layer("conv1").output.shape[1:3] == (55, 55)  # 227x227 input, no padding


def test_alexnet_torchvision_single_tower():
    model = keras_backbones.AlexNetTorchvision()
    assert all(model.get_layer(f"conv{i}").groups == 1 for i in range(1, 6))
    assert not any(isinstance(l, LocalResponseNormalization) for l in model.layers)
    assert [model.get_layer(f"conv{i}").filters for i in range(1, 6)] == [64, 192, 384, 256, 256]
    # torchvision puts dropout before fc6 and fc7; the paper after them.
    names = [l.name for l in model.layers]
    assert names.index("fc6_dropout") < names.index("fc6")
    original = [l.name for l in keras_backbones.AlexNetOriginal().layers]
    assert original.index("fc6_dropout") > original.index("fc6_relu")


@pytest.mark.parametrize("build, kernels", [
    (keras_backbones.VGG16, [3] * 13),
    (keras_backbones.VGG16C, [3] * 6 + [1] + [3, 3, 1] + [3, 3, 1]),
    (keras_backbones.VGG11, [3] * 8),
])
def test_vgg_configurations(build, kernels):
    model = build(include_top=False, input_shape=(32, 32, 3))
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.kernel_size[0] for c in convs] == kernels
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in model.layers)


def test_vgg_batch_norm_follows_every_conv():
    model = keras_backbones.VGG11BN(include_top=False, input_shape=(32, 32, 3))
    types = [t for t in layer_types(model) if t in ("Conv2D", "BatchNormalization")]
    assert types == ["Conv2D", "BatchNormalization"] * 8


@pytest.mark.parametrize("build, message", [
    (lambda: keras_backbones.VGG("F"), "`config` must be one of 'A', 'B', 'C', 'D', 'E'"),
    (lambda: keras_backbones.AlexNet("two_tower"),
     "`layout` must be one of 'torchvision', 'original'"),
    (lambda: keras_backbones.VGG11(input_shape=(None, None, 3)), "needs a fixed input size"),
    (lambda: keras_backbones.AlexNetOriginal(input_shape=(66, 66, 3)), "minimum of 67x67"),
    (lambda: keras_backbones.LeNet5(input_shape=(None, None, 1)), "needs a fixed input size"),
])
def test_argument_errors_say_what_is_allowed(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_the_generic_builders_take_a_configuration():
    model = keras_backbones.VGG("A", include_top=False, input_shape=(32, 32, 3))
    assert model.name == "vgg" and model.variant is None  # not a registered variant
    assert [info.stride for info in model.feature_info] == [2, 4, 8, 16, 32]
    features = keras_backbones.AlexNet("original", features_only=True, out_indices=(-1,))
    assert [(info.stride, info.layer) for info in features.feature_info] == [(32, "pool5")]
