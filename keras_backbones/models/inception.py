"""The Inception families after GoogLeNet, and the Inception module they all share.

- Inception-v2 (BN-Inception; Ioffe & Szegedy 2015, figure 5), as Cadene's `bninception` (a
  port of the authors' Caffe model): GoogLeNet with BatchNorm after every convolution, each
  5x5 replaced by two 3x3, average pooling in most modules, and strided modules (3c, 4e) that
  pass their max pool through.
- Inception-v3 (Szegedy et al. 2015), as torchvision's `inception_v3`: a stem of 3x3
  convolutions, 35x35 modules (figure 5), the grid reductions, 17x17 modules with factorized
  1x7 and 7x1 convolutions (figure 6), 8x8 modules with split 1x3 | 3x1 tails (figure 7), and
  an auxiliary classifier on the last 17x17 module.
- Inception-v4, Inception-ResNet-v1 and Inception-ResNet-v2 (Szegedy et al. 2016): v4 and
  Inception-ResNet-v2 as timm's `inception_v4` and `inception_resnet_v2`, Inception-ResNet-v1
  from the paper (figures 7 and 10-15, table 1). The residual blocks add a scaled 1x1
  projection of their concatenated branches to their input (section 3.3); the scales are an
  argument (0.17, 0.10, 0.20 for the 35x35, 17x17 and 8x8 blocks, the values of the authors'
  TF-slim code that timm ports; the paper gives "between 0.1 and 0.3").

An Inception module is data: a list of branches, each a chain of `Conv` (convolution,
BatchNorm, ReLU), `Pool` and `Split` (parallel convolutions, concatenated) units; the branch
outputs are concatenated. A network is a layout: (name, unit or module) in order. The layers
are named `{module}_branch{b}_{i}_{conv|bn|relu}` (branch b, unit i of it, from 0; a split's
two convolutions are `{i}a` and `{i}b`).

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

from keras_backbones import registry, weights
from keras_backbones.backend import keras, register_serializable
from keras_backbones.layers import AveragePooling2D
from keras_backbones.models import _builder as B

PAPER_V2 = registry.Paper("Batch Normalization: Accelerating Deep Network Training by Reducing "
                          "Internal Covariate Shift", 2015, "1502.03167")
PAPER_V3 = registry.Paper("Rethinking the Inception Architecture for Computer Vision", 2015,
                          "1512.00567")
PAPER_V4 = registry.Paper("Inception-v4, Inception-ResNet and the Impact of Residual Connections "
                          "on Learning", 2016, "1602.07261")


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


def normal(stddev):
    """nn.init.trunc_normal_(std=stddev, a=-2, b=2), as torchvision's GoogLeNet and Inception-v3:
    the bounds are absolute, +-200 and +-20 standard deviations, so nothing is truncated."""
    return {"class_name": "RandomNormal", "config": {"mean": 0.0, "stddev": stddev}}


class Style(NamedTuple):
    """What differs between the references in their units.

    epsilon: BatchNorm's. conv_bias: convolutions keep a bias before their BatchNorm (the
    Caffe-ported BN-Inception). kernel_init: convolutions' and linear layers' initializer.
    ceil_mode: strided max pools keep the partial last window (Caffe's rounding, which
    torchvision's GoogLeNet and Cadene's BN-Inception reproduce). avg_count_pad: stride-1
    average pools count the zero padding (PyTorch's default; timm's Inception-v4 and
    Inception-ResNet-v2 do not)."""

    epsilon: float = 1e-3
    conv_bias: bool = False
    kernel_init: Any = B.TORCH_LINEAR_INIT
    ceil_mode: bool = False
    avg_count_pad: bool = True


TIMM = Style(avg_count_pad=False)  # timm's: PyTorch's default init, BatchNorm eps 1e-3


# --- building a layout --------------------------------------------------------------------------

def _kernel(spec):
    return spec.kernel if isinstance(spec.kernel, tuple) else (spec.kernel, spec.kernel)


def conv_unit(x, spec, *, name, style, kernel_init=None):
    kh, kw = _kernel(spec)
    padding = (kh // 2, kw // 2) if spec.padding == "same" else 0
    bias_init = B.torch_bias_init(x.shape[-1] * kh * kw) if style.conv_bias else "zeros"
    return B.conv_norm_act(x, spec.filters, (kh, kw), strides=spec.stride, padding=padding,
                           epsilon=style.epsilon, use_bias=style.conv_bias,
                           kernel_initializer=kernel_init or style.kernel_init,
                           bias_initializer=bias_init, name=name)


def pool_unit(x, spec, *, name, style):
    if spec.stride > 1:
        if spec.kind == "max":
            return B.max_pool(x, spec.size, strides=spec.stride, ceil_mode=style.ceil_mode, name=name)
        return B.avg_pool(x, spec.size, strides=spec.stride, name=name)
    if spec.kind == "max":  # TensorFlow's "same" max pool never selects its padding: PyTorch's
        return keras.layers.MaxPooling2D(pool_size=spec.size, strides=1, padding="same", name=name)(x)
    if style.avg_count_pad:  # divide by size^2 at the border too: pad with zeros first
        return B.avg_pool(x, spec.size, strides=1, padding=spec.size // 2, name=name)
    # TensorFlow's "same" average leaves the padding out of the count: count_include_pad=False
    return AveragePooling2D(pool_size=spec.size, strides=1, padding="same", name=name)(x)


def concat(tensors, *, name):
    return keras.layers.Concatenate(axis=-1, name=name)(tensors) if len(tensors) > 1 else tensors[0]


def unit(x, spec, *, name, style):
    if isinstance(spec, Pool):
        return pool_unit(x, spec, name=f"{name}_pool", style=style)
    if isinstance(spec, Split):
        return concat([conv_unit(x, c, name=f"{name}{s}", style=style)
                       for s, c in zip("ab", spec.convs)], name=f"{name}_concat")
    return conv_unit(x, spec, name=name, style=style)


def inception_module(branches, *, name, style):
    """The branches side by side on one input, concatenated."""
    def apply(x):
        outputs = []
        for b, units in enumerate(branches):
            y = x
            for i, spec in enumerate(units):
                y = unit(y, spec, name=f"{name}_branch{b}_{i}", style=style)
            outputs.append(y)
        return concat(outputs, name=f"{name}_concat")
    return apply


def residual_block(block, *, name, style):
    def apply(x):
        y = inception_module(block.branches, name=name, style=style)(x)
        y = B.conv2d(y, x.shape[-1], 1, use_bias=True, kernel_initializer=style.kernel_init,
                     bias_initializer=B.torch_bias_init(y.shape[-1]), name=f"{name}_project")
        if block.scale != 1:
            y = keras.layers.Rescaling(scale=block.scale, name=f"{name}_scale")(y)
        x = keras.layers.Add(name=f"{name}_add")([y, x])
        return keras.layers.ReLU(name=f"{name}_relu")(x) if block.relu else x
    return apply


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
            x = residual_block(spec, name=name, style=style)(x)
        elif isinstance(spec, list):
            x = inception_module(spec, name=name, style=style)(x)
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


# --- the classifier and the auxiliary heads -----------------------------------------------------

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


def classifier_head(classes, *, dropout_rate, kernel_init, aux_logits=()):
    """Global average pool, dropout, logits (and the auxiliary logits, carried)."""
    def apply(x):
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout_rate:
            x = keras.layers.Dropout(rate=dropout_rate, name="head_dropout")(x)
        x = B.dense(x, classes, name="logits", kernel_initializer=kernel_init)
        return MainOutput(name="main_output")([x, *aux_logits]) if aux_logits else x
    return apply


def check_aux(name, *, aux_logits, aux_outputs, include_top, features_only):
    if aux_outputs and not (aux_logits and include_top and not features_only):
        raise ValueError(f"{name}: aux_outputs=True needs the auxiliary classifiers "
                         "(aux_logits=True) and the classifier (include_top=True, "
                         "features_only=False).")
    return aux_logits and include_top and not features_only


def finish(inputs, x, stages, *, name, aux, aux_outputs, classes, dropout_rate, kernel_init,
           **make_model_kwargs):
    """B.make_model with the classifier head and the auxiliary classifiers.

    aux: {output name: (logits, index of the layout entry it is tapped from)}, empty without
    auxiliary classifiers. The model's cut points (block_boundaries) are the stage outputs
    that alone feed the rest of the network: with auxiliary classifiers, those up to the first
    tap (a later cut is straddled by a head)."""
    head = classifier_head(classes, dropout_rate=dropout_rate, kernel_init=kernel_init,
                           aux_logits=[logits for logits, _ in aux.values()])
    model = B.make_model(inputs, x, name=name, classes=classes, head=head,
                         features=[(stride, out) for stride, out, _ in stages],
                         **make_model_kwargs)
    if not aux:
        return model
    first_tap = min(index for _, index in aux.values())
    boundaries = model.block_boundaries[:sum(index <= first_tap for _, _, index in stages)]
    if aux_outputs:
        activation = make_model_kwargs["classifier_activation"] or "linear"
        outputs = [model.output] + [
            keras.layers.Activation(activation, dtype="float32", name=output_name)(logits)
            for output_name, (logits, _) in aux.items()]
        model = keras.Model(model.input, outputs, name=name)
    model.block_boundaries = boundaries
    return model


def check_aux_input(name, inputs, *, minimum, static):
    """Clear errors where the auxiliary classifiers need more of the input than the network:
    a larger side (`minimum`), or a known size (`static`)."""
    height, width = inputs.shape[1:3]
    if static and (height is None or width is None):
        raise ValueError(f"{name}: its auxiliary classifiers pool to a fixed grid and need a "
                         f"known input size; got {height}x{width}. Pass input_shape, or "
                         "aux_logits=False.")
    if minimum and any(side is not None and side < minimum for side in (height, width)):
        raise ValueError(f"{name}: input of {height}x{width} pixels is smaller than {minimum}x"
                         f"{minimum}, the minimum of its auxiliary classifier; pass "
                         "aux_logits=False for smaller inputs.")


def build(layout, *, style, name, default_size, min_size, dropout_rate, include_top=True,
          weights=None, input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", features_only=False, aux_heads=None,
          aux_logits=False, aux_outputs=False, aux_min_size=None, aux_static=False):
    """Builds a network from its layout.

    aux_heads: {output name: (layout entry it taps, head(x, name, classes) -> logits)}, built
    when aux_logits (and the classifier) are; aux_min_size: the input side the heads need;
    aux_static: they need a known input size."""
    B.check_arguments(name, include_top=include_top, classes=classes, pooling=pooling,
                      weights=weights)
    with_aux = check_aux(name, aux_logits=aux_logits, aux_outputs=aux_outputs,
                         include_top=include_top, features_only=features_only)
    inputs = B.model_input(name, input_shape, input_tensor, default_size=default_size,
                           min_size=min_size)
    if with_aux:
        check_aux_input(name, inputs, minimum=aux_min_size, static=aux_static)
    x, stages, outputs = run_layout(inputs, layout, style=style)
    order = [entry for entry, _ in layout]
    aux = {}
    if with_aux:
        for output_name, (tap, head) in aux_heads.items():
            aux[output_name] = (head(outputs[tap], output_name, classes), order.index(tap))
    return finish(inputs, x, stages, name=name, aux=aux, aux_outputs=aux_outputs, classes=classes,
                  dropout_rate=dropout_rate, kernel_init=style.kernel_init,
                  include_top=include_top, pooling=pooling,
                  classifier_activation=classifier_activation, features_only=features_only,
                  weights=weights)


# --- Inception-v2 (BN-Inception) ----------------------------------------------------------------

# Figure 5 of the paper: #1x1, #3x3 reduce, #3x3, #double 3x3 reduce, #double 3x3, pool, pool
# projection. The stride-2 modules (3c, 4e) have no 1x1 and pass the max pool through.
BN_INCEPTION_MODULES = {
    "3a": (64, 64, 64, 64, 96, "avg", 32),
    "3b": (64, 64, 96, 64, 96, "avg", 64),
    "3c": (0, 128, 160, 64, 96, "max", 0),
    "4a": (224, 64, 96, 96, 128, "avg", 128),
    "4b": (192, 96, 128, 96, 128, "avg", 128),
    "4c": (160, 128, 160, 128, 160, "avg", 128),
    "4d": (96, 128, 192, 160, 192, "avg", 128),
    "4e": (0, 128, 192, 192, 256, "max", 0),
    "5a": (352, 192, 320, 160, 224, "avg", 128),
    "5b": (352, 192, 320, 192, 224, "max", 128),
}


def bn_inception_module(c1x1, reduce3, c3x3, reduce_double, double, pool, projection):
    stride = 1 if c1x1 else 2
    branches = [[conv(c1x1, 1)]] if c1x1 else []
    branches += [[conv(reduce3, 1), conv(c3x3, 3, stride)],
                 [conv(reduce_double, 1), conv(double, 3), conv(double, 3, stride)],
                 [Pool(pool, 3, stride)] + ([conv(projection, 1)] if projection else [])]
    return branches


BN_INCEPTION = [
    ("conv1", conv(64, 7, 2)), ("pool1", REDUCE),
    ("conv2_reduce", conv(64, 1)), ("conv2", conv(192, 3)), ("pool2", REDUCE),
    *[(f"inception_{m}", bn_inception_module(*cfg)) for m, cfg in BN_INCEPTION_MODULES.items()],
]
# The Caffe model's: convolutions with biases, BatchNorm eps 1e-5, Caffe's pooling arithmetic.
BN_INCEPTION_STYLE = Style(epsilon=1e-5, conv_bias=True, ceil_mode=True)


# --- Inception-v3 -------------------------------------------------------------------------------

def module_a(pool_features):  # figure 5, 35x35: the 5x5 stays in the first module type
    return [[conv(64, 1)], [conv(48, 1), conv(64, 5)], [conv(64, 1), conv(96, 3), conv(96, 3)],
            [AVG, conv(pool_features, 1)]]


def module_c(c7):  # figure 6, 17x17: n x n factorized into 1 x n and n x 1, n = 7
    return [[conv(192, 1)], [conv(c7, 1), conv(c7, (1, 7)), conv(192, (7, 1))],
            [conv(c7, 1), conv(c7, (7, 1)), conv(c7, (1, 7)), conv(c7, (7, 1)), conv(192, (1, 7))],
            [AVG, conv(192, 1)]]


# Figure 7, 8x8: the 3x3s end in parallel 1x3 | 3x1 (the "expanded filter bank").
MODULE_E = [[conv(320, 1)], [conv(384, 1), split(384)], [conv(448, 1), conv(384, 3), split(384)],
            [AVG, conv(192, 1)]]
# Grid reductions (figure 10): strided convolutions beside a max pool.
REDUCTION_35 = [[valid(384, 3, 2)], [conv(64, 1), conv(96, 3), valid(96, 3, 2)], [REDUCE]]
REDUCTION_17 = [[conv(192, 1), valid(320, 3, 2)],
                [conv(192, 1), conv(192, (1, 7)), conv(192, (7, 1)), valid(192, 3, 2)], [REDUCE]]

INCEPTION_V3 = [
    ("conv2d_1a", valid(32, 3, 2)), ("conv2d_2a", valid(32, 3)), ("conv2d_2b", conv(64, 3)),
    ("maxpool1", REDUCE), ("conv2d_3b", conv(80, 1)), ("conv2d_4a", valid(192, 3)),
    ("maxpool2", REDUCE),
    ("mixed_5b", module_a(32)), ("mixed_5c", module_a(64)), ("mixed_5d", module_a(64)),
    ("mixed_6a", REDUCTION_35),
    ("mixed_6b", module_c(128)), ("mixed_6c", module_c(160)), ("mixed_6d", module_c(160)),
    ("mixed_6e", module_c(192)),
    ("mixed_7a", REDUCTION_17), ("mixed_7b", MODULE_E), ("mixed_7c", MODULE_E),
]
# torchvision's init: truncated normal, std 0.1 (0.01 for the auxiliary 5x5, 0.001 for its fc).
INCEPTION_V3_STYLE = Style(kernel_init=normal(0.1))
INCEPTION_V3_AUX_MIN = 299  # the auxiliary head needs the 17x17 grid


def inception_v3_aux(x, name, classes):
    """The auxiliary classifier on the last 17x17 module: 5x5/3 average pool (to 5x5), 1x1
    conv (128), 5x5 conv (768, valid: to 1x1), global pool, fc."""
    x = B.avg_pool(x, 5, strides=3, name=f"{name}_pool")
    x = conv_unit(x, conv(128, 1), name=f"{name}_conv0", style=INCEPTION_V3_STYLE)
    x = conv_unit(x, valid(768, 5), name=f"{name}_conv1", style=INCEPTION_V3_STYLE,
                  kernel_init=normal(0.01))
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_avg_pool")(x)
    return B.dense(x, classes, name=f"{name}_logits", kernel_initializer=normal(0.001))


# --- Inception-v4 and Inception-ResNet ----------------------------------------------------------

def reduction_a(k, l, m, n):  # figure 7; (k, l, m, n) of table 1
    return [[valid(n, 3, 2)], [conv(k, 1), conv(l, 3), valid(m, 3, 2)], [REDUCE]]


INCEPTION_V4 = [
    # Figure 3, the stem
    ("stem_conv1", valid(32, 3, 2)), ("stem_conv2", valid(32, 3)), ("stem_conv3", conv(64, 3)),
    ("mixed_3a", [[REDUCE], [valid(96, 3, 2)]]),
    ("mixed_4a", [[conv(64, 1), valid(96, 3)],
                  [conv(64, 1), conv(64, (1, 7)), conv(64, (7, 1)), valid(96, 3)]]),
    ("mixed_5a", [[valid(192, 3, 2)], [REDUCE]]),
    # Figure 4, Inception-A (35x35)
    *[(f"inception_a{i}", [[conv(96, 1)], [conv(64, 1), conv(96, 3)],
                           [conv(64, 1), conv(96, 3), conv(96, 3)], [AVG, conv(96, 1)]])
      for i in range(1, 5)],
    ("reduction_a", reduction_a(192, 224, 256, 384)),
    # Figure 5, Inception-B (17x17)
    *[(f"inception_b{i}", [[conv(384, 1)], [conv(192, 1), conv(224, (1, 7)), conv(256, (7, 1))],
                           [conv(192, 1), conv(192, (7, 1)), conv(224, (1, 7)), conv(224, (7, 1)),
                            conv(256, (1, 7))], [AVG, conv(128, 1)]])
      for i in range(1, 8)],
    # Figure 8, Reduction-B
    ("reduction_b", [[conv(192, 1), valid(192, 3, 2)],
                     [conv(256, 1), conv(256, (1, 7)), conv(320, (7, 1)), valid(320, 3, 2)],
                     [REDUCE]]),
    # Figure 6, Inception-C (8x8)
    *[(f"inception_c{i}", [[conv(256, 1)], [conv(384, 1), split(256)],
                           [conv(384, 1), conv(448, (3, 1)), conv(512, (1, 3)), split(256)],
                           [AVG, conv(256, 1)]])
      for i in range(1, 4)],
]

RESIDUAL_SCALES = (0.17, 0.10, 0.20)  # 35x35, 17x17 and 8x8 blocks


def inception_resnet_v1(scales):
    """Figures 14 (stem), 10, 7, 11, 12, 13; table 1 (k, l, m, n) = (192, 192, 256, 384)."""
    a, b, c = scales
    return [
        ("conv2d_1a", valid(32, 3, 2)), ("conv2d_2a", valid(32, 3)), ("conv2d_2b", conv(64, 3)),
        ("maxpool_3a", REDUCE), ("conv2d_3b", conv(80, 1)), ("conv2d_4a", valid(192, 3)),
        ("conv2d_4b", valid(256, 3, 2)),
        *[(f"block35_{i}", Residual([[conv(32, 1)], [conv(32, 1), conv(32, 3)],
                                     [conv(32, 1), conv(32, 3), conv(32, 3)]], a))
          for i in range(1, 6)],
        ("mixed_6a", reduction_a(192, 192, 256, 384)),
        *[(f"block17_{i}", Residual([[conv(128, 1)],
                                     [conv(128, 1), conv(128, (1, 7)), conv(128, (7, 1))]], b))
          for i in range(1, 11)],
        ("mixed_7a", [[conv(256, 1), valid(384, 3, 2)], [conv(256, 1), valid(256, 3, 2)],
                      [conv(256, 1), conv(256, 3), valid(256, 3, 2)], [REDUCE]]),
        *[(f"block8_{i}", Residual([[conv(192, 1)],
                                    [conv(192, 1), conv(192, (1, 3)), conv(192, (3, 1))]], c))
          for i in range(1, 6)],
    ]


def inception_resnet_v2(scales):
    """Figures 16, 7, 17, 18, 19; table 1 (k, l, m, n) = (256, 256, 384, 384). As the authors'
    TF-slim code (and timm): its stem is Inception-v3's with a 35x35 module to 320 channels
    (not figure 3's), its last 8x8 block is unscaled and has no ReLU, and a 1x1 convolution to
    1536 channels follows."""
    a, b, c = scales
    block8 = [[conv(192, 1)], [conv(192, 1), conv(224, (1, 3)), conv(256, (3, 1))]]
    return [
        ("conv2d_1a", valid(32, 3, 2)), ("conv2d_2a", valid(32, 3)), ("conv2d_2b", conv(64, 3)),
        ("maxpool_3a", REDUCE), ("conv2d_3b", conv(80, 1)), ("conv2d_4a", valid(192, 3)),
        ("maxpool_5a", REDUCE),
        ("mixed_5b", [[conv(96, 1)], [conv(48, 1), conv(64, 5)],
                      [conv(64, 1), conv(96, 3), conv(96, 3)], [AVG, conv(64, 1)]]),
        *[(f"block35_{i}", Residual([[conv(32, 1)], [conv(32, 1), conv(32, 3)],
                                     [conv(32, 1), conv(48, 3), conv(64, 3)]], a))
          for i in range(1, 11)],
        ("mixed_6a", reduction_a(256, 256, 384, 384)),
        *[(f"block17_{i}", Residual([[conv(192, 1)],
                                     [conv(128, 1), conv(160, (1, 7)), conv(192, (7, 1))]], b))
          for i in range(1, 21)],
        ("mixed_7a", [[conv(256, 1), valid(384, 3, 2)], [conv(256, 1), valid(288, 3, 2)],
                      [conv(256, 1), conv(288, 3), valid(320, 3, 2)], [REDUCE]]),
        *[(f"block8_{i}", Residual(block8, c)) for i in range(1, 10)],
        ("block8_10", Residual(block8, 1.0, relu=False)),
        ("conv2d_7b", conv(1536, 1)),
    ]


def check_scales(name, scales):
    if not (isinstance(scales, (tuple, list)) and len(scales) == 3
            and all(isinstance(s, (int, float)) and s > 0 for s in scales)):
        raise ValueError(f"{name}: `residual_scales` must be three positive numbers (the 35x35, "
                         f"17x17 and 8x8 blocks'); got {scales!r}.")
    return tuple(float(s) for s in scales)


# --- the public constructors --------------------------------------------------------------------

# The smallest input side each network takes (its last grid is then 1x1).
MIN_SIZES = {"inception_v2": 31, "inception_v3": 75, "inception_v4": 75,
             "inception_resnet_v1": 75, "inception_resnet_v2": 75}


def check_bn_inception_side(name, input_shape, input_tensor):
    """BN-Inception's strided modules (3c, 4e) concatenate a padded stride-2 3x3 convolution
    with a ceil-mode max pool, which agree on even grids only: the input sides that work are
    32k - 1 ... 32k + 6 (224, 160, 192, ...); the reference fails on the others too."""
    shape = tuple(input_tensor.shape[1:]) if input_tensor is not None else input_shape
    for side in (shape or (224, 224))[:2]:
        if side is not None and side >= MIN_SIZES["inception_v2"] and (side + 1) % 32 > 7:
            raise ValueError(
                f"{name}: input sides must be 32k - 1 to 32k + 6 pixels (e.g. 224, 192, 160): "
                f"the strided modules' branches (a padded stride-2 convolution beside a "
                f"ceil-mode max pool) give grids of different sizes otherwise; got "
                f"input_shape={tuple(shape)}.")


DOCSTRING = """{summary}

Implementation: {reference}. Registered as `{name}`.

Args:
    include_top: whether to include the classifier (global average pool, dropout, logits).
    weights: None (random initialization) or the path to a weights file.
    input_tensor: optional Keras tensor to use as the model's input.
    input_shape: (height, width, channels); the variant's default size by default, any size
        of at least its minimum works (also None x None).
    pooling: with include_top=False, None (4-D output), "avg" or "max".
    classes: number of classes.
    classifier_activation: activation of the output layer ("softmax", or None for logits).
    dropout_rate: dropout before the logits layer.
    features_only: return the feature maps at strides 2, 4, 8, 16 and 32.
"""

AUX_ARGS = """
    aux_logits: build the auxiliary classifier(s), training-only heads: by default they are
        not outputs (their weights are in the model, as in the reference); with
        `aux_outputs=True` the model returns [predictions, aux...] for training.
    aux_outputs: the training model: the auxiliary classifiers' outputs (named aux*) follow
        the main one."""

SCALE_ARGS = """
    residual_scales: the factors of the residual branches of the 35x35, 17x17 and 8x8 blocks
        (section 3.3 of the paper)."""

INCEPTION_MEAN_STD = {"mean": registry.INCEPTION_MEAN, "std": registry.INCEPTION_STD}
# The references' preprocessing. Cadene's BN-Inception takes BGR pixels in [0, 255] minus the
# Caffe means: in RGB and [0, 1] units, these means and a std of 1/255.
CADENE = registry.Preprocessing(mean=(128 / 255, 117 / 255, 104 / 255), std=(1 / 255,) * 3)
# torchvision: resize to 342, crop 299; the weights ported from TensorFlow see [-1, 1] inputs
# (transform_input=True maps ImageNet-normalized inputs there), which these mean/std give.
TORCHVISION_V3 = registry.Preprocessing(input_size=(299, 299, 3), crop_pct=299 / 342,
                                        **INCEPTION_MEAN_STD)
TIMM_V4 = registry.Preprocessing(input_size=(299, 299, 3), interpolation="bicubic",
                                 **INCEPTION_MEAN_STD)
TIMM_IRV2 = registry.Preprocessing(input_size=(299, 299, 3), interpolation="bicubic",
                                   crop_pct=0.8975, **INCEPTION_MEAN_STD)
PAPER_299 = registry.Preprocessing(input_size=(299, 299, 3), **INCEPTION_MEAN_STD)

# Inception-ResNet-v1 has no code reference and the paper gives no parameter count: the
# registered count is this implementation's (figures 7, 10-15 and table 1).
INCEPTION_RESNET_V1_PARAMS = 22_756_328


def _register(name, family, paper, reference, preprocessing, doc=DOCSTRING, **kwargs):
    return registry.register_model(name, family=family, paper=paper, reference=reference,
                                   preprocessing=preprocessing, doc=doc, **kwargs)


@_register("inception_v2", "Inception-v2 (BN-Inception)", PAPER_V2,
           ("Cadene/pretrained-models.pytorch", "bninception"), CADENE)
def InceptionV2(*, dropout_rate=0.0, **kwargs):
    """Inception-v2 / BN-Inception (Ioffe & Szegedy 2015): GoogLeNet with BatchNorm after
    every convolution and each 5x5 replaced by two 3x3 (figure 5), without dropout."""
    check_bn_inception_side("inception_v2", kwargs.get("input_shape"), kwargs.get("input_tensor"))
    return build(BN_INCEPTION, style=BN_INCEPTION_STYLE, name="inception_v2", default_size=224,
                 min_size=MIN_SIZES["inception_v2"], dropout_rate=dropout_rate, **kwargs)


@_register("inception_v3", "Inception-v3", PAPER_V3, ("torchvision", "inception_v3"),
           TORCHVISION_V3, doc=DOCSTRING + AUX_ARGS)
def InceptionV3(*, aux_logits=True, aux_outputs=False, dropout_rate=0.5, **kwargs):
    """Inception-v3 (Szegedy et al. 2015), with its auxiliary classifier (aux_logits). The
    auxiliary classifier needs a 17x17 grid, the default 299x299 input; without it any input
    of at least 75x75 works."""
    return build(INCEPTION_V3, style=INCEPTION_V3_STYLE, name="inception_v3", default_size=299,
                 min_size=MIN_SIZES["inception_v3"], dropout_rate=dropout_rate,
                 aux_logits=aux_logits, aux_outputs=aux_outputs,
                 aux_heads={"aux": ("mixed_6e", inception_v3_aux)},
                 aux_min_size=INCEPTION_V3_AUX_MIN, **kwargs)


@_register("inception_v4", "Inception-v4", PAPER_V4, ("timm", "inception_v4"), TIMM_V4)
def InceptionV4(*, dropout_rate=0.0, **kwargs):
    """Inception-v4 (Szegedy et al. 2016, figure 9). The paper's dropout (keep 0.8) is
    `dropout_rate=0.2`; timm's default is 0."""
    return build(INCEPTION_V4, style=TIMM, name="inception_v4", default_size=299,
                 min_size=MIN_SIZES["inception_v4"], dropout_rate=dropout_rate, **kwargs)


@_register("inception_resnet_v2", "Inception-ResNet-v2", PAPER_V4,
           ("timm", "inception_resnet_v2"), TIMM_IRV2, doc=DOCSTRING + SCALE_ARGS)
def InceptionResNetV2(*, residual_scales=RESIDUAL_SCALES, dropout_rate=0.0, **kwargs):
    """Inception-ResNet-v2 (Szegedy et al. 2016), as the authors' TF-slim code that timm
    ports: residual branches scaled by 0.17, 0.10 and 0.20 (the last 8x8 block unscaled and
    without ReLU), a 1x1 convolution to 1536 channels before the pool."""
    scales = check_scales("inception_resnet_v2", residual_scales)
    return build(inception_resnet_v2(scales), style=TIMM, name="inception_resnet_v2",
                 default_size=299, min_size=MIN_SIZES["inception_resnet_v2"],
                 dropout_rate=dropout_rate, **kwargs)


@_register("inception_resnet_v1", "Inception-ResNet-v1", PAPER_V4,
           ("paper", "figures 7, 10-15 and table 1"), PAPER_299, doc=DOCSTRING + SCALE_ARGS,
           paper_params=INCEPTION_RESNET_V1_PARAMS)
def InceptionResNetV1(*, residual_scales=RESIDUAL_SCALES, dropout_rate=0.2, **kwargs):
    """Inception-ResNet-v1 (Szegedy et al. 2016, figure 15): the cost of Inception-v3 with
    residual connections; dropout keeps 0.8. BatchNorm (eps 1e-3) and initialization as the
    Inception-ResNet-v2 here."""
    scales = check_scales("inception_resnet_v1", residual_scales)
    return build(inception_resnet_v1(scales), style=TIMM, name="inception_resnet_v1",
                 default_size=299, min_size=MIN_SIZES["inception_resnet_v1"],
                 dropout_rate=dropout_rate, **kwargs)


# --- checkpoints --------------------------------------------------------------------------------

def cadene_name(path, model=None):
    """Cadene's flat names: inception_3a_{1x1, 3x3_reduce, 3x3, double_3x3_reduce,
    double_3x3_1, double_3x3_2, pool_proj}, each BatchNorm the conv's name + "_bn"."""
    if path == "logits":
        return "last_linear"
    unit_name, part = unit_and_part(path)
    site = BN_INCEPTION_SITES.get(unit_name)
    if site is None or part is None:
        return None
    if site.branch is None:
        module = CADENE_STEM[site.block]
    else:
        base = CADENE_BRANCHES[site.branches][site.branch]
        if base == "pool":
            suffix = "pool_proj"
        elif site.convs == 1 or (site.convs == 2 and site.number == 2):
            suffix = base
        else:
            suffix = f"{base}_reduce" if site.number == 1 else f"{base}_{site.number - 1}"
        module = f"{site.block}_{suffix}"
    return module if part == "conv" else f"{module}_bn"


CADENE_STEM = {"conv1": "conv1_7x7_s2", "conv2_reduce": "conv2_3x3_reduce", "conv2": "conv2_3x3"}
CADENE_BRANCHES = {4: ("1x1", "3x3", "double_3x3", "pool"), 3: ("3x3", "double_3x3", "pool")}
BN_INCEPTION_SITES = conv_sites(BN_INCEPTION)


def torchvision_v3_name(path, model=None):
    """torchvision's (and timm's) Inception3: Conv2d_1a_3x3, Mixed_5b.branch5x5_1, ..."""
    if path in ("logits", "aux_logits"):
        return {"logits": "fc", "aux_logits": "AuxLogits.fc"}[path]
    unit_name, part = unit_and_part(path)
    if part is None:
        return None
    if unit_name in TV_V3_NAMES:
        return f"{TV_V3_NAMES[unit_name]}.{part}"
    site = INCEPTION_V3_SITES.get(unit_name)
    if site is None:
        return None
    base = TV_V3_BRANCHES[TV_V3_MODULES[site.block]][site.branch]
    branch = base if site.convs == 1 else f"{base}_{site.number}{site.split}"
    return f"Mixed_{site.block.removeprefix('mixed_')}.{branch}.{part}"


TV_V3_NAMES = {"conv2d_1a": "Conv2d_1a_3x3", "conv2d_2a": "Conv2d_2a_3x3",
               "conv2d_2b": "Conv2d_2b_3x3", "conv2d_3b": "Conv2d_3b_1x1",
               "conv2d_4a": "Conv2d_4a_3x3", "aux_conv0": "AuxLogits.conv0",
               "aux_conv1": "AuxLogits.conv1"}
TV_V3_BRANCHES = {  # torchvision's branch names of each module type
    "A": ("branch1x1", "branch5x5", "branch3x3dbl", "branch_pool"),
    "B": ("branch3x3", "branch3x3dbl", None),
    "C": ("branch1x1", "branch7x7", "branch7x7dbl", "branch_pool"),
    "D": ("branch3x3", "branch7x7x3", None),
    "E": ("branch1x1", "branch3x3", "branch3x3dbl", "branch_pool"),
}
TV_V3_MODULES = {"mixed_5b": "A", "mixed_5c": "A", "mixed_5d": "A", "mixed_6a": "B",
                 "mixed_6b": "C", "mixed_6c": "C", "mixed_6d": "C", "mixed_6e": "C",
                 "mixed_7a": "D", "mixed_7b": "E", "mixed_7c": "E"}
INCEPTION_V3_SITES = conv_sites(INCEPTION_V3)


def timm_v4_name(path, model=None):
    """timm's InceptionV4: one nn.Sequential `features` of the layout's entries."""
    if path == "logits":
        return "last_linear"
    unit_name, part = unit_and_part(path)
    site = INCEPTION_V4_SITES.get(unit_name)
    if site is None or part is None:
        return None
    module = f"features.{INCEPTION_V4_INDEX[site.block]}"
    if site.branch is not None:  # Mixed3a and Mixed5a name their one convolution `conv`
        module += ".conv" if site.block in ("mixed_3a", "mixed_5a") else f".{sequential_name(site)}"
    return f"{module}.{part}"


INCEPTION_V4_SITES = conv_sites(INCEPTION_V4)
INCEPTION_V4_INDEX = {entry: i for i, (entry, _) in enumerate(INCEPTION_V4)}


def timm_irv2_name(path, model=None):
    """timm's InceptionResnetV2: the blocks in nn.Sequentials `repeat` (35x35), `repeat_1`
    (17x17), `repeat_2` (8x8), then `block8`; each block's projection is `conv2d`."""
    if path == "logits":
        return "classif"
    unit_name, part = unit_and_part(path, parts=("conv", "bn", "project"))
    site = INCEPTION_RESNET_V2_SITES.get(unit_name)
    block = site.block if site else unit_name
    module = TIMM_IRV2_REPEATS.get(block, block)
    if part == "project":
        return f"{module}.conv2d"
    if site is None or part is None:
        return None
    if site.branch is not None:
        module += f".{sequential_name(site)}"
    return f"{module}.{part}"


_IRV2 = inception_resnet_v2(RESIDUAL_SCALES)
INCEPTION_RESNET_V2_SITES = conv_sites(_IRV2)
TIMM_IRV2_REPEATS = {
    **{f"block35_{i + 1}": f"repeat.{i}" for i in range(10)},
    **{f"block17_{i + 1}": f"repeat_1.{i}" for i in range(20)},
    **{f"block8_{i + 1}": f"repeat_2.{i}" for i in range(9)},
    "block8_10": "block8",
}


def timm_name(path, model):
    """timm's names of this module's three timm families, told apart by the model's name."""
    variant = model.name.removesuffix("_features")
    return {"inception_v3": torchvision_v3_name, "inception_v4": timm_v4_name,
            "inception_resnet_v2": timm_irv2_name}[variant](path, model)


CHECKPOINTS = {
    "torchvision": weights.CheckpointMap(torchvision_v3_name, head=("fc.", "AuxLogits."),
                                         norm_epsilon=1e-3),
    "timm": weights.CheckpointMap(timm_name, head=("fc.", "AuxLogits.", "last_linear.", "classif."),
                                  norm_epsilon=1e-3),
    "Cadene/pretrained-models.pytorch": weights.CheckpointMap(cadene_name, head=("last_linear.",),
                                                              norm_epsilon=1e-5),
}

__all__ = ["InceptionV2", "InceptionV3", "InceptionV4", "InceptionResNetV1", "InceptionResNetV2"]
