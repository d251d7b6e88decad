"""Channel and spatial attention: squeeze-and-excitation, ECA and CBAM.

Each layer reweights its input (same shape out as in), creates its weights as named Keras
sublayers (the names the checkpoint import maps onto) and counts its own MACs and
activations for `stats` (the matmuls and convolutions and their outputs, as fvcore does; the
gating products are elementwise and not counted)."""

import math

import tensorflow as tf

from keras_backbones import initializers
from keras_backbones.backend import keras, register_serializable
from keras_backbones.layers import activations
from keras_backbones.layers.helpers import build_sublayer, make_divisible, serialize_initializer
from keras_backbones.layers.normalization import fold_batch_norm


class _Attention(keras.layers.Layer):
    """A gate over a channels-last feature map: same shape out as in."""

    def compute_output_shape(self, input_shape):
        return input_shape


@register_serializable
class SqueezeExcite(_Attention):
    """Squeeze-and-excitation (Hu et al. 2018) as timm's SEModule: global average pool -> 1x1
    conv `reduce` (C -> rd) -> activation -> 1x1 conv `expand` (rd -> C) -> gate -> x * gate.

    rd = rd_channels if given, else make_divisible(C * rd_ratio, rd_divisor, round_limit).
    The defaults are timm's seresnet*; MobileNetV3 and GhostNet use gate="hard_sigmoid" and
    their own rounding, EfficientNet passes rd_channels from the block input. `activation` and
    `gate` are names in `activations.ACTIVATIONS` (PyTorch's definitions). The convolutions
    start He normal (fan_out), as timm's ResNets and EfficientNets initialize them."""

    def __init__(self, rd_ratio=1.0 / 16, rd_channels=None, rd_divisor=8, round_limit=0.0,
                 activation="relu", gate="sigmoid", use_bias=True,
                 kernel_initializer=initializers.HE_NORMAL_FAN_OUT, bias_initializer="zeros",
                 **kwargs):
        super().__init__(**kwargs)
        self.rd_ratio = float(rd_ratio)
        self.rd_channels = int(rd_channels) if rd_channels else None
        self.rd_divisor = int(rd_divisor)
        self.round_limit = float(round_limit)
        self.activation = activation
        self.gate = gate
        self._activation = activations.get(activation)
        self._gate = activations.get(gate)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.bias_initializer = serialize_initializer(bias_initializer)

    def reduced_channels(self, channels):
        return self.rd_channels or make_divisible(channels * self.rd_ratio, self.rd_divisor,
                                                  round_limit=self.round_limit)

    def _conv(self, filters, name):
        return keras.layers.Conv2D(
            filters=filters, kernel_size=1, use_bias=self.use_bias,
            kernel_initializer=initializers.get(self.kernel_initializer),
            bias_initializer=initializers.get(self.bias_initializer),
            dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        reduced = self.reduced_channels(channels)
        self.reduce = self._conv(reduced, "reduce")
        build_sublayer(self.reduce, (None, 1, 1, channels))
        self.expand = self._conv(channels, "expand")
        build_sublayer(self.expand, (None, 1, 1, reduced))
        super().build(input_shape)

    def call(self, inputs):
        x = tf.reduce_mean(inputs, axis=[1, 2], keepdims=True)
        x = self._activation(self.reduce(x))
        return inputs * self._gate(self.expand(x))

    def macs(self, input_shape, output_shape):
        channels = input_shape[-1]
        return 2 * channels * self.reduced_channels(channels)

    def activations(self, input_shape, output_shape):
        channels = input_shape[-1]  # the two 1x1 convolutions' outputs, at 1x1 (pycls's SE)
        return self.reduced_channels(channels) + channels

    def get_config(self):
        return {**super().get_config(), "rd_ratio": self.rd_ratio, "rd_channels": self.rd_channels,
                "rd_divisor": self.rd_divisor, "round_limit": self.round_limit,
                "activation": self.activation, "gate": self.gate, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


def eca_kernel_size(channels, gamma=2, beta=1):
    """ECA's adaptive kernel size: the odd number nearest above |(log2 C + beta) / gamma|."""
    t = int(abs((math.log2(channels) + beta) / gamma))
    return t if t % 2 else t + 1


@register_serializable
class ECA(_Attention):
    """Efficient channel attention (Wang et al. 2020, BangguWu/ECANet's eca_layer): global
    average pool -> 1-D convolution across the channels (no bias, zero padding (k - 1) // 2)
    -> sigmoid -> x * gate. kernel_size None chooses k from C (`eca_kernel_size`)."""

    def __init__(self, kernel_size=None, gamma=2, beta=1,
                 kernel_initializer=initializers.TORCH_DEFAULT_UNIFORM, **kwargs):
        super().__init__(**kwargs)
        if kernel_size is not None and (kernel_size < 1 or kernel_size % 2 == 0):
            raise ValueError(f"ECA: `kernel_size` must be odd (the reference pads (k - 1) // 2 "
                             f"on each side); got {kernel_size}.")
        self.kernel_size = int(kernel_size) if kernel_size is not None else None
        self.gamma = gamma
        self.beta = beta
        self.kernel_initializer = serialize_initializer(kernel_initializer)

    def channel_kernel_size(self, channels):
        return self.kernel_size or eca_kernel_size(channels, self.gamma, self.beta)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        # An odd kernel with "same" padding is PyTorch's symmetric (k - 1) // 2.
        self.conv = keras.layers.Conv1D(
            filters=1, kernel_size=self.channel_kernel_size(channels), padding="same",
            use_bias=False, kernel_initializer=initializers.get(self.kernel_initializer),
            dtype=self.dtype_policy, name="conv")
        build_sublayer(self.conv, (None, channels, 1))
        super().build(input_shape)

    def call(self, inputs):
        # The Conv1D holds the kernel, shaped as the reference's Conv1d; it runs as a 1 x k
        # Conv2D over the channels laid out as a 1 x C image, in reshapes XNNPACK takes (Keras's
        # Conv1D and tf.expand_dims become EXPAND_DIMS in TFLite, which XNNPACK does not run).
        channels = inputs.shape[-1]
        y = tf.reshape(tf.reduce_mean(inputs, axis=[1, 2]), [-1, 1, channels, 1])
        kernel = tf.reshape(tf.cast(self.conv.kernel, y.dtype), [1, -1, 1, 1])
        y = tf.nn.conv2d(y, kernel, strides=1, padding="SAME")
        return inputs * tf.reshape(tf.sigmoid(y), [-1, 1, 1, channels])

    def macs(self, input_shape, output_shape):
        channels = input_shape[-1]
        return channels * self.channel_kernel_size(channels)

    def activations(self, input_shape, output_shape):
        return input_shape[-1]  # the 1-D convolution's output: one value per channel

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size, "gamma": self.gamma,
                "beta": self.beta, "kernel_initializer": self.kernel_initializer}


@register_serializable
class CBAM(_Attention):
    """Convolutional block attention module (Woo et al. 2018), as the official
    Jongchan/attention-module (MODELS/cbam.py), channel gate then spatial gate:

    channel: a shared MLP fc1 (C -> C // reduction) -> ReLU -> fc2 (-> C) of the average- and
    of the max-pooled vectors, summed -> sigmoid -> x * gate;
    spatial: [max, mean] over the channels -> k x k conv `spatial_conv` (2 -> 1, no bias) ->
    `spatial_bn` (BatchNorm, eps 1e-5, PyTorch momentum 0.01) -> sigmoid -> x * gate.

    Initialized as the official ResidualNet: fc kernels PyTorch's default, every bias zero, the
    spatial conv He normal (fan_out), and the spatial BatchNorm's gamma zero.
    folded: spatial_bn folded into spatial_conv (which gains a bias), for inference (`fused`,
    which `keras_backbones.fuse` calls)."""

    def __init__(self, reduction=16, kernel_size=7, folded=False, **kwargs):
        super().__init__(**kwargs)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"CBAM: `kernel_size` must be odd; got {kernel_size}.")
        self.reduction = int(reduction)
        self.kernel_size = int(kernel_size)
        self.folded = bool(folded)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        hidden = channels // self.reduction
        if hidden < 1:
            raise ValueError(f"{self.name}: {channels} channels are fewer than the reduction "
                             f"{self.reduction}.")
        self.fc1 = keras.layers.Dense(
            units=hidden,
            kernel_initializer=initializers.get(initializers.TORCH_DEFAULT_UNIFORM),
            bias_initializer="zeros", dtype=self.dtype_policy, name="fc1")
        build_sublayer(self.fc1, (None, channels))
        self.fc2 = keras.layers.Dense(
            units=channels,
            kernel_initializer=initializers.get(initializers.TORCH_DEFAULT_UNIFORM),
            bias_initializer="zeros", dtype=self.dtype_policy, name="fc2")
        build_sublayer(self.fc2, (None, hidden))
        self.spatial_conv = keras.layers.Conv2D(
            filters=1, kernel_size=self.kernel_size, padding="same", use_bias=self.folded,
            kernel_initializer=initializers.get(initializers.HE_NORMAL_FAN_OUT),
            dtype=self.dtype_policy, name="spatial_conv")
        build_sublayer(self.spatial_conv, (None, None, None, 2))
        self.spatial_bn = None
        if not self.folded:
            self.spatial_bn = keras.layers.BatchNormalization(
                axis=-1, epsilon=1e-5, momentum=0.99, gamma_initializer="zeros",
                dtype=self.dtype_policy, name="spatial_bn")
            build_sublayer(self.spatial_bn, (None, None, None, 1))
        super().build(input_shape)

    def fused(self):
        """For `keras_backbones.fuse`: a copy with spatial_bn folded into spatial_conv (not
        built), and {sublayer: its weights}."""
        copy = type(self).from_config({**self.get_config(), "folded": True})
        spatial = (self.spatial_conv.get_weights() if self.folded
                   else fold_batch_norm(self.spatial_conv, self.spatial_bn))
        return copy, {"fc1": self.fc1.get_weights(), "fc2": self.fc2.get_weights(),
                      "spatial_conv": spatial}

    def _mlp(self, pooled):
        return self.fc2(tf.nn.relu(self.fc1(pooled)))

    def call(self, inputs, training=None):
        channels = inputs.shape[-1]
        pooled_sum = (self._mlp(tf.reduce_mean(inputs, axis=[1, 2]))
                      + self._mlp(tf.reduce_max(inputs, axis=[1, 2])))
        x = inputs * tf.reshape(tf.sigmoid(pooled_sum), [-1, 1, 1, channels])
        # conv([max, mean] over the channels) as conv(max) + conv(mean) with the two halves of
        # spatial_conv's kernel: int8 TFLite gives a CONCATENATION's inputs and output one
        # scale, and REDUCE_MAX its input and output, which would clip x to the pooled range.
        kernel = tf.cast(self.spatial_conv.kernel, x.dtype)  # (k, k, [max, mean], 1)
        max_map = tf.reduce_max(x, axis=-1, keepdims=True)
        mean_map = tf.reduce_mean(x, axis=-1, keepdims=True)
        spatial = (tf.nn.conv2d(max_map, kernel[:, :, :1], strides=1, padding="SAME")
                   + tf.nn.conv2d(mean_map, kernel[:, :, 1:], strides=1, padding="SAME"))
        if self.folded:
            spatial = spatial + tf.cast(self.spatial_conv.bias, spatial.dtype)
        else:
            spatial = self.spatial_bn(spatial, training=training)
        return x * tf.sigmoid(spatial)

    def macs(self, input_shape, output_shape):
        height, width, channels = input_shape
        hidden = channels // self.reduction
        mlp = 2 * (channels * hidden + hidden * channels)  # the shared MLP runs twice
        return mlp + height * width * 2 * self.kernel_size ** 2

    def activations(self, input_shape, output_shape):
        height, width, channels = input_shape
        # fc1 and fc2 outputs of both MLP runs, and the reference's one 2 -> 1 spatial
        # convolution (call() splits it in two for int8 TFLite; the network has one).
        return 2 * (channels // self.reduction + channels) + height * width

    def get_config(self):
        return {**super().get_config(), "reduction": self.reduction,
                "kernel_size": self.kernel_size, "folded": self.folded}
