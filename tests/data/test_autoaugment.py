"""AutoAugment, TrivialAugmentWide and AugMix: the operations against PIL's definitions on a
fixed 32x32 image, the magnitudes against the references' tables, each policy applying what
its seed draws, determinism in the pipeline, the JSD loss, config errors and one training step
with AugMix's JSD."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from keras_backbones.data import augment, pipeline, sources
from keras_backbones.data import autoaugment as aa

SIZE = 32
NEAREST = {"fill": 0.0, "interpolation": "nearest"}


@pytest.fixture(scope="module")
def image():
    """Random pixels, the top rows darkened: histograms that equalize and autocontrast change."""
    pixels = np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8)
    pixels[:8] //= 3
    return pixels


def _affine(pil, coefficients):
    """PIL's affine warp; it maps pixel centres (x + 0.5, y + 0.5), TensorFlow's pixel indices
    (as the EfficientNet code's warps): a shear s by x then differs by the constant s / 2."""
    return pil.transform((SIZE, SIZE), Image.AFFINE, coefficients, resample=Image.NEAREST)


def test_operations_match_pil(image):
    x, pil = tf.constant(image, tf.float32), Image.fromarray(image)
    exact = {
        "equalize": (aa.equalize(x), ImageOps.equalize(pil)),
        "autocontrast": (aa.autocontrast(x), ImageOps.autocontrast(pil)),
        "posterize": (aa.posterize(x, 3), ImageOps.posterize(pil, 3)),
        "solarize": (aa.solarize(x, 100.0), ImageOps.solarize(pil, 100)),
        "invert": (aa.invert(x), ImageOps.invert(pil)),
        "translate_x": (aa.translate_x(x, 5.0, **NEAREST), _affine(pil, (1, 0, 5, 0, 1, 0))),
        "translate_y": (aa.translate_y(x, -7.0, **NEAREST), _affine(pil, (1, 0, 0, 0, 1, -7))),
        "shear_x": (aa.shear_x(x, 0.25, **NEAREST), _affine(pil, (1, 0.25, -0.125, 0, 1, 0))),
        "shear_y": (aa.shear_y(x, -0.27, **NEAREST), _affine(pil, (1, 0, 0, -0.27, 1, 0.135))),
        "rotate": (aa.rotate(x, 30.0, **NEAREST), pil.rotate(30, resample=Image.NEAREST)),
    }
    for name, (ours, reference) in exact.items():
        np.testing.assert_array_equal(ours.numpy(), np.asarray(reference, np.float32), err_msg=name)
    # PIL rounds every blend to uint8; these stay float: within one level and a little.
    for factor in (0.3, 1.7):
        for ours, enhancer in ((aa.color, ImageEnhance.Color), (aa.contrast, ImageEnhance.Contrast),
                               (aa.brightness, ImageEnhance.Brightness),
                               (aa.sharpness, ImageEnhance.Sharpness)):
            reference = np.asarray(enhancer(pil).enhance(factor), np.float32)
            np.testing.assert_allclose(ours(x, factor).numpy(), reference, atol=1.3,
                                       err_msg=f"{ours.__name__} {factor}")


def test_solarize_add_and_the_v0_posterize_of_zero_bits(image):
    x = tf.constant(image, tf.float32)
    expected = np.where(image < 128, np.minimum(image.astype(int) + 77, 255), image)
    np.testing.assert_array_equal(aa.solarize_add(x, 77.0).numpy(), expected)
    # policy_v0's Posterize at level 2 asks for int(0.8) = 0 bits; TensorFlow clamps the
    # uint8 shift by 8 to 7, so the official code keeps 1 bit.
    assert aa.magnitude(aa.V0_SPACE, "Posterize", 2) == 1.0
    official = tf.bitwise.left_shift(tf.bitwise.right_shift(tf.constant(image), 8), 8 - 1)
    np.testing.assert_array_equal(aa.posterize(x, 1).numpy(), official.numpy())


def test_magnitudes_are_the_references():
    levels = np.arange(10, dtype=np.float32)
    space = aa.IMAGENET_SPACE  # torchvision: linspace(0, max, 10)[bin]
    for name, expected in (("Rotate", np.linspace(0, 30, 10)), ("ShearX", np.linspace(0, 0.3, 10)),
                           ("Color", np.linspace(0, 0.9, 10)), ("Solarize", np.linspace(255, 0, 10)),
                           ("Posterize", [8, 8, 7, 7, 6, 6, 5, 5, 4, 4])):
        np.testing.assert_allclose(aa.magnitude(space, name, tf.constant(levels)), expected,
                                   rtol=1e-5, err_msg=name)
    bins = np.arange(31, dtype=np.float32)
    for name, expected in (("Rotate", np.linspace(0, 135, 31)), ("TranslateX", np.linspace(0, 32, 31)),
                           ("Sharpness", np.linspace(0, 0.99, 31)),
                           ("Posterize", 8 - np.round(bins / 5))):
        np.testing.assert_allclose(aa.magnitude(aa.WIDE_SPACE, name, tf.constant(bins)), expected,
                                   rtol=1e-5, err_msg=name)
    v0 = {"Rotate": (8, 24.0), "TranslateY": (9, 225.0), "ShearY": (4, 0.12), "Solarize": (3, 76.0),
          "SolarizeAdd": (7, 77.0), "Posterize": (6, 2.0), "Color": (9, 1.72 - 1.0)}
    for name, (level, expected) in v0.items():
        assert aa.magnitude(aa.V0_SPACE, name, level) == pytest.approx(expected), name
    # AugMix at severity 3 (levels 0.1..3): 3 or 4 bits, at most 9 degrees, thresholds >= 180.
    for level in (0.1, 2.99):
        assert aa.augmix_level_arguments("Posterize", level, (SIZE, SIZE)) in (3.0, 4.0)
        assert 0 <= aa.augmix_level_arguments("Rotate", level, (SIZE, SIZE)) <= 8
        assert aa.augmix_level_arguments("Solarize", level, (SIZE, SIZE)) >= 180
        assert aa.augmix_level_arguments("TranslateX", level, (SIZE, SIZE)) <= 3  # 32 / 3 x 0.3


@pytest.mark.parametrize("policy", ["imagenet", "v0"])
def test_autoaugment_applies_the_sub_policy_its_seed_draws(image, policy):
    subpolicies, space, fill = aa.POLICIES[policy]
    assert len(subpolicies) == 25 and all(len(s) == 2 for s in subpolicies)
    x = tf.constant(image, tf.float32)
    chosen = set()
    for seed in range(12):
        seed = tf.constant([seed, 3])
        draws = tf.random.stateless_uniform([5], seed).numpy()
        index = min(int(draws[0] * 25), 24)
        chosen.add(index)
        expected = x
        for k, (name, probability, level) in enumerate(subpolicies[index]):
            if draws[1 + k] < probability:
                value = aa.magnitude(space, name, level or 0, tf.constant(draws[3 + k]))
                expected = aa.apply(name, expected, value, fill=fill)
        out = aa.autoaugment(x, seed, policy)
        np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-3)  # float32 factors
        np.testing.assert_array_equal(aa.autoaugment(x, seed, policy).numpy(), out.numpy())
    assert len(chosen) >= 8


