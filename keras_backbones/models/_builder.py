"""What every family builder shares: the keras.applications arguments, the classifier head,
features_only, and convolution / normalization / pooling with PyTorch's padding semantics
(so that a port computes the same function as its reference)."""

import math
import re
import textwrap

from keras_backbones import initializers
from keras_backbones.backend import LEGACY_KERAS, keras
from keras_backbones.layers import AveragePooling2D, PaddedMaxPooling2D

POOLINGS = (None, "avg", "max")

# PyTorch's defaults: nn.Conv2d weights are usually re-initialized by the reference
# (He normal, fan_out, for the ResNets); nn.Linear keeps U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
HE_NORMAL_FAN_OUT = initializers.HE_NORMAL_FAN_OUT
HE_NORMAL_FAN_IN = initializers.HE_NORMAL_FAN_IN
TORCH_LINEAR_INIT = initializers.TORCH_DEFAULT_UNIFORM
NORMS = ("batch", "syncbatch", "group")


def check_arguments(name, *, include_top, classes, pooling, weights=None):
    """The argument checks every constructor needs, with errors that say what is allowed."""
    if not isinstance(classes, int) or classes < 1:
        raise ValueError(f"{name}: `classes` must be a positive integer; got {classes!r}.")
    if pooling not in POOLINGS:
        raise ValueError(f"{name}: `pooling` must be one of None, 'avg' or 'max'; got {pooling!r}.")
    if weights is not None and not isinstance(weights, (str, bytes)) and not hasattr(weights, "__fspath__"):
        raise ValueError(f"{name}: `weights` must be None or a path to a weights file; got {weights!r}.")


def check_features_only(name, given):
    """A ValueError where `given` (a constructor's keyword arguments, as passed) asks for a
    classifier or pooling with features_only=True, which returns the bare feature maps."""
    if not given.get("features_only"):
        return
    head = [f"{argument}={given[argument]!r}" for argument in ("include_top", "pooling")
            if given.get(argument)]
    if head:
        raise ValueError(f"{name}: features_only=True returns the feature maps, without a "
                         f"classifier or pooling; got {', '.join(head)}. Leave them out, or "
                         "drop features_only.")


def check_name(name, model_name):
    if not isinstance(model_name, str) or not model_name or "/" in model_name:
        raise ValueError(f"{name}: `name` must be a non-empty string without '/'; "
                         f"got {model_name!r}.")


def renamed(model, name):
    """`model`, named `name` (keras.applications' `name=`): Keras 3's name is an attribute,
    tf-keras's a read-only property over `_name`."""
    if LEGACY_KERAS:
        model._name = name
    else:
        model.name = name
    return model


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


def model_input(name, input_shape, input_tensor, *, default_size, min_size, channels=3,
                static=False):
    """Resolves `input_shape`/`input_tensor` to a Keras input, checking the network's minimum.

    default_size, min_size: an int (square) or (height, width). With `static`, the builder
    needs a known height and width (a fixed-size head)."""
    default_hw = _pair(default_size)
    min_hw = _pair(min_size)
    if input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    elif input_shape is None:
        input_shape = (*default_hw, channels)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{name}: `input_shape` must be (height, width, channels); got {input_shape}.")
    height, width, chans = input_shape
    if chans is None or chans < 1:
        raise ValueError(f"{name}: the channel dimension of `input_shape` must be known; got {input_shape}.")
    if static and (height is None or width is None):
        raise ValueError(f"{name}: this configuration needs a fixed input size; got {input_shape}. "
                         f"Pass input_shape={(*default_hw, chans)} or set include_top=False.")
    for size, minimum in zip((height, width), min_hw):
        if size is not None and size < minimum:
            raise ValueError(f"{name}: input of {height}x{width} pixels is smaller than the "
                             f"network's minimum of {min_hw[0]}x{min_hw[1]}; got input_shape={input_shape}.")
    if input_tensor is None:
        return keras.Input(shape=input_shape, name="input")
    return input_tensor


def source_inputs(inputs):
    """The model's Input for `inputs` (itself, or the Input behind a given input_tensor)."""
    sources = keras.utils.get_source_inputs(inputs)
    return sources[0] if len(sources) == 1 else sources


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


# --- layers with PyTorch semantics ----------------------------------------------------------

