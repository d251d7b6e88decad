"""The transformer pieces (keras_backbones/layers/transformer.py): each against a NumPy version
of timm's formula, and through what a model goes through (.keras in safe mode, mixed
precision, TFLite float32 and full int8 with builtin ops only), under both Kerases."""

from typing import Callable, NamedTuple

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import backend, initializers, stats
from keras_backbones.backend import keras
from keras_backbones.export import tflite
from keras_backbones.layers.transformer import (ClassTokenPositionEmbedding, LayerNorm,
                                                MultiHeadSelfAttention, bicubic_resize_matrix,
                                                mlp)

# --- NumPy references ---------------------------------------------------------------------


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention_ref(num_heads, bias=None):
    def reference(x, layer):
        """timm's Attention.forward: qkv.reshape(B, N, 3, heads, d).permute(2, 0, 3, 1, 4)."""
        w_qkv, b_qkv, w_proj, b_proj = layer.get_weights()
        batch, tokens, dim = x.shape
        qkv = (x @ w_qkv + b_qkv).reshape(batch, tokens, 3, num_heads, dim // num_heads)
        q, k, v = qkv.transpose(2, 0, 3, 1, 4)
        logits = (q * (dim // num_heads) ** -0.5) @ k.swapaxes(-1, -2)
        out = softmax(logits + (0.0 if bias is None else bias)) @ v
        return out.transpose(0, 2, 1, 3).reshape(batch, tokens, dim) @ w_proj + b_proj
    return reference


def gelu(x):
    from math import erf
    return 0.5 * x * (1.0 + np.vectorize(erf)(x / np.sqrt(2.0)))


def mlp_ref(x, layer):
    w1, b1, w2, b2 = layer.get_weights()
    return gelu(x @ w1 + b1) @ w2 + b2


def layer_norm_ref(x, layer):
    gamma, beta = layer.get_weights()
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + layer.epsilon) * gamma + beta


def embedding_ref(x, layer):
    """timm's _pos_embed with dynamic_img_size: cat(cls, tokens) + resampled pos_embed."""
    cls, pos = layer.get_weights()
    batch, height, width, dim = x.shape
    gh, gw = layer.grid_size
    grid = pos[0, 1:].reshape(gh, gw, dim)
    grid = np.einsum("hi,ijc,wj->hwc", bicubic_resize_matrix(gh, height), grid,
                     bicubic_resize_matrix(gw, width))
    pos = np.concatenate([pos[:, :1], grid.reshape(1, -1, dim)], axis=1)
    tokens = np.concatenate([np.repeat(cls, batch, axis=0), x.reshape(batch, -1, dim)], axis=1)
    return tokens + pos


class Case(NamedTuple):
    make: Callable  # inputs -> (outputs, the layer or layers whose weights the reference reads)
    input_shape: tuple
    reference: Callable
    int8_tolerance: float = 0.05


def single(layer_fn):
    def make(inputs):
        layer = layer_fn()
        return layer(inputs), layer
    return make


def make_mlp(inputs):  # a block of standard layers: the reference reads the model's weights
    return mlp(inputs, 24, name="mlp"), None


_BIAS = np.random.default_rng(3).normal(0.0, 1.0, (1, 2, 6, 6)).astype(np.float32)

CASES = {
    "attention": Case(single(lambda: MultiHeadSelfAttention(num_heads=4)), (6, 16),
                      attention_ref(4)),
    "attention_one_head": Case(single(lambda: MultiHeadSelfAttention(num_heads=1)), (5, 8),
                               attention_ref(1)),
    "attention_bias": Case(lambda x: (lambda layer: (layer(x, bias=tf.constant(_BIAS)), layer))(
        MultiHeadSelfAttention(num_heads=2)), (6, 8), attention_ref(2, _BIAS)),
    "embedding": Case(single(lambda: ClassTokenPositionEmbedding(grid_size=(3, 3))), (3, 3, 8),
                      embedding_ref),
    "embedding_resized": Case(single(lambda: ClassTokenPositionEmbedding(grid_size=(5, 5))),
                              (3, 4, 8), embedding_ref),
    "mlp": Case(make_mlp, (5, 8), mlp_ref),
    "layer_norm": Case(single(lambda: LayerNorm(epsilon=1e-6)), (5, 16), layer_norm_ref),
}


def build(case, seed=0):
    inputs = keras.Input(shape=case.input_shape)
    outputs, layer = case.make(inputs)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0.0, 0.5, w.shape) for w in model.weights])
    return model, layer


def random_inputs(case, batch=2, seed=0):
    return np.random.default_rng(seed).normal(0.0, 1.0, (batch, *case.input_shape)).astype(np.float32)


def assert_close(actual, expected, atol=1e-5, rtol=1e-5):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, atol=atol, rtol=rtol)


@pytest.fixture(params=list(CASES))
def case(request):
    backend.clear_session()
    return CASES[request.param]


# --- numerics -----------------------------------------------------------------------------


def test_matches_numpy_reference(case):
    model, layer = build(case)
    x = random_inputs(case)
    assert_close(model(x, training=False), case.reference(x.astype(np.float64), layer or model))


def test_resize_matrix_is_pytorch_antialiased_bicubic():
    """F.interpolate(x, mode="bicubic", antialias=True) along one axis; values from torch 2.x."""
    np.testing.assert_allclose(bicubic_resize_matrix(4, 4), np.eye(4), atol=1e-7)
    cases = [(np.arange(4.0), 2, [0.5868, 2.4132]),  # shrinking: the kernel stretched
             (np.array([0.0, 1.0]), 3, [-0.0658, 0.5, 1.0658]),  # growing: Keys' a = -0.5
             (np.arange(7.0) ** 2, 3, [0.6774, 9.3639, 28.0645])]
    for values, size, expected in cases:
        np.testing.assert_allclose(bicubic_resize_matrix(len(values), size) @ values, expected,
                                   atol=1e-4)


