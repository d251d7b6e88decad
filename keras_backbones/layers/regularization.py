"""Regularization layers of the residual families: stochastic depth and layer scale."""

import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


@register_serializable
class StochasticDepth(keras.layers.Layer):
    """timm's DropPath (Huang et al. 2016, "Deep Networks with Stochastic Depth"): in training,
    zeroes each sample's residual branch with probability `rate` and scales the kept ones by
    1 / (1 - rate); the identity at inference. Goes on the branch, before the residual add."""

    def __init__(self, rate=0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"StochasticDepth: `rate` must be in [0, 1]; got {rate}.")
        self.rate = float(rate)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep_prob = 1.0 - self.rate
        # One draw per sample, broadcast over the other axes.
        shape = [tf.shape(inputs)[0]] + [1] * (len(inputs.shape) - 1)
        mask = tf.cast(tf.random.uniform(shape) < keep_prob, inputs.dtype)
        if keep_prob > 0.0:
            mask = mask * (1.0 / keep_prob)
        return inputs * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


@register_serializable
class LayerScale(keras.layers.Layer):
    """Per-channel learned scale x * gamma (Touvron et al. 2021, CaiT; ConvNeXt, Swin V2), with
    gamma initialized to `init_value`."""

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(
            shape=(int(input_shape[-1]),),
            initializer=keras.initializers.Constant(self.init_value),
            trainable=True, name="gamma")
        super().build(input_shape)

    def call(self, inputs):
        return inputs * tf.cast(self.gamma, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}
