"""The vocabulary of blocks every family is built from, one version each: convolution,
normalization, activation, conv-norm-act, the residual add with stochastic depth and its
schedule, pooling and linear layers with PyTorch's semantics (so that a port computes the same
function as its reference), argument checks, and checkpoint names of staged networks. The
keras.applications arguments are the application base's (`_application.py`)."""

import dataclasses
import functools
import math
import re

from keras_backbones import initializers
from keras_backbones.backend import keras
from keras_backbones.layers import (AveragePooling2D, HardSigmoid, HardSwish, LayerScale,
                                    PaddedMaxPooling2D, StochasticDepth)
from keras_backbones.layers.helpers import pair

NORMS = ("batch", "syncbatch", "group")


def check_choice(name, argument, value, allowed):
    """A ValueError naming the argument and what it may be, unless `value` is allowed."""
    if value not in allowed:
        raise ValueError(f"{name}: `{argument}` must be one of "
                         f"{', '.join(map(repr, allowed))}; got {value!r}.")


def check_positive_ints(name, **values):
    """A ValueError naming the first argument that is not a positive integer (bool is not)."""
    for argument, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: `{argument}` must be a positive integer; got {value!r}.")


def check_per_stage(name, argument, values, stages=4):
    """`values` as a tuple of one positive integer per stage, or a ValueError saying so."""
    values = tuple(values) if isinstance(values, (tuple, list)) else ()
    if len(values) != stages or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                        for v in values):
        count = {3: "three", 4: "four", 5: "five"}.get(stages, stages)
        raise ValueError(f"{name}: `{argument}` must be {count} positive integers, one per "
                         f"stage; got {values!r}.")
    return values


# --- layers with PyTorch semantics ----------------------------------------------------------

def conv2d(x, filters, kernel_size, *, name, strides=1, padding=None, groups=1, dilation=1,
           use_bias=False, kernel_initializer=initializers.HE_NORMAL_FAN_OUT, bias_initializer="zeros"):
    """nn.Conv2d: explicit symmetric zero padding (default kernel_size // 2 * dilation), or
    padding="same", TensorFlow's (the official TF models and timm's tf_ ports).

    TensorFlow's "same" pads asymmetrically for strided convs; only stride-1 odd kernels are
    the same in both, so everything else gets an explicit ZeroPadding2D `{name}_pad`."""
    kh, kw = pair(kernel_size)
    if padding == "same":
        ph = pw = 0
        same = True
    else:
        if padding is None:
            padding = ((kh - 1) // 2 * dilation, (kw - 1) // 2 * dilation)
        ph, pw = pair(padding)
        same = strides == 1 and (ph, pw) == ((kh - 1) * dilation // 2, (kw - 1) * dilation // 2) \
            and kh % 2 == 1 and kw % 2 == 1
    if (ph or pw) and not same:
        x = keras.layers.ZeroPadding2D(padding=(ph, pw), name=f"{name}_pad")(x)
    return keras.layers.Conv2D(
        filters=filters, kernel_size=(kh, kw), strides=strides,
        padding="same" if same else "valid", dilation_rate=dilation, groups=groups,
        use_bias=use_bias, kernel_initializer=initializers.get(kernel_initializer),
        bias_initializer=initializers.get(bias_initializer), name=name)(x)


def norm(x, *, name, kind="batch", epsilon=1e-5, momentum=0.1, groups=32,
         gamma_initializer="ones"):
    """Normalization by name. `momentum` is PyTorch's (Keras's is 1 - it).

    batch: BatchNormalization; syncbatch: BatchNormalization synchronized across replicas
    (for multi-device training with small per-device batches); group: GroupNormalization with
    32 groups (Wu & He 2018, the "Rethinking ImageNet Pre-training" setting), or the largest
    divisor of the channel count below that. gamma_initializer "zeros": timm's zero_init_last."""
    if kind in ("batch", "syncbatch"):
        return keras.layers.BatchNormalization(
            axis=-1, epsilon=epsilon, momentum=1.0 - momentum, gamma_initializer=gamma_initializer,
            synchronized=kind == "syncbatch", name=name)(x)
    if kind == "group":
        return keras.layers.GroupNormalization(groups=math.gcd(groups, x.shape[-1]), axis=-1,
                                               epsilon=epsilon, gamma_initializer=gamma_initializer,
                                               name=name)(x)
    raise ValueError(f"`norm` must be one of {', '.join(NORMS)}; got {kind!r}.")


@dataclasses.dataclass(frozen=True)
class Norm:
    """A reference's normalization: its kind (`norm`), epsilon and PyTorch's momentum
    (torchvision's MobileNetV3: 1e-3, 0.01; MNASNet: 1e-5, 3e-4; most others 1e-5, 0.1)."""

    kind: str = "batch"
    epsilon: float = 1e-5
    momentum: float = 0.1

    def __call__(self, x, *, name, gamma_initializer="ones"):
        return norm(x, kind=self.kind, epsilon=self.epsilon, momentum=self.momentum,
                    gamma_initializer=gamma_initializer, name=name)


# Activations by name, PyTorch's definitions under both Kerases (tf-keras's hard_sigmoid is
# another function; hard_swish is x * relu6(x + 3) / 6, gelu the exact erf form).
ACTIVATION_LAYERS = {
    "relu": lambda name: keras.layers.ReLU(name=name),
    "relu6": lambda name: keras.layers.ReLU(max_value=6.0, name=name),
    "hard_swish": lambda name: HardSwish(name=name),
    "hard_sigmoid": lambda name: HardSigmoid(name=name),
    **{kind: functools.partial(lambda kind, name: keras.layers.Activation(kind, name=name), kind)
       for kind in ("swish", "silu", "gelu", "sigmoid", "tanh", "elu")},
}


def activation(x, kind, *, name):
    """The activation layer `kind` (a name in ACTIVATION_LAYERS), or x itself for None."""
    if not kind:
        return x
    if kind not in ACTIVATION_LAYERS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATION_LAYERS)}; got "
                         f"{kind!r}.")
    return ACTIVATION_LAYERS[kind](name)(x)


