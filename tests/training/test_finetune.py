"""Fine-tuning: layer-wise learning-rate decay (the depths of a CNN and of a transformer, and
one update of each optimizer at rate x multiplier), and recipes/finetune.py end to end on the
digits from a checkpoint file: the head epochs leave the backbone and its BatchNorm
statistics as loaded, the whole-network epochs change them, the accuracy beats chance, and a
run killed between the two phases resumes in the second."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import registry
from keras_backbones.backend import clear_session, keras
from keras_backbones.training import loop, optimizers, recipe
from tests import support
from tests.training.helpers import ROOT

FINETUNE = str(ROOT / "recipes" / "finetune.py")


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    clear_session()


def multipliers_by_path(model, layer_decay):
    return {optimizers.variable_path(v): m
            for v, m in optimizers.rate_multipliers(model, layer_decay)}


# --- layer-wise rate decay ----------------------------------------------------------------------

def test_a_cnn_decays_by_stage_and_a_transformer_by_block():
    resnet = registry.create_model("resnet18", classes=10, input_shape=(32, 32, 3))
    rates = multipliers_by_path(resnet, 0.5)
    # the stem, four stages, the classifier at num_layers = 5
    assert rates["stem_conv/kernel"] == rates["stem_bn/gamma"] == 0.5 ** 5
    assert rates["stage1_block1_conv1/kernel"] == 0.5 ** 4
    assert rates["stage2_block1_downsample_conv/kernel"] == 0.5 ** 3
    assert rates["stage4_block2_conv2/kernel"] == 0.5
    assert rates["logits/kernel"] == rates["logits/bias"] == 1.0
    assert {id(v) for v in resnet.trainable_variables} <= \
        {id(v) for v, _ in optimizers.rate_multipliers(resnet, 0.5)}

    vit = registry.create_model("vit_tiny_patch16_224", classes=10, input_shape=(32, 32, 3))
    rates = multipliers_by_path(vit, 0.5)
    # twelve blocks at depths 0-11 (the patch embedding and position table share the first's
    # depth 0), the final norm and the classifier at 12
    assert rates["patch_embed/kernel"] == rates["embed/pos_embed"] == 0.5 ** 12
    assert [rates[f"block{i}_mlp_fc2/kernel"] for i in range(1, 13)] == \
        [0.5 ** (13 - i) for i in range(1, 13)]
    assert rates["block12_attn/qkv/kernel"] == 0.5
    assert rates["norm/gamma"] == rates["logits/kernel"] == 1.0


def test_a_model_without_stage_outputs_is_a_clear_error():
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="plain")
    with pytest.raises(ValueError, match="'plain' records no stage outputs"):
        optimizers.layer_depths(model)


def _step(config, model, gradients):
    """One update of `model` by the recipe's optimizer; the weights before it."""
    optimizer = optimizers.make_optimizer(config, steps_per_epoch=1, model=model)
    before = [np.asarray(v).copy() for v in model.trainable_variables]
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return optimizer, before


@pytest.fixture(scope="module")
def gradients():
    model = registry.create_model("resnet18", classes=10, input_shape=(32, 32, 3))
    images = tf.random.stateless_normal((4, 32, 32, 3), seed=(0, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(images, training=True)))
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
    return [np.asarray(v) for v in model.weights], grads


def _resnet(gradients):
    model = registry.create_model("resnet18", classes=10, input_shape=(32, 32, 3))
    model.set_weights(gradients[0])
    return model


@pytest.mark.parametrize("name", ["sgd", "rmsprop", "adamw"])
def test_one_update_is_the_plain_optimizers_at_rate_times_multiplier(name, gradients):
    """A variable's update by the layer-decayed optimizer equals the plain optimizer's at the
    rate x the variable's multiplier (AdamW's decoupled decay included); SGD's is
    -rate x multiplier x gradient."""
    config = recipe.defaults()
    config.optimizer.update(name=name, learning_rate=0.1, momentum=0.9, weight_decay=0.05,
                            layer_decay=0.5)
    model = _resnet(gradients)
    paths = [optimizers.variable_path(v) for v in model.trainable_variables]
    optimizer, before = _step(config, model, gradients[1])
    plain = config.copy_and_resolve_references()
    plain.optimizer.layer_decay = 0.0
    plain_optimizer, _ = _step(plain, _resnet(gradients), gradients[1])
    # the same variables: checkpoints of either restore into the other
    assert [v.shape for v in optimizer.variables] == [v.shape for v in plain_optimizer.variables]
    for path, multiplier in (("stem_conv/kernel", 0.5 ** 5), ("logits/kernel", 1.0)):
        i = paths.index(path)
        variable = model.trainable_variables[i]
        assert optimizer.multiplier(variable) == multiplier
        plain.optimizer.learning_rate = 0.1 * multiplier
        reference = _resnet(gradients)
        _step(plain, reference, gradients[1])
        np.testing.assert_allclose(np.asarray(variable),
                                   np.asarray(reference.trainable_variables[i]),
                                   rtol=1e-5, atol=1e-7, err_msg=path)
        if name == "sgd":
            np.testing.assert_allclose(np.asarray(variable) - before[i],
                                       -0.1 * multiplier * np.asarray(gradients[1][i]),
                                       rtol=1e-4, atol=1e-8, err_msg=path)
        assert not np.array_equal(np.asarray(variable), before[i])


