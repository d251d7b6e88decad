"""The shared custom layers: each against a NumPy implementation of its reference formula, and
each through what a model of the package goes through (.keras save/load in safe mode, mixed
precision, XLA, TFLite float32 and full-int8 with builtin ops only), under both Kerases."""

import ast
import math
import pathlib
from typing import Callable, NamedTuple

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import backend, stats
from keras_backbones.backend import keras
from keras_backbones.export import tflite
from keras_backbones.layers import (
    CBAM, ECA, AdaptiveAveragePooling2D, AveragePooling2D, ChannelShuffle,
    FoldedBatchNormalization, HardSigmoid, HardSwish, LayerScale, LocalResponseNormalization,
    PaddedMaxPooling2D, ScaledTanh, ScaleShift, SqueezeExcite, StochasticDepth, helpers,
    make_divisible)

# --- TFLite inspection ---------------------------------------------------------------------


# --- NumPy references ---------------------------------------------------------------------


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def hard_sigmoid(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


def squeeze_excite_ref(gate):
    def reference(x, layer):
        w1, b1, w2, b2 = layer.get_weights()
        s = x.mean(axis=(1, 2))
        s = np.maximum(s @ w1[0, 0] + b1, 0.0) @ w2[0, 0] + b2
        return x * gate(s)[:, None, None, :]
    return reference


def eca_ref(x, layer):
    (kernel,) = layer.get_weights()  # (k, 1, 1)
    weights = kernel[:, 0, 0]
    k = len(weights)
    s = x.mean(axis=(1, 2))
    padded = np.pad(s, [(0, 0), ((k - 1) // 2, (k - 1) // 2)])
    s = sum(weights[j] * padded[:, j:j + s.shape[1]] for j in range(k))  # cross-correlation
    return x * sigmoid(s)[:, None, None, :]


def cbam_ref(x, layer):
    w1, b1, w2, b2, conv, gamma, beta, mean, var = layer.get_weights()
    mlp = lambda v: np.maximum(v @ w1 + b1, 0.0) @ w2 + b2  # noqa: E731
    x = x * sigmoid(mlp(x.mean(axis=(1, 2))) + mlp(x.max(axis=(1, 2))))[:, None, None, :]
    compressed = np.stack([x.max(axis=-1), x.mean(axis=-1)], axis=-1)  # (B, H, W, 2)
    k = conv.shape[0]
    height, width = x.shape[1:3]
    padded = np.pad(compressed, [(0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)])
    spatial = np.zeros(x.shape[:3])
    for i in range(k):
        for j in range(k):
            spatial += padded[:, i:i + height, j:j + width, :] @ conv[i, j, :, 0]
    spatial = (spatial - mean[0]) / np.sqrt(var[0] + 1e-5) * gamma[0] + beta[0]
    return x * sigmoid(spatial)[..., None]


def channel_shuffle_ref(groups):
    def reference(x, layer):
        """torchvision's channel_shuffle, on NCHW."""
        nchw = x.transpose(0, 3, 1, 2)
        b, c, h, w = nchw.shape
        nchw = nchw.reshape(b, groups, c // groups, h, w).swapaxes(1, 2).reshape(b, c, h, w)
        return nchw.transpose(0, 2, 3, 1)
    return reference


def lrn_ref(x, layer):
    """Krizhevsky et al. 2012, section 3.3."""
    r, channels = layer.depth_radius, x.shape[-1]
    out = np.empty_like(x)
    for c in range(channels):
        window = (x[..., max(0, c - r):min(channels, c + r + 1)] ** 2).sum(axis=-1)
        out[..., c] = x[..., c] / (layer.bias + layer.alpha * window) ** layer.beta
    return out


def torch_lrn_ref(x, size, alpha, beta, k):
    """PyTorch's F.local_response_norm: pad the squares (size // 2, (size - 1) // 2) along the
    channels and average over `size` of them (the padding counts in the average)."""
    squares = np.pad(x ** 2, [(0, 0)] * 3 + [(size // 2, (size - 1) // 2)])
    average = sum(squares[..., i:i + x.shape[-1]] for i in range(size)) / size
    return x / (k + alpha * average) ** beta


def torch_max_pool_ref(kernel, stride, padding, ceil_mode):
    """nn.MaxPool2d: -inf padding, and in ceil mode a last window that starts in the input."""
    def out_size(size):
        span = size + 2 * padding - kernel
        out = (-(-span // stride) if ceil_mode else span // stride) + 1
        if ceil_mode and (out - 1) * stride >= size + padding:
            out -= 1
        return out

    def reference(x, layer):
        _, height, width, _ = x.shape
        oh, ow = out_size(height), out_size(width)
        extra = kernel + stride * max(oh, ow)  # room for windows that run past the end
        padded = np.pad(x, [(0, 0), (padding, extra), (padding, extra), (0, 0)],
                        constant_values=-np.inf)
        out = np.empty((x.shape[0], oh, ow, x.shape[3]), x.dtype)
        for i in range(oh):
            for j in range(ow):
                window = padded[:, i * stride:i * stride + kernel, j * stride:j * stride + kernel]
                out[:, i, j] = window.max(axis=(1, 2))
        return out
    return reference


def torch_adaptive_avg_pool_ref(output_size):
    """nn.AdaptiveAvgPool2d: window i is [floor(i * in / out), ceil((i + 1) * in / out))."""
    def windows(size, out):
        return [(math.floor(i * size / out), math.ceil((i + 1) * size / out)) for i in range(out)]

    def reference(x, layer):
        rows, cols = windows(x.shape[1], output_size[0]), windows(x.shape[2], output_size[1])
        return np.stack([np.stack([x[:, r0:r1, c0:c1].mean(axis=(1, 2)) for c0, c1 in cols], 1)
                         for r0, r1 in rows], 1)
    return reference


# --- the cases ----------------------------------------------------------------------------


class Case(NamedTuple):
    make: Callable  # () -> layer
    input_shape: tuple
    reference: Callable  # (x, layer) -> expected output
    int8_tolerance: float = 0.03  # max |int8 - float| as a fraction of max |float output|


CASES = {
    "hard_sigmoid": Case(HardSigmoid, (5, 5, 8), lambda x, _: hard_sigmoid(x)),
    "hard_swish": Case(HardSwish, (5, 5, 8), lambda x, _: x * hard_sigmoid(x)),
    "scaled_tanh": Case(ScaledTanh, (5, 5, 8), lambda x, _: 1.7159 * np.tanh(2.0 / 3.0 * x)),
    "squeeze_excite": Case(SqueezeExcite, (5, 5, 32), squeeze_excite_ref(sigmoid)),
    "squeeze_excite_hard": Case(
        lambda: SqueezeExcite(rd_ratio=0.25, rd_divisor=4, round_limit=0.9, gate="hard_sigmoid"),
        (5, 5, 24), squeeze_excite_ref(hard_sigmoid)),
    "eca": Case(lambda: ECA(kernel_size=5), (5, 5, 32), eca_ref),
    "cbam": Case(CBAM, (7, 7, 32), cbam_ref, int8_tolerance=0.06),
    "stochastic_depth": Case(lambda: StochasticDepth(rate=0.3), (5, 5, 8), lambda x, _: x),
    "layer_scale": Case(LayerScale, (5, 5, 8), lambda x, layer: x * layer.get_weights()[0]),
    "channel_shuffle": Case(lambda: ChannelShuffle(groups=3), (4, 5, 12), channel_shuffle_ref(3)),
    "lrn_alexnet": Case(LocalResponseNormalization, (5, 5, 16), lrn_ref),
    "scale_shift": Case(ScaleShift, (5, 5, 8),  # a feature map: TensorFlow's fused batch norm
                        lambda x, layer: x * layer.get_weights()[0] + layer.get_weights()[1]),
    "scale_shift_vector": Case(ScaleShift, (8,),
                               lambda x, layer: x * layer.get_weights()[0] + layer.get_weights()[1]),
    "folded_batch_norm": Case(FoldedBatchNormalization, (5, 5, 8), lambda x, _: x),
    "lrn_strong": Case(
        lambda: LocalResponseNormalization(depth_radius=1, bias=1.0, alpha=0.5, beta=0.6),
        (5, 5, 16), lrn_ref, int8_tolerance=0.08),  # 8-bit LOG/EXP over d in [1, ~50]
    "max_pool_ceil": Case(
        lambda: PaddedMaxPooling2D(pool_size=3, strides=2, padding=0, ceil_mode=True),
        (8, 8, 4), torch_max_pool_ref(3, 2, 0, True)),
    "max_pool_pad": Case(  # odd size: TensorFlow's "same" pooling pads as PyTorch does
        lambda: PaddedMaxPooling2D(pool_size=3, strides=2, padding=1),
        (7, 7, 4), torch_max_pool_ref(3, 2, 1, False)),
    "max_pool_pad_even": Case(  # even size: "same" would not; the edges are repeated instead
        lambda: PaddedMaxPooling2D(pool_size=3, strides=2, padding=1),
        (8, 6, 4), torch_max_pool_ref(3, 2, 1, False)),
    "max_pool_ceil_k2": Case(
        lambda: PaddedMaxPooling2D(pool_size=2, strides=2, padding=0, ceil_mode=True),
        (7, 7, 4), torch_max_pool_ref(2, 2, 0, True)),
    "adaptive_pool_uneven": Case(
        lambda: AdaptiveAveragePooling2D(output_size=(3, 4)), (7, 10, 4),
        torch_adaptive_avg_pool_ref((3, 4))),
    "adaptive_pool_even": Case(
        lambda: AdaptiveAveragePooling2D(output_size=3), (6, 6, 4), torch_adaptive_avg_pool_ref((3, 3))),
    "adaptive_pool_upsample": Case(
        lambda: AdaptiveAveragePooling2D(output_size=(5, 5)), (3, 4, 4),
        torch_adaptive_avg_pool_ref((5, 5))),
}


def randomize(layer, seed=0):
    """Random weights (positive variances), so that no gate sits at its initial constant."""
    rng = np.random.default_rng(seed)
    layer.set_weights([
        rng.uniform(0.5, 1.5, w.shape) if "variance" in w.name else rng.normal(0.0, 0.5, w.shape)
        for w in layer.weights])


def make_model(case, seed=0):
    inputs = keras.Input(shape=case.input_shape)
    layer = case.make()
    model = keras.Model(inputs, layer(inputs))
    randomize(layer, seed)
    return model, layer


def random_inputs(case, batch=2, seed=0):
    return np.random.default_rng(seed).normal(0.0, 2.0, (batch, *case.input_shape)).astype(np.float32)


def assert_close(actual, expected, atol=1e-5, rtol=1e-5):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, atol=atol, rtol=rtol)


@pytest.fixture(params=list(CASES))
def case(request):
    backend.clear_session()
    return CASES[request.param]


# --- numerics -----------------------------------------------------------------------------


def test_matches_numpy_reference(case):
    model, layer = make_model(case)
    x = random_inputs(case)
    assert_close(model(x, training=False), case.reference(x.astype(np.float64), layer))


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [
    (3, 2, 1, False), (3, 1, 1, False), (5, 2, 2, False), (3, 2, 0, True), (2, 2, 0, True),
    (3, 2, 1, True)])
@pytest.mark.parametrize("nonnegative_input", [False, True])
def test_padded_max_pool_matches_pytorch_at_every_size(kernel, stride, padding, ceil_mode,
                                                       nonnegative_input):
    """Odd and even sizes take different paths ("same" pooling; repeated edges, or zeros after
    a ReLU); the inputs are mostly negative, where a zero padding would win the max, or zero
    and small after a ReLU."""
    reference = torch_max_pool_ref(kernel, stride, padding, ceil_mode)
    for height, width in [(n, n) for n in range(kernel + 1, 13)] + [(8, 9), (9, 8)]:
        layer = PaddedMaxPooling2D(pool_size=kernel, strides=stride, padding=padding,
                                   ceil_mode=ceil_mode, nonnegative_input=nonnegative_input)
        x = np.random.default_rng(height * 31 + width).normal(-2.0, size=(2, height, width, 3))
        x = np.maximum(x, 0.0) if nonnegative_input else x
        x = x.astype(np.float32)
        expected = reference(x, layer)
        assert tuple(layer.compute_output_shape(x.shape)) == expected.shape, (height, width)
        assert_close(layer(x), expected, atol=0, rtol=0)


def test_make_divisible_is_timms():
    assert make_divisible(64 / 16, 8, round_limit=0.0) == 8  # seresnet: C=64 -> rd=8
    assert make_divisible(2048 / 16, 8, round_limit=0.0) == 128
    assert make_divisible(37.5) == 40
    assert make_divisible(10) == 16  # 8 would lose more than 10%
    assert make_divisible(12, 8) == 16  # halves round up
    assert make_divisible(16 * 0.25, 4) == 4
    assert make_divisible(1, 8) == 8
    assert make_divisible(5, 4, min_value=12) == 12
    assert make_divisible(60, 16, round_limit=0.0) == 64


def test_pair_gives_int_height_and_width():
    assert helpers.pair(3) == (3, 3)
    assert helpers.pair([np.int64(2), 4]) == (2, 4)
    assert all(type(v) is int for v in helpers.pair((np.int64(2), 4.0)))


LAYER_MODULES = sorted(pathlib.Path(helpers.__file__).parent.glob("*.py"))
SHARED_HELPERS = {"pair", "build_sublayer", "serialize_initializer", "make_divisible"}


@pytest.mark.parametrize("path", LAYER_MODULES, ids=lambda path: path.name)
def test_layer_modules_share_helpers_only_through_helpers(path):
    """What several layer modules use is public in layers/helpers.py: no module imports a
    private name of a sibling, or defines its own copy of a shared helper."""
    tree = ast.parse(path.read_text())
    private = [f"{node.module}.{alias.name}" for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom)
               and (node.module or "").startswith("keras_backbones")
               for alias in node.names if alias.name.startswith("_")]
    assert not private, f"{path.name} imports private names: {private}"
    if path.name != "helpers.py":
        defined = {node.name.lstrip("_") for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert not defined & SHARED_HELPERS, f"{path.name} copies {defined & SHARED_HELPERS}"


def test_lrn_matches_pytorch_mapping():
    """nn.LocalResponseNorm(size=5, alpha, beta, k) == depth_radius=2, alpha / 5, bias=k."""
    size, alpha, beta, k = 5, 0.3, 0.75, 1.5
    layer = LocalResponseNormalization(depth_radius=(size - 1) // 2, alpha=alpha / size,
                                       beta=beta, bias=k)
    x = np.random.default_rng(1).normal(0.0, 2.0, (2, 3, 3, 12)).astype(np.float32)
    assert_close(layer(x), torch_lrn_ref(x.astype(np.float64), size, alpha, beta, k))
    tf_lrn = tf.nn.local_response_normalization(x, depth_radius=2, bias=k, alpha=alpha / size,
                                                beta=beta)
    assert_close(layer(x), tf_lrn)


@pytest.mark.parametrize("channels, rd, gate", [(64, 8, "sigmoid"), (256, 16, "hard_sigmoid")])
def test_squeeze_excite_weights(channels, rd, gate):
    inputs = keras.Input(shape=(7, 7, channels))
    layer = SqueezeExcite(gate=gate)
    model = keras.Model(inputs, layer(inputs))
    assert [tuple(w.shape) for w in layer.weights] == [(1, 1, channels, rd), (rd,),
                                                       (1, 1, rd, channels), (channels,)]
    assert stats.trainable_params(model) == 2 * channels * rd + rd + channels
    assert stats.layer_macs(layer) == 2 * channels * rd
    assert stats.layer_activations(layer) == rd + channels  # the two 1x1 convs' outputs


@pytest.mark.parametrize("channels, k", [(64, 3), (128, 5), (256, 5), (512, 5), (2048, 7)])
def test_eca_adaptive_kernel(channels, k):
    inputs = keras.Input(shape=(4, 4, channels))
    layer = ECA()
    model = keras.Model(inputs, layer(inputs))
    assert tuple(layer.weights[0].shape) == (k, 1, 1)
    assert stats.trainable_params(model) == k
    assert stats.layer_macs(layer) == channels * k
    assert stats.layer_activations(layer) == channels  # the 1-D conv's output


def test_cbam_weights():
    inputs = keras.Input(shape=(7, 7, 64))
    layer = CBAM()
    model = keras.Model(inputs, layer(inputs))
    assert stats.trainable_params(model) == 2 * 64 * 4 + 4 + 64 + 2 * 49 + 2 == 680
    assert stats.layer_macs(layer) == 2 * 2 * 64 * 4 + 7 * 7 * 2 * 49
    # fc1 (4) and fc2 (64) for the average- and the max-pooled vectors, the 7x7 spatial map
    assert stats.layer_activations(layer) == 2 * (4 + 64) + 7 * 7 == 185


def test_cbam_batchnorm_follows_training():
    inputs = keras.Input(shape=CASES["cbam"].input_shape)
    layer = CBAM()
    model = keras.Model(inputs, layer(inputs))
    randomize(layer)
    x = random_inputs(CASES["cbam"])
    moving_mean = layer.spatial_bn.moving_mean.numpy().copy()
    inference = model(x, training=False).numpy()
    assert_close(layer.spatial_bn.moving_mean.numpy(), moving_mean, atol=0, rtol=0)
    training = model(x, training=True).numpy()  # batch statistics, and updated moving ones
    assert np.abs(training - inference).max() > 1e-3
    assert np.abs(layer.spatial_bn.moving_mean.numpy() - moving_mean).max() > 0


def test_stochastic_depth():
    shape, rate = (3, 3, 4), 0.25
    keep = 1.0 - rate
    inputs = keras.Input(shape=shape)
    model = keras.Model(inputs, StochasticDepth(rate=rate)(inputs))
    x = np.random.default_rng(0).uniform(1.0, 2.0, (4000, *shape)).astype(np.float32)
    np.testing.assert_array_equal(model(x, training=False), x)
    for y in (model(x, training=True).numpy(),
              tf.function(lambda v: model(v, training=True), jit_compile=True)(x).numpy()):
        dropped = np.all(y == 0.0, axis=(1, 2, 3))
        assert_close(y[~dropped], x[~dropped] / keep)  # a sample is dropped or scaled, entirely
        sigma = math.sqrt(keep * rate / len(x))
        assert abs((~dropped).mean() - keep) < 5 * sigma
        assert abs(y.mean() / x.mean() - 1.0) < 5 * sigma / keep + 0.01  # E[y] = x
    np.testing.assert_array_equal(StochasticDepth(rate=0.0)(x, training=True), x)
    np.testing.assert_array_equal(StochasticDepth(rate=1.0)(x, training=True), 0.0 * x)


def test_channel_shuffle_dynamic_size():
    inputs = keras.Input(shape=(None, None, 12))
    model = keras.Model(inputs, ChannelShuffle(groups=4)(inputs))
    x = random_inputs(CASES["channel_shuffle"])
    np.testing.assert_array_equal(model(x), channel_shuffle_ref(4)(x, None))


# --- serialization ------------------------------------------------------------------------


def test_keras_file_round_trip(case, tmp_path):
    model, layer = make_model(case)
    x = random_inputs(case)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.layers[-1]) is type(layer)
    np.testing.assert_array_equal(loaded(x, training=False), model(x, training=False))


def test_config_round_trip(case):
    layer = case.make()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    keras.layers.deserialize(keras.layers.serialize(layer))  # by its registered name


# --- mixed precision, XLA -----------------------------------------------------------------


@pytest.fixture(params=["mixed_float16", "mixed_bfloat16"])
def policy(request):
    backend.set_dtype_policy(request.param)
    yield request.param
    backend.set_dtype_policy("float32")


def test_mixed_precision(case, policy):
    compute_dtype = policy.split("_")[1]
    model, layer = make_model(case)
    assert layer.compute_dtype == compute_dtype
    assert all(tf.as_dtype(w.dtype) == tf.float32 for w in layer.weights)
    x = random_inputs(case)
    for training in (False, True):
        y = model(x, training=training)
        assert tf.as_dtype(y.dtype).name == compute_dtype
        assert np.all(np.isfinite(tf.cast(y, tf.float32).numpy()))


def test_lrn_half_precision_large_activations(policy):
    """Squares of activations above 256 overflow float16; the layer scales before squaring."""
    layer = LocalResponseNormalization()
    x = np.random.default_rng(2).uniform(200.0, 400.0, (1, 3, 3, 8)).astype(np.float32)
    y = tf.cast(layer(x), tf.float32).numpy()
    assert_close(y, lrn_ref(x.astype(np.float64), layer), atol=0, rtol=2e-2)


def test_xla(case):
    model, _ = make_model(case)
    x = random_inputs(case)
    compiled = tf.function(lambda v: model(v, training=False), jit_compile=True)
    assert_close(compiled(x), model(x, training=False).numpy())


# --- TFLite conversion (keras_backbones.export.tflite) ------------------------------------


def test_tflite_float32(case):
    model, _ = make_model(case)
    content = tflite.convert(model)
    ops = [name for name, _ in tflite.op_dtypes(content)]
    assert not {"CUSTOM", "VAR_HANDLE", "READ_VARIABLE"} & set(ops), ops
    x = random_inputs(case, batch=1, seed=1)
    assert_close(tflite.run(content, x)[0], model(x, training=False).numpy())


def test_tflite_int8(case):
    model, _ = make_model(case)
    calibration = random_inputs(case, batch=16, seed=10)
    content = tflite.convert(model, quantize="int8", representative_data=calibration)
    # Every op runs in int8: no float tensor anywhere (int32 for biases and shapes).
    op_dtypes = tflite.op_dtypes(content)
    assert all(set(dtypes) <= {"int8", "int32"} for _, dtypes in op_dtypes), op_dtypes
    x = calibration[:1]  # within the calibrated ranges: this measures rounding, not clipping
    expected = model(x, training=False).numpy()
    error = np.abs(tflite.run(content, x)[0] - expected).max()
    assert error <= case.int8_tolerance * np.abs(expected).max()


@pytest.mark.parametrize("nonnegative_input", [False, True])
def test_padded_max_pool_converts_to_ops_xnnpack_runs_whole(nonnegative_input):
    """The stem of ResNet, ShuffleNet, DenseNet: conv, ReLU, max-pool with PyTorch's padding 1
    on an even size. A mirror pad there (TensorFlow's SYMMETRIC) is no XNNPACK op: it split
    resnet18 in two partitions."""
    inputs = keras.Input(shape=(8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    pool = PaddedMaxPooling2D(pool_size=3, strides=2, padding=1, nonnegative_input=nonnegative_input)
    model = keras.Model(inputs, pool(x))
    calibration = np.random.default_rng(0).normal(size=(16, 8, 8, 3)).astype(np.float32)
    converted = tflite.convert_each(model, ("none", "int8"), representative_data=calibration)
    for content in converted.values():
        assert "MIRROR_PAD" not in tflite.op_names(content)
        assert tflite.xnnpack_partitions(tflite.interpreter(content)) == 1
    assert_close(tflite.run(converted["none"], calibration[:2])[0],
                 model(calibration[:2]).numpy())


def test_int8_tflite_loads_in_xnnpack_where_a_relu_never_fires_in_calibration(monkeypatch):
    """A convolution whose ReLU no calibration sample switches on gets a near-zero output scale,
    and XNNPACK refuses a model with any convolution that rescales by 256 or more (it failed to
    load MNASNet-S at one draw of its random weights in 12). The export widens that range."""
    inputs = keras.Input(shape=(6, 6, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(4, 1, activation="relu", bias_initializer=keras.initializers.Constant(-50.0),
                            name="dead")(x)
    model = keras.Model(inputs, keras.layers.Conv2D(5, 1, bias_initializer="ones")(x))
    calibration = np.random.default_rng(0).normal(size=(16, 6, 6, 3)).astype(np.float32)

    with monkeypatch.context() as patch:  # the converter's own output
        patch.setattr(tflite, "widen_ranges_xnnpack_refuses", lambda content: content)
        refused = tflite.convert(model, quantize="int8", representative_data=calibration)
    with pytest.raises(RuntimeError, match="XNNPACK"):
        tflite.interpreter(refused)

    content = tflite.convert(model, quantize="int8", representative_data=calibration)
    assert tflite.xnnpack_partitions(tflite.interpreter(content)) == 1
    x = calibration[:2]
    assert_close(tflite.run(content, x)[0], model(x).numpy(), atol=0.05)


@pytest.mark.skipif(backend.LEGACY_KERAS, reason="tf-keras keeps Keras's own AveragePooling2D, "
                    "the class TFMOT's quantization-aware training knows")
@pytest.mark.parametrize("size, pool, stride, padding", [
    (8, 3, 2, "valid"),  # ShuffleNetV1's shortcut, AvgPool2d(3, 2, 1) after a ZeroPadding2D
    (8, 3, 1, "same"),   # Inception-v4's branch pool, AvgPool2d(3, 1, 1, count_include_pad=False)
    (7, 2, 2, "same"),   # timm's avg_down on an odd size: the last window clipped
])
def test_int8_tflite_averages_in_a_depthwise_conv_which_xnnpack_runs(size, pool, stride, padding):
    """AVERAGE_POOL_2D in float32, but XNNPACK has no int8 one (ShuffleNetV1 int8: 4
    partitions): there a depthwise convolution, and for "same" a constant rescale of the border
    windows, which average fewer pixels. As accurate as TFLite's own int8 average pool on the
    same calibration, up to the rescale: it magnifies a clipped window's rounding by up to
    kh kw / the pixels it covers (measured: 1.0-1.4x its error)."""
    inputs = keras.Input(shape=(size, size, 3))
    x = keras.layers.Conv2D(6, 1)(inputs)
    if padding == "valid":
        x = keras.layers.ZeroPadding2D(1)(x)
    model = keras.Model(inputs, AveragePooling2D(pool_size=pool, strides=stride, padding=padding)(x))
    keras_pool = keras.layers.AveragePooling2D(pool_size=pool, strides=stride, padding=padding)
    tflite_pool_model = keras.Model(inputs, keras_pool(x))
    calibration = np.random.default_rng(0).normal(size=(16, size, size, 3)).astype(np.float32)
    both = tflite.convert_each(model, ("none", "int8"), representative_data=calibration)
    assert "AVERAGE_POOL_2D" in tflite.op_names(both["none"])
    assert "AVERAGE_POOL_2D" not in tflite.op_names(both["int8"])
    assert tflite.xnnpack_partitions(tflite.interpreter(both["int8"])) == 1
    x = calibration[:2]
    expected = model(x).numpy()
    assert_close(tflite.run(both["none"], x)[0], expected)
    tflite_pool = tflite.convert(tflite_pool_model, quantize="int8", representative_data=calibration)
    assert "AVERAGE_POOL_2D" in tflite.op_names(tflite_pool)
    error = np.abs(tflite.run(both["int8"], x)[0] - expected).max()
    assert error <= 2 * np.abs(tflite.run(tflite_pool, x)[0] - expected).max()


def test_int8_tflite_has_no_hard_swish_op_which_xnnpack_runs_only_in_float():
    """HARD_SWISH in float32 (one fused op); in full int8, ops XNNPACK takes whole: before, each
    int8 HARD_SWISH split the graph (MobileNetV3-Large int8: 22 partitions, 2.2x float32's
    latency). One call with both quantizations exports the model twice and gives the same."""
    case = CASES["hard_swish"]
    inputs = keras.Input(shape=case.input_shape)
    x = keras.layers.Conv2D(8, 1)(inputs)
    model = keras.Model(inputs, keras.layers.Conv2D(4, 1)(HardSwish()(x)))
    calibration = random_inputs(case, batch=16, seed=10)
    both = tflite.convert_each(model, ("none", "int8"), representative_data=calibration)
    assert "HARD_SWISH" in tflite.op_names(both["none"])
    assert "HARD_SWISH" not in tflite.op_names(both["int8"])
    assert tflite.xnnpack_partitions(tflite.interpreter(both["int8"])) == 1
    alone = tflite.convert(model, quantize="int8", representative_data=calibration)
    x = calibration[:1]
    assert_close(tflite.run(alone, x)[0], tflite.run(both["int8"], x)[0], atol=0, rtol=0)
    expected = model(x, training=False).numpy()
    assert np.abs(tflite.run(both["int8"], x)[0] - expected).max() <= 0.05 * np.abs(expected).max()
