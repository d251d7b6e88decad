"""Local response normalization (Krizhevsky et al. 2012), for AlexNet and GoogLeNet."""

import math

import numpy as np
import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


@register_serializable
class LocalResponseNormalization(keras.layers.Layer):
    """b_c = a_c / (bias + alpha * sum_{c' = c - r}^{c + r} a_c'^2) ** beta, channels last.

    The formula of Krizhevsky et al. 2012 (section 3.3, whose defaults these are: n = 5,
    k = 2, alpha = 1e-4, beta = 0.75) and of tf.nn.local_response_normalization
    (depth_radius = r). Channels outside [0, C) count as zero.

    PyTorch's nn.LocalResponseNorm(size, alpha, beta, k), and Caffe's LRN (local_size, alpha,
    beta, k = 1), divide alpha by the window size; for an odd `size` they are
    LocalResponseNormalization(depth_radius=(size - 1) // 2, alpha=alpha / size, beta=beta,
    bias=k). (An even `size` gives PyTorch an asymmetric window, which this layer does not do.)

    Computed from TFLite builtins that have int8 kernels, so that the layer also converts to
    full-int8 TFLite (the LOCAL_RESPONSE_NORMALIZATION builtin is float only): the window sum is
    a 1x1 convolution of the squares with a fixed banded 0/1 matrix (C^2 MACs per pixel, not
    counted as model MACs), and the power is exp(-beta * log(.)). The input is scaled by
    sqrt(alpha) before squaring, so that float16 squares of large activations cannot overflow.
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        if depth_radius < 0 or alpha < 0:
            raise ValueError(f"LocalResponseNormalization: `depth_radius` and `alpha` must be "
                             f"non-negative; got {depth_radius} and {alpha}.")
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def build(self, input_shape):
        channels = np.arange(int(input_shape[-1]))
        band = np.abs(channels[:, None] - channels[None, :]) <= self.depth_radius
        self._window = band.astype(np.float32)[None, None]  # (1, 1, C, C) conv kernel
        super().build(input_shape)

    def call(self, inputs):
        scaled = inputs * math.sqrt(self.alpha)
        window = tf.constant(self._window, dtype=inputs.dtype)
        window_sum = tf.nn.conv2d(scaled * scaled, window, strides=1, padding="VALID")
        return inputs * tf.exp(-self.beta * tf.math.log(window_sum + self.bias))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}
