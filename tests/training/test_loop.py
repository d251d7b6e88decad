"""The loop's parts: schedules, weight decay, SyncBN, EMA, auxiliary losses, strategies,
mixed precision, XLA and hidden-state mixing, each on a few steps of the digits."""

import contextlib
import math
import types

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import registry, weights
from keras_backbones.backend import clear_session, dtype_policy_name, keras
from keras_backbones.training import loop, optimizers, recipe
from keras_backbones.training import strategy as strategy_lib
from tests.training.helpers import DIGITS


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    clear_session()


def short_digits(**updates):
    """The main job's recipe cut to a few steps."""
    config = recipe.load(DIGITS)
    config.update({"epochs": 1, "steps_per_epoch": 4, "eval_steps": 1, **updates})
    return config


# --- schedules and weight decay ----------------------------------------------------------------

def test_warmup_then_cosine_and_step_schedules():
    cosine = optimizers.WarmupSchedule(1.0, kind="cosine", total_steps=110, warmup_steps=10,
                                       warmup_start=0.0, min_rate=0.1)
    rates = [float(cosine(step)) for step in (0, 5, 10, 60, 110)]
    np.testing.assert_allclose(rates, [0.0, 0.5, 1.0, 0.55, 0.1], atol=1e-6)
    step = optimizers.WarmupSchedule(0.1, kind="step", boundaries=(30, 60), decay_rate=0.1)
    np.testing.assert_allclose([float(step(s)) for s in (0, 29, 30, 60, 89)],
                               [0.1, 0.1, 0.01, 0.001, 0.001], rtol=1e-6)
    assert optimizers.WarmupSchedule.from_config(cosine.get_config()).get_config() == cosine.get_config()
    linear = optimizers.WarmupSchedule(0.04, kind="poly", total_steps=100, power=1.0)
    np.testing.assert_allclose([float(linear(s)) for s in (0, 25, 50, 100)],
                               [0.04, 0.03, 0.02, 0.0], atol=1e-7)
    root = optimizers.WarmupSchedule(1.0, kind="poly", total_steps=100, power=0.5)
    np.testing.assert_allclose(float(root(75)), 0.5, rtol=1e-6)


def test_linear_scaling_and_plateau():
    config = recipe.load("recipes/senet.py")
    config.batch_size = 256
    assert math.isclose(optimizers.peak_learning_rate(config), 0.15)
    alexnet = recipe.load("recipes/alexnet.py")
    assert optimizers.learning_rate(alexnet, steps_per_epoch=10) == 0.01
    (plateau,) = optimizers.schedule_callbacks(alexnet)
    assert isinstance(plateau, keras.callbacks.ReduceLROnPlateau)
    assert plateau.factor == 0.1 and plateau.monitor == "val_accuracy"


def test_weight_decay_skips_norms_biases_and_named_weights():
    model = registry.create_model("resnet18", classes=10, input_shape=(32, 32, 3))
    config = recipe.load("recipes/convnext.py")
    decayed = optimizers.decayed_weights(model, config)
    assert decayed and all(len(v.shape) > 1 for v in decayed)
    assert len(decayed) == sum(len(v.shape) > 1 for v in model.trainable_variables)
    config.optimizer.no_decay_names = ("^stem_",)
    assert not any(optimizers.variable_path(v).startswith("stem_")
                   for v in optimizers.decayed_weights(model, config))
    resnet = recipe.load("recipes/resnet.py")  # the paper decays every weight
    assert len(optimizers.decayed_weights(model, resnet)) == len(model.trainable_variables)
    assert optimizers.couples_weight_decay(resnet) and not optimizers.couples_weight_decay(config)
    penalty = optimizers.l2_penalty(decayed, 1e-4)
    expected = 0.5e-4 * sum(float(tf.reduce_sum(tf.square(v))) for v in decayed)
    assert math.isclose(float(penalty), expected, rel_tol=1e-4)


# --- the model ------------------------------------------------------------------------------