def test_recipe_checks_of_the_fine_tuning_fields():
    config = recipe.load(FINETUNE)
    recipe.validate(config)
    config.optimizer.layer_decay = 1.5
    config.finetune.head_epochs = config.epochs + 1
    with pytest.raises(ValueError) as error:
        recipe.validate(config)
    assert "optimizer.layer_decay must be 0 (off) or in (0, 1]" in str(error.value)
    assert f"finetune.head_epochs must be an integer from 0 to epochs ({config.epochs})" \
        in str(error.value)


# --- the recipe end to end --------------------------------------------------------------------

CHECKPOINT = textwrap.dedent("""
    import sys, torch
    from keras_backbones.parity import build_reference, randomize_norms
    torch.manual_seed(0)
    model = build_reference("torchvision", "resnet18")
    randomize_norms(model, 0)  # BatchNorm statistics that training would visibly move
    torch.save(model.state_dict(), sys.argv[1])
""")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """torchvision's resnet18 at random init, saved as torchvision publishes it (1000
    classes), by a child process: torch is never imported beside TensorFlow."""
    path = tmp_path_factory.mktemp("checkpoint") / "resnet18.pth"
    subprocess.run([sys.executable, "-c", CHECKPOINT, str(path)], check=True, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})
    return str(path)


class Killed(Exception):
    """Stands for a SIGKILL: raised where the second phase would start."""


def _short(config):
    # 2 epochs of 12 steps: one with the head alone, one for the whole network, at a rate
    # that moves a random-init network off chance in 12 steps.
    config.update(epochs=2, steps_per_epoch=12, batch_size=32, eval_batch_size=450)
    config.finetune.head_epochs = 1
    config.optimizer.update(learning_rate=2e-3, reference_batch_size=0)
    return config


def _backbone_and_head(network):
    """({path: value} of the backbone's weights, BatchNorm statistics included; and of the
    head's), split by `optimizers.layer_depths`."""
    depths, num_layers = optimizers.layer_depths(network)
    parts = ({}, {})
    for layer in network.layers:
        for variable in layer.weights:
            parts[depths[layer.name] == num_layers][optimizers.variable_path(variable)] = \
                np.asarray(variable).copy()
    return parts


@support.needs_torch("the checkpoint is a torchvision file")
def test_finetune_recipe_from_a_checkpoint_killed_between_phases(checkpoint, checkpoint_server,
                                                                 tmp_path, monkeypatch):
    # The recipe's weights="imagenet": the default checkpoint, published by the test's server.
    with open(checkpoint, "rb") as f:
        content = f.read()
    support.publish(checkpoint_server, monkeypatch, [(support.published_checkpoint(
        "resnet18", "torchvision", "IMAGENET1K_V1",
        "https://download.pytorch.org/models/resnet18-{sha256}.pth", content=content,
        converter="torchvision"), content, False)])
    config = _short(recipe.load(FINETUNE + ":resnet18"))
    assert config.model.weights == "imagenet"
    pretrained = registry.create_model("resnet18", weights="imagenet", classes=10,
                                       input_shape=(32, 32, 3))
    loaded, _ = _backbone_and_head(pretrained)
    assert any(path.endswith("moving_mean") for path in loaded)

    networks = []
    build = loop.build_network

    def recorded(*args, **kwargs):
        network = build(*args, **kwargs)
        networks.append((network, _backbone_and_head(network)[1]))
        return network

    fit = loop.Trainer.fit

    def fit_until_the_switch(self, *args, **kwargs):
        if kwargs["initial_epoch"] == config.finetune.head_epochs:
            raise Killed
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(loop, "build_network", recorded)
    monkeypatch.setattr(loop.Trainer, "fit", fit_until_the_switch)
    with pytest.raises(Killed):
        loop.train(config, str(tmp_path), verbose=0)
    network, initial_head = networks[-1]
    backbone, head = _backbone_and_head(network)
    for path, value in loaded.items():  # weights and BatchNorm statistics as loaded
        np.testing.assert_array_equal(backbone[path], value, err_msg=path)
    assert not np.allclose(head["logits/kernel"], initial_head["logits/kernel"])
    assert all(layer.trainable for layer in network.layers)  # unfrozen on the way out
    assert (tmp_path / "checkpoints" / "ckpt-12.index").exists()

    monkeypatch.setattr(loop.Trainer, "fit", fit)
    result = loop.train(config, str(tmp_path), verbose=0)
    assert result["resumed_from_step"] == 12 and result["steps"] == 24
    backbone, _ = _backbone_and_head(networks[-1][0])
    for kind in ("kernel", "moving_mean", "moving_variance"):
        moved = [path for path, value in loaded.items()
                 if path.endswith(kind) and not np.allclose(backbone[path], value)]
        assert moved, f"no backbone {kind} changed in the whole-network epoch"
    assert result["top1"] > 0.2, result  # chance is 0.1 (measured: 0.37, tf-keras 0.42)
