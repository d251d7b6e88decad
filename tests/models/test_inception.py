"""Inception-family specifics: the layout engine (`_inception`: the pooling arithmetic of each
reference, residual scaling, the names), the auxiliary classifiers as training outputs,
minimum input sizes and argument errors, and the checkpoint names. The unit tests run on tiny
layouts; the registry-wide tests cover every variant's count, forward pass and parity."""

import numpy as np
import pytest

from keras_backbones import stats, weights
from keras_backbones.backend import keras
from keras_backbones.layers import LocalResponseNormalization
from keras_backbones.models import _inception as I
from keras_backbones.models import googlenet, inception
from keras_backbones.training import loop


def run(layout, x, style=inception.TIMM):
    inputs = keras.Input(shape=x.shape[1:])
    out, _, _ = I.run_layout(inputs, layout, style=style)
    return np.asarray(keras.Model(inputs, out)(x))


def test_average_pools_count_the_padding_as_their_reference():
    ones = np.ones((1, 4, 4, 1), np.float32)
    torch_default = run([("pool", I.AVG)], ones, I.Style(avg_count_pad=True))
    timm = run([("pool", I.AVG)], ones, I.Style(avg_count_pad=False))
    assert torch_default[0, 0, 0, 0] == pytest.approx(4 / 9)  # corner: 4 ones, divided by 9
    assert timm[0, 0, 0, 0] == pytest.approx(1.0)


def test_ceil_mode_keeps_the_partial_last_window():
    x = np.arange(2 * 6 * 6, dtype=np.float32).reshape(1, 6, 6, 2)
    assert run([("pool", I.REDUCE)], x, I.Style(ceil_mode=True)).shape[1:3] == (3, 3)
    assert run([("pool", I.REDUCE)], x, I.Style(ceil_mode=False)).shape[1:3] == (2, 2)


def test_residual_block_adds_the_scaled_projection_then_rectifies():
    layout = [("block", I.Residual([[I.conv(4, 1)], [I.conv(4, 1), I.conv(4, 3)]], 0.25))]
    inputs = keras.Input(shape=(5, 5, 3))
    out, _, _ = I.run_layout(inputs, layout, style=inception.TIMM)
    model = keras.Model(inputs, out)
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 3)).astype(np.float32)
    projection = keras.Model(inputs, model.get_layer("block_project").output)(x)
    np.testing.assert_allclose(model(x), np.maximum(x + 0.25 * np.asarray(projection), 0), atol=1e-6)
    assert model.get_layer("block_branch1_1_conv").kernel.shape == (3, 3, 4, 4)


def test_a_module_is_named_by_branch_and_unit():
    layout = [("mixed", [[I.conv(2, 1)], [I.conv(2, 1), I.split(3)], [I.AVG, I.conv(2, 1)]])]
    inputs = keras.Input(shape=(6, 6, 3))
    out, _, _ = I.run_layout(inputs, layout, style=inception.TIMM)
    names = {layer.name for layer in keras.Model(inputs, out).layers}
    assert {"mixed_branch0_0_conv", "mixed_branch1_1a_conv", "mixed_branch1_1b_bn",
            "mixed_branch1_1_concat", "mixed_branch2_0_pool", "mixed_branch2_1_relu",
            "mixed_concat"} <= names
    assert out.shape[-1] == 2 + 6 + 2


@pytest.mark.parametrize("name, path, reference", [
    ("googlenet", "inception_4a_branch3_1_conv", "inception4a.branch4.1.conv"),
    ("googlenet", "inception_3a_branch0_0_bn", "inception3a.branch1.bn"),
    ("googlenet", "aux2_conv_bn", "aux2.conv.bn"),
    ("googlenet", "aux1_logits", "aux1.fc2"),
    ("inception_v2", "inception_3c_branch1_2_bn", "inception_3c_double_3x3_2_bn"),
    ("inception_v2", "inception_4a_branch1_0_conv", "inception_4a_3x3_reduce"),
    ("inception_v2", "inception_5b_branch3_1_conv", "inception_5b_pool_proj"),
    ("inception_v3", "mixed_7b_branch2_2a_bn", "Mixed_7b.branch3x3dbl_3a.bn"),
    ("inception_v3", "mixed_6a_branch0_0_conv", "Mixed_6a.branch3x3.conv"),
    ("inception_v3", "aux_conv1_conv", "AuxLogits.conv1.conv"),
    ("inception_v4", "inception_c1_branch2_3b_conv", "features.19.branch2_3b.conv"),
    ("inception_v4", "mixed_3a_branch1_0_bn", "features.3.conv.bn"),
    ("inception_v4", "inception_a1_branch3_1_conv", "features.6.branch3.1.conv"),
    ("inception_resnet_v2", "block8_10_project", "block8.conv2d"),
    ("inception_resnet_v2", "block17_20_branch1_2_bn", "repeat_1.19.branch1.2.bn"),
    ("inception_resnet_v2", "conv2d_7b_conv", "conv2d_7b.conv"),
])
def test_checkpoint_names(name, path, reference):
    source = {"googlenet": "torchvision", "inception_v2": "Cadene/pretrained-models.pytorch",
              "inception_v3": "torchvision"}.get(name, "timm")
    model = type("Model", (), {"name": name})  # the maps only read the model's name
    assert weights.checkpoint_map(name, source).names(path, model) == reference


