"""The verification contract (ARCHITECTURE.md, "Verification"), over the whole registry.

Run twice by the README's test command: under Keras 3 and under tf-keras
(TF_USE_LEGACY_KERAS=1), so every check here holds under both.
"""

import json
import math

import numpy as np
import pytest

from keras_backbones import fuse, registry, stats
from keras_backbones.backend import LEGACY_KERAS, keras, set_dtype_policy
from keras_backbones.export import tflite
from keras_backbones.weights import load_weights, save_weights
from tests import support

ALL = registry.list_models()
# The checks of a family's arrangement of layers (mixed precision, round trips, feature maps)
# run on one variant per family under Keras 3. Under tf-keras what differs is Keras's
# implementation of the layers, which the families of one builder module share: one variant
# per module there, and every variant still builds for its count.
REPRESENTATIVES = support.module_representatives() if LEGACY_KERAS else support.representatives()
# Every variant builds in float32 with its reference count: the representatives in the round
# trip's test (one build serves both), the others in test_parameters_and_forward_at_small_input.
# The representatives also run a forward pass there, and in mixed precision here (a property of
# the layers a family uses rather than of their number). CI's budget: the 160 variants'
# mixed-precision builds took 7 CPU-minutes.
FORWARD_CASES = [(name, policy) for name in ALL for policy in ("float32", "mixed_float16")
                 if (policy == "float32") != (name in REPRESENTATIVES)]


def assert_reference_count(name, model):
    """`model` (built by the registry for `name`) has its reference parameter count, records
    its variant, and every layer drew its own initial values (no initializer instance shared
    between layers)."""
    spec = registry.get_spec(name)
    row = support.registered_variant_row(name)
    assert row is not None, f"{name} is not in params.tsv"
    count = stats.trainable_params(model)
    if row["params"] is not None:
        assert count == row["params"]
    else:  # no code reference: the paper's rounded figure
        assert spec.paper_params, f"{name}: neither params.tsv nor the registry gives a count"
        assert abs(count - spec.paper_params) <= 0.005 * spec.paper_params, (count, spec.paper_params)
    assert model.variant == name  # built through the application base
    assert not support.identical_initial_weights(model)


@pytest.mark.parametrize("row", [r for r in support.reference_rows() if r["kwargs"] and r["name"] in ALL],
                         ids=lambda r: r["variant"])
def test_parameter_count_of_listed_options(row):
    model = registry.create_model(row["name"], input_shape=support.small_shape(row["name"]),
                                  **row["kwargs"])
    assert stats.trainable_params(model) == row["params"]


def test_every_listed_variant_of_an_implemented_family_is_registered():
    implemented = set(support.families())
    missing = [r["variant"] for r in support.reference_rows()
               if any(r["family"].startswith(f) for f in implemented)
               and r["name"] not in ALL]
    assert not missing


@pytest.mark.parametrize("name, policy", FORWARD_CASES)
def test_parameters_and_forward_at_small_input(name, policy):
    set_dtype_policy(policy)
    shape = support.small_shape(name)
    model = registry.create_model(name, input_shape=shape)
    if policy == "float32":
        # The parameter count does not depend on the input size (heads pool adaptively, ViT
        # interpolates its position embedding): checked on the model built here, which saves
        # CI a build of every variant at its default size. Building traced every layer's
        # computation on symbolic inputs (shapes and ops); the forward pass with numbers runs
        # on the family's representative (CI's budget).
        assert_reference_count(name, model)
        return
    # Under mixed precision, the training-mode pass (batch statistics) is the one that runs in
    # float16 in practice; an untrained deep residual net in inference mode (BatchNorm an
    # identity) grows its residual stream past float16's range, as the references do.
    out = model(support.random_images(shape), training=True)
    classes = registry.get_spec(name).kwargs.get("classes", 1000)
    assert tuple(out.shape) == (2, classes)
    out = np.asarray(out)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-3)  # softmax probabilities


