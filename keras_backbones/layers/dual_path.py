"""The merge of a Dual Path Network block (Chen et al. 2017)."""

import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


@register_serializable
class DualPathMerge(keras.layers.Layer):
    """[shortcut, branch] -> concat(shortcut[:r] + branch[:r], shortcut[r:], branch[r:]),
    r = `residual_channels`: the first r channels are the residual path (added), the rest the
    densely connected path (the block's new channels appended), as timm's DualPathBlock.

    Two SPLIT_V, an ADD and a CONCATENATION: TFLite builtins, in float32 and in int8."""

    def __init__(self, residual_channels, **kwargs):
        super().__init__(**kwargs)
        self.residual_channels = int(residual_channels)

    def build(self, input_shape):
        shortcut, branch = input_shape
        r = self.residual_channels
        for what, shape in (("shortcut", shortcut), ("branch", branch)):
            if shape[-1] is None or shape[-1] < r:
                raise ValueError(f"{self.name}: the {what} has {shape[-1]} channels, fewer than "
                                 f"the {r} residual channels.")
        super().build(input_shape)

    def call(self, inputs):
        shortcut, branch = inputs
        r = self.residual_channels
        s_res, s_dense = self._split(shortcut, r)
        b_res, b_dense = self._split(branch, r)
        parts = [s_res + b_res] + [t for t in (s_dense, b_dense) if t is not None]
        return tf.concat(parts, axis=-1) if len(parts) > 1 else parts[0]

    @staticmethod
    def _split(x, r):
        if x.shape[-1] == r:
            return x, None
        return tf.split(x, [r, x.shape[-1] - r], axis=-1)

    def compute_output_shape(self, input_shape):
        shortcut, branch = input_shape
        return (*tuple(shortcut)[:-1], shortcut[-1] + branch[-1] - self.residual_channels)

    def get_config(self):
        return {**super().get_config(), "residual_channels": self.residual_channels}