def test_timm_names_follow_the_variant_built_not_the_models_name():
    # create_model("inception_v4", name="my_backbone", weights=...): the application base
    # records the variant on the model, which tells timm's three families apart.
    model = type("Model", (), {"name": "my_backbone", "variant": "inception_v4"})
    names = weights.checkpoint_map("inception_v4", "timm").names
    assert names("mixed_3a_branch1_0_bn", model) == "features.3.conv.bn"


def test_googlenet_auxiliary_classifiers_are_training_outputs():
    small = dict(input_shape=(32, 32, 3), classes=5, classifier_activation=None)
    inference = googlenet.GoogLeNet(**small)
    training = googlenet.GoogLeNet(aux_outputs=True, **small)
    assert len(inference.outputs) == 1
    assert [n.split("/")[0] for n in training.output_names] == ["predictions", "aux1", "aux2"]
    assert stats.trainable_params(training) == stats.trainable_params(inference)
    # The cut points end before module 4a, where the first auxiliary classifier taps.
    assert training.block_boundaries == ("conv1_relu", "conv3_relu", "inception_3b_concat")

    # The train loop weights the auxiliary losses; trained weights load into the inference model.
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype(np.float32)
    labels = np.eye(5, dtype=np.float32)[[1, 3]]
    outputs = training(x, training=False)
    trainer = loop.Trainer(training, num_classes=5, aux_weight=0.3)
    loss, _ = trainer._per_example_loss(labels, outputs, training=True)
    expected = sum(w * loop._cross_entropy(labels, o) for w, o in zip((1, 0.3, 0.3), outputs))
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    inference.set_weights(training.get_weights())
    np.testing.assert_allclose(inference(x, training=False), outputs[0], rtol=1e-5, atol=1e-6)


def test_googlenet_feature_maps_are_the_stage_outputs():
    model = googlenet.GoogLeNet(features_only=True, out_indices=(1, -1), input_shape=(64, 64, 3))
    assert [(info.stride, info.layer, info.channels) for info in model.feature_info] == [
        (4, "conv3_relu", 192), (32, "inception_5b_concat", 1024)]
    assert [tuple(out.shape[1:3]) for out in model.outputs] == [(16, 16), (2, 2)]


def test_googlenet_lrn_puts_the_papers_normalizations_back():
    model = googlenet.GoogLeNet(lrn=True, aux_logits=False, input_shape=(32, 32, 3))
    norms = [layer for layer in model.layers if isinstance(layer, LocalResponseNormalization)]
    assert [n.name for n in norms] == ["norm1", "norm2"]
    assert model.get_layer("norm1").input.shape == model.get_layer("maxpool1").output.shape
    assert model.get_layer("norm2").input.shape == model.get_layer("conv3_relu").output.shape
    assert stats.trainable_params(model) == 6_624_904  # LRN has no parameters


def test_inception_v3_takes_75_pixels_without_its_auxiliary_classifier():
    model = inception.InceptionV3(aux_logits=False, include_top=False, input_shape=(75, 75, 3))
    assert model.output.shape[1:3] == (1, 1)


@pytest.mark.parametrize("build, message", [
    (lambda: inception.InceptionV3(input_shape=(224, 224, 3)),
     "299x299, the minimum of its auxiliary"),
    (lambda: googlenet.GoogLeNet(input_shape=(None, None, 3)), "need a known input size"),
    (lambda: inception.InceptionV3(aux_logits=False, input_shape=(74, 74, 3)), "minimum of 75x75"),
    (lambda: inception.InceptionV4(input_shape=(74, 80, 3)), "minimum of 75x75"),
    (lambda: inception.InceptionV2(input_shape=(200, 224, 3)), "32k - 1 to 32k \\+ 6"),
    (lambda: inception.InceptionV2(input_shape=(30, 30, 3)), "minimum of 31x31"),
    (lambda: googlenet.GoogLeNet(input_shape=(14, 14, 3)), "minimum of 15x15"),
    (lambda: googlenet.GoogLeNet(aux_logits=False, aux_outputs=True), "aux_outputs=True needs"),
    (lambda: inception.InceptionV3(include_top=False, aux_outputs=True),
     "aux_outputs=True needs"),
    (lambda: inception.InceptionResNetV2(residual_scales=(0.1, 0.2)),
     "three positive numbers"),
])
def test_argument_errors_say_what_is_allowed(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_residual_scales_reach_every_block():
    layout = inception.inception_resnet_v1((0.3, 0.2, 0.1))
    scales = {name.split("_")[0]: spec.scale for name, spec in layout
              if isinstance(spec, I.Residual)}
    assert scales == {"block35": 0.3, "block17": 0.2, "block8": 0.1}
    last_name, last = inception.inception_resnet_v2(inception.RESIDUAL_SCALES)[-2]
    assert (last_name, last.scale, last.relu) == ("block8_10", 1.0, False)  # as the reference
