"""Local response normalization (Krizhevsky et al. 2012), for AlexNet and GoogLeNet; and the
per-channel scale-and-shift that an inference BatchNormalization is (`keras_backbones.fuse`)."""

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


def batch_norm_affine(batch_norm):
    """(scale, shift), float64 NumPy vectors with batch_norm(x, training=False) = x * scale +
    shift along its axis: scale = gamma / sqrt(moving_variance + epsilon), shift = beta -
    moving_mean * scale (gamma 1 and beta 0 where the layer has none)."""
    mean = np.asarray(batch_norm.moving_mean, np.float64)
    variance = np.asarray(batch_norm.moving_variance, np.float64)
    gamma = np.asarray(batch_norm.gamma, np.float64) if batch_norm.scale else 1.0
    beta = np.asarray(batch_norm.beta, np.float64) if batch_norm.center else 0.0
    scale = gamma / np.sqrt(variance + batch_norm.epsilon)
    return scale, beta - mean * scale


def fold_batch_norm(linear, batch_norm):
    """The weights of `linear` (a convolution, depthwise or separable convolution, or Dense
    layer, with no activation) once `batch_norm`, which normalizes its output, is folded in: its
    kernel scaled per output channel and a bias b * scale + shift, in the get_weights order of
    the same layer with use_bias=True."""
    scale, shift = batch_norm_affine(batch_norm)
    bias = np.asarray(linear.bias, np.float64) if linear.use_bias else np.zeros_like(scale)
    bias = bias * scale + shift
    if isinstance(linear, keras.layers.SeparableConv2D):
        depthwise, pointwise = linear.get_weights()[:2]
        return [depthwise, np.asarray(pointwise, np.float64) * scale, bias]
    kernel = np.asarray(linear.get_weights()[0], np.float64)
    if isinstance(linear, keras.layers.DepthwiseConv2D):  # (..., channels, multiplier)
        return [kernel * scale.reshape(kernel.shape[-2:]), bias]
    return [kernel * scale, bias]


@register_serializable
class ScaleShift(keras.layers.Layer):
    """y = x * scale + shift per channel (the last axis): an inference BatchNormalization whose
    statistics are folded in, where no linear layer before it can absorb them (after a
    concatenation, an addition or an activation).

    On 4-D inputs it runs as TensorFlow's fused batch norm with zero mean, unit variance and no
    epsilon (the same arithmetic): one pass over the map, which oneDNN also merges with a
    following ReLU and a preceding convolution, where a multiply and an add are two passes.
    Inference only: it has no statistics to update."""

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.scale = self.add_weight(name="scale", shape=(channels,), initializer="ones",
                                     trainable=False)
        self.shift = self.add_weight(name="shift", shape=(channels,), initializer="zeros",
                                     trainable=False)
        super().build(input_shape)

    def call(self, inputs, mask=None):  # mask: what a BatchNormalization's call was given
        scale = tf.cast(self.scale, tf.float32)
        shift = tf.cast(self.shift, tf.float32)
        if inputs.shape.rank == 4:
            outputs, *_ = tf.raw_ops.FusedBatchNormV3(
                x=inputs, scale=scale, offset=shift, mean=tf.zeros_like(scale),
                variance=tf.ones_like(scale), epsilon=0.0, is_training=False)
            return outputs
        return inputs * tf.cast(scale, inputs.dtype) + tf.cast(shift, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@register_serializable
class FoldedBatchNormalization(keras.layers.Layer):
    """Where a BatchNormalization was, once `keras_backbones.fuse` folded it into the layer
    before it: its input, unchanged (the layer keeps the name, and with it the model's output
    names)."""

    def call(self, inputs, mask=None):  # mask: what a BatchNormalization's call was given
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape
