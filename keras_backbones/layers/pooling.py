"""Pooling with PyTorch's semantics, where Keras's differs."""

import math

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
        self.output_size = _pair(output_size)

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
