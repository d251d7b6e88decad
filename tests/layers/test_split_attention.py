"""SplitAttention (ResNeSt) against a NumPy transcription of timm's SplitAttn on NCHW, and
through what the package's models go through: .keras save/load in safe mode, config round trip,
BatchNorm training mode, mixed precision, TFLite float32 and full-int8 with builtin ops only."""

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import backend, stats
from keras_backbones.backend import keras
from keras_backbones.export import tflite
from keras_backbones.layers import SplitAttention

EPS = 1e-5
# (input shape, layer arguments): radix 2 (ResNeSt), two cardinal groups, radix 1 (sigmoid
# gate), strided, and attention channels given.
CASES = {
    "radix2": ((6, 6, 16), dict(radix=2)),
    "radix2_groups2": ((5, 7, 16), dict(radix=2, groups=2, filters=24)),
    "radix4_groups2": ((5, 5, 16), dict(radix=4, groups=2)),
    "radix1": ((6, 6, 8), dict(radix=1, groups=4)),
    "strided": ((7, 8, 8), dict(radix=2, strides=2)),
    "rd_channels": ((4, 4, 8), dict(radix=2, rd_channels=4)),
}


def build(case, seed=0):
    shape, kwargs = CASES[case]
    inputs = keras.Input(shape=shape)
    layer = SplitAttention(**kwargs)
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        name = weight.name
        value = (rng.uniform(0.5, 1.5, weight.shape) if "variance" in name
                 else rng.normal(0.0, 0.5, weight.shape))
        weight.assign(value.astype(np.float32))
    return model, layer


def images(case, batch=2, seed=0):
    return np.random.default_rng(seed).normal(0.0, 1.0, (batch, *CASES[case][0])).astype(np.float32)


# --- the NumPy reference: timm's SplitAttn.forward, on NCHW -----------------------------------

def conv2d_nchw(x, kernel_hwio, stride, padding, groups, bias=None):
    """nn.Conv2d on NCHW with a Keras HWIO kernel (I = in / groups)."""
    b, c, h, w = x.shape
    k, _, cin_g, out = kernel_hwio.shape
    xp = np.pad(x, [(0, 0), (0, 0), (padding, padding), (padding, padding)])
    oh, ow = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    y = np.zeros((b, out, oh, ow))
    out_g = out // groups
    for g in range(groups):
        xs = xp[:, g * cin_g:(g + 1) * cin_g]
        ks = kernel_hwio[..., g * out_g:(g + 1) * out_g]  # (k, k, cin_g, out_g)
        for i in range(k):
            for j in range(k):
                patch = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                y[:, g * out_g:(g + 1) * out_g] += np.einsum("bchw,co->bohw", patch, ks[i, j])
    if bias is not None:
        y += bias[None, :, None, None]
    return y


def batch_norm_nchw(x, bn):
    gamma, beta, mean, var = (np.asarray(v, np.float64) for v in
                              (bn.gamma, bn.beta, bn.moving_mean, bn.moving_variance))
    r = lambda v: v[None, :, None, None]  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + EPS) * r(gamma) + r(beta)


