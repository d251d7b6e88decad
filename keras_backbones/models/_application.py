"""The application base: what every family shares with keras.applications, written once.

A family writes the network's body, a function of the input tensor and the family's own
arguments that returns a `Network` (the last feature map, the feature maps by stride, and
how its classifier differs from the default). `@application(...)` turns it into the
builder users call, with keras.applications' arguments:

    @application(min_size=32, head="global average pool, dropout, logits")
    def MobileNetV2(inputs, alpha=1.0, *, name="mobilenet_v2", dropout_rate=0.2):
        ...
        return Network(x, features, dropout_rate=dropout_rate)

    MobileNetV2(alpha=0.5, include_top=False, pooling="avg", weights="my.npz")

The builder checks include_top, weights, input_tensor, input_shape, pooling, classes,
classifier_activation, features_only and out_indices (errors that name what is allowed),
builds the input (the registered variant's input size by default), calls the body, adds the
classifier, pooling or feature outputs, records `feature_info`, `block_boundaries` and the
registered variant on the model, and loads the weights. A body that needs one of those
arguments (`classes` for a head of its own, `include_top`, `features_only`, or
`default_size`, the input size the network is defined at) declares it as a keyword argument;
declared with a default, the default is the builder's (`classes=10` for a CIFAR network).
"""

import dataclasses
import functools
import inspect
import textwrap
from typing import Any, Callable, Mapping, Optional, Sequence

from keras_backbones import initializers, pretrained
from keras_backbones.backend import keras
from keras_backbones.layers.helpers import pair

POOLINGS = (None, "avg", "max")

# keras.applications' arguments (and timm's features_only / out_indices), with their defaults.
APPLICATION_ARGUMENTS = {
    "include_top": True, "weights": None, "input_tensor": None, "input_shape": None,
    "pooling": None, "classes": 1000, "classifier_activation": "softmax",
    "features_only": False, "out_indices": None,
}
# What a body may ask for by declaring it: the arguments above, and the default input size.
REQUESTABLE = (*APPLICATION_ARGUMENTS, "default_size")


@dataclasses.dataclass
class Network:
    """What a family's body returns.

    output: the last feature map (or token sequence), which the classifier or pooling takes.
    features: (stride, tensor) in network order: the stage outputs. features_only keeps the
        last tensor at each stride; they are also the cut points of manifold mixup / PatchUp.
    head: a function (x) -> logits replacing the default head (global average pool,
        dropout_rate, the `logits` Dense layer with logits_initializers (kernel, bias; bias
        None: nn.Linear's default)). Its output goes through `classifier_activation`.
    extra_outputs: {output name: logits} of further classifiers (Inception's auxiliary
        heads), activated like the main one and returned after it.
    block_boundaries: the cut points where they are fewer than the feature layers."""

    output: Any
    features: Sequence = ()
    head: Optional[Callable] = None
    dropout_rate: float = 0.0
    logits_initializers: tuple = (initializers.TORCH_DEFAULT_UNIFORM, None)
    extra_outputs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    block_boundaries: Optional[Sequence[str]] = None


@dataclasses.dataclass(frozen=True)
class FeatureInfo:
    """One feature map a model provides (timm's feature_info): `name` its output's name in the
    features_only model, `layer` the layer of the full network that makes it."""

    name: str
    layer: str
    stride: int
    channels: int


def application(*, default_size=224, min_size=32, channels=3, fixed_size_top=False,
                head="global average pool, logits", input_note=None, weights_note=None):
    """Decorator: a family body (see the module docstring) -> the family's builder.

    default_size: the input size (int or (height, width)) of a build that is not a registered
        variant (a variant's is its registry preprocessing's); min_size: the smallest input
        side the network takes. Either may be a function of the body's bound arguments.
    fixed_size_top: the classifier needs a known input size (a Flatten before Dense layers).
    head, input_note, weights_note: the docstring's words for what include_top adds, the
        input sizes and the files `weights` reads."""
    def decorate(body):
        signature = inspect.signature(body)
        parameters = list(signature.parameters.values())[1:]  # the first is the input tensor
        requested = [p.name for p in parameters if p.name in REQUESTABLE]
        own = [p for p in parameters if p.name not in REQUESTABLE]
        default_name = signature.parameters["name"].default if "name" in signature.parameters \
            else body.__name__.lower()
        # A body may give an application argument its own default (WRN on CIFAR: classes=10).
        defaults = {**APPLICATION_ARGUMENTS,
                    **{p.name: p.default for p in parameters
                       if p.name in APPLICATION_ARGUMENTS and p.default is not p.empty}}
        public = _public_signature(own, defaults, signature.return_annotation)

        @functools.wraps(body)
        def build(*args, **kwargs):
            try:
                bound = public.bind(*args, **kwargs)
            except TypeError as error:
                raise TypeError(f"{body.__name__}: {error}") from None
            given = dict(bound.arguments)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            options = {key: arguments.pop(key) for key in APPLICATION_ARGUMENTS}
            name = arguments.get("name", default_name)
            _check_options(name, options, given)
            from keras_backbones import registry

            variant = registry.building()
            if variant is not None:  # an unknown name or tag: an error before the build
                pretrained.resolve(variant.name, options["weights"])
            size = (tuple(variant.preprocessing.input_size) if variant else
                    (*pair(_resolve(default_size, arguments)), channels))
            inputs = _model_input(
                name, options["input_shape"], options["input_tensor"], default_size=size,
                min_size=_resolve(min_size, arguments),
                static=fixed_size_top and options["include_top"] and not options["features_only"])
            context = {**options, "default_size": size[:2]}
            network = body(inputs, **arguments, **{key: context[key] for key in requested})
            model = _finish(inputs, network, name=name, **options)
            model.variant = variant.name if variant else None
            if options["weights"] is not None:
                pretrained.load(model, options["weights"])
            return model

        build.__signature__ = public
        build.body = body
        build.summary = (body.__doc__ or "").strip()  # what a registered variant's doc begins with
        build.args_doc = args_doc(head=head, min_size=min_size, input_note=input_note,
                                  weights_note=weights_note)
        if build.__doc__:
            build.__doc__ = build.__doc__.rstrip() + "\n\nApplication arguments:\n" + \
                build.args_doc.replace("{input_size}", "the network's default")
        return build
    return decorate


