"""Initializers that papers prescribe and Keras lacks."""

import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


@register_serializable
class FanInUniform(keras.initializers.Initializer):
    """U(-scale / fan_in, scale / fan_in): LeNet-5's initialization (LeCun et al. 1998,
    appendix C: 2.4 / F_i). Note the bound falls as 1/F_i, not as 1/sqrt(F_i)."""

    def __init__(self, scale=2.4, seed=None):
        self.scale = scale
        self.seed = seed

    def __call__(self, shape, dtype=None, **kwargs):
        fan_in = 1
        for dim in shape[:-1]:
            fan_in *= int(dim)
        limit = self.scale / fan_in
        return tf.random.uniform(shape, -limit, limit, dtype=dtype or "float32", seed=self.seed)

    def get_config(self):
        return {"scale": self.scale, "seed": self.seed}