def split_attn_reference(x_nhwc, layer):
    """timm/layers/split_attn.py, SplitAttn.forward and RadixSoftmax.forward."""
    radix, card = layer.radix, layer.groups
    w = lambda v: np.asarray(v, np.float64)  # noqa: E731
    x = x_nhwc.transpose(0, 3, 1, 2).astype(np.float64)
    x = conv2d_nchw(x, w(layer.conv.kernel), layer.strides, layer.kernel_size // 2, card * radix)
    x = np.maximum(batch_norm_nchw(x, layer.bn0), 0.0)
    b, rc, h, wd = x.shape
    if radix > 1:
        x = x.reshape(b, radix, rc // radix, h, wd)
        x_gap = x.sum(axis=1)
    else:
        x_gap = x
    x_gap = x_gap.mean(axis=(2, 3), keepdims=True)
    x_gap = conv2d_nchw(x_gap, w(layer.fc1.kernel), 1, 0, card, w(layer.fc1.bias))
    x_gap = np.maximum(batch_norm_nchw(x_gap, layer.bn1), 0.0)
    x_attn = conv2d_nchw(x_gap, w(layer.fc2.kernel), 1, 0, card, w(layer.fc2.bias))
    if radix > 1:  # RadixSoftmax
        a = x_attn.reshape(b, card, radix, -1).transpose(0, 2, 1, 3)
        a = np.exp(a - a.max(axis=1, keepdims=True))
        a = (a / a.sum(axis=1, keepdims=True)).reshape(b, -1)
        out = (x * a.reshape(b, radix, rc // radix, 1, 1)).sum(axis=1)
    else:
        out = x * (1.0 / (1.0 + np.exp(-x_attn.reshape(b, -1, 1, 1))))
    return out.transpose(0, 2, 3, 1)


@pytest.mark.parametrize("case", list(CASES))
def test_matches_timm_formula(case):
    model, layer = build(case)
    x = images(case)
    expected = split_attn_reference(x, layer)
    got = np.asarray(model(x, training=False))
    assert got.shape == expected.shape
    assert got.shape[1:] == layer.compute_output_shape((None, *x.shape[1:]))[1:]
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_weights_are_timms():
    """resnest50d's first block: 64 channels, radix 2 -> attention width 32 (the minimum)."""
    inputs = keras.Input(shape=(8, 8, 64))
    layer = SplitAttention(filters=64, radix=2)
    model = keras.Model(inputs, layer(inputs))
    shapes = {w.name.split("/")[-1].split(":")[0] + "@" + sub.name: tuple(w.shape)
              for sub in (layer.conv, layer.fc1, layer.fc2) for w in sub.weights}
    assert shapes == {"kernel@conv": (3, 3, 32, 128), "kernel@fc1": (1, 1, 64, 32),
                      "bias@fc1": (32,), "kernel@fc2": (1, 1, 32, 128), "bias@fc2": (128,)}
    # conv (groups = radix) + bn0 (2 x 128) + fc1 + bn1 (2 x 32) + fc2
    expected = 3 * 3 * 32 * 128 + 256 + 64 * 32 + 32 + 64 + 32 * 128 + 128
    assert stats.trainable_params(model) == expected
    assert stats.layer_macs(layer) == 8 * 8 * 9 * 32 * 128 + 64 * 32 + 32 * 128
    assert stats.layer_activations(layer) == 8 * 8 * 128 + 32 + 128  # conv, fc1, fc2 outputs
    assert SplitAttention(radix=2).attention_channels(256) == 128  # make_divisible(128)


def test_argument_errors():
    with pytest.raises(ValueError, match="radix"):
        SplitAttention(radix=0)
    inputs = keras.Input(shape=(4, 4, 6))
    with pytest.raises(ValueError, match="do not split into 4 groups"):
        SplitAttention(radix=2, groups=2)(inputs)


def test_batchnorm_follows_training():
    model, layer = build("radix2")
    x = images("radix2", batch=4)
    moving = layer.bn0.moving_mean.numpy().copy()
    inference = model(x, training=False).numpy()
    np.testing.assert_array_equal(layer.bn0.moving_mean.numpy(), moving)
    training = model(x, training=True).numpy()
    assert np.abs(training - inference).max() > 1e-3
    assert np.abs(layer.bn0.moving_mean.numpy() - moving).max() > 0


def test_keras_file_and_config_round_trip(tmp_path):
    model, layer = build("radix2_groups2")
    x = images("radix2_groups2")
    path = str(tmp_path / "splat.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.layers[-1]) is SplitAttention
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)
    config = layer.get_config()
    assert SplitAttention.from_config(config).get_config() == config


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(policy):
    backend.set_dtype_policy(policy)
    model, layer = build("radix2")
    assert all(tf.as_dtype(w.dtype) == tf.float32 for w in layer.weights)
    for training in (False, True):
        y = model(images("radix2"), training=training)
        assert tf.as_dtype(y.dtype).name == policy.split("_")[1]
        assert np.all(np.isfinite(tf.cast(y, tf.float32).numpy()))


@pytest.mark.parametrize("case", ["radix2_groups2", "radix1"])
def test_tflite_float32_and_int8_builtins(case):
    model, _ = build(case)
    x = images(case, batch=1, seed=1)
    expected = model(x, training=False).numpy()
    content = tflite.convert(model)
    ops = [name for name, _ in tflite.op_dtypes(content)]
    assert not {"CUSTOM", "FlexSoftmax"} & set(ops) and not [o for o in ops if o.startswith("Flex")]
    np.testing.assert_allclose(tflite.run(content, x)[0], expected, atol=1e-5, rtol=1e-5)

    calibration = images(case, batch=16, seed=10)
    int8 = tflite.convert(model, quantize="int8", representative_data=calibration)
    op_dtypes = tflite.op_dtypes(int8)
    assert all(set(dtypes) <= {"int8", "int32"} for _, dtypes in op_dtypes), op_dtypes
    x = calibration[:1]
    expected = model(x, training=False).numpy()
    error = np.abs(tflite.run(int8, x)[0] - expected).max()
    assert error <= 0.1 * np.abs(expected).max()