def _public_signature(own, defaults, return_annotation):
    """The body's own parameters, then keras.applications' (keyword-only)."""
    positional = [p for p in own if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p for p in own if p.kind is p.KEYWORD_ONLY]
    application_parameters = [inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=value)
                              for key, value in defaults.items()]
    return inspect.Signature(positional + keyword + application_parameters,
                             return_annotation=return_annotation)


def _resolve(value, arguments):
    return value(arguments) if callable(value) else value


# --- the checks -------------------------------------------------------------------------------

def _check_options(name, options, given):
    """The argument checks every builder needs, with errors that say what is allowed.
    `given`: the arguments as the caller passed them (include_top=True told from its default)."""
    classes = options["classes"]
    if not isinstance(classes, int) or isinstance(classes, bool) or classes < 1:
        raise ValueError(f"{name}: `classes` must be a positive integer; got {classes!r}.")
    if options["pooling"] not in POOLINGS:
        raise ValueError(f"{name}: `pooling` must be one of None, 'avg' or 'max'; got "
                         f"{options['pooling']!r}.")
    weights = options["weights"]
    if weights is not None and not isinstance(weights, (str, bytes)) \
            and not hasattr(weights, "__fspath__"):
        raise ValueError(f"{name}: `weights` must be None, 'imagenet', 'SOURCE:TAG', a URL or "
                         f"the path to a weights file; got {weights!r}.")
    if options["features_only"]:
        head = [f"{key}={given[key]!r}" for key in ("include_top", "pooling") if given.get(key)]
        if head:
            raise ValueError(f"{name}: features_only=True returns the feature maps, without a "
                             f"classifier or pooling; got {', '.join(head)}. Leave them out, or "
                             "drop features_only.")
    elif options["out_indices"] is not None:
        raise ValueError(f"{name}: `out_indices` selects feature maps and needs "
                         "features_only=True.")


def _model_input(name, input_shape, input_tensor, *, default_size, min_size, static=False):
    """`input_shape`/`input_tensor` resolved to a Keras input, checked against the network's
    minimum. default_size: (height, width, channels). static: a known height and width is
    needed (a fixed-size head)."""
    min_hw = pair(min_size)
    if input_tensor is not None:
        input_shape = tuple(input_tensor.shape[1:])
    elif input_shape is None:
        input_shape = tuple(default_size)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"{name}: `input_shape` must be (height, width, channels); got "
                         f"{input_shape}.")
    height, width, chans = input_shape
    if chans is None or chans < 1:
        raise ValueError(f"{name}: the channel dimension of `input_shape` must be known; got "
                         f"{input_shape}.")
    if static and (height is None or width is None):
        raise ValueError(f"{name}: this configuration needs a fixed input size; got "
                         f"{input_shape}. Pass input_shape={(*default_size[:2], chans)} or set "
                         "include_top=False.")
    for size, minimum in zip((height, width), min_hw):
        if size is not None and size < minimum:
            raise ValueError(f"{name}: input of {height}x{width} pixels is smaller than the "
                             f"network's minimum of {min_hw[0]}x{min_hw[1]}; got "
                             f"input_shape={input_shape}.")
    if input_tensor is None:
        return keras.Input(shape=input_shape, name="input")
    return input_tensor


# --- the model --------------------------------------------------------------------------------

