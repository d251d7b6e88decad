"""`keras_backbones.fuse`: every kind of BatchNormalization it meets, the models it takes, and
what the fused model must still do (save, load, export). Each family's fused model is checked
against its own in tests/models/test_contract.py."""

import numpy as np
import pytest

from keras_backbones import fuse, registry
from keras_backbones.backend import LEGACY_KERAS, keras, set_dtype_policy
from keras_backbones.export import artifacts, tflite
from keras_backbones.layers import CBAM, FoldedBatchNormalization, ScaleShift, SplitAttention
from tests import support

SHAPE = (16, 16, 8)


def every_case(name="cases"):
    """One model with every place a BatchNormalization can stand: after each kind of linear
    layer (with and without its own bias), where it cannot fold (after a concatenation, an
    activation, a layer whose output is used twice), as a model output, and inside the block
    layers that hold their own."""
    layers = keras.layers
    inputs = keras.Input(SHAPE)

    def bn(x, label):
        return layers.BatchNormalization(name=f"{label}_bn")(x)

    a = bn(layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(inputs), "conv")
    b = bn(layers.Conv2D(8, 3, padding="same", name="biased")(a), "biased")
    c = bn(layers.Conv2D(8, 3, padding="same", groups=4, use_bias=False, name="grouped")(b),
           "grouped")
    d = bn(layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False,
                                  name="depthwise")(c), "depthwise")
    e = bn(layers.SeparableConv2D(8, 3, padding="same", name="separable")(d), "separable")
    shared = layers.Conv2D(8, 1, use_bias=False, name="shared")(e)
    f = layers.Add(name="add")([bn(shared, "shared"), shared])  # the conv's output, used twice
    g = bn(layers.Concatenate(name="concat")([f, c]), "concat")
    h = bn(layers.Conv2D(16, 1, activation="relu", name="activated")(g), "activated")
    i = SplitAttention(filters=16, radix=2, rd_channels=8, name="split_attention")(h)
    j = CBAM(reduction=4, name="cbam")(i)
    pooled = layers.GlobalAveragePooling2D(name="pool")(j)
    logits = bn(layers.Dense(10, name="dense")(pooled), "logits")
    return keras.Model(inputs, [logits, g], name=name)


def outputs(model, images):
    results = model(images, training=False)
    return [np.asarray(y) for y in (results if isinstance(results, (list, tuple)) else [results])]


def assert_same_outputs(fused, model, images, relative=1e-5):
    for actual, expected in zip(outputs(fused, images), outputs(model, images)):
        scale = np.max(np.abs(expected))
        assert np.max(np.abs(actual - expected)) <= relative * scale, \
            np.max(np.abs(actual - expected)) / scale


def test_every_kind_of_batch_norm_folds_or_becomes_one_scale_and_shift(tmp_path):
    model = support.randomize_batch_norms(every_case())
    images = support.random_images(SHAPE, batch=3)
    fused = fuse(model)
    assert_same_outputs(fused, model, images)
    assert not support.batch_norms(fused)
    kinds = {layer.name: type(layer) for layer in fused.layers}
    folded = ["conv_bn", "biased_bn", "grouped_bn", "depthwise_bn", "separable_bn", "logits_bn"]
    assert all(kinds[name] is FoldedBatchNormalization for name in folded)
    assert all(kinds[name] is ScaleShift for name in ("shared_bn", "concat_bn", "activated_bn"))
    for name in ("conv", "grouped", "depthwise", "separable", "dense"):
        assert fused.get_layer(name).use_bias
    assert fused.get_layer("split_attention").folded and fused.get_layer("cbam").folded
    assert fused.output_names == model.output_names and fused.name == model.name
    # The original is left as it was, and a fused model fuses to itself.
    assert len(support.batch_norms(model)) == 12
    assert_same_outputs(fuse(fused), model, images)

    path = str(tmp_path / "fused.keras")
    fused.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    for actual, expected in zip(outputs(restored, images), outputs(fused, images)):
        np.testing.assert_array_equal(actual, expected)


def test_mixed_precision():
    set_dtype_policy("mixed_float16")
    model = support.randomize_batch_norms(every_case())
    images = support.random_images(SHAPE, batch=2)
    fused = fuse(model)
    for actual, expected in zip(outputs(fused, images), outputs(model, images)):
        assert actual.dtype == expected.dtype and np.all(np.isfinite(actual))
        np.testing.assert_allclose(actual, expected, atol=2e-2 * np.max(np.abs(expected)))


@pytest.mark.parametrize("options", [dict(include_top=False, pooling="avg"),
                                     dict(features_only=True, out_indices=(1, 3)),
                                     dict(drop_path_rate=0.1, norm="syncbatch")])
