"""Test-time evaluation (keras_backbones.training.tta): VGG's dense evaluation equals the
classifier over every window of the feature map, computed explicitly; 10 and 144 crops are the
papers' crops; `keras-backbones evaluate --tta` runs them and refuses nonsense."""

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import cli, registry, weights
from keras_backbones.backend import keras
from keras_backbones.data import sources
from keras_backbones.layers import AdaptiveAveragePooling2D, Flatten
from keras_backbones.training import commands, loop, recipe, tta
from tests.training.helpers import DIGITS

CLASSES = 5
HEAD = ["adaptive_pool", "flatten", "fc1", "fc1_relu", "fc1_dropout", "fc2", "fc2_relu",
        "fc2_dropout", "logits", "predictions"]


def small_vgg(size, activation="softmax", seed=0):
    """VGG's layout at a few channels: five conv + 2x2 max pool blocks (stride 32), adaptive
    pool to 7x7, Flatten, two hidden Dense layers with dropout, logits, `predictions`."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(size, size, 3))
    x = inputs
    for index, width in enumerate((4, 6, 8, 8, 8), start=1):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu",
                                kernel_initializer="he_normal", name=f"block{index}_conv")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{index}_pool")(x)
    x = AdaptiveAveragePooling2D(7, name="adaptive_pool")(x)
    x = Flatten(name="flatten")(x)
    for index in (1, 2):
        x = keras.layers.Dense(12, kernel_initializer="he_normal", bias_initializer="he_normal",
                               name=f"fc{index}")(x)
        x = keras.layers.ReLU(name=f"fc{index}_relu")(x)
        x = keras.layers.Dropout(0.5, name=f"fc{index}_dropout")(x)
    x = keras.layers.Dense(CLASSES, kernel_initializer="he_normal", name="logits")(x)
    outputs = keras.layers.Activation(activation or "linear", dtype="float32",
                                      name="predictions")(x)
    return keras.Model(inputs, outputs, name="small_vgg")


def softmax(scores, model):
    return scores if tta.ends_in_softmax(model) else tf.nn.softmax(scores).numpy()


def images(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


@pytest.mark.parametrize("activation", ["softmax", None], ids=["softmax", "logits"])
def test_dense_evaluation_is_the_classifier_averaged_over_every_window(activation):
    model = small_vgg(64, activation)  # its 2x2 feature map is pooled up to 7x7: folded in
    dense = tta.fully_convolutional(model)
    image = images(1, 64, 64, 3)
    assert dense(image).shape == (1, 1, 1, CLASSES)
    np.testing.assert_allclose(tta.dense_predict(dense, image, flip=False),
                               softmax(model(image).numpy(), model), rtol=1e-5, atol=1e-6)

    # 96x96: the same network's 3x3 feature map; the classifier at each of its 2x2 windows
    # (stride 32 in the image), probabilities averaged.
    larger = small_vgg(96, activation)
    larger.set_weights(model.get_weights())
    image = images(1, 96, 96, 3, seed=2)
    features = keras.Model(larger.input, larger.get_layer("block5_pool").output)(image)
    windows = []
    for top in (0, 1):
        for left in (0, 1):
            x = features[:, top:top + 2, left:left + 2]
            for name in HEAD:
                x = model.get_layer(name)(x, training=False)
            windows.append(softmax(x.numpy(), model))
    assert np.ptp(np.stack(windows), axis=0).max() > 0.05  # the windows disagree
    expected = np.mean(windows, axis=0)
    np.testing.assert_allclose(tta.dense_predict(dense, image, flip=False), expected,
                               rtol=1e-5, atol=1e-6)
    # with its mirror image too, and at a scale (the shorter side resized: 64x80 -> 96x120)
    mirrored = tta.dense_predict(dense, image[:, :, ::-1], flip=False)
    np.testing.assert_allclose(tta.dense_predict(model, image), (expected + mirrored) / 2,
                               rtol=1e-5, atol=1e-6)
    wide = images(1, 64, 80, 3, seed=3)
    np.testing.assert_allclose(
        tta.predict_tta(model, wide, "dense", scales=[96]),
        tta.dense_predict(dense, tf.image.resize(wide, (96, 120), antialias=True)),
        rtol=1e-5, atol=1e-6)


def test_ten_crops_are_the_corners_and_center_and_their_mirrors():
    model = small_vgg(32, activation=None)
    batch = images(2, 40, 45, 3)
    crops = [batch[:, top:top + 32, left:left + 32]
             for top, left in [(0, 0), (0, 13), (8, 0), (8, 13), (4, 6)]]
    crops += [crop[:, :, ::-1] for crop in crops]
    np.testing.assert_array_equal(tta.ten_crop(batch, 32), np.stack(crops))
    expected = np.mean([tf.nn.softmax(model(crop)).numpy() for crop in crops], axis=0)
    np.testing.assert_allclose(tta.predict_tta(model, batch, "10crop", batch_size=3), expected,
                               rtol=1e-5, atol=1e-6)
    flipped = np.mean([tf.nn.softmax(model(view)).numpy() for view in crops[4::5]], axis=0)
    np.testing.assert_allclose(tta.predict_tta(model, crops[4], "flip"), flipped,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(12, 20), (20, 12)], ids=["landscape", "portrait"])
def test_the_144_crops_are_googlenets(shape):
    assert tta.googlenet_scales(224) == (256, 288, 320, 352)
    batch = images(2, *shape, 1)
    views = tta.multi_crop_144(batch, 8)  # scales 9, 10, 11, 13: the ratios of 256..352 to 224
    assert views.shape == (144, 2, 8, 8, 1)
    np.testing.assert_array_equal(views[72:], views[:72, :, :, ::-1])
    resized = tf.image.resize(batch, (9, 15) if shape[0] < shape[1] else (15, 9), antialias=True)
    for square, offset in enumerate((0, 3, 6)):  # scale 9: squares 9x9 at 0, 3, 6
        along = (slice(None), slice(offset, offset + 9))
        piece = resized[:, along[shape[0] > shape[1]], along[shape[0] < shape[1]]]
        first = 6 * square
        np.testing.assert_array_equal(views[first], piece[:, :8, :8])      # top-left
        np.testing.assert_array_equal(views[first + 3], piece[:, 1:, 1:])  # bottom-right
        np.testing.assert_array_equal(views[first + 4], piece[:, :8, :8])  # center (offset 0)
        np.testing.assert_allclose(views[first + 5],
                                   tf.image.resize(piece, (8, 8), antialias=True), atol=1e-6)


def test_nonsense_is_an_error_that_says_what_is_allowed():
    pooled = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(4, 3),
                               keras.layers.GlobalAveragePooling2D(name="avg_pool"),
                               keras.layers.Dense(CLASSES, name="logits")], name="pooled")
    with pytest.raises(ValueError, match=r"pooled has no classifier of Dense layers after a "
                       r"Flatten.*avg_pool \(GlobalAveragePooling2D\)"):
        tta.fully_convolutional(pooled)
    model = small_vgg(32)
    with pytest.raises(ValueError, match=r"images are 24x40, smaller than the 32x32 crop"):
        tta.predict_tta(model, images(1, 24, 40, 3), "10crop")
    with pytest.raises(ValueError, match=r"scale 24 the image is 24x24, smaller than the "
                       r"model's 32x32 input.*at least 32"):
        tta.dense_predict(model, images(1, 40, 40, 3), scales=[24, 40])
    with pytest.raises(ValueError, match=r"scales apply to tta 144crop and dense; got "
                       r"tta='flip'"):
        tta.predict_tta(model, images(1, 32, 32, 3), "flip", scales=[32])
    with pytest.raises(ValueError, match=r"tta must be one of none, flip, 10crop, 144crop, "
                       r"dense; got 'five'"):
        tta.predict_tta(model, images(1, 32, 32, 3), "five")
    assert commands.TTA_MODES == tta.MODES and commands.SCALED_TTA_MODES == tta.SCALED_MODES


def test_evaluate_with_tta_through_the_pipeline(tmp_path, capsys):
    config = recipe.load(DIGITS)
    image_size, channels, pre = recipe.input_geometry(config)
    model = registry.create_model("lenet5", modern=True)
    path = weights.save_weights(model, str(tmp_path / "weights.npz"))
    source = sources.load(config.data, "eval")

    def probabilities(mode, scales=None):
        batches, predict, _ = tta.evaluation(
            model, source, mode, scales=scales, image_size=image_size, channels=channels,
            preprocessing=pre, batch_size=200, num_classes=10)
        return np.concatenate([predict(images) for images, _ in batches])

    # LeNet-5 takes the whole digit (crop_pct 1): dense at its 32x32 is the mirrored pair.
    flipped = probabilities("flip")
    assert flipped.shape == (450, 10)
    np.testing.assert_allclose(probabilities("dense", scales=[32]), flipped, atol=1e-5)

    evaluated = loop.evaluate(config, path, out_dir=str(tmp_path), tta="dense", scales=(32,))
    assert evaluated["examples"] == 450 and evaluated["scales"] == [32]
    assert evaluated["top1"] == pytest.approx(
        np.mean(flipped.argmax(-1) == np.concatenate([y for _, y in source.dataset.batch(450)])))
    assert "tta dense at 32)" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"tta 10crop .* crop_pct 1.0 .*\(tta flip\)"):
        loop.evaluate(config, path, tta="10crop")
    with pytest.raises(ValueError, match=r"tta dense: scale 16 is below the model's 32x32 "
                       r"input .*at least 32"):
        loop.evaluate(config, path, tta="dense", scales=(16, 32))

    # the command line: --scales without a mode that takes them; a --tta that does not exist
    argv = ["keras-backbones", "evaluate", "--recipe", DIGITS, "--weights", path, "--verbose"]
    assert cli.main(cli.parse([*argv, "--tta", "flip", "--scales", "32,40"])) == 2
    assert "--scales applies to --tta 144crop and dense; got --tta flip." in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.parse([*argv, "--tta", "12crop"])
    assert "--tta must be one of none, flip, 10crop, 144crop, dense; got '12crop'" in \
        capsys.readouterr().err


@pytest.mark.extended
@pytest.mark.parametrize("name, size", [("vgg11", 64), ("alexnet", 224)])
def test_the_registered_heads_convert(name, size):
    """VGG's adaptive pool folded into fc1 (2x2 -> 7x7 at 64) and AlexNet's 6x6 window: the
    dense form at the input size is the model."""
    model = registry.create_model(name, input_shape=(size, size, 3), classes=CLASSES,
                                  classifier_activation=None)
    image = images(2, size, size, 3)
    logits = model(image).numpy()
    assert np.ptp(logits) > 0
    np.testing.assert_allclose(tta.fully_convolutional(model)(image)[:, 0, 0], logits,
                               rtol=0, atol=1e-4 * np.abs(logits).max())