def _finish(inputs, network, *, name, include_top, pooling, classes, classifier_activation,
            features_only, out_indices, **_):
    """The classifier (or pooling), or the selected feature maps, around the body."""
    sources = keras.utils.get_source_inputs(inputs)
    model_inputs = sources[0] if len(sources) == 1 else sources
    levels = feature_levels(network.features)
    if features_only:
        if not levels:
            raise ValueError(f"{name} does not provide feature maps (features_only=True).")
        levels = [levels[i] for i in _out_indices(name, out_indices, levels)]
        # Named outputs: `stride8` says what each map is, for heads and for tests.
        outputs = [keras.layers.Identity(name=info.name)(tensor) for info, tensor in levels]
        model = keras.Model(model_inputs, outputs, name=f"{name}_features")
    else:
        x = network.output
        outputs = []
        if include_top:
            x = output_activation(_logits(x, network, classes), classifier_activation)
            outputs = [keras.layers.Activation(classifier_activation or "linear",
                                               dtype="float32", name=output_name)(logits)
                       for output_name, logits in network.extra_outputs.items()]
        elif pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif pooling == "max":
            x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
        model = keras.Model(model_inputs, [x, *outputs] if outputs else x, name=name)
        # Where a hidden state may be cut and mixed (manifold mixup, PatchUp): the stage
        # outputs, each of which alone feeds the rest of the network. Not saved with the model.
        model.block_boundaries = tuple(
            network.block_boundaries if network.block_boundaries is not None
            else (_layer_name(tensor) for _, tensor in network.features))
    model.feature_info = tuple(info for info, _ in levels)
    return model


def feature_levels(features):
    """[(FeatureInfo, tensor)] of the last tensor at each stride, by stride."""
    by_stride = dict(features)
    return [(FeatureInfo(name=f"stride{stride}", layer=_layer_name(tensor), stride=stride,
                         channels=tensor.shape[-1]), tensor)
            for stride, tensor in sorted(by_stride.items())]


def _out_indices(name, out_indices, levels):
    """The positions `out_indices` selects among the feature levels (timm's meaning:
    negative from the end), or a ValueError naming the valid ones."""
    count = len(levels)
    if out_indices is None:
        return list(range(count))
    valid = (f"{name} has {count} feature maps (strides "
             f"{', '.join(str(info.stride) for info, _ in levels)}): indices 0 to {count - 1} "
             f"or -{count} to -1")
    indices = tuple(out_indices) if isinstance(out_indices, (tuple, list)) else None
    if not indices or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise ValueError(f"{name}: `out_indices` must be a non-empty tuple of integers; got "
                         f"{out_indices!r}. {valid}.")
    wrong = [i for i in indices if not -count <= i < count]
    if wrong:
        raise ValueError(f"{name}: out_indices {', '.join(map(str, wrong))} out of range: "
                         f"{valid}.")
    positions = [i % count for i in indices]
    if len(set(positions)) != len(positions):
        raise ValueError(f"{name}: out_indices {indices} select a feature map twice.")
    return positions


def _logits(x, network, classes):
    if network.head is not None:
        return network.head(x)
    kernel, bias = network.logits_initializers
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if network.dropout_rate:
        x = keras.layers.Dropout(rate=network.dropout_rate, name="head_dropout")(x)
    from keras_backbones.models import _builder
    return _builder.dense(x, classes, name="logits", kernel_initializer=kernel,
                          bias_initializer=bias)


def output_activation(x, classifier_activation):
    """The `predictions` layer, in float32 so that mixed-precision models return float32."""
    return keras.layers.Activation(classifier_activation or "linear", dtype="float32",
                                   name="predictions")(x)


def _layer_name(tensor):
    return tensor._keras_history[0].name  # the layer that made it, in both Kerases


# --- documentation ----------------------------------------------------------------------------

def args_doc(*, head="global average pool, logits", min_size=32, input_note=None,
             weights_note=None):
    """The `Args:` entries of the application arguments (indented four spaces, one per line,
    ending in a newline), with `{input_size}` left for the registry to fill with the
    variant's default input size."""
    def entry(text):
        return textwrap.fill(text, width=92, initial_indent="    ",
                             subsequent_indent="        ") + "\n"
    minimum = "its minimum" if callable(min_size) else "x".join(map(str, pair(min_size)))
    weights = ("None (random initialization), 'imagenet' (the reference's default published "
               "checkpoint), 'SOURCE:TAG' (one of model_info(NAME)['checkpoints']), a URL, or "
               "the path to a weights file")
    return "".join(map(entry, (
        f"include_top: whether to include the classifier ({head}).",
        f"weights: {weights} ({weights_note})." if weights_note else f"weights: {weights}.",
        "input_tensor: optional Keras tensor to use as the model's input.",
        "input_shape: (height, width, channels); {input_size} by default"
        + (f"; {input_note}." if input_note else
           f", any size of at least {minimum} works (also None x None)."),
        'pooling: with include_top=False, None (4-D output), "avg" or "max".',
        "classes: number of classes.",
        'classifier_activation: activation of the output layer ("softmax", or None for '
        "logits).",
        "features_only: return the feature maps, the last at each stride, as a multi-output "
        "model (`model.feature_info` lists their names, strides and channels).",
        "out_indices: with features_only, which of them (timm's indices: 0 is the finest, "
        "negative count from the coarsest); all by default.",
        "name: the Keras model's name (its layers keep theirs, which weights files use).",
    )))

