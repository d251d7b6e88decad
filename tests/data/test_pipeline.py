"""make_dataset: shapes and normalization from the registry's preprocessing, the evaluation
resize/crop, determinism, sharding, mixing only in training, clear errors when empty."""

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import registry
from keras_backbones.data import pipeline, preprocessing, sources

LENET = dict(image_size=(32, 32), channels=1, preprocessing="lenet5")
MIXING = {"mixup_alpha": 0.8, "cutmix_alpha": 1.0, "label_smoothing": 0.1}


@pytest.fixture(scope="module")
def digits_train():
    return sources.digits("train")


@pytest.fixture(scope="module")
def digits_test():
    return sources.digits("test")


def _source(images, labels, num_classes=3):
    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(images, np.uint8),
                                                  np.asarray(labels, np.int32)))
    return sources.Source(dataset=dataset, num_classes=num_classes, num_examples=len(labels),
                          class_names=None, name="synthetic")


def test_evaluation_batches_of_digits_for_lenet5(digits_test):
    dataset = pipeline.make_dataset(digits_test, training=False, batch_size=128, **LENET)
    batches = list(dataset)
    assert [int(x.shape[0]) for x, _ in batches] == [128, 128, 128, 66]  # nothing dropped
    images, labels = batches[0]
    assert images.shape == (128, 32, 32, 1) and images.dtype == tf.float32
    assert labels.shape == (128, 10) and labels.dtype == tf.float32
    np.testing.assert_array_equal(labels.numpy().max(axis=1), 1.0)  # plain one-hot
    # LeNet-5's scaling: background 0 -> -0.1, full ink 255 -> 1.175.
    assert images.numpy().min() == pytest.approx(-0.1) and images.numpy().max() == pytest.approx(1.175)


def test_evaluation_resize_center_crop_and_normalize():
    pre = registry.get_spec("resnet18").preprocessing  # crop_pct 0.875, ImageNet mean/std
    image = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
    out = preprocessing.eval_image(tf.constant(image), (28, 28), pre, channels=3).numpy()
    # timm: the shorter side to floor(28 / 0.875) = 32 -> 32x64, then the central 28x28.
    resized = tf.image.resize(tf.cast(image, tf.float32), (32, 64), antialias=True).numpy()
    expected = (resized[2:30, 18:46] / 255.0 - np.array(pre.mean)) / np.array(pre.std)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_gray_images_are_tiled_for_rgb_models(digits_test):
    pre = registry.model_info("resnet18")["preprocessing"]  # the dict form
    dataset = pipeline.make_dataset(digits_test, training=False, batch_size=8, image_size=(16, 24),
                                    channels=3, preprocessing=pre)
    images, _ = next(iter(dataset))
    assert images.shape == (8, 16, 24, 3)
    gray = images.numpy() * np.array(registry.IMAGENET_STD) + np.array(registry.IMAGENET_MEAN)
    np.testing.assert_allclose(gray[..., 0], gray[..., 2], atol=1e-5)


def test_training_is_deterministic_per_seed_and_new_each_epoch(digits_train):
    subset = sources.Source(dataset=digits_train.dataset.take(300), num_classes=10,
                            num_examples=300, class_names=None, name="digits[:300]")

    def make(seed):
        augment = {**MIXING, "random_erasing": 0.5, "crop_scale": (0.5, 1.0), "flip": True}
        return pipeline.make_dataset(subset, training=True, batch_size=64, seed=seed,
                                     deterministic=True, augment=augment, **LENET)

    def epoch(dataset):
        return [(x.numpy(), y.numpy()) for x, y in dataset]

    first, second = make(1), make(1)
    run1, run2 = epoch(first), epoch(second)
    assert len(run1) == 300 // 64  # training drops the partial batch
    for (x1, y1), (x2, y2) in zip(run1, run2):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(run1[0][0], epoch(first)[0][0])  # the next epoch is redrawn
    assert not np.array_equal(run1[0][0], epoch(make(2))[0][0])


def test_mixing_only_in_training(digits_train):
    eval_labels = [y.numpy() for _, y in pipeline.make_dataset(
        digits_train, training=False, batch_size=512, augment=MIXING, **LENET)]
    assert all(set(np.unique(y)) == {0.0, 1.0} for y in eval_labels)  # one-hot, not smoothed
    train_labels = np.concatenate([y.numpy() for _, y in pipeline.make_dataset(
        digits_train, training=True, batch_size=64, seed=0, augment=MIXING, **LENET)])
    np.testing.assert_allclose(train_labels.sum(axis=1), 1.0, rtol=1e-5)
    assert train_labels.min() >= 0.01 - 1e-6  # smoothed: eps / classes everywhere
    assert np.mean(np.sort(train_labels, axis=1)[:, -2] > 0.02) > 0.5  # two classes: mixed