def conv2d(x, filters, kernel_size, *, name, strides=1, padding=None, groups=1, dilation=1,
           use_bias=False, kernel_initializer=HE_NORMAL_FAN_OUT, bias_initializer="zeros"):
    """nn.Conv2d: explicit symmetric zero padding (default kernel_size // 2 * dilation).

    TensorFlow's "same" pads asymmetrically for strided convs; only stride-1 odd kernels are
    the same in both, so everything else gets an explicit ZeroPadding2D."""
    kh, kw = _pair(kernel_size)
    if padding is None:
        padding = ((kh - 1) // 2 * dilation, (kw - 1) // 2 * dilation)
    ph, pw = _pair(padding)
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


def activation(x, kind, *, name):
    return keras.layers.Activation(kind, name=name)(x) if kind else x


def conv_norm_act(x, filters, kernel_size, *, name, strides=1, padding=None, groups=1,
                  act="relu", norm_kind="batch", epsilon=1e-5, conv_name="conv", norm_name="bn",
                  act_name="relu", gamma_initializer="ones", **conv_kwargs):
    """conv -> norm -> activation, named `{name}_{conv_name}`, `{name}_{norm_name}`, ..."""
    x = conv2d(x, filters, kernel_size, strides=strides, padding=padding, groups=groups,
               name=f"{name}_{conv_name}", **conv_kwargs)
    x = norm(x, kind=norm_kind, epsilon=epsilon, gamma_initializer=gamma_initializer,
             name=f"{name}_{norm_name}")
    return activation(x, act, name=f"{name}_{act_name}")


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
                and _pair(pool_size) == _pair(strides) == (2, 2)):
            raise ValueError(f"{name}: avg_pool supports ceil_mode / count_include_pad=False only "
                             f"together, for a 2x2 stride-2 window without padding.")
        return AveragePooling2D(pool_size=pool_size, strides=strides, padding="same", name=name)(x)
    if padding:
        x = keras.layers.ZeroPadding2D(padding=padding, name=f"{name}_pad")(x)
    return AveragePooling2D(pool_size=pool_size, strides=strides, padding="valid", name=name)(x)


# --- heads and the model ----------------------------------------------------------------------

def classifier(x, classes, *, classifier_activation, dropout_rate=0.0,
               kernel_initializer=TORCH_LINEAR_INIT, bias_initializer=None):
    """Global average pool, dropout, the logits layer, and the output activation.

    The activation runs in float32 so that mixed-precision models return float32 outputs."""
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate:
        x = keras.layers.Dropout(rate=dropout_rate, name="head_dropout")(x)
    x = dense(x, classes, name="logits", kernel_initializer=kernel_initializer,
              bias_initializer=bias_initializer)
    return output_activation(x, classifier_activation)


def dense(x, units, *, name, activation=None, kernel_initializer=TORCH_LINEAR_INIT,
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


def output_activation(x, classifier_activation):
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                   name="predictions")(x)


def global_pool(x, pooling):
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def make_model(inputs, x, *, name, include_top, pooling, classes, classifier_activation,
               features=None, features_only=False, head=None, dropout_rate=0.0, weights=None,
               logits_initializers=(TORCH_LINEAR_INIT, None)):
    """Closes a builder: the classifier (or pooling), or the feature pyramid.

    features: list of (stride, tensor) in network order; features_only keeps the last tensor
    at each stride, ordered by stride. head: a function (x) -> logits replacing the default
    pool/dropout/dense head (its output goes through `classifier_activation`).
    weights: None or a weights file to load into the finished model.
    logits_initializers: (kernel, bias) of the default head's logits layer (bias None:
    nn.Linear's default)."""
    model_inputs = source_inputs(inputs)
    if features_only:
        if not features:
            raise ValueError(f"{name} does not provide feature maps (features_only=True).")
        by_stride = dict(features)  # the last tensor at each stride
        # Named outputs: `stride8` says what each map is, for heads and for tests.
        outputs = [keras.layers.Identity(name=f"stride{s}")(by_stride[s]) for s in sorted(by_stride)]
        return _with_weights(keras.Model(model_inputs, outputs, name=f"{name}_features"), weights)
    if include_top:
        if head is not None:
            x = output_activation(head(x), classifier_activation)
        else:
            x = classifier(x, classes, classifier_activation=classifier_activation,
                           dropout_rate=dropout_rate, kernel_initializer=logits_initializers[0],
                           bias_initializer=logits_initializers[1])
    else:
        x = global_pool(x, pooling)
    model = keras.Model(model_inputs, x, name=name)
    # Where a hidden state may be cut and mixed (manifold mixup, PatchUp): the stage outputs,
    # each of which alone feeds the rest of the network. Not saved with the model.
    model.block_boundaries = tuple(_layer_name(t) for _, t in features or ())
    return _with_weights(model, weights)


def _layer_name(tensor):
    return tensor._keras_history[0].name  # the layer that made it, in both Kerases


def _with_weights(model, weights):
    if weights is not None:
        from keras_backbones.weights import load_weights
        load_weights(model, weights)
    return model


# --- documentation and checkpoint names -------------------------------------------------------

def application_args(*, head="global average pool, logits", weights_note=None,
                     default="(224, 224, 3) by default", min_size=32):
    """The `Args:` lines of the keras.applications arguments, include_top to
    classifier_activation, as every family's docstring template words them (indented four
    spaces, ending in a newline). head: what include_top adds; weights_note: which files
    `weights` reads besides the default; default, min_size: the input size's."""
    def entry(text):
        return textwrap.fill(text, width=92, initial_indent="    ",
                             subsequent_indent="        ") + "\n"
    weights = "None (random initialization) or the path to a weights file"
    return "".join(map(entry, (
        f"include_top: whether to include the classifier ({head}).",
        f"weights: {weights} ({weights_note})." if weights_note else f"weights: {weights}.",
        "input_tensor: optional Keras tensor to use as the model's input.",
        f"input_shape: (height, width, channels); {default}, any size of at least "
        f"{min_size}x{min_size} works (also None x None).",
        'pooling: with include_top=False, None (4-D output), "avg" or "max".',
        "classes: number of classes.",
        'classifier_activation: activation of the output layer ("softmax", or None for logits).',
    )))


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