def test_registered_models_as_built_and_as_trained(options):
    """Headless, feature maps (their names and feature_info carried over), and a network built
    for training (stochastic depth, synchronized BatchNormalization)."""
    shape = support.small_shape("resnet18")
    model = support.randomize_batch_norms(registry.create_model("resnet18", input_shape=shape,
                                                                **options))
    fused = fuse(model)
    images = support.random_images(shape)
    assert_same_outputs(fused, model, images)
    assert fused.output_names == model.output_names and fused.variant == "resnet18"
    if options.get("features_only"):
        assert fused.feature_info == model.feature_info


def test_sequential_and_nested_models():
    layers = keras.layers
    sequential = keras.Sequential([keras.Input(SHAPE), layers.Conv2D(4, 3, use_bias=False),
                                   layers.BatchNormalization(), layers.ReLU()])
    support.randomize_batch_norms(sequential)
    inputs = keras.Input(SHAPE)
    outer = keras.Model(inputs, layers.BatchNormalization()(sequential(inputs)))
    support.randomize_batch_norms(outer)
    images = support.random_images(SHAPE)
    for model in (sequential, outer):
        fused = fuse(model)
        assert_same_outputs(fused, model, images)
        assert not support.batch_norms(fused)


def test_a_batch_norm_over_another_axis_is_left_as_it_is():
    """ScaleShift scales the last axis: a BatchNormalization of the channels-first axis stays."""
    inputs = keras.Input((4, 6, 6))
    x = keras.layers.Conv2D(4, 3, padding="same", data_format="channels_first",
                            use_bias=False)(inputs)
    model = keras.Model(inputs, keras.layers.BatchNormalization(axis=1)(x))
    support.randomize_batch_norms(model)
    fused = fuse(model)
    assert len(support.batch_norms(fused)) == 1
    assert_same_outputs(fused, model, support.random_images((4, 6, 6)))


def test_a_subclassed_model_is_refused_by_name():
    class Custom(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(TypeError, match="functional or Sequential.*Custom"):
        fuse(Custom())


@pytest.mark.skipif(LEGACY_KERAS, reason="the exports are checked under Keras 3")
def test_exports_of_the_fused_model(tmp_path):
    """ONNX of the fused model gives the unfused Keras model's outputs; TFLite converts the
    fused and the unfused model to the same operators (its converter folds BatchNormalization
    itself)."""
    model = support.randomize_batch_norms(
        registry.create_model("resnetv2_18", input_shape=(32, 32, 3), classes=10))
    fused = fuse(model)
    images = support.random_images((32, 32, 3), batch=2)
    difference, tolerance = artifacts.onnx_difference(model, artifacts.onnx_bytes(fused), images)
    assert difference <= tolerance

    def operators(content):
        runner = tflite.interpreter(content)
        return sorted(detail["op_name"] for detail in runner._get_ops_details())

    assert operators(tflite.convert(fused)) == operators(tflite.convert(model))


@pytest.mark.skipif(LEGACY_KERAS, reason="the exports are checked under Keras 3")
def test_the_exports_serve_the_fused_model(tmp_path):
    """`export` writes the fused model (the ONNX sidecar says so; the SavedModel holds no
    batch norm op), which answers as the model as built; --nofuse writes that one."""
    import json

    import tensorflow as tf

    from keras_backbones.data import preprocessing as prep
    from keras_backbones.export import deployable, savedmodel

    shape = (32, 32, 3)
    model = support.randomize_batch_norms(registry.create_model(
        "resnet18", input_shape=shape, classes=4, classifier_activation="softmax"))
    item = deployable.Deployable(
        name="resnet18", model=model, image_size=shape[:2], channels=3,
        preprocessing=prep.spec(registry.get_spec("resnet18").preprocessing),
        labels=["a", "b", "c", "d"], recipe=None, model_kwargs={})
    images = tf.constant(np.random.default_rng(0).uniform(0, 255, (2, *shape)), tf.float32)
    answers, batch_norm_ops = {}, {}
    for fuse_it in (True, False):
        path = savedmodel.export(item, str(tmp_path / "served"), fuse=fuse_it)
        serving = tf.saved_model.load(path).signatures["serving_default"]
        answers[fuse_it] = serving(images=images)["probabilities"].numpy()
        graph = serving.graph.as_graph_def()
        ops = {node.op for function in graph.library.function for node in function.node_def}
        batch_norm_ops[fuse_it] = {op for op in ops if "BatchNorm" in op or op == "Rsqrt"}
    assert not batch_norm_ops[True] and batch_norm_ops[False]
    np.testing.assert_allclose(answers[True], answers[False], atol=1e-5)

    path, difference = artifacts.write_onnx(item, str(tmp_path / "resnet18.onnx"))
    assert difference <= 1e-4 and json.loads(open(path + ".json").read())["fused"] is True
