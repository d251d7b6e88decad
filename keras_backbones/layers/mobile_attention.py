"""Multi-query attention on feature maps: the core of MobileNetV4's Mobile MQA (Qin et al. 2024,
section 4: one shared key and value head for all query heads).

The projections and the optional key/value downsampling are ordinary convolutions in the
model's graph (their names are the checkpoint's); this layer holds no weights and computes

    softmax(q k^T / sqrt(key_dim)) v

with `num_heads` query heads of `key_dim` channels against one key head (`key_dim`) and one
value head (`value_dim`). Because key and value are shared, the heads fold into the query
axis: q (B, H, W, heads x key_dim) is reshaped to (B, H W heads, key_dim), so the whole
attention is two BATCH_MATMULs and a SOFTMAX between RESHAPEs (TFLite builtins with int8
kernels), no transposes.
"""

import math

import tensorflow as tf

from keras_backbones.backend import keras, register_serializable


@register_serializable
class MultiQueryAttention(keras.layers.Layer):
    """call([q, k, v]): q (B, H, W, num_heads x key_dim), channel h x key_dim + d being head h's
    d-th (timm's and the TensorFlow reference's layout); k (B, H', W', key_dim); v (B, H', W',
    value_dim). Returns (B, H, W, num_heads x value_dim), head-major like q."""

    def __init__(self, num_heads, key_dim, value_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim or key_dim)

    def build(self, input_shape):
        q, k, v = (tuple(shape) for shape in input_shape)
        expected = (self.num_heads * self.key_dim, self.key_dim, self.value_dim)
        if (q[-1], k[-1], v[-1]) != expected:
            raise ValueError(f"{self.name}: q, k, v need {expected} channels "
                             f"({self.num_heads} heads); got {(q[-1], k[-1], v[-1])}.")
        super().build(input_shape)

    def call(self, inputs):
        q, k, v = inputs
        height, width = q.shape[1], q.shape[2]
        height = height if height is not None else tf.shape(q)[1]
        width = width if width is not None else tf.shape(q)[2]
        q = tf.reshape(q, [-1, height * width * self.num_heads, self.key_dim])
        keys = k.shape[1] * k.shape[2] if None not in k.shape[1:3] else None
        if keys is None:  # an input of unknown size: the batch axis from the graph
            k = tf.reshape(k, [tf.shape(k)[0], -1, self.key_dim])
            v = tf.reshape(v, [tf.shape(v)[0], -1, self.value_dim])
        else:  # static shapes: plain RESHAPEs in TFLite
            k = tf.reshape(k, [-1, keys, self.key_dim])
            v = tf.reshape(v, [-1, keys, self.value_dim])
        logits = tf.matmul(q * (1.0 / math.sqrt(self.key_dim)), k, transpose_b=True)
        # The softmax in float32 (mixed precision): float16 loses the small weights.
        weights = tf.cast(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1), v.dtype)
        out = tf.matmul(weights, v)  # (B, H W heads, value_dim)
        return tf.reshape(out, [-1, height, width, self.num_heads * self.value_dim])

    def query_key_counts(self, input_shape):
        """(queries, keys each one attends to) of one call, batch 1: the heads fold into the
        queries."""
        (height, width, _), (key_height, key_width, _), _ = input_shape
        return height * width * self.num_heads, key_height * key_width

    def macs(self, input_shape, output_shape):
        queries, keys = self.query_key_counts(input_shape)
        return queries * keys * (self.key_dim + self.value_dim)  # q k^T, then (.) v

    def activations(self, input_shape, output_shape):
        queries, keys = self.query_key_counts(input_shape)
        return queries * (keys + self.value_dim)  # the outputs of q k^T and of (.) v

    def compute_output_shape(self, input_shape):
        q = tuple(input_shape[0])
        return (*q[:-1], self.num_heads * self.value_dim)

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim}