def conv_norm_act(x, filters, kernel_size, *, name, strides=1, padding=None, groups=1,
                  dilation=1, act="relu", norm=Norm(), gamma_initializer="ones",
                  kernel_initializer=initializers.HE_NORMAL_FAN_OUT, conv_name="conv", norm_name="bn",
                  act_name="act"):
    """conv (`conv2d`, no bias) -> norm -> [activation], named `{name}_{conv_name}`,
    `{name}_{norm_name}`, `{name}_{act_name}`. norm: the reference's `Norm`."""
    x = conv2d(x, filters, kernel_size, strides=strides, padding=padding, groups=groups,
               dilation=dilation, kernel_initializer=kernel_initializer,
               name=f"{name}_{conv_name}")
    x = norm(x, gamma_initializer=gamma_initializer, name=f"{name}_{norm_name}")
    return activation(x, act, name=f"{name}_{act_name}")


def residual(shortcut, branch, *, name, drop_path=0.0, layer_scale=None, suffix=""):
    """The end of a residual block: branch -> [`{name}_layer_scale`] -> [`{name}_drop_path`]
    (stochastic depth) -> `{name}_add` with the shortcut (`suffix` after each name: ViT's
    and Swin's two residuals per block)."""
    if layer_scale is not None:
        branch = LayerScale(init_value=layer_scale, name=f"{name}_layer_scale{suffix}")(branch)
    if drop_path:
        branch = StochasticDepth(rate=drop_path, name=f"{name}_drop_path{suffix}")(branch)
    # Branch first: the order of the Add's inputs orders model.layers (and get_weights())
    # where both paths have layers; the sum is the same.
    return keras.layers.Add(name=f"{name}_add{suffix}")([branch, shortcut])


# Where the references differ in how stochastic depth rises over the blocks:
# "linspace": torch.linspace(0, rate, n), the last block at `rate` (timm's ResNet, ConvNeXt,
# ViT, Swin, RegNet); "efficientnet": rate x index / n, the last block below it (timm's and
# torchvision's EfficientNet builder, the MobileNets).
DROP_PATH_RULES = ("linspace", "efficientnet")


