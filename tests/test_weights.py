"""The portable weights format: one file, read and written under both Kerases."""

import os
import subprocess
import sys
import textwrap

import numpy as np

from keras_backbones import registry
from keras_backbones.backend import LEGACY_KERAS
from keras_backbones.weights import read_weights, save_weights
from tests import support

OTHER_KERAS = "0" if LEGACY_KERAS else "1"


def test_weights_trained_under_one_keras_load_under_the_other(tmp_path):
    model = registry.create_model("lenet5", classifier_activation=None)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = support.random_images((32, 32, 1), batch=8)
    before = np.asarray(model(images))
    model.fit(images, np.arange(8) % 10, epochs=2, verbose=0)  # weights differ from any init
    expected = np.asarray(model(images))
    assert not np.allclose(before, expected)
    path = save_weights(model, tmp_path / "lenet5.npz")
    np.save(tmp_path / "images.npy", images)

    script = textwrap.dedent(f"""
        import numpy as np
        from keras_backbones import registry
        from keras_backbones.backend import LEGACY_KERAS
        assert LEGACY_KERAS == {OTHER_KERAS == "1"}
        model = registry.create_model("lenet5", classifier_activation=None, weights={str(path)!r})
        np.save({str(tmp_path / "out.npy")!r}, np.asarray(model(np.load({str(tmp_path / "images.npy")!r}))))
    """)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": OTHER_KERAS, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=support.ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-6, atol=1e-6)


def test_file_records_its_model_and_writer(tmp_path):
    model = registry.create_model("lenet5")
    meta, arrays = read_weights(save_weights(model, tmp_path / "w.npz"))
    assert meta["model"] == "lenet5" and meta["num_weights"] == len(arrays) == 10
    assert set(arrays) == {f"{layer}/{i}" for layer in ("c1", "c3", "c5", "f6", "logits") for i in (0, 1)}


def test_save_is_atomic(tmp_path):
    path = tmp_path / "w.npz"
    save_weights(registry.create_model("lenet5"), path)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]  # no temporary file left behind


def test_depthwise_and_grouped_kernels_convert_to_torchs_function():
    """A PyTorch depthwise weight (C*M, 1, kh, kw), whose output channel o reads input channel
    o // M, converts to Keras' depthwise layout (kh, kw, C, M) and to a grouped convolution's
    (kh, kw, 1, C*M); both compute PyTorch's function (no torch needed: written out in NumPy)."""
    from keras_backbones import weights
    from keras_backbones.backend import keras

    rng = np.random.default_rng(0)
    channels, multiplier, k = 3, 2, 3
    torch_weight = rng.standard_normal((channels * multiplier, 1, k, k)).astype(np.float32)
    x = rng.standard_normal((2, 6, 7, channels)).astype(np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))  # n,i,j,c,a,b
    expected = np.einsum("nijoab,oab->nijo", windows[..., np.arange(channels * multiplier)
                                                     // multiplier, :, :], torch_weight[:, 0])

    depthwise = keras.layers.DepthwiseConv2D(kernel_size=k, depth_multiplier=multiplier,
                                             use_bias=False)
    depthwise.build(x.shape)
    depthwise.set_weights([weights._depthwise_kernel(torch_weight, depthwise.weights[0].shape)])
    grouped = keras.layers.Conv2D(filters=channels * multiplier, kernel_size=k, groups=channels,
                                  use_bias=False)
    grouped.build(x.shape)
    grouped.set_weights([weights._conv_kernel(torch_weight, None)])
    np.testing.assert_allclose(np.asarray(depthwise(x)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(grouped(x)), expected, rtol=1e-5, atol=1e-5)
