"""Counting a built model: trainable parameters, multiply-accumulates (MACs) and activations.

MACs are counted for the layers that carry the arithmetic (convolutions, dense layers and
the matmuls of custom layers), as torchvision's and fvcore's counters do: elementwise ops,
normalization and pooling are not counted. FLOPs are reported as 2 x MACs. Activations are
the output elements of those same layers, as the RegNet paper counts them (`count_activations`).
"""

import math

from keras_backbones.backend import keras

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                 keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


def trainable_params(model):
    """Sum of trainable weight sizes: PyTorch's `sum(p.numel() for p in parameters())`."""
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def _shape(tensor):
    return tuple(int(d) if d is not None else 1 for d in tensor.shape[1:])


def _shapes(layer):
    """(input shape, output shape) of one call of `layer`, batch 1; several inputs: a list."""
    inputs = layer.input
    input_shape = ([_shape(t) for t in inputs] if isinstance(inputs, (list, tuple))
                   else _shape(inputs))
    return input_shape, _shape(layer.output)


def layer_macs(layer):
    """MACs of one call of `layer` in a functional model (batch 1)."""
    if hasattr(layer, "macs"):  # custom layers count themselves
        return int(layer.macs(*_shapes(layer)))
    if isinstance(layer, keras.layers.SeparableConv2D):
        kh, kw = layer.kernel_size
        in_ch = _shape(layer.input)[-1]
        out = _shape(layer.output)
        positions = out[0] * out[1]
        return positions * (kh * kw * in_ch * layer.depth_multiplier
                            + in_ch * layer.depth_multiplier * out[2])
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kh, kw = layer.kernel_size
        return math.prod(_shape(layer.output)) * kh * kw
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        in_ch = _shape(layer.input)[-1]
        kernel = math.prod(layer.kernel_size)
        return math.prod(_shape(layer.output)) * kernel * in_ch // layer.groups
    if isinstance(layer, keras.layers.Dense):
        in_ch = _shape(layer.input)[-1]
        return math.prod(_shape(layer.output)) * in_ch
    return 0


def layer_activations(layer):
    """Activations of one call of `layer` in a functional model (batch 1): see
    `count_activations`."""
    if hasattr(layer, "activations"):  # custom layers count their convolutions and matmuls
        return int(layer.activations(*_shapes(layer)))
    if not isinstance(layer, _CONVOLUTIONS + (keras.layers.Dense,)):
        return 0
    out = _shape(layer.output)
    if isinstance(layer, keras.layers.SeparableConv2D):
        # Two convolutions, as the depthwise + pointwise pair pycls and fvcore would count
        # (TensorFlow materializes the depthwise output too): both outputs.
        return math.prod(out[:-1]) * (_shape(layer.input)[-1] * layer.depth_multiplier + out[-1])
    return math.prod(out)


def _sum_over_layers(model, per_layer):
    """`per_layer` summed over a model's layers, nested models included (keras.applications'
    ConvNeXt keeps its stem in a Sequential)."""
    return int(sum(_sum_over_layers(layer, per_layer) if isinstance(layer, keras.Model)
                   else per_layer(layer) for layer in model.layers))


def count_macs(model):
    """Multiply-accumulates of a model's layers, nested models included."""
    return _sum_over_layers(model, layer_macs)


def count_activations(model):
    """Activations as Radosavovic et al. 2020 define them (RegNet, "Designing Network Design
    Spaces", section 4: "the size of the output tensors of all conv layers"), counted as their
    code, pycls (pycls/models/blocks.py, the `*_cx` functions), counts the "acts" of its
    MODEL_ZOO.md: per image (batch 1), at the built input size, the output elements of

    - every convolution, grouped and depthwise ones too (`conv2d_cx`: w_out * h * w; SE's two
      1x1 convolutions at 1x1),
    - every dense layer (`linear_cx`: w_out per position; a Dense on a 4-D map counts
      h * w * units, the classifier its classes),
    - each convolution and matmul inside a custom layer, through its
      `activations(input_shape, output_shape)` (attention: the q k^T scores and the values
      too, as pycls's MultiheadAttention and fvcore's activation counter count matmuls).

    Normalization, activation functions, elementwise ops, reshapes and pooling count nothing:
    the published table's ResNet-50 (11.1M) leaves out the stem's max pooling, which later
    pycls code (`pool2d_cx`) adds. Nested models are included."""
    return _sum_over_layers(model, layer_activations)


def _fvcore_extra(layer):
    """What fvcore's FlopCountAnalysis adds to a layer's MACs in an eval-mode network: 2 per
    BatchNorm output element (scale and shift), 5 per affine LayerNorm/GroupNorm element, 1 per
    element a global average pool reads (its jit handles for batch_norm, layer_norm, group_norm
    and adaptive_avg_pool2d); activations, additions and max pooling count nothing."""
    if isinstance(layer, keras.layers.BatchNormalization):
        return 2 * math.prod(_shape(layer.output))
    if isinstance(layer, (keras.layers.LayerNormalization, keras.layers.GroupNormalization)):
        return (5 if layer.scale or layer.center else 4) * math.prod(_shape(layer.output))
    if isinstance(layer, keras.layers.GlobalAveragePooling2D):
        return math.prod(_shape(layer.input))
    return 0


def fvcore_flops(model):
    """The "FLOPs" of papers that count with fvcore (ConvNeXt, Swin, RegNet's successors):
    multiply-accumulates plus fvcore's normalization and pooling terms (`_fvcore_extra`).
    torchvision's resnet50 counts 4,111,512,576 there, 4,087,136,256 of them MACs."""
    return _sum_over_layers(model, lambda layer: layer_macs(layer) + _fvcore_extra(layer))
