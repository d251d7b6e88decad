"""Shifted-window attention (Liu et al. 2021, "Swin Transformer: Hierarchical Vision
Transformer using Shifted Windows"), as timm's swin_transformer.py computes it.

On a channels-last map (B, H, W, C) of static size:
- `cyclic_shift`: torch.roll over H and W, as slice + concat (TFLite has no ROLL builtin);
- `window_partition` / `window_reverse`: the map <-> non-overlapping windows of N = wh x ww
  tokens, by 5-D reshape / transpose / reshape (the batch folded into the window rows);
- `relative_position_index`, `shifted_window_mask`: the two constants of a window, computed in
  NumPy when a layer is built (timm's non-persistent buffers, not parameters), and
  `relative_position_table_resize`, timm's resampling of a table to another window;
- `fit_window`: timm's rule for a map no larger than the window (one window, no shift);
- `WindowAttention`: W-MSA / SW-MSA with the relative position bias, on the map;
- `PatchMerging`: the 2 x 2 neighbourhood concatenated -> LayerNorm -> Linear 4C -> 2C.

Every op is a TFLite builtin (STRIDED_SLICE, CONCATENATION, PAD, RESHAPE, TRANSPOSE,
FULLY_CONNECTED, BATCH_MATMUL, SOFTMAX, ...), in float32 and in int8.
"""

import math

import numpy as np
import tensorflow as tf

from keras_backbones import initializers
from keras_backbones.backend import keras, register_serializable
from keras_backbones.layers.helpers import build_sublayer, pair, serialize_initializer
from keras_backbones.layers.transformer import LayerNorm, MultiHeadSelfAttention

# What timm adds to the attention logits of token pairs from different regions of a shifted
# window: exp(-100) vanishes against any logit of a trained network.
MASK_VALUE = -100.0


def fit_window(size, window, shift):
    """timm's SwinTransformerBlock._calc_window_shift, per axis: where the map is no larger
    than the window, the window shrinks to the map and does not shift."""
    window, shift = pair(window), pair(shift)
    return (tuple(min(s, w) for s, w in zip(size, window)),
            tuple(0 if s <= w else sh for s, w, sh in zip(size, window, shift)))


