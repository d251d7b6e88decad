"""Small helpers shared by the layers and the family builders."""

import contextlib
import contextvars

import tensorflow as tf

from keras_backbones import initializers
from keras_backbones.backend import keras

_INT8_TFLITE_TRACE = contextvars.ContextVar("int8_tflite_trace", default=False)


@contextlib.contextmanager
def int8_tflite_trace():
    """While active, the layers whose op XNNPACK (LiteRT's CPU delegate) has no int8 kernel for
    trace the same function in ops it has: hard-swish (`activations.hard_swish`) and average
    pooling (`pooling.AveragePooling2D`). The full-int8 TFLite export traces the model in it
    (`export.tflite.convert_each`): each such op ran on TFLite's own kernel between two XNNPACK
    partitions (MobileNetV3-Large int8: 22 partitions, 2.2x float32's latency)."""
    token = _INT8_TFLITE_TRACE.set(True)
    try:
        yield
    finally:
        _INT8_TFLITE_TRACE.reset(token)


def tracing_for_int8_tflite():
    return _INT8_TFLITE_TRACE.get()


def make_divisible(value, divisor=8, min_value=None, round_limit=0.9):
    """Rounds a channel count to the nearest multiple of `divisor`, as timm's make_divisible.

    The result is at least `min_value` (default `divisor`); when rounding down would lose more
    than `1 - round_limit` of `value`, one more `divisor` is added."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < round_limit * value:
        rounded += divisor
    return rounded


def pair(value):
    """(height, width) of an int (square) or a pair, as ints (a layer's config stores them)."""
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value), int(value))


def build_sublayer(sublayer, input_shape):
    """Builds a sublayer inside its parent's `build`. The name scope gives tf-keras variables
    the path parent/sublayer/kernel, which the checkpoint converter maps (Keras 3 scopes them
    itself)."""
    with tf.name_scope(sublayer.name):
        sublayer.build(input_shape)


def serialize_initializer(identifier):
    """An initializer argument as a layer's config keeps it: a name or config as plain data
    (each sublayer then gets a fresh instance from `initializers.get`), an instance
    serialized."""
    if isinstance(identifier, (str, dict)):
        return initializers.plain_copy(identifier)
    return keras.initializers.serialize(identifier)
