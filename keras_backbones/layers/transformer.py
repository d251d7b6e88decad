"""The pieces of the vision transformers (ViT, Swin; ConvNeXt uses the first two): a
LayerNorm that converts to int8 TFLite, the MLP, multi-head self-attention with a fused qkv
projection, and ViT's class token + position embedding.

Everything computes with TFLite builtins (FULLY_CONNECTED, RESHAPE, TRANSPOSE, BATCH_MATMUL,
SOFTMAX, GELU, ...), so the models convert to float32 and full-int8 TFLite without select ops.
Linear layers are initialized as timm's transformers: N(0, 0.02) kernels (timm's
trunc_normal_(std=.02) truncates at +-2, i.e. at 100 standard deviations), zero biases.
"""

import math

import numpy as np
import tensorflow as tf

from keras_backbones import initializers
from keras_backbones.backend import keras, register_serializable
from keras_backbones.layers.helpers import build_sublayer, serialize_initializer


@register_serializable
class LayerNorm(keras.layers.LayerNormalization):
    """keras.layers.LayerNormalization (same arguments, weights and checkpoint conversion),
    computed as tf-keras computes it over the last axis: (x - mean) * rsqrt(var + eps) * gamma
    + beta, in float32 under mixed precision. Keras 3's own graph has a NEG op, which has no
    int8 TFLite kernel; this one converts to MEAN, SQUARED_DIFFERENCE, RSQRT, MUL, SUB and ADD,
    all int8 builtins."""

    def call(self, inputs):
        axes = [self.axis] if isinstance(self.axis, int) else list(self.axis)
        if axes not in ([-1], [len(inputs.shape) - 1]) or getattr(self, "rms_scaling", False):
            return super().call(inputs)
        x = inputs if inputs.dtype == tf.float32 else tf.cast(inputs, tf.float32)
        mean = tf.reduce_mean(x, axis=-1, keepdims=True)
        variance = tf.reduce_mean(tf.math.squared_difference(x, mean), axis=-1, keepdims=True)
        x = (x - mean) * tf.math.rsqrt(variance + self.epsilon)
        if self.scale:
            x = x * tf.cast(self.gamma, tf.float32)
        if self.center:
            x = x + tf.cast(self.beta, tf.float32)
        return tf.cast(x, self.compute_dtype)


def layer_norm(x, *, name, epsilon=1e-5):
    """nn.LayerNorm over the last axis (PyTorch's epsilon 1e-5 by default; ViT uses 1e-6)."""
    return LayerNorm(axis=-1, epsilon=epsilon, name=name)(x)


def mlp(x, hidden_units, *, name, out_units=None, dropout_rate=0.0,
        kernel_initializer=initializers.NORMAL_002):
    """timm's Mlp on the last axis: `{name}_fc1` (-> hidden_units) -> exact GELU ->
    `{name}_fc2` (-> out_units, default the input width), each Linear followed by dropout
    when dropout_rate > 0. Works on tokens (B, N, C) and on maps (B, H, W, C)."""
    out_units = out_units or x.shape[-1]

    def dense(x, units, suffix):
        return keras.layers.Dense(units=units,
                                  kernel_initializer=initializers.get(kernel_initializer),
                                  bias_initializer="zeros", name=f"{name}_{suffix}")(x)

    x = dense(x, hidden_units, "fc1")
    x = keras.layers.Activation("gelu", name=f"{name}_act")(x)  # exact (erf) GELU in both Kerases
    if dropout_rate:
        x = keras.layers.Dropout(rate=dropout_rate, name=f"{name}_drop1")(x)
    x = dense(x, out_units, "fc2")
    if dropout_rate:
        x = keras.layers.Dropout(rate=dropout_rate, name=f"{name}_drop2")(x)
    return x


