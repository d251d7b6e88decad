"""ConvNeXt's roadmap (Liu et al. 2022, figure 2): each step is the previous one with one change,
counts what the paper's figure counts, starts at the project's ResNet-50 and ends at its
ConvNeXt-T, and every step trains with the ConvNeXt recipe, saves, loads and converts."""

import dataclasses
import pathlib
import types

import numpy as np
import pytest

from keras_backbones import registry, stats
from keras_backbones.backend import LEGACY_KERAS, clear_session
from keras_backbones.models import convnext_roadmap as roadmap
from keras_backbones.weights import load_weights, save_weights

from tests import support

ROOT = pathlib.Path(__file__).resolve().parents[2]
SMALL = (32, 32, 3)  # the smallest input of a stride-32 network: the fast build
STEPS = roadmap.STEP_NAMES


def build(step, **kwargs):
    clear_session()
    return registry.create_model("convnext_roadmap", step=step, **kwargs)


def test_each_step_changes_one_design_choice_of_the_previous():
    designs = [roadmap.design(step) for step in STEPS]
    assert designs[0] == roadmap.Design()  # ResNet-50
    for step, before, after in zip(STEPS[1:], designs, designs[1:]):
        changed = [f.name for f in dataclasses.fields(roadmap.Design)
                   if getattr(before, f.name) != getattr(after, f.name)]
        assert len(changed) == 1, (step, changed)
    assert roadmap.design(3) == roadmap.design("depthwise_conv")  # an index names a step too


def test_unknown_steps_and_kernels_are_named_errors():
    with pytest.raises(ValueError, match="`step` must be one of 'resnet50'.*got 'swin'"):
        registry.create_model("convnext_roadmap", step="swin")
    with pytest.raises(ValueError, match="`kernel_size` must be one of 3, 5, 7, 9, 11; got 4"):
        registry.create_model("convnext_roadmap", kernel_size=4)


FVCORE = {"resnet50": 4_111_512_576, "layer_scale": 4_470_437_376}


@pytest.mark.parametrize("step", STEPS)
def test_step_counts_the_papers_figure(step):
    """The paper's GFLOPs are fvcore's count: multiply-accumulates plus fvcore's norm and
    pooling terms (stats.fvcore_flops). At the default 224x224 each step gives figure 2's figure
    once rounded to its one decimal, but the step the module docstring explains, within 0.1.
    At the ends, fvcore 0.1.5's FlopCountAnalysis of the eval-mode references (torchvision
    0.29.1's resnet50, timm 1.0.31's convnext_tiny) to the operation."""
    entry = roadmap.STEPS[STEPS.index(step)]
    counted = stats.fvcore_flops(build(step))
    assert counted == FVCORE.get(step, counted)
    flops = counted / 1e9
    if step in roadmap.COUNTED_OTHERWISE:
        assert abs(flops - entry.paper_gflops) < 0.1
    else:
        assert round(flops, 1) == entry.paper_gflops


def test_kernel_sweep_grows_the_count_only_by_the_depthwise_kernels():
    counts = {k: stats.count_macs(build("kernel_7", kernel_size=k)) for k in roadmap.KERNEL_SIZES}
    assert counts[3] == stats.count_macs(build("depthwise_conv_up"))
    assert counts[7] == stats.count_macs(build("kernel_7"))
    # Every depthwise kernel position adds (H x W x C) MACs per layer: the step between sizes k
    # and k + 2 grows by the same amount times (k + 2)^2 - k^2, an arithmetic progression.
    steps = [counts[k + 2] - counts[k] for k in roadmap.KERNEL_SIZES[:-1]]
    per_position = steps[0] / (5 ** 2 - 3 ** 2)
    assert [s / per_position for s in steps] == [16, 24, 32, 40]


@pytest.mark.parametrize("step, reference", [("resnet50", "resnet50"),
                                             ("layer_scale", "convnext_tiny")])
def test_the_first_step_is_resnet50_and_the_last_convnext_tiny(step, reference, tmp_path):
    """Same layers, names and count: the reference's weights load into the step (the portable
    format matches layers by name) and it gives the reference's logits."""
    clear_session()
    ref = support.randomize_batch_norms(
        registry.create_model(reference, input_shape=SMALL, classifier_activation=None))
    images = support.random_images(SMALL)
    expected = np.asarray(ref(images, training=False))
    path = save_weights(ref, tmp_path / "reference.npz")
    model = registry.create_model("convnext_roadmap", step=step, input_shape=SMALL,
                                  classifier_activation=None)
    assert stats.trainable_params(model) == stats.trainable_params(ref)
    assert [layer.name for layer in model.layers if layer.weights] == \
        [layer.name for layer in ref.layers if layer.weights]
    load_weights(model, path)
    np.testing.assert_allclose(np.asarray(model(images, training=False)), expected,
                               rtol=1e-5, atol=1e-5 * max(1.0, np.abs(expected).max()))


