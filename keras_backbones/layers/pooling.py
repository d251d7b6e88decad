"""Pooling with PyTorch's semantics, where Keras's differs."""

import math

import numpy as np
import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value), int(value))


@register_serializable
class PaddedMaxPooling2D(keras.layers.Layer):
    """nn.MaxPool2d(kernel, stride, padding, ceil_mode): the padding is never selected.

    TensorFlow's "same" pooling puts the odd padding pixel at the end only, and zero padding
    can win the max over negative inputs. The padding here mirrors the border (a pixel that
    is already inside every window that touches it, so it cannot change the max), then pools
    "valid"; ceil_mode adds the extra bottom/right window PyTorch keeps."""

    def __init__(self, pool_size=3, strides=2, padding=0, ceil_mode=False, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size)
        self.strides = _pair(strides)
        self.padding = _pair(padding)
        self.ceil_mode = bool(ceil_mode)

    def _pads(self, size, k, s, p):
        if not self.ceil_mode:
            return p, p
        if size is None:
            raise ValueError(f"{self.name}: ceil_mode needs a known input size.")
        out = math.ceil((size + 2 * p - k) / s) + 1
        if (out - 1) * s >= size + p:  # PyTorch drops a window that starts in the padding
            out -= 1
        extra = max(0, (out - 1) * s + k - (size + 2 * p))
        if k < 2 * (p + extra) and extra:
            raise ValueError(f"{self.name}: padding {p} with ceil_mode on size {size} is not supported.")
        return p, p + extra

    def call(self, inputs):
        (kh, kw), (sh, sw), (ph, pw) = self.pool_size, self.strides, self.padding
        pad_h = self._pads(inputs.shape[1], kh, sh, ph)
        pad_w = self._pads(inputs.shape[2], kw, sw, pw)
        x = inputs
        if any(pad_h + pad_w):
            x = tf.pad(x, [[0, 0], list(pad_h), list(pad_w), [0, 0]], mode="SYMMETRIC")
        return tf.nn.max_pool2d(x, ksize=(kh, kw), strides=(sh, sw), padding="VALID")

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
                "padding": self.padding, "ceil_mode": self.ceil_mode}


def adaptive_pool_matrix(in_size, out_size):
    """(out, in) averaging weights of nn.AdaptiveAvgPool: window i is
    [floor(i * in / out), ceil((i + 1) * in / out))."""
    weights = np.zeros((out_size, in_size), np.float32)
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -((-(i + 1) * in_size) // out_size)
        weights[i, start:end] = 1.0 / (end - start)
    return weights


@register_serializable
class AdaptiveAveragePooling2D(keras.layers.Layer):
    """nn.AdaptiveAvgPool2d(output_size): lets a fixed-size head (AlexNet's 6x6, VGG's 7x7)
    take any input size, as torchvision does. Identity when the size already matches, an
    average pool when it divides evenly, else two small matmuls with PyTorch's windows."""

    def __init__(self, output_size, **kwargs):
        super().__init__(**kwargs)
        self.output_size = _pair(output_size)

    def call(self, inputs):
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None:
            raise ValueError(f"{self.name}: adaptive pooling needs a known input size; "
                             f"got {tuple(inputs.shape)}.")
        out_h, out_w = self.output_size
        if (height, width) == (out_h, out_w):
            return inputs
        if height % out_h == 0 and width % out_w == 0:
            window = (height // out_h, width // out_w)
            return tf.nn.avg_pool2d(inputs, ksize=window, strides=window, padding="VALID")
        rows = tf.constant(adaptive_pool_matrix(height, out_h), dtype=inputs.dtype)
        cols = tf.constant(adaptive_pool_matrix(width, out_w), dtype=inputs.dtype)
        x = tf.einsum("oh,bhwc->bowc", rows, inputs)
        return tf.einsum("pw,bowc->bopc", cols, x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.output_size, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size}