def test_trivialaugment_draws_an_operation_and_a_bin_uniformly(image):
    x = tf.constant(image, tf.float32)
    for seed in range(6):
        seed = tf.constant([seed, 5])
        draws = tf.random.stateless_uniform([3], seed).numpy()
        name = aa.TRIVIAL_OPS[min(int(draws[0] * 14), 13)]
        level = tf.constant(float(min(int(draws[1] * 31), 30)))
        expected = aa.apply(name, x, aa.magnitude(aa.WIDE_SPACE, name, level, tf.constant(draws[2])))
        np.testing.assert_allclose(aa.trivialaugment(x, seed).numpy(), expected.numpy(), atol=1e-3)
    ops = [min(int(tf.random.stateless_uniform([3], [s, 5])[0] * 14), 13) for s in range(300)]
    assert set(ops) == set(range(14)) and max(np.bincount(ops)) < 40  # 300 / 14 = 21 each


def test_augmix_mixes_chains_convexly(image, monkeypatch):
    x = tf.constant(image, tf.float32)
    out = aa.augmix(x, tf.constant([1, 2]))
    np.testing.assert_array_equal(aa.augmix(x, tf.constant([1, 2])).numpy(), out.numpy())
    assert not np.array_equal(aa.augmix(x, tf.constant([2, 2])).numpy(), out.numpy())
    assert out.numpy().min() >= 0.0 and out.numpy().max() <= 255.0
    # Each operation adds 10: a chain of depth 2 adds 20, and the mix (1 - m) x + m x sum_i
    # w_i chain_i adds 20 m (weights summing to 1) everywhere, m ~ Beta(1, 1).
    monkeypatch.setattr(aa, "_augmix_op", lambda image, seed, ops, severity: image + 10.0)
    shares = []
    for seed in range(16):
        added = (aa.augmix(x, tf.constant([seed, 0]), depth=2) - x).numpy()
        np.testing.assert_allclose(added, added.flat[0], atol=1e-3)
        shares.append(added.flat[0] / 20.0)
    assert 0.0 <= min(shares) < 0.3 and 0.7 < max(shares) <= 1.0


def test_jensen_shannon_is_the_references_loss():
    from keras_backbones.training import loop

    logits = tf.random.stateless_normal([3, 4, 5], [0, 1], stddev=3.0)
    probs = tf.nn.softmax(logits).numpy()
    log_mixture = np.log(np.clip(probs.mean(axis=0), 1e-7, 1.0))
    expected = np.mean([(p * (np.log(p) - log_mixture)).sum(-1) for p in probs], axis=0)
    np.testing.assert_allclose(loop.jensen_shannon(tf.unstack(logits)), expected, rtol=1e-5)
    np.testing.assert_allclose(loop.jensen_shannon([logits[0]] * 3), 0.0, atol=1e-6)


