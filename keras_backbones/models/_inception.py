"""The Inception layout engine that GoogLeNet, BN-Inception, Inception-v3, Inception-v4 and
the Inception-ResNets are written in (their tables are in googlenet.py and inception.py).

An Inception module is data: a list of branches, each a chain of `Conv` (convolution,
BatchNorm, ReLU), `Pool` and `Split` (parallel convolutions, concatenated) units; the branch
outputs are concatenated. A network is a layout: (name, unit or module) in order. The layers
are named `{module}_branch{b}_{i}_{conv|bn|relu}` (branch b, unit i of it, from 0; a split's
two convolutions are `{i}a` and `{i}b`). A `Style` holds what the references do differently
in the same units (BatchNorm epsilon, convolution biases, initialization, pooling arithmetic).

The auxiliary classifiers of GoogLeNet and Inception-v3 (`aux_logits`, on by default as in
torchvision) are part of the model, so that its weights are the reference's (parameter count,
checkpoints); they are training-only heads: by default the model's one output is the main
classifier's (`MainOutput` carries the auxiliary logits in the graph unused), and
`aux_outputs=True` builds the training model, whose extra outputs `aux*` (logits, or what
`classifier_activation` makes of them) the train loop weights into the loss
(`loss.aux_weight`).
"""

from typing import Any, NamedTuple, Optional, Tuple, Union

import tensorflow as tf

from keras_backbones import initializers
from keras_backbones.backend import keras, register_serializable
from keras_backbones.layers import AveragePooling2D
from keras_backbones.models import _application as A
from keras_backbones.models import _builder as B


# --- the units of a layout ----------------------------------------------------------------------

class Conv(NamedTuple):
    """Convolution -> BatchNorm -> ReLU. padding "same": PyTorch's kernel // 2 on each side
    (the sizes of a stride-1 convolution are kept); "valid": none."""

    filters: int
    kernel: Union[int, Tuple[int, int]]
    stride: int = 1
    padding: str = "same"


class Pool(NamedTuple):
    """A max or average pool; stride 1 keeps the size (padding 1), stride 2 reduces the grid
    (no padding; with the style's ceil_mode, PyTorch's partial last window)."""

    kind: str
    size: int = 3
    stride: int = 1


class Split(NamedTuple):
    """Parallel convolutions of one input, concatenated (Inception-v3 figure 7's 1x3 | 3x1)."""

    convs: Tuple[Conv, ...]


class Residual(NamedTuple):
    """An Inception-ResNet block: the branches, concatenated, projected back to the input's
    width by a linear 1x1 convolution (with bias, no BatchNorm), scaled, added to the input;
    then a ReLU unless relu=False."""

    branches: list
    scale: float = 1.0
    relu: bool = True


def conv(filters, kernel, stride=1):
    return Conv(filters, kernel, stride, "same")


def valid(filters, kernel, stride=1):
    return Conv(filters, kernel, stride, "valid")


def split(filters, kernels=((1, 3), (3, 1))):
    return Split(tuple(conv(filters, k) for k in kernels))


AVG = Pool("avg")  # the pool branch of a module that keeps the grid
MAX = Pool("max")
REDUCE = Pool("max", 3, 2)  # the pool branch of a grid reduction


class Style(NamedTuple):
    """What differs between the references in their units.

    epsilon: BatchNorm's. conv_bias: convolutions keep a bias before their BatchNorm (the
    Caffe-ported BN-Inception). kernel_init: convolutions' and linear layers' initializer (a
    config: each layer makes its own). ceil_mode: strided max pools keep the partial last
    window (Caffe's rounding, which torchvision's GoogLeNet and Cadene's BN-Inception
    reproduce). avg_count_pad: stride-1 average pools count the zero padding (PyTorch's
    default; timm's Inception-v4 and Inception-ResNet-v2 do not)."""

    epsilon: float = 1e-3
    conv_bias: bool = False
    kernel_init: Any = initializers.TORCH_DEFAULT_UNIFORM
    ceil_mode: bool = False
    avg_count_pad: bool = True


# --- building a layout --------------------------------------------------------------------------

