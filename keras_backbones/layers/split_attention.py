"""Split attention (ResNeSt, Zhang et al. 2020), as timm's SplitAttn (timm/layers/split_attn.py).

One k x k convolution in `cardinality * radix` groups gives `radix` splits of `filters`
channels each; their sum is pooled globally and passed through a two-layer grouped MLP whose
output, a softmax across the splits (r-SoftMax), weights the splits in a sum:

    x = ReLU(bn0(conv(inputs)))                      (B, H, W, radix * filters), split-major
    u = sum_r x_r                                     (B, H, W, filters)
    a = fc2(ReLU(bn1(fc1(mean_hw(u)))))               (B, 1, 1, radix * filters)
    out = sum_r x_r * softmax_r(a)_r                  (B, H, W, filters)

fc2's channels are ordered (cardinal group, split, channel) as the reference's; the r-SoftMax
reorders them split-major with a 4-D reshape/transpose (TFLite builtins RESHAPE, TRANSPOSE,
SOFTMAX), the splits are taken with one SPLIT and summed with ADDs (not ADD_N, which has no
int8 kernel). With radix 1 the gate is a sigmoid.
"""

import tensorflow as tf

from keras_backbones import initializers
from keras_backbones.backend import keras, register_serializable
from keras_backbones.layers.helpers import build_sublayer, make_divisible, serialize_initializer
from keras_backbones.layers.normalization import fold_batch_norm


def _sum(tensors):
    """A chain of ADDs: TFLite's ADD_N has no int8 kernel."""
    total = tensors[0]
    for tensor in tensors[1:]:
        total = total + tensor
    return total


