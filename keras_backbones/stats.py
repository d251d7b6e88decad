"""Counting a built model: trainable parameters and multiply-accumulates (MACs).

MACs are counted for the layers that carry the arithmetic (convolutions, dense layers and
the matmuls of custom layers), as torchvision's and fvcore's counters do: elementwise ops,
normalization and pooling are not counted. FLOPs are reported as 2 x MACs.
"""

import math

import numpy as np

from keras_backbones.backend import keras


def trainable_params(model):
    """Sum of trainable weight sizes: PyTorch's `sum(p.numel() for p in parameters())`."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _shape(tensor):
    return tuple(int(d) if d is not None else 1 for d in tensor.shape[1:])


def layer_macs(layer):
    """MACs of one call of `layer` in a functional model (batch 1)."""
    if hasattr(layer, "macs"):  # custom layers count themselves (several inputs: a list)
        inputs = layer.input
        input_shape = ([_shape(t) for t in inputs] if isinstance(inputs, (list, tuple))
                       else _shape(inputs))
        return int(layer.macs(input_shape, _shape(layer.output)))
    if isinstance(layer, keras.layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        in_ch = _shape(layer.input)[-1]
        out = _shape(layer.output)
        positions = out[0] * out[1]
        return positions * (kh * kw * in_ch * layer.depth_multiplier
                            + in_ch * layer.depth_multiplier * out[2])
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return int(np.prod(_shape(layer.output))) * kh * kw
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        in_ch = _shape(layer.input)[-1]
        kernel = math.prod(layer.kernel_size)
        return int(np.prod(_shape(layer.output))) * kernel * in_ch // layer.groups
    if isinstance(layer, keras.layers.Dense):
        in_ch = _shape(layer.input)[-1]
        return int(np.prod(_shape(layer.output))) * in_ch
    return 0


def count_macs(model):
    """Multiply-accumulates of a model's layers, nested models included (keras.applications'
    ConvNeXt keeps its stem in a Sequential)."""
    return int(sum(count_macs(layer) if isinstance(layer, keras.Model) else layer_macs(layer)
                   for layer in model.layers))
