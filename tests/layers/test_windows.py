"""Shifted-window attention (keras_backbones/layers/windows.py): against a NumPy version of
timm's SwinTransformerBlock._attn and PatchMerging, the shift mask worked by hand, and through
what a model goes through (.keras in safe mode, mixed precision, TFLite float32 and full int8
with builtin ops only), under both Kerases."""

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import backend, stats
from keras_backbones.backend import keras
from keras_backbones.export import tflite
from keras_backbones.layers.windows import (
    MASK_VALUE, PatchMerging, WindowAttention, cyclic_shift, fit_window, merge_patches,
    relative_position_index, relative_position_table_resize, shifted_window_mask,
    window_partition, window_reverse)

# --- NumPy references ---------------------------------------------------------------------


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def regions_ref(length, window, shift):
    """Region label along one padded axis: timm's slices (0, -w), (-w, -s), (-s, None)."""
    labels = np.zeros(length, int)
    if shift:
        labels[length - window:length - shift] = 1
        labels[length - shift:] = 2
    return labels


def window_attention_ref(x, layer):
    """timm's SwinTransformerBlock._attn + WindowAttention.forward, window by window."""
    table, w_qkv, b_qkv, w_proj, b_proj = layer.get_weights()
    (wh, ww), (sh, sw), heads = layer.window_size, layer.shift_size, layer.num_heads
    table = relative_position_table_resize(layer.table_window_size, layer.window_size) @ table
    batch, height, width, dim = x.shape
    d = dim // heads
    shifted = np.roll(x, (-sh, -sw), axis=(1, 2))
    ph, pw = -height % wh, -width % ww
    shifted = np.pad(shifted, [(0, 0), (0, ph), (0, pw), (0, 0)])
    rows, cols = regions_ref(height + ph, wh, sh), regions_ref(width + pw, ww, sw)
    out = np.zeros_like(shifted)
    for b in range(batch):
        for i in range(0, height + ph, wh):
            for j in range(0, width + pw, ww):
                tokens = shifted[b, i:i + wh, j:j + ww].reshape(-1, dim)
                coords = [(r, c) for r in range(wh) for c in range(ww)]
                region = [(rows[i + r], cols[j + c]) for r, c in coords]
                qkv = (tokens @ w_qkv + b_qkv).reshape(-1, 3, heads, d)
                q, k, v = qkv[:, 0], qkv[:, 1], qkv[:, 2]  # (N, heads, d)
                result = np.zeros((len(coords), heads, d))
                for h in range(heads):
                    logits = (q[:, h] / np.sqrt(d)) @ k[:, h].T
                    for m, (r1, c1) in enumerate(coords):
                        for n, (r2, c2) in enumerate(coords):
                            offset = (r1 - r2 + wh - 1) * (2 * ww - 1) + (c1 - c2 + ww - 1)
                            logits[m, n] += table[offset, h]
                            if region[m] != region[n]:
                                logits[m, n] += MASK_VALUE
                    result[:, h] = softmax(logits) @ v[:, h]
                result = result.reshape(-1, dim) @ w_proj + b_proj
                out[b, i:i + wh, j:j + ww] = result.reshape(wh, ww, dim)
    return np.roll(out[:, :height, :width], (sh, sw), axis=(1, 2))


