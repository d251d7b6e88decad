"""`fuse(model)`: the same network for inference, with its BatchNormalizations folded away.

At inference a BatchNormalization is a fixed per-channel x * scale + shift: after a
convolution or a Dense layer it is two more passes over the feature map (Keras 3 computes it
element-wise), where folded into that layer's kernel and bias it costs nothing:

    W' = W * scale (per output channel),  b' = b * scale + shift

`fuse` rebuilds a functional model layer by layer (`clone_model`) with

- every BatchNormalization whose input is the output of a Conv1D/2D/3D (grouped too),
  DepthwiseConv2D, SeparableConv2D or Dense layer with no activation, used by nothing else,
  folded into that layer (which gains a bias); the BatchNormalization becomes a
  `FoldedBatchNormalization` of the same name, which passes its input on (the model's output
  names stay);
- every other BatchNormalization (after a concatenation, an addition, an activation: DenseNet,
  DPN, the pre-activation ResNets) a `ScaleShift`, one fused pass that oneDNN merges with a
  following ReLU;
- a layer that holds BatchNormalizations of its own (ResNeSt's split attention, CBAM) the
  copy its `fused()` returns, folded the same way inside (`fused()` -> (the copy, unbuilt;
  {sublayer attribute: that sublayer's weights}));
- every other layer a copy with the same weights; a nested functional model, fused itself.

The result computes `model(x, training=False)` (to float32 rounding: the folded kernels are
rounded once) and is a plain Keras model: it saves and loads as `.keras` under both Kerases and
exports to every format. It is for inference: training it trains a network without
normalization.
"""

import numpy as np

from keras_backbones.backend import graph_nodes, keras
from keras_backbones.layers.normalization import (FoldedBatchNormalization, ScaleShift,
                                                  batch_norm_affine, fold_batch_norm)

# Attributes the application base records on a model, carried to its fused copy.
MODEL_ATTRIBUTES = ("variant", "feature_info", "block_boundaries", "checkpoint")


def _linear_layers():
    """The layers a following BatchNormalization folds into, exactly these classes (a subclass
    may compute something else)."""
    layers = keras.layers
    return (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.DepthwiseConv2D,
            layers.SeparableConv2D, layers.Dense)


def fuse(model):
    """A new model computing `model(x, training=False)` with every BatchNormalization folded
    into the convolution or Dense layer before it, or made one `ScaleShift` where none can absorb
    it (the module docstring lists the rules). Same inputs, outputs, output names and layer
    names; the original is left as it was.

    model: a functional or Sequential Keras model (a subclassed model has no graph to rewrite:
    a TypeError says so)."""
    if isinstance(model, keras.Sequential):
        model = keras.Model(model.inputs, model.outputs, name=model.name)
    if not _is_functional(model):
        raise TypeError(f"fuse takes a functional or Sequential Keras model; got "
                        f"{type(model).__name__}, whose layers are connected by Python code, "
                        "not by a graph it could rewrite.")
    folds, channels_last = _plan(model)
    folded_into = {id(linear): batch_norm for batch_norm, linear in folds.items()}
    batch_norms = {id(batch_norm) for batch_norm in folds}
    weights = {}  # new layer name -> its weights
    sublayer_weights = {}  # new layer name -> {its sublayer attribute: the sublayer's weights}

    def clone(layer):
        if id(layer) in batch_norms:
            return FoldedBatchNormalization(name=layer.name, dtype=layer.dtype_policy.name)
        if id(layer) in folded_into:
            weights[layer.name] = fold_batch_norm(layer, folded_into[id(layer)])
            return type(layer).from_config({**layer.get_config(), "use_bias": True})
        if id(layer) in channels_last:
            scale, shift = batch_norm_affine(layer)
            weights[layer.name] = [scale, shift]
            return ScaleShift(name=layer.name, dtype=layer.dtype_policy.name)
        if isinstance(layer, keras.Sequential) or _is_functional(layer):
            return fuse(layer)
        if callable(getattr(layer, "fused", None)):
            copy, sublayer_weights[layer.name] = layer.fused()
            return copy
        weights[layer.name] = layer.get_weights()
        return type(layer).from_config(layer.get_config())

    fused = keras.models.clone_model(model, clone_function=clone)
    for name, values in weights.items():
        fused.get_layer(name).set_weights([np.asarray(value) for value in values])
    for name, parts in sublayer_weights.items():
        for attribute, values in parts.items():
            getattr(fused.get_layer(name), attribute).set_weights(
                [np.asarray(value) for value in values])
    for attribute in MODEL_ATTRIBUTES:
        if hasattr(model, attribute):
            setattr(fused, attribute, getattr(model, attribute))
    return fused


def _is_functional(model):
    return isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth")


def _plan(model):
    """({BatchNormalization: the linear layer it folds into}, {id of every BatchNormalization
    that normalizes the last axis of all its inputs}) for the model's own graph. One folds where
    it normalizes the last axis and is called once, and its input is the one output of a linear
    layer (called once, no activation) that nothing else uses, not even as a model output. The
    others on the last axis become ScaleShifts; any other axis is left as it is."""
    nodes = list(graph_nodes(model))
    calls, uses = {}, {}
    for layer, inputs in nodes:
        calls[id(layer)] = calls.get(id(layer), 0) + 1
        for tensor in inputs:
            uses[id(tensor)] = uses.get(id(tensor), 0) + 1
    for tensor in model.outputs:
        uses[id(tensor)] = uses.get(id(tensor), 0) + 1
    linear_layers = _linear_layers()
    folds, channels_last, other_axis = {}, set(), set()
    for layer, inputs in nodes:
        if isinstance(layer, keras.layers.BatchNormalization):
            last = all(_last_axis(layer, len(tensor.shape)) for tensor in inputs)
            (channels_last if last else other_axis).add(id(layer))
        if not isinstance(layer, keras.layers.BatchNormalization) or calls[id(layer)] != 1 \
                or len(inputs) != 1:
            continue
        (tensor,) = inputs
        producer = tensor._keras_history[0]
        if type(producer) in linear_layers and calls[id(producer)] == 1 \
                and uses[id(tensor)] == 1 and _last_axis(layer, len(tensor.shape)) \
                and _linear_activation(producer):
            folds[layer] = producer
    return folds, channels_last - other_axis


def _last_axis(batch_norm, rank):
    axis = batch_norm.axis
    axes = [axis] if isinstance(axis, int) else list(axis)
    return [a % rank for a in axes] == [rank - 1]


def _linear_activation(layer):
    return layer.get_config().get("activation", "linear") in ("linear", None)