def test_randaugment_in_the_pipeline():
    images = np.random.default_rng(0).integers(0, 255, (4, 12, 12, 3), dtype=np.uint8)
    dataset = pipeline.make_dataset(_source(images, [0, 1, 2, 0]), training=True, batch_size=4,
                                    image_size=(16, 16), channels=3, preprocessing="resnet18", seed=0,
                                    augment={"randaugment": {"num_layers": 2, "magnitude": 9}})
    batch, labels = dataset.get_single_element()
    assert batch.shape == (4, 16, 16, 3) and batch.dtype == tf.float32
    low = (0 - np.array(registry.IMAGENET_MEAN)) / np.array(registry.IMAGENET_STD)
    high = (1 - np.array(registry.IMAGENET_MEAN)) / np.array(registry.IMAGENET_STD)
    assert np.all(batch.numpy() >= low - 1e-5) and np.all(batch.numpy() <= high + 1e-5)
    np.testing.assert_array_equal(labels.numpy().sum(axis=1), 1.0)


def test_sharding_by_input_context():
    source = _source(np.zeros((10, 4, 4, 1)), np.arange(10), num_classes=10)
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        dataset = pipeline.make_dataset(source, training=False, image_size=(4, 4), channels=1,
                                        preprocessing="lenet5", batch_size=2, input_context=context)
        seen.append([int(np.argmax(y)) for _, ys in dataset for y in ys.numpy()])
    assert seen == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]  # every other example, each once


def test_variable_size_images_cached_and_cropped():
    images = [np.full((h, w, 3), 100, np.uint8) for h, w in ((20, 30), (9, 9), (40, 12))]
    dataset = tf.data.Dataset.from_generator(
        lambda: ((image, np.int32(i)) for i, image in enumerate(images)),
        output_signature=(tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32)))
    source = sources.Source(dataset=dataset, num_classes=3, num_examples=None, class_names=None,
                            name="varied")
    batches = pipeline.make_dataset(source, training=True, batch_size=3, image_size=(8, 8), channels=3,
                                    preprocessing="resnet18", cache=True, seed=0, repeat=2)
    shapes = [tuple(x.shape) for x, _ in batches]
    assert shapes == [(3, 8, 8, 3)] * 2


def test_empty_datasets_are_clear_errors():
    empty = _source(np.zeros((0, 4, 4, 1)), np.zeros(0))
    with pytest.raises(ValueError, match="synthetic: the dataset is empty"):
        pipeline.make_dataset(empty, training=False, batch_size=2, **LENET)
    few = _source(np.zeros((3, 4, 4, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="3 examples make no full batch of 8"):
        pipeline.make_dataset(few, training=True, batch_size=8, **LENET)
    with pytest.raises(ValueError, match="unknown field.*mixup;"):
        pipeline.make_dataset(few, training=True, batch_size=1, augment={"mixup": 0.2}, **LENET)


def test_all_corrupt_folder_is_empty(tmp_path):
    for name in ("cat", "dog"):  # two classes: one is an error of its own
        (tmp_path / name).mkdir()
        (tmp_path / name / "broken.png").write_bytes(b"not a png")
    source = sources.image_folder(str(tmp_path))
    with pytest.raises(ValueError, match="empty.*none readable"):
        pipeline.make_dataset(source, training=False, batch_size=1, **LENET)
    assert int(source.skipped) == 0  # the look for a first example leaves the count alone


def test_pad_and_random_crop():
    """CIFAR's augmentation: the image shifted by up to `pad_crop` pixels, zeros shifted in."""
    image = np.arange(1, 65, dtype=np.float32).reshape(8, 8, 1)
    padded = np.pad(image[..., 0], 2)
    shifted = {(dy, dx): padded[dy:dy + 8, dx:dx + 8] for dy in range(5) for dx in range(5)}
    seen = set()
    for seed in range(20):
        crop = preprocessing.train_geometry(tf.constant(image), (8, 8), preprocessing.spec("lenet5"),
                                            tf.constant([seed, 0]), crop_scale=None, flip=False,
                                            pad_crop=2).numpy()[..., 0]
        matches = [shift for shift, expected in shifted.items() if np.array_equal(crop, expected)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 5