def patch_merging_ref(x, layer):
    """timm's PatchMerging: pad, reshape(B, H/2, 2, W/2, 2, C).permute(0, 1, 3, 4, 2, 5)."""
    gamma, beta, kernel = layer.get_weights()
    batch, height, width, dim = x.shape
    x = np.pad(x, [(0, 0), (0, height % 2), (0, width % 2), (0, 0)])
    height, width = x.shape[1:3]
    x = x.reshape(batch, height // 2, 2, width // 2, 2, dim).transpose(0, 1, 3, 4, 2, 5)
    x = x.reshape(batch, height // 2, width // 2, 4 * dim)
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    return (x * gamma + beta) @ kernel


# (layer factory, input shape, NumPy reference)
CASES = {
    # A 9x10 map in 4x4 windows: padded to 12x12, shifted by 2, nine regions.
    "shifted_padded": (lambda: WindowAttention(2, window_size=4, shift_size=2), (9, 10, 8),
                       window_attention_ref),
    "unshifted": (lambda: WindowAttention(2, window_size=3), (6, 6, 8), window_attention_ref),
    # timm's per-axis rule on a 3x8 map, window 4: rows one window unshifted, columns shifted.
    "one_axis_shifted": (lambda: WindowAttention(2, *fit_window((3, 8), 4, 2)), (3, 8, 8),
                         window_attention_ref),
    # A 3x3 window with the weights of a 4x4 one: the 7x7 table resampled to 5x5.
    "resampled_table": (lambda: WindowAttention(2, window_size=3, table_window_size=4),
                        (6, 6, 8), window_attention_ref),
    "patch_merging_odd": (PatchMerging, (5, 6, 4), patch_merging_ref),
}


def make_model(name, seed=0):
    make, shape, _ = CASES[name]
    inputs = keras.Input(shape=shape)
    layer = make()
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(seed)  # larger than the initializers: every term counts
    layer.set_weights([rng.normal(0.0, 0.5, w.shape) for w in layer.get_weights()])
    return model, layer


def random_inputs(name, batch=2, seed=0):
    return np.random.default_rng(seed).normal(0.0, 1.0, (batch, *CASES[name][1])).astype(np.float32)


@pytest.mark.parametrize("name", CASES)
def test_matches_numpy_reference(name):
    model, layer = make_model(name)
    x = random_inputs(name)
    expected = CASES[name][2](x.astype(np.float64), layer)
    np.testing.assert_allclose(model(x).numpy(), expected, atol=1e-4, rtol=1e-4)


# --- the constants and the reshapes ---------------------------------------------------------


def test_shift_mask_by_hand():
    """4x4 map, 2x2 windows, shift 1: the regions of the shifted map are rows/cols {0, 1}, {2},
    {3}; the top-left window is one region, the bottom-right one mixes four."""
    mask = shifted_window_mask((4, 4), 2, 1)
    assert mask.shape == (4, 4, 4) and set(np.unique(mask)) == {0.0, MASK_VALUE}
    np.testing.assert_array_equal(mask[0], 0.0)
    np.testing.assert_array_equal(mask[3] == 0.0, np.eye(4, dtype=bool))
    # top-right window: columns 2 | 3, rows together -> tokens (0, 2), (1, 2) vs (0, 3), (1, 3)
    np.testing.assert_array_equal(mask[1] == 0.0, [[1, 0, 1, 0], [0, 1, 0, 1],
                                                   [1, 0, 1, 0], [0, 1, 0, 1]])
    assert shifted_window_mask((4, 4), 2, 0) is None
    assert shifted_window_mask((9, 10), 4, 2).shape == (9, 16, 16)  # padded to 12x12


def test_fit_window_is_timms_rule():
    assert fit_window((56, 56), 7, 3) == ((7, 7), (3, 3))
    assert fit_window((7, 7), 7, 3) == ((7, 7), (0, 0))  # Swin-T's last stage at 224
    assert fit_window((5, 6), 7, 3) == ((5, 6), (0, 0))
    assert fit_window((3, 8), 4, 2) == ((3, 4), (0, 2))


def test_relative_position_index():
    index = relative_position_index((2, 3))
    assert index.shape == (6, 6)
    np.testing.assert_array_equal(np.diag(index), (2 - 1) * (2 * 3 - 1) + (3 - 1))
    assert sorted(set(index.ravel())) == list(range(3 * 5))  # every offset of the table
    np.testing.assert_array_equal(index + index.T, 2 * index[0, 0])  # offset -> -offset


def test_table_resampling():
    """timm's resize_rel_pos_bias_table: a linear map whose rows are interpolation weights;
    shrinking to one offset keeps the centre, and same-sized axes still resample (timm places
    the offsets at a geometric progression on every axis once one differs)."""
    resize = relative_position_table_resize((7, 7), (5, 6))
    assert resize.shape == (9 * 11, 13 * 13)
    np.testing.assert_allclose(resize.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(relative_position_table_resize((7, 7), (1, 1)),
                                  np.eye(169, dtype=np.float32)[None, 84])
    same_rows = relative_position_table_resize((7, 7), (7, 3))
    assert not np.array_equal(same_rows, relative_position_table_resize((7, 7), (7, 7)))


def test_reshapes_and_shift():
    x = np.random.default_rng(0).normal(size=(2, 6, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(cyclic_shift(x, (-2, 3)), np.roll(x, (-2, 3), axis=(1, 2)))
    windows = window_partition(x, (3, 4)).numpy()
    assert windows.shape == (2 * 2 * 2, 12, 3)
    np.testing.assert_array_equal(windows[1], x[0, 0:3, 4:8].reshape(12, 3))  # row-major
    np.testing.assert_array_equal(windows[4], x[1, 0:3, 0:4].reshape(12, 3))
    np.testing.assert_array_equal(window_reverse(windows, (3, 4), (6, 8)), x)
    merged = merge_patches(x).numpy()  # (0, 0), (1, 0), (0, 1), (1, 1) as (row, column)
    np.testing.assert_array_equal(merged[:, 1, 2], np.concatenate(
        [x[:, 2, 4], x[:, 3, 4], x[:, 2, 5], x[:, 3, 5]], axis=-1))


def test_weights_and_macs():
    model, layer = make_model("shifted_padded")
    assert [tuple(w.shape) for w in layer.weights] == [(7 * 7, 2), (8, 24), (24,), (8, 8), (8,)]
    assert stats.trainable_params(model) == 49 * 2 + 8 * 24 + 24 + 8 * 8 + 8
    assert stats.layer_macs(layer) == 144 * 4 * 8 * 8 + 2 * 144 * 16 * 8  # padded 12x12 map
    # per token qkv (24), (.) v (8) and proj (8) outputs; q k^T: 2 heads x 16 window scores
    assert stats.layer_activations(layer) == 144 * (24 + 8 + 8) + 2 * 144 * 16 == 10368
    model, layer = make_model("patch_merging_odd")
    assert [tuple(w.shape) for w in layer.weights] == [(16,), (16,), (16, 8)]
    assert stats.layer_macs(layer) == 3 * 3 * 16 * 8
    assert stats.layer_activations(layer) == 3 * 3 * 8  # the reduction's output


def test_traced_on_maps_of_unknown_size_and_xla():
    """A training step fed by random crops traces the model on (B, None, None, C) tensors;
    recipes may XLA-compile it."""
    inputs = keras.Input(shape=(9, 10, 8))
    x = WindowAttention(2, window_size=4, shift_size=2)(inputs)
    model = keras.Model(inputs, PatchMerging()(x))
    traced = tf.function(lambda v: model(v), jit_compile=True,
                         input_signature=[tf.TensorSpec((None, None, None, 8))])
    x = random_inputs("shifted_padded")
    np.testing.assert_allclose(traced(x).numpy(), model(x).numpy(), atol=1e-5)


def test_invalid_windows_are_refused():
    with pytest.raises(ValueError, match="shift_size < window_size"):
        WindowAttention(2, window_size=4, shift_size=4)
    for layer in (WindowAttention(2), PatchMerging()):
        with pytest.raises(ValueError, match="known map size"):
            layer(keras.Input(shape=(None, None, 8)))


# --- serialization, mixed precision, TFLite ---------------------------------------------------


def test_keras_file_round_trip(tmp_path):
    inputs = keras.Input(shape=(9, 10, 8))
    x = WindowAttention(2, window_size=4, shift_size=2)(inputs)
    model = keras.Model(inputs, PatchMerging(out_units=12)(x))
    images = np.random.default_rng(0).normal(size=(2, 9, 10, 8)).astype(np.float32)
    path = str(tmp_path / "windows.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded(images), model(images))
    for layer in model.layers[1:]:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config


def test_mixed_precision():
    model, _ = make_model("shifted_padded")
    x = random_inputs("shifted_padded")
    expected = model(x).numpy()
    weights = model.get_weights()
    backend.clear_session()
    backend.set_dtype_policy("mixed_float16")
    model, layer = make_model("shifted_padded")
    model.set_weights(weights)
    assert layer.compute_dtype == "float16"
    assert all(tf.as_dtype(w.dtype) == tf.float32 for w in layer.weights)
    y = model(x)
    assert tf.as_dtype(y.dtype) == tf.float16
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), expected, atol=0.05, rtol=0.02)


def test_tflite_float32_and_int8():
    """The shift, padding, partition, gathered bias, mask and merging: builtins only."""
    inputs = keras.Input(shape=(9, 10, 8))
    x = WindowAttention(2, window_size=4, shift_size=2)(inputs)
    model = keras.Model(inputs, PatchMerging()(x))
    rng = np.random.default_rng(1)  # weights of a trained scale, not the initializers' 0.02
    model.set_weights([rng.normal(0.0, 0.5, w.shape) for w in model.get_weights()])
    images = rng.normal(size=(16, 9, 10, 8)).astype(np.float32)
    expected = model(images[:2]).numpy()

    content = tflite.convert(model)
    ops = tflite.op_names(content)
    assert not [op for op in ops if op.startswith("Flex") or op in ("CUSTOM", "READ_VARIABLE")], ops
    np.testing.assert_allclose(tflite.run(content, images[:2])[0], expected, atol=1e-4)

    quantized = tflite.convert(model, quantize="int8", representative_data=images)
    assert not tflite.float_ops(quantized)
    got = tflite.run(quantized, images[:2])[0]
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.95