def layer_kinds(model):
    """(layer class, activation, axis) of every layer: what a save, a load and a conversion
    meet."""
    kinds = set()
    for layer in model.layers:
        config = layer.get_config()
        kinds.add((type(layer).__name__, str(config.get("activation", "")),
                   str(config.get("axis", ""))))
    return kinds


# Families whose representatives the registry-wide contract saves, loads and converts to
# float and int8 TFLite in CI: together they hold every layer and op of every step.
COVERED_BY = ("resnet18", "convnext_atto", "mobilenet_v2")


@pytest.fixture(scope="module")
def covered():
    """(layer kinds, inference ops) of the COVERED_BY representatives."""
    assert all(name in support.representatives() for name in COVERED_BY)
    kinds, ops = set(), set()
    for name in COVERED_BY:
        clear_session()
        model = registry.create_model(name, input_shape=SMALL, **support.conversion_options(name))
        kinds |= layer_kinds(model)
        ops |= set() if LEGACY_KERAS else support.inference_ops(model)
    return kinds, ops


# "gelu": BatchNorm around Dense layers and GELU, strided depthwise convolutions, projected
# shortcuts: the step whose mix of layers is furthest from any published family's.
MIXED_STEP = "gelu"


def test_a_step_round_trips_through_a_keras_file_and_the_portable_format(tmp_path):
    from tests.models.test_contract import keras_file_round_trip

    model = support.randomize_batch_norms(build(MIXED_STEP, input_shape=SMALL))
    images = support.random_images(SMALL)
    expected = np.asarray(model(images, training=False))
    restored = keras_file_round_trip(model, tmp_path / "step.keras")
    np.testing.assert_allclose(np.asarray(restored(images, training=False)), expected,
                               rtol=1e-5, atol=1e-5)
    assert not support.auto_named_weight_layers(model)
    path = save_weights(restored, tmp_path / "step.npz")
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    load_weights(model, path)
    np.testing.assert_array_equal(np.asarray(model(images, training=False)), expected)


@pytest.mark.skipif(LEGACY_KERAS, reason="TFLite conversion of the families is checked under Keras 3")
def test_a_step_converts_to_float_and_int8_tflite_builtins():
    from keras_backbones.export import tflite

    model = build(MIXED_STEP, input_shape=SMALL, **support.conversion_options("convnext_roadmap"))
    images = support.random_images(SMALL, batch=4, seed=1)
    expected = np.asarray(model(images, training=False))
    converted = tflite.convert_each(model, ("none", "int8"),
                                    representative_data=support.random_images(SMALL, batch=8, seed=2))
    for content in converted.values():
        assert not [op for op in tflite.op_names(content) if op.startswith("Flex") or op == "CUSTOM"]
    (got,) = tflite.run(converted["none"], images)
    np.testing.assert_allclose(got, expected, atol=1e-4 * max(1.0, float(np.abs(expected).max())))
    assert not tflite.float_ops(converted["int8"])
    (quantized,) = tflite.run(converted["int8"], images)
    assert np.corrcoef(quantized.ravel(), expected.ravel())[0, 1] > 0.9


# Steps that change only sizes (blocks, widths, kernels) or only remove layers train as the
# step before them does: their training runs in the extended suite.
TRAINS_AS_BEFORE = ("stage_ratio", "wider", "kernel_7", "fewer_activations", "fewer_norms")


@pytest.mark.skipif(LEGACY_KERAS, reason="the training loop's steps are checked under Keras 3")
@pytest.mark.parametrize("step", [pytest.param(s, marks=[] if s not in TRAINS_AS_BEFORE else
                                               [pytest.mark.extended]) for s in STEPS])
def test_every_step_trains_with_the_convnext_recipe(step):
    """recipes/convnext_roadmap.py as written (AdamW with its decay exclusions, the warmup
    schedule, EMA, soft-label cross-entropy, stochastic depth 0.1): two optimizer steps on a
    batch of 2 (the warmup's first rate is 0), after which every layer holding weights has
    moved one: each reaches the loss. Eagerly: tracing the training step of a network of this
    size costs 15 s more than running it twice."""
    import tensorflow as tf

    from keras_backbones.training import loop, recipe

    config = recipe.load(f"{ROOT / 'recipes' / 'convnext_roadmap.py'}:{step}")
    assert config.model.kwargs.step == step and config.optimizer.name == "adamw"
    clear_session()
    data = types.SimpleNamespace(train_source=types.SimpleNamespace(num_classes=10),
                                 input_shape=SMALL, steps_per_epoch=1)
    network, trainer = loop._trainer(config, tf.distribute.get_strategy(), data)
    trainer.run_eagerly = True
    before = {layer.name: [np.array(w) for w in layer.trainable_weights]
              for layer in network.layers if layer.trainable_weights}
    images = support.random_images(SMALL)
    labels = np.eye(10, dtype="float32")[[3, 7]]
    batches = tf.data.Dataset.from_tensors((images, labels)).repeat(2)
    history = trainer.fit(batches, epochs=1, steps_per_epoch=2, shuffle=False, verbose=0).history
    assert np.isfinite(history["loss"]).all() and int(trainer.optimizer.iterations) == 2
    unmoved = [name for name, old in before.items()
               if all(np.array_equal(np.array(w), o)
                      for w, o in zip(network.get_layer(name).trainable_weights, old))]
    assert not unmoved