@register_serializable
class MultiHeadSelfAttention(keras.layers.Layer):
    """timm's Attention: tokens (B, N, C) -> fused `qkv` Linear (C -> 3C, the columns
    [q | k | v], each split into `num_heads` heads of C / num_heads) -> softmax(q k^T / sqrt(d)
    + bias) v -> heads merged -> `proj` Linear (C -> C). Same shape out as in.

    call(inputs, bias=None): `bias`, if given, is added to the attention logits before the
    softmax; anything broadcastable to (B, num_heads, N, N) (Swin's relative position bias and
    shift mask). A subclass that needs more can reuse `heads(inputs)` (scaled q, k, v) and
    `attend(q, k, v, bias)`; the sublayers `qkv` and `proj` map onto timm's `attn.qkv` and
    `attn.proj`.
    """

    def __init__(self, num_heads, qkv_bias=True, attention_dropout=0.0, proj_dropout=0.0,
                 kernel_initializer=initializers.NORMAL_002, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.qkv_bias = bool(qkv_bias)
        self.attention_dropout = float(attention_dropout)
        self.proj_dropout = float(proj_dropout)
        self.kernel_initializer = serialize_initializer(kernel_initializer)
        self.bias_initializer = serialize_initializer(bias_initializer)
        self._attention_drop = keras.layers.Dropout(rate=self.attention_dropout)
        self._proj_drop = keras.layers.Dropout(rate=self.proj_dropout)

    def _dense(self, units, use_bias, name):
        return keras.layers.Dense(
            units=units, use_bias=use_bias,
            kernel_initializer=initializers.get(self.kernel_initializer),
            bias_initializer=initializers.get(self.bias_initializer),
            dtype=self.dtype_policy, name=name)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if dim % self.num_heads:
            raise ValueError(f"{self.name}: {dim} channels do not split into {self.num_heads} "
                             "heads evenly.")
        self.qkv = self._dense(3 * dim, self.qkv_bias, "qkv")
        build_sublayer(self.qkv, (None, None, dim))
        self.proj = self._dense(dim, True, "proj")
        build_sublayer(self.proj, (None, None, dim))
        super().build(input_shape)

    def _split(self, x, tokens):  # (B, N, C) -> (B, heads, N, C / heads)
        x = tf.reshape(x, [-1, tokens, self.num_heads, x.shape[-1] // self.num_heads])
        return tf.transpose(x, [0, 2, 1, 3])

    def heads(self, inputs):
        """q (scaled by 1 / sqrt(head size)), k, v: each (B, heads, N, C / heads)."""
        tokens = inputs.shape[1] if inputs.shape[1] is not None else tf.shape(inputs)[1]
        q, k, v = tf.split(self.qkv(inputs), 3, axis=-1)
        q = q * (1.0 / math.sqrt(inputs.shape[-1] // self.num_heads))
        return self._split(q, tokens), self._split(k, tokens), self._split(v, tokens)

    def attend(self, q, k, v, bias=None, training=None):
        """softmax(q k^T + bias) v, heads merged, projected: (B, N, C)."""
        logits = tf.matmul(q, k, transpose_b=True)
        if bias is not None:
            logits = logits + tf.cast(bias, logits.dtype)
        # The softmax in float32: float16 logits of long sequences lose the small weights.
        weights = tf.cast(tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1), v.dtype)
        weights = self._attention_drop(weights, training=training)
        x = tf.transpose(tf.matmul(weights, v), [0, 2, 1, 3])  # (B, N, heads, C / heads)
        tokens = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        x = tf.reshape(x, [-1, tokens, x.shape[2] * x.shape[3]])
        return self._proj_drop(self.proj(x), training=training)

    def call(self, inputs, bias=None, training=None):
        q, k, v = self.heads(inputs)
        return self.attend(q, k, v, bias=bias, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def query_key_counts(self, input_shape):
        """(queries, keys each one attends to) of one call, batch 1: the MACs and activations."""
        tokens = math.prod(input_shape[:-1])  # (N,) here
        return tokens, tokens

    def macs(self, input_shape, output_shape):
        (tokens, keys), dim = self.query_key_counts(input_shape), input_shape[-1]
        return tokens * 4 * dim * dim + 2 * tokens * keys * dim  # qkv + proj, q k^T, (.) v

    def activations(self, input_shape, output_shape):
        (tokens, keys), dim = self.query_key_counts(input_shape), input_shape[-1]
        # qkv (3C), (.) v and proj (C each) per token, q k^T per head: pycls's MultiheadAttention
        return tokens * 5 * dim + self.num_heads * tokens * keys

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "qkv_bias": self.qkv_bias,
                "attention_dropout": self.attention_dropout, "proj_dropout": self.proj_dropout,
                "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer}


# --- ViT's embedding --------------------------------------------------------------------------

def _cubic(x, a=-0.5):
    """Keys' cubic convolution kernel; a = -0.5 as PIL and PyTorch's antialiased bicubic."""
    x = np.abs(x)
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0.0))


def bicubic_resize_matrix(in_size, out_size):
    """The (out_size, in_size) matrix of F.interpolate(mode="bicubic", antialias=True,
    align_corners=False) along one axis (PyTorch's `_upsample_bicubic2d_aa`, PIL's resampling):
    a Keys cubic (a = -0.5) stretched by the scale when shrinking, taps cut at the border and
    the weights renormalized."""
    scale = in_size / out_size
    support = 2.0 * max(scale, 1.0)
    inv_scale = 1.0 / max(scale, 1.0)
    matrix = np.zeros((out_size, in_size), np.float64)
    for i in range(out_size):
        center = scale * (i + 0.5)
        start = max(int(center - support + 0.5), 0)
        stop = min(int(center + support + 0.5), in_size)
        taps = np.arange(start, stop)
        weights = _cubic((taps - center + 0.5) * inv_scale)
        matrix[i, start:stop] = weights / weights.sum()
    return matrix.astype(np.float32)


@register_serializable
class ClassTokenPositionEmbedding(keras.layers.Layer):
    """ViT's token embedding (timm's `_pos_embed`): a patch grid (B, H, W, C) -> tokens
    (B, 1 + H W, C): the learned class token `cls_token` (1, 1, C) prepended, plus the learned
    position embedding `pos_embed` (1, 1 + h w, C) of the default `grid_size` (h, w).

    At another grid size the position embedding's grid part is resized, as timm's
    resample_abs_pos_embed (bicubic, antialiased): the weights (and the parameter count) stay
    those of the default size. The resize is a fixed linear map, computed in NumPy when the
    layer is built and applied as two matmuls of the weight (constant-folded by TFLite)."""

    def __init__(self, grid_size, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = tuple(int(g) for g in grid_size)

    def build(self, input_shape):
        height, width, dim = input_shape[1], input_shape[2], int(input_shape[-1])
        if height is None or width is None:
            raise ValueError(f"{self.name}: the position embedding needs a known patch grid; "
                             f"got {tuple(input_shape)}.")
        self.cls_token = self.add_weight(
            shape=(1, 1, dim), initializer=keras.initializers.RandomNormal(stddev=1e-6),
            trainable=True, name="cls_token")
        self.pos_embed = self.add_weight(
            shape=(1, 1 + math.prod(self.grid_size), dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02), trainable=True,
            name="pos_embed")
        self._grid = (int(height), int(width))  # call() may see a tensor of unknown size
        self._resize = None
        if (height, width) != self.grid_size:
            self._resize = (bicubic_resize_matrix(self.grid_size[0], height),
                            bicubic_resize_matrix(self.grid_size[1], width))
        super().build(input_shape)

    def position_embedding(self):
        """The position embedding at the built grid size: (1, 1 + H W, C), float32."""
        pos = tf.cast(self.pos_embed, tf.float32)  # under mixed precision, a float16 read
        if self._resize is None:
            return pos
        rows, cols = self._resize
        dim = pos.shape[-1]
        grid = tf.reshape(pos[0, 1:], [self.grid_size[0], self.grid_size[1] * dim])
        grid = tf.reshape(tf.matmul(rows, grid), [rows.shape[0], self.grid_size[1], dim])
        grid = tf.matmul(tf.broadcast_to(cols, [rows.shape[0], *cols.shape]), grid)  # (H, W, C)
        return tf.concat([pos[:, :1], tf.reshape(grid, [1, -1, dim])], axis=1)

    def call(self, inputs):
        tokens = tf.reshape(inputs, [-1, self._grid[0] * self._grid[1], inputs.shape[-1]])
        cls = tf.tile(tf.cast(self.cls_token, inputs.dtype), [tf.shape(inputs)[0], 1, 1])
        tokens = tf.concat([cls, tokens], axis=1)
        return tokens + tf.cast(self.position_embedding(), inputs.dtype)

    def compute_output_shape(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        tokens = None if height is None or width is None else 1 + height * width
        return (input_shape[0], tokens, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "grid_size": self.grid_size}
