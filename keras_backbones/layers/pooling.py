"""Pooling with PyTorch's semantics, where Keras's differs."""

import functools
import math

import numpy as np
import tensorflow as tf

from keras_backbones.backend import LEGACY_KERAS, keras, register_serializable
from keras_backbones.layers.helpers import pair, tracing_for_int8_tflite


def _same_pads(size, kernel, stride):
    """(before, after): the padding TensorFlow's "same" pooling adds on an axis of `size`."""
    if size is None:
        return None
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _repeat_edges(x, axis, before, after):
    """x with its first slice along `axis` repeated `before` times ahead, its last `after` times
    behind."""
    if not before and not after:
        return x

    def edge(index):
        window = [slice(None)] * 4
        window[axis] = slice(index, index + 1 or None)
        return x[tuple(window)]

    return tf.concat([edge(0)] * before + [x] + [edge(-1)] * after, axis=axis)


@register_serializable
class PaddedMaxPooling2D(keras.layers.Layer):
    """nn.MaxPool2d(kernel, stride, padding, ceil_mode): the padding is never selected.

    Where TensorFlow's "same" pooling pads exactly PyTorch's pixels (odd sizes at stride 2,
    any size at stride 1, most ceil_mode cases) it is used as is: no copy of the map. Elsewhere
    "same" would put the odd padding pixel at the end only, and zero padding can win the max
    over negative inputs, so the border row and column are repeated (each padding pixel's
    windows all hold the edge pixel it copies, so it cannot change the max) and the pool is
    "valid". The repeat is slices and a concatenation, ops XNNPACK runs in float and int8
    (a mirror pad is not one of them). nonnegative_input=True (the input follows a ReLU, as in
    the ResNet and DenseNet stems) pads zeros instead, also exact then, and one copy of the map
    instead of two. ceil_mode adds the extra bottom/right window PyTorch keeps."""

    def __init__(self, pool_size=3, strides=2, padding=0, ceil_mode=False, nonnegative_input=False,
                 **kwargs):
        super().__init__(**kwargs)
        self.pool_size = pair(pool_size)
        self.strides = pair(strides)
        self.padding = pair(padding)
        self.ceil_mode = bool(ceil_mode)
        self.nonnegative_input = bool(nonnegative_input)

    def _pads(self, size, k, s, p):
        if not self.ceil_mode:
            return p, p
        if size is None:
            raise ValueError(f"{self.name}: ceil_mode needs a known input size.")
        out = math.ceil((size + 2 * p - k) / s) + 1
        if (out - 1) * s >= size + p:  # PyTorch drops a window that starts in the padding
            out -= 1
        return p, max(p, (out - 1) * s + k - size - p)

    def call(self, inputs):
        (kh, kw), (sh, sw), (ph, pw) = self.pool_size, self.strides, self.padding
        pad_h = self._pads(inputs.shape[1], kh, sh, ph)
        pad_w = self._pads(inputs.shape[2], kw, sw, pw)
        pool = functools.partial(tf.nn.max_pool2d, ksize=(kh, kw), strides=(sh, sw))
        if not any(pad_h + pad_w):
            return pool(inputs, padding="VALID")
        if (_same_pads(inputs.shape[1], kh, sh) == pad_h and
                _same_pads(inputs.shape[2], kw, sw) == pad_w):
            return pool(inputs, padding="SAME")
        if self.nonnegative_input:
            return pool(tf.pad(inputs, [[0, 0], list(pad_h), list(pad_w), [0, 0]]), padding="VALID")
        x = _repeat_edges(inputs, 1, *pad_h)
        return pool(_repeat_edges(x, 2, *pad_w), padding="VALID")

    def compute_output_shape(self, input_shape):
        dims = []
        for size, k, s, p in zip(input_shape[1:3], self.pool_size, self.strides, self.padding):
            if size is None:
                dims.append(None)
                continue
            before, after = self._pads(size, k, s, p)
            dims.append((size + before + after - k) // s + 1)
        return (input_shape[0], *dims, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "ceil_mode": self.ceil_mode,
                "nonnegative_input": self.nonnegative_input}


class IntegerAveragePooling2D(keras.layers.AveragePooling2D):
    """keras.layers.AveragePooling2D, traced for full-int8 TFLite (`helpers.int8_tflite_trace()`)
    as a depthwise convolution with constant 1 / (kh x kw) weights, the same average: XNNPACK
    has no int8 AVERAGE_POOL_2D (ShuffleNetV1's int8 ran its three stride-2 shortcuts outside
    it, in 4 partitions) and int8 stores 1 / 9 exactly (127 at a scale of 1 / 1143). "same"
    pooling leaves its zero padding out of the count: there the border outputs are rescaled by
    (kh x kw) / the pixels their window covers, a constant map."""

    def call(self, inputs):
        height, width, channels = inputs.shape[1:]
        if not tracing_for_int8_tflite() or height is None or width is None:
            return super().call(inputs)
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        kernel = tf.fill([kh, kw, channels, 1], tf.constant(1.0 / (kh * kw), inputs.dtype))
        mean = tf.nn.depthwise_conv2d(inputs, kernel, strides=(1, sh, sw, 1),
                                      padding=self.padding.upper())
        if self.padding == "valid":
            return mean
        covered = np.outer(_window_coverage(height, kh, sh), _window_coverage(width, kw, sw))
        if covered.min() == kh * kw:
            return mean
        return mean * tf.constant((kh * kw / covered)[None, :, :, None], inputs.dtype)


def _window_coverage(size, kernel, stride):
    """How many input pixels each window of TensorFlow's "same" pooling covers on an axis."""
    before = _same_pads(size, kernel, stride)[0]
    starts = np.arange(math.ceil(size / stride)) * stride - before
    return np.minimum(starts + kernel, size) - np.maximum(starts, 0)


# tf-keras's own class: TFMOT's quantization schemes know it, not a subclass (and TFMOT's int8
# files are written there, not through the trace above).
AveragePooling2D = (keras.layers.AveragePooling2D if LEGACY_KERAS
                    else register_serializable(IntegerAveragePooling2D))


def adaptive_windows(in_size, out_size):
    """nn.AdaptiveAvgPool's windows: [floor(i * in / out), ceil((i + 1) * in / out))."""
    return [((i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)) for i in range(out_size)]


@register_serializable
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """nn.AdaptiveAvgPool2d(output_size): lets a fixed-size head (AlexNet's 6x6, VGG's 7x7)
    take any input size, as torchvision does. Identity when the size already matches, an
    average pool when it divides evenly, else a mean over each of PyTorch's windows (static
    slices: every op a TFLite builtin that quantizes to int8)."""

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        self.output_size = pair(output_size)

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None:
            raise ValueError(f"{self.name}: adaptive pooling needs a known input size; "
                             f"got {tuple(inputs.shape)}.")
        out_h, out_w = self.output_size
        if height % out_h == 0 and width % out_w == 0:
            if (height, width) == (out_h, out_w):
                return inputs
            window = (height // out_h, width // out_w)
            return tf.nn.avg_pool2d(inputs, ksize=window, strides=window, padding="VALID")
        x = self._pool_axis(inputs, 1, height, out_h)
        return self._pool_axis(x, 2, width, out_w)

    @staticmethod
    def _pool_axis(x, axis, in_size, out_size):
        if in_size == out_size:
            return x
        cells = []
        for start, end in adaptive_windows(in_size, out_size):
            index = [slice(None)] * 4
            index[axis] = slice(start, end)
            cells.append(tf.reduce_mean(x[tuple(index)], axis=axis, keepdims=True))
        return tf.concat(cells, axis=axis)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}