def drop_path_rates(rate, count, rule="linspace"):
    """The stochastic-depth rate of each of `count` blocks, rising from 0 by `rule`."""
    if rule == "linspace":
        return [rate * index / max(count - 1, 1) for index in range(count)]
    if rule == "efficientnet":
        return [rate * index / count for index in range(count)]
    raise ValueError(f"drop path rule must be one of {', '.join(DROP_PATH_RULES)}; got {rule!r}.")


def max_pool(x, pool_size, *, name, strides=None, padding=0, ceil_mode=False, after_relu=False):
    """nn.MaxPool2d: padding that is never selected, optional ceil mode. after_relu: the input is
    non-negative, so zero padding is exact (see PaddedMaxPooling2D)."""
    strides = pool_size if strides is None else strides
    if not padding and not ceil_mode:
        return keras.layers.MaxPooling2D(pool_size=pool_size, strides=strides, padding="valid",
                                         name=name)(x)
    return PaddedMaxPooling2D(pool_size=pool_size, strides=strides, padding=padding,
                              ceil_mode=ceil_mode, nonnegative_input=after_relu, name=name)(x)


def avg_pool(x, pool_size, *, name, strides=None, padding=0, ceil_mode=False,
             count_include_pad=True):
    """nn.AvgPool2d. padding: zeros around the input, counted in the average (PyTorch's default
    count_include_pad=True; the ZeroPadding2D is `{name}_pad`).

    ceil_mode with count_include_pad=False (timm's avg_down) keeps the last, clipped window and
    averages only the pixels it covers: for a 2x2 stride-2 window that is TensorFlow's "same"
    (which pads odd sizes by one row/column after the input and leaves padding out of the
    count), at any size; other windows are not supported."""
    strides = pool_size if strides is None else strides
    if ceil_mode or not count_include_pad:
        if not (ceil_mode and not count_include_pad and not padding
                and pair(pool_size) == pair(strides) == (2, 2)):
            raise ValueError(f"{name}: avg_pool supports ceil_mode / count_include_pad=False only "
                             f"together, for a 2x2 stride-2 window without padding.")
        return AveragePooling2D(pool_size=pool_size, strides=strides, padding="same", name=name)(x)
    if padding:
        x = keras.layers.ZeroPadding2D(padding=padding, name=f"{name}_pad")(x)
    return AveragePooling2D(pool_size=pool_size, strides=strides, padding="valid", name=name)(x)


# --- heads and the model ----------------------------------------------------------------------

def dense(x, units, *, name, activation=None, kernel_initializer=initializers.TORCH_DEFAULT_UNIFORM,
          bias_initializer=None):
    """nn.Linear: its bias is initialized like its weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    if bias_initializer is None:
        bias_initializer = torch_bias_init(x.shape[-1])
    return keras.layers.Dense(
        units=units, activation=activation, kernel_initializer=initializers.get(kernel_initializer),
        bias_initializer=initializers.get(bias_initializer), name=name)(x)


def torch_bias_init(fan_in):
    """PyTorch's default bias init for nn.Linear and nn.Conv2d: U(+-1/sqrt(fan_in))."""
    limit = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(minval=-limit, maxval=limit)


# --- documentation and checkpoint names -------------------------------------------------------

BLOCK = re.compile(r"stage(\d+)_block(\d+)_(.+)")


def checkpoint_names(top, module, parts):
    """A `weights.CheckpointMap` names function for a network of `stage{s}_block{b}_{part}`
    layers: `top` ({path: reference name}) names the layers outside the blocks, `module(s, b)`
    gives a block's reference prefix and `parts` the name of a part within it (a {part: name}
    dict, or a function of the part and the stage); None where the reference has no such layer."""
    def names(path, model=None):
        match = BLOCK.fullmatch(path)
        if not match:
            return top.get(path)
        stage, block, part = match.groups()
        local = parts(part, int(stage)) if callable(parts) else parts.get(part)
        return f"{module(int(stage), int(block))}.{local}" if local else None
    return names