def test_attention_weights_and_macs():
    inputs = keras.Input(shape=(10, 32))
    layer = MultiHeadSelfAttention(num_heads=4)
    model = keras.Model(inputs, layer(inputs))
    assert [tuple(w.shape) for w in layer.weights] == [(32, 96), (96,), (32, 32), (32,)]
    assert stats.trainable_params(model) == 4 * 32 * 32 + 4 * 32
    assert stats.layer_macs(layer) == 10 * 4 * 32 * 32 + 2 * 10 * 10 * 32
    # per token qkv (96), (.) v (32) and proj (32) outputs; q k^T: 4 heads x 10 x 10 scores
    assert stats.layer_activations(layer) == 10 * (96 + 32 + 32) + 4 * 10 * 10 == 2000
    with pytest.raises(ValueError, match="heads"):
        MultiHeadSelfAttention(num_heads=5)(inputs)


def test_linear_layers_start_as_timms():
    """N(0, 0.02) kernels (initializers.NORMAL_002), zero biases, each layer its own draw."""
    inputs = keras.Input(shape=(10, 256))
    first, second = MultiHeadSelfAttention(num_heads=4), MultiHeadSelfAttention(num_heads=4)
    model = keras.Model(inputs, mlp(second(first(inputs)), 512, name="mlp"))
    assert first.get_config()["kernel_initializer"] == initializers.NORMAL_002
    kernels = [model.get_layer(name).kernel.numpy() for name in ("mlp_fc1", "mlp_fc2")]
    kernels += [first.qkv.kernel.numpy(), first.proj.kernel.numpy()]
    for kernel in kernels:
        assert abs(kernel.mean()) < 1e-3 and abs(kernel.std() - 0.02) < 1e-3
    # A shared unseeded initializer instance would repeat its draw (tf-keras).
    assert not np.array_equal(first.qkv.kernel.numpy(), second.qkv.kernel.numpy())
    assert not first.qkv.bias.numpy().any() and not model.get_layer("mlp_fc1").bias.numpy().any()


def test_embedding_keeps_its_weights_at_any_size():
    layer = ClassTokenPositionEmbedding(grid_size=(14, 14))
    out = layer(np.zeros((1, 10, 12, 4), np.float32))
    assert tuple(out.shape) == (1, 121, 4)
    assert [tuple(w.shape) for w in layer.weights] == [(1, 1, 4), (1, 197, 4)]


def test_layers_run_in_a_graph_of_unknown_size():
    """A training pipeline's images have no static size: the layers keep their built shapes."""
    for layer, shape, out_tokens in [(ClassTokenPositionEmbedding(grid_size=(5, 5)), (3, 4, 8), 13),
                                     (MultiHeadSelfAttention(num_heads=2), (6, 8), 6)]:
        inputs = keras.Input(shape=shape)
        model = keras.Model(inputs, layer(inputs))
        spec = tf.TensorSpec((None,) * len(shape) + (shape[-1],))
        run = tf.function(lambda x: model(x, training=True), input_signature=[spec])
        assert tuple(run(np.zeros((2, *shape), np.float32)).shape) == (2, out_tokens, shape[-1])


# --- serialization ------------------------------------------------------------------------


def test_keras_file_round_trip(case, tmp_path):
    model, _ = build(case)
    x = random_inputs(case)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(loaded(x, training=False), model(x, training=False))


@pytest.mark.parametrize("layer", [MultiHeadSelfAttention(num_heads=3, qkv_bias=False,
                                                          attention_dropout=0.1),
                                   ClassTokenPositionEmbedding(grid_size=(7, 5)),
                                   LayerNorm(epsilon=1e-6)],
                         ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    keras.layers.deserialize(keras.layers.serialize(layer))  # by its registered name


# --- mixed precision ----------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision(case, policy):
    backend.set_dtype_policy(policy)
    try:
        model, _ = build(case)
        assert all(tf.as_dtype(w.dtype) == tf.float32 for w in model.weights)
        x = random_inputs(case)
        for training in (False, True):
            y = model(x, training=training)
            assert tf.as_dtype(y.dtype).name == policy.split("_")[1]
            assert np.all(np.isfinite(tf.cast(y, tf.float32).numpy()))
    finally:
        backend.set_dtype_policy("float32")


# --- TFLite -------------------------------------------------------------------------------


def test_tflite_float32_and_int8(case):
    model, _ = build(case)
    content = tflite.convert(model)
    ops = tflite.op_names(content)
    assert not {"CUSTOM", "VAR_HANDLE", "READ_VARIABLE"} & set(ops), ops
    assert not [op for op in ops if op.startswith("Flex")], ops
    x = random_inputs(case, batch=1, seed=1)
    assert_close(tflite.run(content, x)[0], model(x, training=False).numpy(), atol=1e-4, rtol=1e-4)

    calibration = random_inputs(case, batch=16, seed=10)
    content = tflite.convert(model, quantize="int8", representative_data=calibration)
    op_dtypes = tflite.op_dtypes(content)
    assert all(set(dtypes) <= {"int8", "int32"} for _, dtypes in op_dtypes), op_dtypes
    x = calibration[:1]
    expected = model(x, training=False).numpy()
    error = np.abs(tflite.run(content, x)[0] - expected).max()
    assert error <= case.int8_tolerance * np.abs(expected).max()