def padded_size(size, window):
    """The map size rounded up to whole windows (timm pads the bottom and right with zeros)."""
    return tuple(-(-s // w) * w for s, w in zip(size, window))


def with_static_size(x, size):
    """x with the static (H, W) a layer was built for: a caller's graph (a training step fed by
    random crops) may trace the model on maps of unknown size, which the windows cannot cut."""
    if tuple(x.shape[1:3]) == tuple(size):
        return x
    return tf.reshape(x, [-1, *size, x.shape[-1]])


def cyclic_shift(x, shift):
    """torch.roll(x, shift, dims=(1, 2)) of a (B, H, W, C) map with static H and W."""
    for axis, offset in zip((1, 2), pair(shift)):
        size = x.shape[axis]
        offset %= size
        if offset:
            head = [slice(None)] * 4
            tail = [slice(None)] * 4
            head[axis] = slice(size - offset, None)
            tail[axis] = slice(0, size - offset)
            x = tf.concat([x[tuple(head)], x[tuple(tail)]], axis=axis)
    return x


def window_partition(x, window):
    """(B, H, W, C) -> (B * H/wh * W/ww, wh * ww, C): windows in row-major order per image."""
    (wh, ww), (_, _, width, channels) = pair(window), x.shape
    x = tf.reshape(x, [-1, wh, width // ww, ww, channels])  # (B H/wh, wh, W/ww, ww, C)
    x = tf.transpose(x, [0, 2, 1, 3, 4])
    return tf.reshape(x, [-1, wh * ww, channels])


def window_reverse(windows, window, size):
    """The inverse of `window_partition`: (B * nW, wh * ww, C) -> (B, H, W, C)."""
    (wh, ww), (height, width), channels = pair(window), size, windows.shape[-1]
    x = tf.reshape(windows, [-1, width // ww, wh, ww, channels])  # (B H/wh, W/ww, wh, ww, C)
    x = tf.transpose(x, [0, 2, 1, 3, 4])
    return tf.reshape(x, [-1, height, width, channels])


def relative_position_index(window):
    """(N, N) index into the ((2 wh - 1)(2 ww - 1), heads) bias table of each token pair's
    offset (timm's get_relative_position_index)."""
    wh, ww = pair(window)
    coords = np.stack(np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")).reshape(2, -1)
    dy, dx = coords[:, :, None] - coords[:, None, :]  # each (N, N)
    return (dy + wh - 1) * (2 * ww - 1) + (dx + ww - 1)


def _geometric_offsets(src, dst):
    """Where timm places a table's offsets -(src//2)..src//2 to resample it to dst offsets: at
    +-(1, 1 + q, 1 + q + q^2, ...), q in [1.01, 1.5] found by bisection so that the table spans
    about dst//2 (resize_rel_pos_bias_table, after BEiT)."""
    left, right = 1.01, 1.5
    while right - left > 1e-6:
        q = (left + right) / 2.0
        if (1.0 - q ** (src // 2)) / (1.0 - q) > dst // 2:
            right = q
        else:
            left = q
    distances = np.cumsum([q ** i for i in range(src // 2)])
    return np.concatenate([-distances[::-1], [0.0], distances])


def _linear_interpolation(points, targets):
    """(len(targets), len(points)) matrix of linear interpolation clamped at the ends (timm's
    RegularGridInterpolator), in float32 as timm computes it."""
    points, targets = points.astype(np.float32), targets.astype(np.float32)
    right = np.minimum(np.searchsorted(points, targets, side="left"), len(points) - 1)
    left = np.clip(right - 1, 0, len(points) - 1)
    to_left = np.maximum(targets - points[left], 0.0)
    to_right = np.maximum(points[right] - targets, 0.0)
    both_zero = (to_left == 0) & (to_right == 0)
    to_left[both_zero] = to_right[both_zero] = 1.0
    matrix = np.zeros((len(targets), len(points)), np.float32)
    rows = np.arange(len(targets))
    np.add.at(matrix, (rows, left), to_right / (to_left + to_right))
    np.add.at(matrix, (rows, right), to_left / (to_left + to_right))
    return matrix


def relative_position_table_resize(src_window, dst_window):
    """The ((2 dh - 1)(2 dw - 1), (2 sh - 1)(2 sw - 1)) linear map of timm's
    resize_rel_pos_bias_table, which resamples a checkpoint's table to another window (how
    timm runs a 224 checkpoint at a size whose maps are smaller than its windows)."""
    if pair(src_window) == pair(dst_window):
        return np.eye(math.prod(2 * w - 1 for w in pair(src_window)), dtype=np.float32)
    axes = []
    for src, dst in zip(pair(src_window), pair(dst_window)):
        src, dst = 2 * src - 1, 2 * dst - 1
        axes.append(_linear_interpolation(_geometric_offsets(src, dst),
                                          np.arange(-(dst // 2), dst // 2 + 1)))
    return np.kron(*axes)


def shifted_window_mask(size, window, shift):
    """(nW, N, N) additive mask of the shifted windows of a map of `size` (before padding),
    0 between tokens of the same region and MASK_VALUE across regions; None without a shift.

    timm's SwinTransformerBlock.get_attn_mask: the padded, shifted map is cut into (up to) 3 x 3
    regions along the window and shift boundaries; the window cut by the wrap-around mixes
    tokens that are not neighbours in the image."""
    window, shift = pair(window), pair(shift)
    if not any(shift):
        return None
    height, width = padded_size(size, window)
    (wh, ww), (sh, sw) = window, shift
    regions = np.zeros((height, width), np.float32)
    count = 0
    # Python's slices of timm's loop, including its meaning of -0 for an unshifted axis.
    for rows in (slice(0, -wh), slice(-wh, -sh), slice(-sh, None)):
        for cols in (slice(0, -ww), slice(-ww, -sw), slice(-sw, None)):
            regions[rows, cols] = count
            count += 1
    windows = regions.reshape(height // wh, wh, width // ww, ww).transpose(0, 2, 1, 3)
    windows = windows.reshape(-1, wh * ww)
    return np.where(windows[:, None, :] != windows[:, :, None], MASK_VALUE, 0.0).astype(np.float32)


@register_serializable
class WindowAttention(MultiHeadSelfAttention):
    """Window multi-head self-attention with relative position bias (W-MSA, and SW-MSA with
    `shift_size`), on a (B, H, W, C) map, as timm's SwinTransformerBlock._attn:

    roll by -shift -> zero-pad bottom/right to whole windows -> partition -> per window
    softmax(q k^T / sqrt(d) + B + mask) v with the fused `qkv` and `proj` of
    `MultiHeadSelfAttention` -> reverse -> crop -> roll back by +shift.

    B[h, i, j] = table[index[i, j], h]: the table ((2 wh - 1)(2 ww - 1), heads) is the layer's
    weight `relative_position_bias_table` (timm's, N(0, 0.02)); the index and the mask are
    constants of the built size. `window_size` and `shift_size` are used as given (see
    `fit_window` for timm's rule on small maps); padded tokens take part in the attention as in
    timm. With a `table_window_size` other than the window, the weight is the table of that
    window, resampled to this one by timm's resize_rel_pos_bias_table (a constant linear map):
    a model keeps the weights of its default size at every input size."""

    def __init__(self, num_heads, window_size=7, shift_size=0, table_window_size=None, **kwargs):
        super().__init__(num_heads, **kwargs)
        self.window_size = pair(window_size)
        self.shift_size = pair(shift_size)
        self.table_window_size = pair(table_window_size or window_size)
        if min(self.window_size) < 1 or not all(0 <= s < w for s, w in
                                                zip(self.shift_size, self.window_size)):
            raise ValueError(f"WindowAttention: need window_size >= 1 and 0 <= shift_size < "
                             f"window_size; got {self.window_size} and {self.shift_size}.")

    def build(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        if height is None or width is None:
            raise ValueError(f"{self.name}: windows need a known map size; got {tuple(input_shape)}.")
        th, tw = self.table_window_size
        self.relative_position_bias_table = self.add_weight(
            shape=((2 * th - 1) * (2 * tw - 1), self.num_heads),
            initializer=initializers.get(initializers.NORMAL_002), trainable=True,
            name="relative_position_bias_table")
        self._resize = None
        if self.table_window_size != self.window_size:
            self._resize = relative_position_table_resize(self.table_window_size, self.window_size)
        self._index = relative_position_index(self.window_size).reshape(-1).astype(np.int32)
        self._mask = shifted_window_mask((height, width), self.window_size, self.shift_size)
        self._size = (int(height), int(width))
        super().build(input_shape)  # qkv and proj

    def attention_bias(self, dtype):
        """The relative position bias (1, heads, N, N), plus the mask: (nW, heads, N, N)."""
        tokens = self.window_size[0] * self.window_size[1]
        table = tf.cast(self.relative_position_bias_table, tf.float32)
        if self._resize is not None:
            table = tf.matmul(tf.constant(self._resize), table)
        table = tf.cast(table, dtype)
        bias = tf.reshape(tf.gather(table, tf.constant(self._index)), [tokens, tokens, -1])
        bias = tf.transpose(bias, [2, 0, 1])[None]
        if self._mask is not None:
            bias = bias + tf.constant(self._mask, dtype=dtype)[:, None]
        return bias

    def call(self, inputs, training=None):
        inputs = with_static_size(inputs, self._size)
        height, width = self._size
        padded = padded_size((height, width), self.window_size)
        x = cyclic_shift(inputs, [-s for s in self.shift_size])
        if padded != (height, width):
            x = tf.pad(x, [[0, 0], [0, padded[0] - height], [0, padded[1] - width], [0, 0]])
        windows = window_partition(x, self.window_size)
        bias = self.attention_bias(windows.dtype)
        if self._mask is not None:  # one (heads, N, N) slice per window of every image
            bias = tf.tile(bias, [tf.shape(inputs)[0], 1, 1, 1])
        q, k, v = self.heads(windows)
        x = self.attend(q, k, v, bias=bias, training=training)
        x = window_reverse(x, self.window_size, padded)
        if padded != (height, width):
            x = x[:, :height, :width]
        return cyclic_shift(x, self.shift_size)

    def query_key_counts(self, input_shape):
        """(tokens of the padded map, keys each attends to: its window's), for
        MultiHeadSelfAttention's counts of MACs and activations."""
        tokens = math.prod(padded_size(input_shape[:2], self.window_size))
        return tokens, self.window_size[0] * self.window_size[1]

    def get_config(self):
        return {**super().get_config(), "window_size": self.window_size,
                "shift_size": self.shift_size, "table_window_size": self.table_window_size}


def merge_patches(x):
    """(B, H, W, C) -> (B, ceil(H/2), ceil(W/2), 4C): each 2 x 2 neighbourhood's tokens
    concatenated in timm's order (0, 0), (1, 0), (0, 1), (1, 1) as (row, column) offsets (the
    original x0, x1, x2, x3); odd sizes are zero-padded at the bottom/right first."""
    _, height, width, channels = x.shape
    if height % 2 or width % 2:
        x = tf.pad(x, [[0, 0], [0, height % 2], [0, width % 2], [0, 0]])
        height, width = height + height % 2, width + width % 2
    x = tf.reshape(x, [-1, 2, width // 2, 2, channels])  # (B H/2, row, W/2, column, C)
    x = tf.transpose(x, [0, 2, 3, 1, 4])  # (B H/2, W/2, column, row, C)
    return tf.reshape(x, [-1, height // 2, width // 2, 4 * channels])


@register_serializable
class PatchMerging(keras.layers.Layer):
    """Swin's downsampling (timm's PatchMerging): `merge_patches` -> `norm` (LayerNorm over 4C)
    -> `reduction` (Linear 4C -> out_units, default 2C, no bias): (B, H, W, C) ->
    (B, ceil(H/2), ceil(W/2), out_units)."""

    def __init__(self, out_units=None, epsilon=1e-5, kernel_initializer=initializers.NORMAL_002,
                 **kwargs):
        super().__init__(**kwargs)
        self.out_units = int(out_units) if out_units else None
        self.epsilon = float(epsilon)
        self.kernel_initializer = serialize_initializer(kernel_initializer)

    def _units(self, channels):
        return self.out_units or 2 * channels

    def build(self, input_shape):
        if input_shape[1] is None or input_shape[2] is None:
            raise ValueError(f"{self.name}: patch merging needs a known map size; "
                             f"got {tuple(input_shape)}.")
        self._size = (int(input_shape[1]), int(input_shape[2]))
        merged = 4 * int(input_shape[-1])
        self.norm = LayerNorm(axis=-1, epsilon=self.epsilon, dtype=self.dtype_policy, name="norm")
        build_sublayer(self.norm, (None, None, None, merged))
        self.reduction = keras.layers.Dense(
            units=self._units(int(input_shape[-1])), use_bias=False,
            kernel_initializer=initializers.get(self.kernel_initializer),
            dtype=self.dtype_policy, name="reduction")
        build_sublayer(self.reduction, (None, None, None, merged))
        super().build(input_shape)

    def call(self, inputs):
        inputs = with_static_size(inputs, self._size)
        return self.reduction(self.norm(merge_patches(inputs)))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        half = lambda size: None if size is None else (size + 1) // 2  # noqa: E731
        return (batch, half(height), half(width), self._units(channels))

    def macs(self, input_shape, output_shape):
        height, width, channels = output_shape
        return height * width * 4 * input_shape[-1] * channels

    def activations(self, input_shape, output_shape):
        return math.prod(output_shape)  # the reduction Linear's output

    def get_config(self):
        return {**super().get_config(), "out_units": self.out_units, "epsilon": self.epsilon,
                "kernel_initializer": self.kernel_initializer}
