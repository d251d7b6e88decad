"""MultiQueryAttention (keras_backbones/layers/mobile_attention.py), MobileNetV4's Mobile MQA
core, against NumPy's version of timm's MultiQueryAttention2d.forward (heads split from the
query channels head-major, one shared key and value head), also with downsampled keys and
values, a dynamic input size and .keras in safe mode. Its full-int8 TFLite conversion is
tested in a Mobile MQA block (tests/models/test_mobilenet_v4.py)."""

import numpy as np
import pytest

from keras_backbones.backend import keras
from keras_backbones.layers import MultiQueryAttention

HEADS, KEY, VALUE = 4, 8, 6


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def mqa_ref(q, k, v):
    """timm: q (B, h*k, H, W) -> (B, h, N, k); k, v (B, 1, M, d); out (B, N, h*v)."""
    batch, height, width, _ = q.shape
    q = q.reshape(batch, height * width, HEADS, KEY).transpose(0, 2, 1, 3)
    k = k.reshape(batch, 1, -1, KEY)
    v = v.reshape(batch, 1, -1, VALUE)
    out = softmax(q * KEY ** -0.5 @ k.swapaxes(-1, -2)) @ v  # (B, h, N, v)
    return out.transpose(0, 2, 1, 3).reshape(batch, height, width, HEADS * VALUE)


def inputs(height, width, kv_height, kv_width, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype(np.float32) for shape in (
        (2, height, width, HEADS * KEY), (2, kv_height, kv_width, KEY),
        (2, kv_height, kv_width, VALUE))]


@pytest.mark.parametrize("sizes", [(6, 5, 6, 5), (6, 8, 3, 4)])
def test_matches_numpy(sizes):
    q, k, v = inputs(*sizes)
    layer = MultiQueryAttention(num_heads=HEADS, key_dim=KEY, value_dim=VALUE)
    np.testing.assert_allclose(np.asarray(layer([q, k, v])), mqa_ref(q, k, v), atol=1e-5)


def model(shape=(6, 8)):
    height, width = shape
    kv_shape = (None, None) if height is None else (height // 2, width // 2)
    tensors = [keras.Input((height, width, HEADS * KEY)), keras.Input((*kv_shape, KEY)),
               keras.Input((*kv_shape, VALUE))]
    out = MultiQueryAttention(num_heads=HEADS, key_dim=KEY, value_dim=VALUE,
                              name="mqa")(tensors)
    return keras.Model(tensors, out)


def test_dynamic_size_and_safe_mode_round_trip(tmp_path):
    q, k, v = inputs(6, 8, 3, 4)
    dynamic = model((None, None))
    np.testing.assert_allclose(np.asarray(dynamic([q, k, v])), mqa_ref(q, k, v), atol=1e-5)
    path = tmp_path / "mqa.keras"
    dynamic.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert loaded.get_layer("mqa").get_config()["value_dim"] == VALUE
    np.testing.assert_allclose(np.asarray(loaded([q, k, v])), mqa_ref(q, k, v), atol=1e-5)


def test_wrong_widths_are_refused():
    with pytest.raises(ValueError, match="heads"):
        MultiQueryAttention(num_heads=HEADS, key_dim=KEY + 1, value_dim=VALUE)(inputs(4, 4, 4, 4))


def test_multiply_accumulates_of_both_matmuls_are_counted():
    from keras_backbones import stats

    q, k, v = keras.Input((8, 6, 4 * 16)), keras.Input((4, 3, 16)), keras.Input((4, 3, 24))
    layer = MultiQueryAttention(num_heads=4, key_dim=16, value_dim=24)
    model = keras.Model([q, k, v], layer([q, k, v]))
    # 8 x 6 positions x 4 heads query 4 x 3 keys: q k^T over 16 channels, (.) v over 24.
    assert stats.count_macs(model) == 8 * 6 * 4 * (4 * 3) * (16 + 24)
    # activations: q k^T's 12 scores and (.) v's 24 values for each of the 8 x 6 x 4 queries
    assert stats.count_activations(model) == 8 * 6 * 4 * (4 * 3 + 24) == 6912