def keras_file_round_trip(model, path):
    """`model` saved as a .keras file and loaded in safe mode. Under tf-keras, the file's model
    config (its config.json) deserialized in safe mode and given the model's weights: tf-keras
    reads the weights of a .keras file through zipfile seeks that re-read the archive from its
    start on Python 3.11 (13 s of Xception's 15 s round trip, 18 s of VGG-11's), a cost of
    tf-keras's reader rather than of these models; the file itself round-trips under tf-keras
    for every layer of the package (tests/layers)."""
    if LEGACY_KERAS:
        config = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
        restored = keras.saving.deserialize_keras_object(config, safe_mode=True)
        restored.set_weights(model.get_weights())
        return restored
    model.save(str(path))
    return keras.models.load_model(str(path), safe_mode=True)


# Inception-ResNet's hundreds of layers built, saved, loaded and cloned (the fuse) take about a
# minute on CI's 2 cores; it is its builder module's only family.
ROUND_TRIP_SLOW = ("inception_resnet_v1", "inception_resnet_v2")


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[pytest.mark.allow_slow("Inception-ResNet: hundreds of layers built, "
                                                  "saved, loaded and fused")]
                 if n in ROUND_TRIP_SLOW else []) for n in REPRESENTATIVES])
def test_forward_keras_file_portable_weights_and_fused_model(name, tmp_path):
    """The representative has its reference count and gives finite logits of the right shape.
    The model saved as a .keras file and loaded with safe_mode (keras_file_round_trip) gives its
    outputs; its weights carried back from that model in the portable format (keyed by layer
    name) into the model with its own zeroed give them too, and no layer holding weights has a
    name Keras made up (a second build would name it otherwise). And `fuse` folds every
    BatchNormalization away (none is left, block layers' own included) and the fused model gives
    the model's inference outputs within 1e-5 of their largest. The BatchNormalization
    statistics are random: at the defaults a dropped one would pass."""
    shape = support.small_shape(name)
    model = registry.create_model(name, input_shape=shape, classifier_activation=None)
    assert_reference_count(name, model)  # the activation holds no weights
    model = support.randomize_batch_norms(model)
    images = support.random_images(shape)
    expected = np.asarray(model(images, training=False))
    classes = registry.get_spec(name).kwargs.get("classes", 1000)
    assert expected.shape == (2, classes) and expected.dtype == np.float32
    assert np.isfinite(expected).all()
    restored = keras_file_round_trip(model, tmp_path / f"{name}.keras")
    np.testing.assert_allclose(np.asarray(restored(images, training=False)), expected, rtol=1e-5, atol=1e-5)

    assert not support.auto_named_weight_layers(model)
    weights = save_weights(restored, tmp_path / "w.npz")
    del restored
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    load_weights(model, weights)
    np.testing.assert_array_equal(np.asarray(model(images, training=False)), expected)

    fused = fuse(model)
    assert fused.output_names == model.output_names and fused.name == model.name
    assert not support.batch_norms(fused)
    actual = np.asarray(fused(images, training=False))
    assert np.max(np.abs(actual - expected)) <= 1e-5 * np.max(np.abs(expected)), \
        np.max(np.abs(actual - expected)) / np.max(np.abs(expected))


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_features_only_strides(name):
    shape = support.small_shape(name)
    model = registry.create_model(name, input_shape=shape, features_only=True)
    outputs = model(support.random_images(shape), training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    names = [n.split("/")[0] for n in model.output_names]
    strides = [int(n.removeprefix("stride")) for n in names]
    assert strides == sorted(set(strides)) and strides[-1] >= 4, names
    for out, stride in zip(outputs, strides):
        assert math.log2(stride).is_integer(), strides
        for size, side in zip(out.shape[1:3], shape[:2]):
            # "same"-padded networks give exactly ceil(side / stride); "valid" ones (LeNet,
            # AlexNet) lose a border on the way.
            assert side / stride / 2 <= size <= math.ceil(side / stride), (names, out.shape)
    # feature_info describes the outputs. out_indices picks among them in the application base,
    # the same code for every family: tests/models/test_application.py.
    assert [(i.name, i.stride, i.channels) for i in model.feature_info] == [
        (n, s, out.shape[-1]) for n, s, out in zip(names, strides, outputs)]


# The families convert under Keras 3; under tf-keras, each shared layer converts in
# tests/layers, and the models that reach TFLite from tf-keras (TFMOT's QAT, pruning and
# clustering) in tests/export/test_deployment.py: CI's budget does not hold both.
# Every family converts to float32 and to full int8 (the artifacts users ship); float16 and
# dynamic-range quantization change how weights are stored, not which ops a family uses, and
# are checked on support.WEIGHT_STORAGE_CASES, which hold every kind of weighted layer.
# Families whose inference graph uses only TensorFlow ops (with their padding) that families
# converted here use too convert as an extended check: Inception-v4 and Inception-ResNet-v2
# (the layout engine and blocks of Inception-v3 and Inception-ResNet-v1; their "same"-padded
# average pooling is ResNeSt's), DenseNet-121 (Inception-v3's ops, and ResNet-v2's
# pre-activation BatchNorm-ReLU) and WRN-28-10 (ResNet-v2's ops).
# test_extended_conversions_use_only_converted_ops keeps that true (it found the pooling the
# first two were once said not to add); their conversions took 35-75 s each.
SAME_OPS_AS = {"inception_v4": ("inception_v3", "resnest14d"),
               "inception_resnet_v2": ("inception_resnet_v1", "resnest14d"),
               "densenet121": ("inception_v3", "resnetv2_18"), "wrn28_10": ("resnetv2_18",)}


def inference_ops(name):
    """The traced inference ops of `name`'s conversion model (support.inference_ops)."""
    model = registry.create_model(name, input_shape=support.small_shape(name),
                                  **support.conversion_options(name))
    return support.inference_ops(model)


@pytest.mark.skipif(LEGACY_KERAS, reason="TFLite conversion of the families is checked under Keras 3")
@pytest.mark.parametrize("name", SAME_OPS_AS)
def test_extended_conversions_use_only_converted_ops(name):
    others = SAME_OPS_AS[name]
    assert all(o in REPRESENTATIVES and o not in SAME_OPS_AS for o in others)  # converted in CI
    missing = inference_ops(name) - set().union(*map(inference_ops, others))
    assert not missing, sorted(missing)


@pytest.mark.skipif(LEGACY_KERAS, reason="TFLite conversion of the families is checked under Keras 3")
@pytest.mark.parametrize("name", [
    pytest.param(n, marks=[*support.conversion_marks(n),
                           *([pytest.mark.extended] if n in SAME_OPS_AS else [])])
    for n in REPRESENTATIVES])
def test_tflite_builtins_float_and_int8(name):
    shape = support.small_shape(name)
    model = registry.create_model(name, input_shape=shape, **support.conversion_options(name))
    support.ready_to_quantize(model, name)
    calibration = support.random_images(shape, batch=16, seed=2)
    images = support.random_images(shape, batch=4, seed=1)
    expected = np.asarray(model(images, training=False))
    weight_only = ("float16", "dynamic") if name in support.WEIGHT_STORAGE_CASES else ()
    converted = tflite.convert_each(model, ("none", *weight_only, "int8"),
                                    representative_data=calibration)
    for content in converted.values():
        assert not [op for op in tflite.op_names(content) if op.startswith("Flex") or op == "CUSTOM"]

    (got,) = tflite.run(converted["none"], images)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, atol=1e-4 * scale)

    # Weights stored in float16, and int8 weights with float activations: near the float model.
    for quantize, min_correlation in (("float16", 0.999), ("dynamic", 0.9)):
        if quantize in converted:
            (got,) = tflite.run(converted[quantize], images)
            correlation = np.corrcoef(got.ravel(), expected.ravel())[0, 1]
            assert correlation > min_correlation, (quantize, correlation)

    assert not tflite.float_ops(converted["int8"])  # every op computes in int8
    (quantized,) = tflite.run(converted["int8"], images)
    # int8 keeps the function: the quantized logits follow the float ones closely.
    correlation = np.corrcoef(quantized.ravel(), expected.ravel())[0, 1]
    assert correlation > 0.9, correlation