def test_sync_batchnorm_keeps_names_and_weights():
    model = registry.create_model("resnet18", classes=10, input_shape=(32, 32, 3))
    model.block_boundaries = ("stage1_block2_out",)
    synced = loop.sync_batchnorm(model)
    batchnorms = [l for l in synced.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert batchnorms and all(l.synchronized for l in batchnorms)
    assert [l.name for l in synced.layers] == [l.name for l in model.layers]
    for a, b in zip(synced.weights, model.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert synced.block_boundaries == model.block_boundaries
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(synced(x, training=False), model(x, training=False), atol=1e-5)


def test_auxiliary_outputs_add_their_weighted_loss():
    inputs = keras.Input((4,))
    main = keras.layers.Dense(3, name="predictions")(inputs)
    aux = keras.layers.Dense(3, name="aux1")(inputs)
    network = keras.Model(inputs, [main, aux])
    trainer = loop.Trainer(network, num_classes=3, aux_weight=0.3)
    x = tf.ones((2, 4))
    labels = tf.one_hot([0, 1], 3)
    outputs = network(x)
    per_example, logits = trainer._per_example_loss(labels, outputs, training=True)
    expected = (loop._cross_entropy(labels, outputs[0]) + 0.3 * loop._cross_entropy(labels, outputs[1]))
    np.testing.assert_allclose(per_example, expected, rtol=1e-6)
    np.testing.assert_allclose(logits, outputs[0])
    evaluation, _ = trainer._per_example_loss(labels, outputs, training=False)
    np.testing.assert_allclose(evaluation, loop._cross_entropy(labels, outputs[0]), rtol=1e-6)
    with pytest.raises(ValueError, match="one main output"):
        loop.Trainer(keras.Model(inputs, [aux]), num_classes=3)


# --- strategies -----------------------------------------------------------------------------

def test_strategies_without_their_hardware_are_clear_errors(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        strategy_lib.make_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="not a valid cluster spec"):
        strategy_lib.make_strategy("multi_worker")
    with pytest.raises(ValueError, match="no TPU found"):
        strategy_lib.make_strategy("tpu")
    with pytest.raises(ValueError, match="--strategy must be one of"):
        strategy_lib.make_strategy("gpu")
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)
    with pytest.raises(ValueError, match="batch_size=7 .global. does not divide among 2 replicas"):
        strategy_lib.per_replica_batch(7, two_replicas)
    assert strategy_lib.per_replica_batch(8, two_replicas) == 4
    assert strategy_lib.per_replica_batch(8, strategy_lib.make_strategy("default")) == 8


# --- a few steps ------------------------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {"strategy": "one_device", "jit_compile": True},
    {"mixed_precision": "mixed_bfloat16"},
], ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()))
def test_a_few_steps(options, tmp_path):
    xla_on_cpu = options.get("jit_compile") and not tf.config.list_logical_devices("GPU")
    with pytest.warns(UserWarning, match=r"jit_compile on a machine with no GPU or TPU.*"
                                         r"slower.*13x") if xla_on_cpu else contextlib.nullcontext():
        result = loop.train(short_digits(), str(tmp_path), verbose=0, **options)
    assert result["steps"] == 4 and np.isfinite(result["eval_loss"])
    assert dtype_policy_name() == "float32"  # restored afterwards


def test_mixed_float16_trains_with_loss_scaling(tmp_path, monkeypatch):
    seen = []
    minimize = optimizers.minimize

    def spy(optimizer, *args):
        seen.append(optimizers.is_loss_scaled(optimizer))
        return minimize(optimizer, *args)

    monkeypatch.setattr(optimizers, "minimize", spy)
    result = loop.train(short_digits(), str(tmp_path), mixed_precision="mixed_float16", verbose=0)
    assert seen and all(seen)
    assert result["steps"] == 4 and np.isfinite(result["eval_loss"])


@pytest.mark.parametrize("method", ["manifold_mixup", "puzzlemix"])  # PatchUp: as manifold
def test_hidden_state_mixing_trains(method, tmp_path):
    config = short_digits(steps_per_epoch=2)
    config.mixing.method = method
    result = loop.train(config, str(tmp_path), verbose=0)
    assert result["steps"] == 2 and np.isfinite(result["eval_loss"])


def test_the_exported_weights_are_the_moving_average(tmp_path):
    config = short_digits(steps_per_epoch=6)
    config.ema.decay = 0.5
    result = loop.train(config, str(tmp_path), verbose=0)
    # The last checkpoint holds the live weights and, in the optimizer, their average.
    network = loop.build_network(config, 10, (32, 32, 1))
    optimizer = optimizers.make_optimizer(config, 6, network)
    optimizer.build(network.trainable_variables)
    checkpoint = tf.train.Checkpoint(model=network, optimizer=optimizer)
    checkpoint.restore(tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))).expect_partial()
    exported = loop.build_network(config, 10, (32, 32, 1))
    weights.load_weights(exported, result["weights"])
    pairs = optimizers.ema_pairs(optimizer, network.trainable_variables)
    assert len(pairs) == len(exported.trainable_variables)
    differs = False
    for (live, average), written in zip(pairs, exported.trainable_variables):
        np.testing.assert_allclose(np.asarray(written), np.asarray(average), rtol=1e-6, atol=1e-7)
        differs |= not np.allclose(np.asarray(live), np.asarray(average))
    assert differs, "the average equals the live weights: EMA did nothing"


def test_rerunning_a_finished_run_only_evaluates_it(tmp_path):
    first = loop.train(short_digits(steps_per_epoch=2), str(tmp_path), verbose=0)
    again = loop.train(short_digits(steps_per_epoch=2), str(tmp_path), verbose=0)
    assert again["resumed_from_step"] == first["steps"] == again["steps"] == 2
    assert math.isclose(again["top1"], first["top1"], abs_tol=1e-6)
    other = short_digits(steps_per_epoch=1)  # another model in the same work directory
    other.model.kwargs = {}
    other.model.name = "resnet18"
    other.data.image_size = 32
    with pytest.raises(ValueError, match="Cannot resume from .* new --workdir"):
        loop.train(other, str(tmp_path), verbose=0)


def test_a_diverging_run_stops_with_a_clear_error(tmp_path):
    config = short_digits(steps_per_epoch=20)
    config.optimizer.update(name="adamw", learning_rate=1e30)
    with pytest.raises(loop.Diverged, match="the loss is not finite"):
        loop.train(config, str(tmp_path), verbose=0)
