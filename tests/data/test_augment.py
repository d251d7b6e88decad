"""Batch augmentation: mixed labels sum to 1 and equal the mixing ratio / pasted area,
label smoothing, random erasing's box, RandAugment's output, config errors."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones.data import augment

BATCH, SIZE, CLASSES = 6, 16, 6


def _constant_batch():
    """Image i is filled with the value i and labelled i: a mixed pixel tells its sources."""
    values = tf.cast(tf.reshape(tf.range(BATCH), [BATCH, 1, 1, 1]), tf.float32)
    images = values * tf.ones([1, SIZE, SIZE, 3])
    return images, augment.one_hot(tf.range(BATCH), CLASSES)


def test_mixup_labels_equal_the_pixel_ratio():
    images, labels = _constant_batch()
    for seed in range(5):
        lam = augment.sample_beta(tf.constant([seed, 7]), 0.8)
        mixed, targets = augment.mixup(images, labels, lam)
        targets = targets.numpy()
        np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
        for i in range(BATCH):
            partner = BATCH - 1 - i  # the reversed batch
            if partner == i:
                continue
            # pixel = lam * i + (1 - lam) * partner  ->  lam = (pixel - partner) / (i - partner)
            pixel_lam = (mixed.numpy()[i, 0, 0, 0] - partner) / (i - partner)
            assert targets[i, i] == pytest.approx(pixel_lam, abs=1e-5)
            assert targets[i, partner] == pytest.approx(1 - pixel_lam, abs=1e-5)


def test_cutmix_labels_equal_the_pasted_area():
    images, labels = _constant_batch()
    for seed in range(8):
        lam = augment.sample_beta(tf.constant([seed, 1]), 1.0)
        mixed, targets = augment.cutmix(images, labels, lam, tf.constant([seed, 2]))
        mixed, targets = mixed.numpy(), targets.numpy()
        np.testing.assert_allclose(targets.sum(axis=1), 1.0, rtol=1e-6)
        for i in range(BATCH // 2):  # (pairs (i, 5 - i) never coincide for an even batch)
            partner = BATCH - 1 - i
            pasted = np.mean(mixed[i, :, :, 0] == partner)
            assert targets[i, i] == pytest.approx(1 - pasted, abs=1e-6)
            assert targets[i, partner] == pytest.approx(pasted, abs=1e-6)


def test_mix_batch_switches_and_respects_mix_prob():
    images, labels = _constant_batch()
    labels = augment.smooth(labels, 0.1)
    kinds = set()
    for seed in range(12):
        mixed, targets = augment.mix_batch(images, labels, tf.constant([seed, 0]), mixup_alpha=0.8,
                                           cutmix_alpha=1.0, switch_prob=0.5)
        np.testing.assert_allclose(targets.numpy().sum(axis=1), 1.0, rtol=1e-6)
        values = np.unique(mixed.numpy()[0])
        kinds.add("cutmix" if set(values) <= {0.0, 5.0} and len(values) == 2 else "mixup")
    assert kinds == {"cutmix", "mixup"}
    same = augment.mix_batch(images, labels, tf.constant([1, 1]), mixup_alpha=0.8, mix_prob=0.0)
    np.testing.assert_array_equal(same[1].numpy(), labels.numpy())


def test_label_smoothing():
    targets = augment.one_hot(tf.constant([2, 0]), 4, smoothing=0.1).numpy()
    np.testing.assert_allclose(targets, [[0.025, 0.025, 0.925, 0.025], [0.925, 0.025, 0.025, 0.025]])


def test_random_erasing_boxes():
    images = tf.fill([32, 24, 24, 3], 7.0)
    erased = augment.random_erasing(images, tf.constant([3, 4]), prob=1.0).numpy()
    shares = np.mean(erased[..., 0] != 7.0, axis=(1, 2))
    assert np.all(shares >= 0.015) and np.all(shares <= 0.36)  # 2%..1/3 of the area, rounded
    for image in erased:  # one box: the changed rows and columns are contiguous
        rows = np.flatnonzero((image[..., 0] != 7.0).any(axis=1))
        assert rows.size and rows[-1] - rows[0] + 1 == rows.size
    untouched = augment.random_erasing(images, tf.constant([3, 4]), prob=0.0)
    np.testing.assert_array_equal(untouched.numpy(), images.numpy())


def test_randaugment_output():
    layer = augment.randaugment(num_layers=2, magnitude=9, magnitude_std=0.5, seed=1)
    images = tf.random.stateless_uniform([4, 16, 16, 3], [1, 2], 0, 255)
    out = layer(images)  # (the pipeline test runs it inside a tf.data map)
    assert out.shape == images.shape and out.dtype == tf.float32
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 255.0
    assert not np.allclose(out.numpy(), images.numpy())


def test_config_errors():
    assert augment.resolve(None)["flip"] is True
    assert augment.resolve({"flip": False}, defaults={"flip": True, "crop_scale": None}) == {
        **augment.DEFAULTS, "flip": False, "crop_scale": None}
    with pytest.raises(ValueError, match="unknown field.*cutmix;.*the fields are"):
        augment.resolve({"cutmix": 1.0})
    with pytest.raises(ValueError, match="0..10 scale"):
        augment.resolve({"randaugment": {"magnitude": 0.5 * 30}})
    with pytest.raises(ValueError, match="random_erasing must be in"):
        augment.resolve({"random_erasing": 1.5})
    assert augment.resolve({"randaugment": {"magnitude": 9}})["randaugment"] == {
        "num_layers": 2, "magnitude": 9, "magnitude_std": 0.0}


@pytest.mark.parametrize("field", [
    {"mixup_alpha": math.inf}, {"cutmix_alpha": math.nan}, {"cutmix_alpha": -0.2},
    {"crop_ratio": (3 / 4, math.inf)}, {"crop_ratio": (0.0, 1.0)}, {"crop_ratio": (2.0, 1.0)},
    {"crop_ratio": (math.nan, 1.0)}, {"crop_scale": (0.08, math.nan)},
    {"label_smoothing": math.nan}, {"randaugment": {"magnitude": math.nan}},
    {"randaugment": {"magnitude_std": math.inf}}, {"randaugment": {"num_layers": 0}},
], ids=lambda field: "-".join(f"{k}={v}" for k, v in field.items()))
def test_values_that_cannot_augment_are_named(field):
    (name,) = field
    with pytest.raises(ValueError, match=rf"augment\.{name}"):
        augment.resolve(field)