def conv_unit(x, spec, *, name, style, kernel_init=None):
    """`{name}_conv` -> `{name}_bn` -> `{name}_relu`. Written out rather than with
    B.conv_norm_act, whose convolution has no bias: the Caffe-ported style keeps one."""
    kh, kw = B.pair(spec.kernel)
    padding = (kh // 2, kw // 2) if spec.padding == "same" else 0
    bias_init = B.torch_bias_init(x.shape[-1] * kh * kw) if style.conv_bias else "zeros"
    x = B.conv2d(x, spec.filters, (kh, kw), strides=spec.stride, padding=padding,
                 use_bias=style.conv_bias, kernel_initializer=kernel_init or style.kernel_init,
                 bias_initializer=bias_init, name=f"{name}_conv")
    x = B.norm(x, epsilon=style.epsilon, name=f"{name}_bn")
    return B.activation(x, "relu", name=f"{name}_relu")


def pool_unit(x, spec, *, name, style):
    if spec.stride > 1:
        if spec.kind == "max":
            return B.max_pool(x, spec.size, strides=spec.stride, ceil_mode=style.ceil_mode,
                              name=name)
        return B.avg_pool(x, spec.size, strides=spec.stride, name=name)
    if spec.kind == "max":  # TensorFlow's "same" max pool never selects its padding: PyTorch's
        return keras.layers.MaxPooling2D(pool_size=spec.size, strides=1, padding="same",
                                         name=name)(x)
    if style.avg_count_pad:  # divide by size^2 at the border too: pad with zeros first
        return B.avg_pool(x, spec.size, strides=1, padding=spec.size // 2, name=name)
    # TensorFlow's "same" average leaves the padding out of the count: count_include_pad=False
    return AveragePooling2D(pool_size=spec.size, strides=1, padding="same", name=name)(x)


def concat(tensors, *, name):
    return keras.layers.Concatenate(axis=-1, name=name)(tensors) if len(tensors) > 1 \
        else tensors[0]


def unit(x, spec, *, name, style):
    if isinstance(spec, Pool):
        return pool_unit(x, spec, name=f"{name}_pool", style=style)
    if isinstance(spec, Split):
        return concat([conv_unit(x, c, name=f"{name}{s}", style=style)
                       for s, c in zip("ab", spec.convs)], name=f"{name}_concat")
    return conv_unit(x, spec, name=name, style=style)


def inception_module(x, branches, *, name, style):
    """The branches side by side on x, concatenated."""
    outputs = []
    for b, units in enumerate(branches):
        y = x
        for i, spec in enumerate(units):
            y = unit(y, spec, name=f"{name}_branch{b}_{i}", style=style)
        outputs.append(y)
    return concat(outputs, name=f"{name}_concat")


def residual_block(x, block, *, name, style):
    y = inception_module(x, block.branches, name=name, style=style)
    y = B.conv2d(y, x.shape[-1], 1, use_bias=True, kernel_initializer=style.kernel_init,
                 bias_initializer=B.torch_bias_init(y.shape[-1]), name=f"{name}_project")
    if block.scale != 1:
        y = keras.layers.Rescaling(scale=block.scale, name=f"{name}_scale")(y)
    x = B.residual(x, y, name=name)
    return B.activation(x, "relu" if block.relu else None, name=f"{name}_relu")


def _stride(spec):
    """The factor by which a layout entry reduces the grid."""
    if isinstance(spec, (Conv, Pool)):
        return spec.stride
    if isinstance(spec, list):
        return max(_stride(u) for units in spec for u in units)
    return 1  # Residual blocks, splits, parameter-free extras


def run_layout(x, layout, *, style):
    """Runs a layout on x. Returns (x, stages, outputs): stages are (stride, output, entry
    index) of the last entry at each stride, outputs {entry name: output} of every entry.

    An entry is a unit (Conv, Pool), a module (list of branches), a Residual, or a function
    (x, name) -> x for a parameter-free extra (GoogLeNet's local response normalization)."""
    stages, outputs, stride = [], {}, 1
    for index, (name, spec) in enumerate(layout):
        if isinstance(spec, Residual):
            x = residual_block(x, spec, name=name, style=style)
        elif isinstance(spec, list):
            x = inception_module(x, spec, name=name, style=style)
        elif isinstance(spec, Pool):
            x = pool_unit(x, spec, name=name, style=style)
        elif isinstance(spec, Conv):
            x = conv_unit(x, spec, name=name, style=style)
        else:
            x = spec(x, name)
        stride *= _stride(spec)
        if stages and stages[-1][0] == stride:
            stages.pop()
        stages.append((stride, x, index))
        outputs[name] = x
    return x, stages, outputs


# --- the network: the classifier and the auxiliary heads ----------------------------------------

@register_serializable
class MainOutput(keras.layers.Layer):
    """Returns its first input, the main classifier's logits. Its other inputs (the
    auxiliary classifiers' logits) are carried unused: they keep the auxiliary classifiers in
    the model (their weights count, save and load with it, as in the reference) without
    making them outputs of the inference model. Converters prune them (nothing depends on
    them)."""

    def call(self, inputs):
        return tf.identity(inputs[0])

    def compute_output_shape(self, input_shape):
        return input_shape[0]


class Auxiliary(NamedTuple):
    """A network's auxiliary classifiers: `heads` {output name: (layout entry it taps,
    head(x, name, classes) -> logits)}; `min_size`: the input side they need; `static`:
    they need a known input size (they pool to a fixed grid)."""

    heads: dict
    min_size: Optional[int] = None
    static: bool = False


def network(inputs, layout, *, style, name, dropout_rate, auxiliary=None, aux_logits=False,
            aux_outputs=False, classes=None, include_top=True, features_only=False):
    """The layout on `inputs`, as the application base's `Network`: the default head
    (global average pool, dropout, logits in the style's initialization) or, with the
    auxiliary classifiers (`auxiliary`, built where aux_logits and the classifier are: the
    base's `classes`, `include_top` and `features_only`), that head carrying their logits
    (`MainOutput`), and with aux_outputs their outputs."""
    if aux_outputs and not (aux_logits and include_top and not features_only):
        raise ValueError(f"{name}: aux_outputs=True needs the auxiliary classifiers "
                         "(aux_logits=True) and the classifier (include_top=True, "
                         "features_only=False).")
    with_aux = auxiliary is not None and aux_logits and include_top and not features_only
    if with_aux:
        _check_aux_input(name, inputs, auxiliary)
    x, stages, outputs = run_layout(inputs, layout, style=style)
    features = [(stride, out) for stride, out, _ in stages]
    if not with_aux:
        return A.Network(x, features, dropout_rate=dropout_rate,
                         logits_initializers=(style.kernel_init, None))

    aux = {output: head(outputs[tap], output, classes)
           for output, (tap, head) in auxiliary.heads.items()}

    def head(x):
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate:
            x = keras.layers.Dropout(rate=dropout_rate, name="head_dropout")(x)
        x = B.dense(x, classes, name="logits", kernel_initializer=style.kernel_init)
        return MainOutput(name="main_output")([x, *aux.values()])

    # The cut points (block_boundaries) are the stage outputs that alone feed the rest of the
    # network: those up to the first tap (a later cut is straddled by an auxiliary head).
    order = [entry for entry, _ in layout]
    first_tap = min(order.index(tap) for tap, _ in auxiliary.heads.values())
    before_tap = [(stride, out) for stride, out, index in stages if index <= first_tap]
    return A.Network(x, features, head=head, extra_outputs=aux if aux_outputs else {},
                     block_boundaries=[info.layer for info, _ in A.feature_levels(before_tap)])


def _check_aux_input(name, inputs, auxiliary):
    """Clear errors where the auxiliary classifiers need more of the input than the network:
    a larger side, or a known size."""
    height, width = inputs.shape[1:3]
    if auxiliary.static and (height is None or width is None):
        raise ValueError(f"{name}: its auxiliary classifiers pool to a fixed grid and need a "
                         f"known input size; got {height}x{width}. Pass input_shape, or "
                         "aux_logits=False.")
    minimum = auxiliary.min_size
    if minimum and any(side is not None and side < minimum for side in (height, width)):
        raise ValueError(f"{name}: input of {height}x{width} pixels is smaller than {minimum}x"
                         f"{minimum}, the minimum of its auxiliary classifier; pass "
                         "aux_logits=False for smaller inputs.")


# The docstring template of the Inception families: their own Args, then the application's.
DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    dropout_rate: dropout before the logits layer.
"""
AUX_ARGS = """\
    aux_logits: build the auxiliary classifier(s), training-only heads: by default they are
        not outputs (their weights are in the model, as in the reference); with
        `aux_outputs=True` the model returns [predictions, aux...] for training.
    aux_outputs: the training model: the auxiliary classifiers' outputs (named aux*) follow
        the main one.
"""


# --- checkpoint names ---------------------------------------------------------------------------

class Site(NamedTuple):
    """Where a Conv unit sits, for naming it in a reference's terms: its layout entry; for a
    unit of a module, its branch (of `branches`), its index in the branch (pools counted),
    split suffix ("a", "b" or ""), the branch's length (units), its number of convolution
    units (a split counts once), the unit's place among those (from 1), and whether the
    branch ends in a split."""

    block: str
    branch: Optional[int] = None
    branches: int = 0
    index: int = 0
    split: str = ""
    units: int = 1
    convs: int = 1
    number: int = 1
    has_split: bool = False


def conv_sites(layout):
    """{Keras unit name: Site} of every Conv unit of a layout."""
    sites = {}
    for block, spec in layout:
        if isinstance(spec, Conv):
            sites[block] = Site(block)
        branches = spec.branches if isinstance(spec, Residual) else spec
        if not isinstance(branches, list):
            continue
        for b, units in enumerate(branches):
            convs = sum(not isinstance(u, Pool) for u in units)
            has_split = any(isinstance(u, Split) for u in units)
            number = 0
            for i, u in enumerate(units):
                if isinstance(u, Pool):
                    continue
                number += 1
                for s in ("a", "b") if isinstance(u, Split) else ("",):
                    sites[f"{block}_branch{b}_{i}{s}"] = Site(
                        block, b, len(branches), i, s, len(units), convs, number, has_split)
    return sites


def sequential_name(site, first_branch=0):
    """timm's (and torchvision GoogLeNet's) module name of a unit within its block: a branch of
    one unit is `branchB`, a longer one an nn.Sequential `branchB.I` (pools counted), a branch
    ending in a split `branchB_I{a,b}`."""
    branch = f"branch{site.branch + first_branch}"
    if site.has_split:
        return f"{branch}_{site.index}{site.split}"
    return branch if site.units == 1 else f"{branch}.{site.index}"


def unit_and_part(path, parts=("conv", "bn")):
    """"inception_3a_branch1_1_bn" -> ("inception_3a_branch1_1", "bn")."""
    for part in parts:
        if path.endswith(f"_{part}"):
            return path[:-len(part) - 1], part
    return path, None
