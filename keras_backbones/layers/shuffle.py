"""ShuffleNet's channel shuffle (Zhang et al. 2018)."""

import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


@register_serializable
class ChannelShuffle(keras.layers.Layer):
    """Interleaves `groups` channel groups: channel j * groups + i of the output is channel
    i * (C / groups) + j of the input, the order of torchvision's channel_shuffle on NCHW.

    reshape [B, H, W, g, C/g] -> swap the last two axes -> reshape [B, H, W, C]: TFLite runs the
    5-D transpose as a builtin TRANSPOSE, in float32 and in int8."""

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = int(groups)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise ValueError(f"{self.name}: {channels} channels do not split into {self.groups} groups.")
        super().build(input_shape)

    def call(self, inputs):
        _, height, width, channels = inputs.shape
        if height is None or width is None:
            height, width = tf.shape(inputs)[1], tf.shape(inputs)[2]
        x = tf.reshape(inputs, [-1, height, width, self.groups, channels // self.groups])
        x = tf.transpose(x, [0, 1, 2, 4, 3])
        return tf.reshape(x, [-1, height, width, channels])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


@register_serializable
class ChannelSplit(keras.layers.Layer):
    """Splits the channels into `num_splits` equal parts, in order: PyTorch's
    `x.chunk(num_splits, dim=1)` on NCHW (ShuffleNetV2's channel split). Returns a list.

    One tf.split: TFLite's builtin SPLIT, in float32 and in int8."""

    def __init__(self, num_splits=2, **kwargs):
        super().__init__(**kwargs)
        self.num_splits = int(num_splits)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.num_splits:
            raise ValueError(f"{self.name}: {channels} channels do not split into "
                             f"{self.num_splits} equal parts.")
        super().build(input_shape)

    def call(self, inputs):
        return tf.split(inputs, self.num_splits, axis=-1)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return [(*shape[:-1], shape[-1] // self.num_splits)] * self.num_splits

    def get_config(self):
        return {**super().get_config(), "num_splits": self.num_splits}