def hand_count(d, classes=1000):
    """The trainable parameters of design `d`, counted layer by layer from the paper's
    description (norms: gamma and beta; a bias where no BatchNorm follows), independently of the
    builder: widths w x 2^(s-1)."""
    norm = lambda c: 2 * c
    bias = lambda c, normed=True: c if (not normed or d.norm == "layer") else 0
    k2 = d.kernel_size ** 2
    w = d.width
    stem = (49 if d.stem == "resnet" else 16) * 3 * w + bias(w) + norm(w)
    total, channels = stem, w
    for s, depth in enumerate(d.depths):
        if d.block == "bottleneck":
            inner = w * 2 ** s
            out = 4 * inner
        else:
            out = w * 2 ** s
            hidden = 4 * out
        if d.separate_downsampling and s > 0:  # LayerNorm, 2x2 conv with its bias
            total += norm(channels) + 4 * channels * out + out
            channels = out
        for b in range(depth):
            cin = channels if b == 0 else out
            if d.block == "bottleneck":
                spatial = k2 * inner if d.depthwise else k2 * inner * inner
                total += cin * inner + norm(inner) + spatial + norm(inner) + inner * out + norm(out)
            else:
                dw = hidden if d.block == "inverted" else cin
                few = d.fewer_norms
                total += k2 * dw + bias(dw) + norm(dw)  # the depthwise conv keeps its norm
                total += cin * hidden + bias(hidden, not few) + (0 if few else norm(hidden))
                total += hidden * out + bias(out, not few) + (0 if few else norm(out))
            if d.layer_scale is not None:
                total += out
            if not d.separate_downsampling and (cin != out or (s > 0 and b == 0)):
                total += cin * out + bias(out) + norm(out)  # the projection shortcut
        channels = out
    head_norm = norm(channels) if d.separate_downsampling else 0
    return total + head_norm + channels * classes + classes


def test_the_hand_count_is_the_references_at_both_ends():
    assert hand_count(roadmap.design("resnet50")) == support.reference_params("resnet50")["params"]
    assert hand_count(roadmap.design("layer_scale")) == \
        support.reference_params("convnext_tiny")["params"]


@pytest.mark.parametrize("step", STEPS)
def test_every_step_builds_counts_by_hand_and_uses_converted_layers(step, covered):
    """This file runs under both Kerases: the same hand count in each. Every layer kind and
    (under Keras 3) every inference op of the step is one the contract saves, loads and
    converts to TFLite in CI, on COVERED_BY."""
    model = build(step, input_shape=SMALL, **support.conversion_options("convnext_roadmap"))
    out = np.asarray(model(support.random_images(SMALL), training=False))
    assert out.shape == (2, 10) and np.isfinite(out).all()
    assert stats.trainable_params(model) == hand_count(roadmap.design(step), classes=10)
    kinds, ops = covered
    new_kinds = layer_kinds(model) - kinds
    assert not new_kinds, sorted(new_kinds)
    if not LEGACY_KERAS:
        new_ops = support.inference_ops(model) - ops
        assert not new_ops, sorted(new_ops)


@pytest.mark.parametrize("page", ["README.md", "docs/guides/studies.md"])
def test_the_documented_table_has_every_step_with_its_counts(page):
    """The table benchmarks/roadmap.py writes: every step in order, its parameters (the hand
    count) and the paper's figures as STEPS has them."""
    text = (ROOT / page).read_text()
    begin = text.index("<!-- BEGIN ROADMAP")
    rows = [line.split("|")[1:-1] for line in text[begin:text.index("<!-- END ROADMAP")].splitlines()
            if line.startswith("| ") and "`" in line]
    assert [row[1].strip().strip("`") for row in rows] == list(STEPS)
    for row, entry in zip(rows, roadmap.STEPS):
        assert int(row[0]) == STEPS.index(entry.name)
        assert float(row[3]) == round(hand_count(roadmap.design(entry.name)) / 1e6, 2)
        assert (float(row[6]), float(row[7])) == (entry.paper_gflops, entry.paper_top1)