@register_serializable
class SplitAttention(keras.layers.Layer):
    """timm's SplitAttn with its BatchNorms (`norm_layer` given, as in ResNeSt).

    filters: channels out (timm's out_channels; default: the input's). The attention width is
    `rd_channels * radix` if given, else make_divisible(C_in * radix * rd_ratio, rd_divisor,
    min_value=32). Sublayers, named as the reference's modules: conv, bn0, fc1, bn1, fc2.
    Convolutions He normal (fan_out) as timm's ResNet init; fc biases PyTorch's default.
    folded: bn0 and bn1 folded into conv (which gains a bias) and fc1, for inference (`fused`,
    which `keras_backbones.fuse` calls)."""

    def __init__(self, filters=None, kernel_size=3, strides=1, dilation=1, groups=1, radix=2,
                 rd_ratio=0.25, rd_channels=None, rd_divisor=8, epsilon=1e-5, momentum=0.1,
                 kernel_initializer=initializers.HE_NORMAL_FAN_OUT, folded=False, **kwargs):
        super().__init__(**kwargs)
        if radix < 1 or groups < 1:
            raise ValueError(f"SplitAttention: `radix` and `groups` must be >= 1; got "
                             f"radix={radix}, groups={groups}.")
        self.filters = int(filters) if filters else None
        self.kernel_size = int(kernel_size)
        self.strides = int(strides)
        self.dilation = int(dilation)
        self.groups = int(groups)
        self.radix = int(radix)
        self.rd_ratio = float(rd_ratio)
        self.rd_channels = int(rd_channels) if rd_channels else None
        self.rd_divisor = int(rd_divisor)
        self.epsilon = float(epsilon)
        self.momentum = float(momentum)  # PyTorch's (Keras's is 1 - it)
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.folded = bool(folded)

    def attention_channels(self, in_channels):
        if self.rd_channels:
            return self.rd_channels * self.radix
        return make_divisible(in_channels * self.radix * self.rd_ratio, self.rd_divisor,
                              min_value=32)

    def _padding(self):
        return (self.kernel_size - 1) // 2 * self.dilation  # timm: kernel_size // 2 (x dilation)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        filters = self.filters or in_channels
        mid, attn = filters * self.radix, self.attention_channels(in_channels)
        convolution_groups = self.groups * self.radix
        for what, value, parts in (("input channels", in_channels, convolution_groups),
                                   ("filters", filters, self.groups),
                                   ("attention channels", attn, self.groups)):
            if value % parts:
                raise ValueError(f"{self.name}: {what} ({value}) do not split into {parts} "
                                 f"groups (groups={self.groups}, radix={self.radix}).")
        same = self.strides == 1 and self.kernel_size % 2 == 1
        self.conv = keras.layers.Conv2D(
            filters=mid, kernel_size=self.kernel_size, strides=self.strides,
            padding="same" if same else "valid", dilation_rate=self.dilation,
            groups=self.groups * self.radix, use_bias=self.folded,
            kernel_initializer=initializers.get(self.kernel_initializer), dtype=self.dtype_policy,
            name="conv")
        build_sublayer(self.conv, (None, None, None, in_channels))
        self.bn0 = self._norm("bn0", (None, None, None, mid))
        self.fc1 = self._fc(attn, filters, "fc1")
        build_sublayer(self.fc1, (None, 1, 1, filters))
        self.bn1 = self._norm("bn1", (None, 1, 1, attn))
        self.fc2 = self._fc(mid, attn, "fc2")
        build_sublayer(self.fc2, (None, 1, 1, attn))
        super().build(input_shape)

    def _norm(self, name, input_shape):
        """A built BatchNormalization; None where it is folded into the layer before it."""
        if self.folded:
            return None
        norm = keras.layers.BatchNormalization(axis=-1, epsilon=self.epsilon,
                                               momentum=1.0 - self.momentum,
                                               dtype=self.dtype_policy, name=name)
        build_sublayer(norm, input_shape)
        return norm

    def fused(self):
        """For `keras_backbones.fuse`: a copy with bn0 and bn1 folded into conv and fc1 (not
        built), and {sublayer: its weights}."""
        copy = type(self).from_config({**self.get_config(), "folded": True})
        weights = {"fc2": self.fc2.get_weights()}
        for linear, norm in (("conv", self.bn0), ("fc1", self.bn1)):
            weights[linear] = (getattr(self, linear).get_weights() if norm is None
                               else fold_batch_norm(getattr(self, linear), norm))
        return copy, weights

    @staticmethod
    def _normalized(norm, x, training):
        return x if norm is None else norm(x, training=training)

    def _fc(self, units, fan_in_channels, name):
        limit = 1.0 / (fan_in_channels // self.groups) ** 0.5  # nn.Conv2d's default bias
        return keras.layers.Conv2D(
            filters=units, kernel_size=1, groups=self.groups, use_bias=True,
            kernel_initializer=initializers.get(self.kernel_initializer),
            bias_initializer=keras.initializers.RandomUniform(minval=-limit, maxval=limit),
            dtype=self.dtype_policy, name=name)

    def radix_softmax(self, attention):
        """(B, 1, 1, groups * radix * c) in (group, split, c) order -> weights in (split, group,
        c) order: softmax across the splits (sigmoid when radix is 1)."""
        if self.radix == 1:
            return tf.sigmoid(attention)
        channels = attention.shape[-1]
        per_split = channels // (self.groups * self.radix)
        a = tf.reshape(attention, [-1, self.groups, self.radix, per_split])
        a = tf.nn.softmax(tf.transpose(a, [0, 1, 3, 2]), axis=-1)  # (B, groups, c, radix)
        a = tf.transpose(a, [0, 3, 1, 2])  # (B, radix, groups, c)
        return tf.reshape(a, [-1, 1, 1, channels])

    def call(self, inputs, training=None):
        x = inputs
        if not (self.strides == 1 and self.kernel_size % 2 == 1):
            pad = self._padding()
            x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        x = tf.nn.relu(self._normalized(self.bn0, self.conv(x), training))
        splits = tf.split(x, self.radix, axis=-1) if self.radix > 1 else [x]
        gap = _sum(splits)
        gap = tf.reduce_mean(gap, axis=[1, 2], keepdims=True)
        gap = tf.nn.relu(self._normalized(self.bn1, self.fc1(gap), training))
        attention = self.radix_softmax(self.fc2(gap))
        if self.radix == 1:
            return x * attention
        weights = tf.split(attention, self.radix, axis=-1)
        return _sum([s * w for s, w in zip(splits, weights)])

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        filters = self.filters or channels
        pad, k = self._padding(), (self.kernel_size - 1) * self.dilation + 1
        size = lambda n: None if n is None else (n + 2 * pad - k) // self.strides + 1  # noqa: E731
        return (batch, size(height), size(width), filters)

    def macs(self, input_shape, output_shape):
        height, width, filters = output_shape
        in_channels = input_shape[-1]
        attn = self.attention_channels(in_channels)
        conv = height * width * self.kernel_size ** 2 * in_channels // (self.groups * self.radix) \
            * filters * self.radix
        fc = (filters * attn + attn * filters * self.radix) // self.groups
        return conv + fc

    def activations(self, input_shape, output_shape):
        height, width, filters = output_shape
        conv = height * width * filters * self.radix  # the grouped k x k conv's radix splits
        return conv + self.attention_channels(input_shape[-1]) + filters * self.radix  # fc1, fc2

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "dilation": self.dilation, "groups": self.groups,
                "radix": self.radix, "rd_ratio": self.rd_ratio, "rd_channels": self.rd_channels,
                "rd_divisor": self.rd_divisor, "epsilon": self.epsilon,
                "momentum": self.momentum, "kernel_initializer": self.kernel_initializer,
                "folded": self.folded}
