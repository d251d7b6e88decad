"""ChannelSplit (ShuffleNetV2's channel split): the NumPy formula, unknown spatial sizes,
.keras round trip, and TFLite builtins in float32 and int8 (with the shuffle after it, as in a
ShuffleNetV2 unit)."""

import numpy as np
import pytest

from keras_backbones.backend import keras
from keras_backbones.export import tflite
from keras_backbones.layers import ChannelShuffle
from keras_backbones.layers.shuffle import ChannelSplit


def split_ref(x, parts):  # torch's x.chunk(parts, dim=1) on NCHW, here on NHWC
    width = x.shape[-1] // parts
    return [x[..., i * width:(i + 1) * width] for i in range(parts)]


def unit(shape, parts=2):
    inputs = keras.Input(shape=shape)
    pieces = ChannelSplit(num_splits=parts, name="split")(inputs)
    merged = keras.layers.Concatenate(axis=-1)([pieces[-1], *pieces[:-1]])
    return keras.Model(inputs, [*pieces, ChannelShuffle(groups=parts)(merged)])


@pytest.mark.parametrize("parts", [2, 3])
def test_matches_numpy_and_keeps_unknown_sizes(parts):
    x = np.random.default_rng(0).normal(size=(2, 4, 5, 12)).astype(np.float32)
    for shape in [(4, 5, 12), (None, None, 12)]:
        *pieces, _ = unit(shape, parts)(x)
        for got, expected in zip(pieces, split_ref(x, parts)):
            np.testing.assert_array_equal(np.asarray(got), expected)


def test_errors_and_round_trip(tmp_path):
    with pytest.raises(ValueError, match="10 channels do not split into 3"):
        ChannelSplit(num_splits=3)(keras.Input(shape=(4, 4, 10)))
    model = unit((4, 5, 12))
    x = np.random.default_rng(1).normal(size=(2, 4, 5, 12)).astype(np.float32)
    model.save(tmp_path / "split.keras")
    restored = keras.models.load_model(tmp_path / "split.keras", safe_mode=True)
    for got, expected in zip(restored(x), model(x)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))


def test_tflite_builtins_in_int8():
    inputs = keras.Input(shape=(4, 5, 12))
    left, right = ChannelSplit(num_splits=2)(keras.layers.Conv2D(filters=12, kernel_size=1)(inputs))
    merged = keras.layers.Concatenate(axis=-1)([left, keras.layers.ReLU()(right)])
    model = keras.Model(inputs, ChannelShuffle(groups=2)(merged))
    data = np.random.default_rng(2).normal(size=(8, 4, 5, 12)).astype(np.float32)
    content = tflite.convert(model, quantize="int8", representative_data=data)
    ops = tflite.op_names(content)
    assert "SPLIT" in ops and not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"]
    assert not tflite.float_ops(content)
    (got,) = tflite.run(content, data[:2])
    assert np.corrcoef(np.asarray(got).ravel(), np.asarray(model(data[:2])).ravel())[0, 1] > 0.99