def test_the_train_step_adds_the_weighted_jsd_of_the_views():
    from keras_backbones.backend import keras
    from keras_backbones.training import loop

    inputs = keras.Input((4,))
    network = keras.Model(inputs, keras.layers.Dense(3, name="predictions")(inputs))
    trainer = loop.Trainer(network, num_classes=3)
    trainer.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))
    views = tuple(tf.random.stateless_normal([2, 4], [view, 0]) for view in range(3))
    labels = tf.one_hot([0, 2], 3)
    logits = [network(view) for view in views]
    expected = loop._cross_entropy(labels, logits[0]) + 12.0 * loop.jensen_shannon(logits)
    logs = trainer.train_step((views, labels))
    assert float(logs["loss"]) == pytest.approx(float(tf.reduce_mean(expected)), rel=1e-5)
    assert float(tf.reduce_mean(loop.jensen_shannon(logits))) > 1e-4  # the views do differ


def test_config_errors():
    resolved = augment.resolve({"augmix": True})
    assert resolved["augmix"] == augment.AUGMIX_DEFAULTS
    assert resolved["autoaugment"] is None and resolved["trivialaugment"] is False
    assert augment.resolve({"augmix": {"jsd": False}, "mixup_alpha": 0.2})["augmix"]["jsd"] is False
    errors = [
        ({"randaugment": True, "autoaugment": "v0"}, "randaugment and autoaugment are each"),
        ({"autoaugment": "cifar10"}, r"augment\.autoaugment must be None or one of 'imagenet', 'v0'"),
        ({"augmix": {"widht": 3}}, r"augment\.augmix: unknown field\(s\) widht"),
        ({"augmix": {"depth": 0}}, r"augment\.augmix\.depth must be an integer >= 1 \(or -1"),
        ({"augmix": {"severity": 11}}, r"augment\.augmix\.severity"),
        ({"augmix": True, "cutmix_alpha": 1.0}, r"augment\.augmix\.jsd .* MixUp and CutMix"),
    ]
    for config, message in errors:
        with pytest.raises(ValueError, match=message):
            augment.resolve(config)


def _source(count=4):
    rng = np.random.default_rng(1)
    dataset = tf.data.Dataset.from_tensor_slices((rng.integers(0, 256, (count, 40, 40, 3), np.uint8),
                                                  np.arange(count, dtype=np.int32) % 3))
    return sources.Source(dataset=dataset, num_classes=3, num_examples=count, class_names=None,
                          name="synthetic")


def _batches(augment_config, seed=7):
    dataset = pipeline.make_dataset(_source(), training=True, image_size=(SIZE, SIZE), channels=3,
                                    preprocessing="resnet18", batch_size=4, augment=augment_config,
                                    seed=seed, deterministic=True)
    return [images for images, _ in dataset]


@pytest.fixture(scope="module")
def plain_batches():
    return _batches({})


@pytest.mark.parametrize("policy", [{"autoaugment": "v0"}, {"trivialaugment": True}],
                         ids=lambda policy: next(iter(policy)))
def test_the_pipeline_applies_each_policy(policy, plain_batches):
    batches = _batches(policy)
    assert all(images.shape == (4, SIZE, SIZE, 3) for images in batches)
    assert not all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(batches, plain_batches))


def test_augmix_jsd_views_repeat_from_a_seed(plain_batches):
    """The clean view is the plain pipeline's batch (same crop, no erasing); the two AugMix
    views differ; a second pipeline with the seed repeats every view."""
    config = {"augmix": True, "random_erasing": 0.5}
    first, again = _batches(config), _batches(config)
    for views, repeated, expected in zip(first, again, plain_batches):
        clean, augmented, other = views
        np.testing.assert_array_equal(clean.numpy(), expected.numpy())
        assert augmented.shape == other.shape == clean.shape
        assert not np.allclose(augmented.numpy(), other.numpy())
        for view, view_again in zip(views, repeated):
            np.testing.assert_array_equal(view.numpy(), view_again.numpy())


def test_one_training_step_with_augmix_jsd(tmp_path):
    from keras_backbones.backend import clear_session
    from keras_backbones.training import loop, recipe
    from tests.training.helpers import DIGITS

    config = recipe.load(DIGITS)
    config.update(epochs=1, steps_per_epoch=1, eval_steps=1)
    config.augment.augmix = {"severity": 3}
    config.mixing.method = "manifold_mixup"
    with pytest.raises(ValueError, match="augment.augmix.jsd trains on three views"):
        recipe.validate(config)
    config.mixing.method = ""
    clear_session()
    result = loop.train(config, str(tmp_path), verbose=0)
    clear_session()
    assert result["steps"] == 1 and np.isfinite(result["eval_loss"])
