"""DualPathMerge (DPN) against timm's DualPathBlock merge on NCHW, and through .keras save/load
in safe mode and TFLite float32 and full-int8 with builtin ops only."""

import numpy as np
import pytest

from keras_backbones.backend import keras
from keras_backbones.export import tflite
from keras_backbones.layers.dual_path import DualPathMerge

R = 8  # residual channels; shortcut 8 + 6 dense, branch 8 + 4 new


def merge_reference(shortcut, branch, r):
    """timm: torch.cat([x_s1 + out1, x_s2, out2], dim=1) on NCHW."""
    s, b = shortcut.transpose(0, 3, 1, 2), branch.transpose(0, 3, 1, 2)
    out = np.concatenate([s[:, :r] + b[:, :r], s[:, r:], b[:, r:]], axis=1)
    return out.transpose(0, 2, 3, 1)


def model():
    shortcut, branch = keras.Input(shape=(5, 5, R + 6)), keras.Input(shape=(5, 5, R + 4))
    return keras.Model([shortcut, branch], DualPathMerge(residual_channels=R)([shortcut, branch]))


def inputs(batch=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, 5, 5, R + 6)).astype(np.float32),
            rng.normal(size=(batch, 5, 5, R + 4)).astype(np.float32)]


def test_matches_timm_merge_and_round_trips(tmp_path):
    m = model()
    x = inputs()
    got = np.asarray(m(x))
    assert got.shape == (2, 5, 5, R + 6 + 4)
    np.testing.assert_allclose(got, merge_reference(*x, R), rtol=1e-6, atol=1e-6)
    path = str(tmp_path / "merge.keras")
    m.save(path)
    np.testing.assert_array_equal(keras.models.load_model(path, safe_mode=True)(x), got)
    layer = m.layers[-1]
    assert DualPathMerge.from_config(layer.get_config()).get_config() == layer.get_config()


def test_too_few_channels():
    with pytest.raises(ValueError, match="fewer than the 8 residual channels"):
        DualPathMerge(residual_channels=8)([keras.Input(shape=(3, 3, 4)), keras.Input(shape=(3, 3, 12))])


def test_tflite_float32_and_int8_builtins():
    """One input (the converter's run takes one): the branch is a 1x1 conv of the shortcut."""
    shortcut = keras.Input(shape=(5, 5, R + 6))
    branch = keras.layers.Conv2D(filters=R + 4, kernel_size=1)(shortcut)
    m = keras.Model(shortcut, DualPathMerge(residual_channels=R)([shortcut, branch]))
    x = inputs(batch=1, seed=1)[0]
    content = tflite.convert(m)
    assert not [op for op, _ in tflite.op_dtypes(content) if op == "CUSTOM" or op.startswith("Flex")]
    np.testing.assert_allclose(tflite.run(content, x)[0], np.asarray(m(x)), atol=1e-5)
    calibration = inputs(batch=16, seed=2)[0]
    int8 = tflite.convert(m, quantize="int8", representative_data=calibration)
    assert all(set(d) <= {"int8", "int32"} for _, d in tflite.op_dtypes(int8)), tflite.op_dtypes(int8)
