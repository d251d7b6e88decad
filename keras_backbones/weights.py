"""Weights: the portable format, and import of reference (PyTorch) checkpoints.

The portable format is one `.npz` file (NumPy's zip of arrays, no pickle): the weights of each layer under
"<layer name>/<index in layer.weights>", plus "__meta__", a JSON record of the model name,
format version and the Keras that wrote it. Layer names are deterministic in every builder,
so a file written by a model built under Keras 3 loads into the same model built under
tf-keras (for TFMOT), and loading checks every name and shape: a missing weight, an unused
one or a shape mismatch is an error that lists them, never a silent partial load. So is a
value that is no real number: a tensor of ints or bools (a file cast to int8 would load as
zeros), NaN or inf; float16, bfloat16 and float64 tensors load, cast to the weight's dtype.

Reference checkpoints (torchvision, timm, official repositories) are state dicts, read from
`.safetensors` with safetensors' NumPy API or from `.pth`/`.pt`/`.bin` with `torch_pickle`
(no torch needed for either). Each family module holds a `CHECKPOINTS` table,
{source: CheckpointMap}, that names its Keras layers in the reference's terms; the tensors
then convert by layer type (conv OIHW -> HWIO, depthwise -> HWCM, linear transposed,
BatchNorm's four tensors) with the same all-or-nothing checks as the portable format.

Weights files are written through `keras_backbones.files` (whole or not at all).
"""

import dataclasses
import json
import logging
import os
import re
import sys
import zipfile
from typing import Callable, Mapping, Optional, Tuple, Union

import ml_dtypes
import numpy as np

from keras_backbones.backend import KERAS_VERSION, LEGACY_KERAS
from keras_backbones import torch_pickle
from keras_backbones.files import existing_file, write_atomic

FORMAT = "keras_backbones.weights"
FORMAT_VERSION = 1
META_KEY = "__meta__"


class WeightsError(ValueError):
    """A weights file that cannot be loaded into the model: says which and why."""


def _model_arrays(model):
    arrays = {}
    for layer in model.layers:
        for index, weight in enumerate(layer.weights):
            arrays[f"{layer.name}/{index}"] = weight
    return arrays


def save_weights(model, path):
    """Writes `model`'s weights to `path` (written to a temporary file, then renamed)."""
    path = os.fspath(path)
    arrays = {key: np.asarray(w.numpy()) for key, w in _model_arrays(model).items()}
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "model": model.name,
            "keras": ("tf-keras " if LEGACY_KERAS else "keras ") + KERAS_VERSION,
            "num_weights": len(arrays)}
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return write_atomic(path, lambda f: np.savez(f, **arrays))


def read_weights(path):
    """(meta, {key: array}) of a portable weights file, with clear errors for a bad file."""
    path = existing_file(path, "weights file", WeightsError)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise WeightsError(f"{path} is not a keras_backbones weights file (.npz): {error}") from None
    if META_KEY not in arrays:
        raise WeightsError(f"{path} is an .npz file but not a keras_backbones weights file "
                           f"(no {META_KEY!r} record).")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode())
    except ValueError:
        raise WeightsError(f"{path}: its {META_KEY!r} record is corrupt.") from None
    if meta.get("format") != FORMAT or meta.get("version", 0) > FORMAT_VERSION:
        raise WeightsError(f"{path}: unsupported format {meta.get('format')!r} "
                           f"version {meta.get('version')!r}.")
    return meta, arrays


def _listing(items, limit=10):
    items = sorted(items)
    more = f" ... and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def load_weights(model, path, *, variant=None, source=None):
    """Loads a weights file into `model`, checking every name and shape: the portable format,
    or a reference checkpoint (`CHECKPOINT_SUFFIXES`), converted with the name map of
    `variant`'s family (by default the registered variant the model was built as) for
    `source` (by default the variant's reference).

    What may differ from the file, and nothing else: the classifier's width (a model built
    with other `classes` keeps its new classifier's initial weights, and a warning says so),
    the stem's input channels (adapted as timm's adapt_input_conv: see `adapt_input_kernel`),
    and, in a model built without its classifier (include_top=False, features_only), the
    file's weights of the layers it lacks."""
    if is_checkpoint(path):
        return _assign(model, import_checkpoint(model, path, variant=variant, source=source))
    meta, arrays = read_weights(path)
    targets = _model_arrays(model)
    headless = not _classifiers(model)
    missing = set(targets) - set(arrays)
    unused = {key for key in set(arrays) - set(targets)
              if not (headless or _is_classifier_name(key.split("/")[0]))}
    values, mismatched, fitted = {}, [], _Fitted()
    for key in set(targets) & set(arrays):
        value = fitted(model, key, arrays[key], tuple(targets[key].shape))
        if value is _MISMATCH:
            mismatched.append(f"{key}: file {arrays[key].shape} vs model "
                              f"{tuple(targets[key].shape)}")
        elif value is not _KEEP:
            # Checked as they would be assigned: a float64 beyond float32's range is an inf too.
            values[key] = _as_weight(value, targets[key])
    unusable = _unusable(values)
    if missing or unused or mismatched or any(items for _, items in unusable):
        other_model = meta.get("model") != model.name
        raise _refusal(f"Cannot load {os.fspath(path)} into {model.name}", [
            ("model weights not in the file", missing),
            ("file weights not in the model", unused),
            ("shape mismatches", mismatched), *unusable],
            hint=other_model and f"the file holds weights of {meta.get('model')!r}")
    fitted.report(model)
    return _assign(model, values)


# --- What a model may change of its weights: the classifier's width, the input's channels ---

_KEEP, _MISMATCH = object(), object()  # keep the model's initial value; refuse


def _is_classifier_name(layer_name):
    """The layers whose width is `classes`: "logits" and auxiliary ones ("aux_logits")."""
    return layer_name == "logits" or layer_name.endswith("_logits")


def _classifiers(model):
    return [layer for layer in model.layers if _is_classifier_name(layer.name)]


def stem_layers(model):
    """The convolutions that read the input image: from the model's input through layers
    without weights only (padding, rescaling), so their kernels' input axis is the image's
    channels."""
    image = {id(tensor) for tensor in model.inputs}  # tensors that are still the image
    stems = []
    for layer in model.layers:  # in network order
        try:
            inputs, output = _as_list(layer.input), layer.output
        except (AttributeError, ValueError):  # the input layer; a layer called more than once
            continue
        if not inputs or not all(id(tensor) in image for tensor in inputs):
            continue
        if not layer.weights:
            image.add(id(output))
        elif _kind(layer) in ("Conv2D", "DepthwiseConv2D"):
            stems.append(layer)
    return stems


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def adapt_input_kernel(kernel, channels):
    """A stem kernel (H, W, I, O) trained on RGB adapted to `channels` input channels, as
    timm's `adapt_input_conv`: one channel sums the RGB kernels (grouped by three for a
    space-to-depth stem whose I is a multiple of 3); more repeat them cyclically, scaled by
    3 / channels so that the response to a grey image keeps its magnitude. None where neither
    applies."""
    kernel = np.asarray(kernel, dtype=np.float32)
    height, width, in_channels, out_channels = kernel.shape
    if channels == 1:
        if in_channels > 3:
            if in_channels % 3:
                return None
            return kernel.reshape(height, width, in_channels // 3, 3, out_channels).sum(axis=3)
        return kernel.sum(axis=2, keepdims=True)
    if in_channels != 3:
        return None
    repeats = -(-channels // 3)
    return np.tile(kernel, (1, 1, repeats, 1))[:, :, :channels] * (3.0 / channels)


class _Fitted:
    """Fits a file's value to a model weight's shape where the model may differ (see
    `load_weights`), and remembers what it changed for one message."""

    def __init__(self):
        self.new_classifier, self.adapted = [], []

    def __call__(self, model, key, value, expected):
        shape = tuple(value.shape)
        if shape == expected:
            return value
        layer_name = key.split("/")[0]
        if _is_classifier_name(layer_name) and shape[:-1] == expected[:-1]:
            self.new_classifier.append((layer_name, shape[-1], expected[-1]))
            return _KEEP
        stem = {layer.name: layer for layer in stem_layers(model)}.get(layer_name)
        if stem is not None and len(shape) == 4:  # its kernel (the bias has no input axis)
            adapted = adapt_input_kernel(value, expected[2])
            if adapted is not None and adapted.shape == expected:
                self.adapted.append((layer_name, shape[2], expected[2]))
                return adapted
        return _MISMATCH

    def report(self, model):
        if self.new_classifier:
            widths = sorted({(old, new) for _, old, new in self.new_classifier})
            logging.getLogger("keras_backbones").warning(
                "%s: loaded all but the classifier (%s): %s classes in the weights, %s in the "
                "model; the classifier keeps its initial weights.", model.name,
                ", ".join(sorted({name for name, _, _ in self.new_classifier})),
                "/".join(str(old) for old, _ in widths), "/".join(str(new) for _, new in widths))
        if self.adapted:
            logging.getLogger("keras_backbones").warning(
                "%s: %s adapted from %d to %d input channels (timm's adapt_input_conv).",
                model.name, ", ".join(name for name, _, _ in self.adapted),
                self.adapted[0][1], self.adapted[0][2])


def _refusal(what, sections, hint=None):
    """A WeightsError that lists each non-empty (description, items) section."""
    problems = [f"{len(items)} {description}: {_listing(items)}"
                for description, items in sections if items]
    return WeightsError(f"{what}: " + "; ".join(problems) + (f" ({hint})" if hint else "") + ".")


def _assign(model, arrays):
    """Assigns the weights `arrays` has (every one but those a model keeps, see `_Fitted`)."""
    for key, weight in _model_arrays(model).items():
        if key in arrays:
            weight.assign(_as_weight(arrays[key], weight))
    return model


def _is_float(dtype):
    """Whether arrays of `dtype` hold real numbers: float16/32/64, and the bfloat16 and float8
    of ml_dtypes (which safetensors returns)."""
    try:
        ml_dtypes.finfo(dtype)
    except ValueError:  # ints, bools, complex, raw bytes: "not inexact"
        return False
    return np.dtype(dtype).kind != "c"


def _as_weight(array, weight):
    """`array` in `weight`'s dtype; left as it is where it holds no real numbers, for
    `_unusable` to name."""
    if not _is_float(array.dtype):
        return array
    with np.errstate(over="ignore"):  # an overflow becomes an inf, which _unusable names
        return array.astype(weight.dtype.name if hasattr(weight.dtype, "name") else weight.dtype,
                            copy=False)  # already cast (load_weights checks before assigning)


def _unusable(arrays):
    """The refusal sections of the arrays ({name: array}) that cannot be weights: not real
    numbers (a checkpoint cast to int8 or bool would load as zeros and ones), or holding NaN
    or inf."""
    not_float, not_finite = [], []
    for name, array in arrays.items():
        if not _is_float(array.dtype):
            not_float.append(f"{name} ({array.dtype})")
            continue
        finite = np.isfinite(array)
        if not finite.all():
            not_finite.append(f"{name} ({finite.size - np.count_nonzero(finite)} of "
                              f"{finite.size} values)")
    return [("tensors not floating point", not_float), ("tensors with NaN or inf", not_finite)]


# --- Reference checkpoints --------------------------------------------------------------------

CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt", ".pth.tar")


@dataclasses.dataclass(frozen=True)
class CheckpointMap:
    """How a reference implementation names a family's layers.

    names: (Keras module path, model) -> the reference module that holds its tensors
        ("stage1_block1_se/reduce" -> "layer1.0.se.fc1"), "" for the reference's top level
        (ViT's cls_token), or None where the reference has no counterpart. A module path is a layer name, or "layer/sublayer" in a custom layer.
    head: prefixes of the reference's classifier tensors, expected to go unused when the
        model is built without its top (include_top=False, features_only).
    flattened: {dense layer: the Flatten layer that feeds it}. The reference flattens
        channels first, Keras channels last: these kernels' rows are permuted.
    norm_epsilon: the reference's BatchNorm epsilon, or a tuple of them where its variants
        differ (torchvision's EfficientNet: 1e-5 for B0-B4, 1e-3 for B5-B7); a model whose
        norms have another is refused.
    """

    names: Callable[[str, object], Optional[str]]
    head: Tuple[str, ...] = ()
    flattened: Mapping[str, str] = dataclasses.field(default_factory=dict)
    norm_epsilon: Union[float, Tuple[float, ...]] = 1e-5


def is_checkpoint(path):
    return os.fspath(path).lower().endswith(CHECKPOINT_SUFFIXES)


# Buffers a reference keeps that Keras has no counterpart for.
IGNORED_TENSORS = re.compile(r".*\.num_batches_tracked")
_WRAPPER_KEYS = ("state_dict_ema", "state_dict", "model_ema", "model")  # training checkpoints


def read_checkpoint(path):
    """{tensor name: float32 array} of a reference state dict (.safetensors or .pth).

    Training checkpoints ({"state_dict": ..., "optimizer": ...}) are unwrapped and the
    "module." prefix of DataParallel checkpoints is dropped."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Checkpoint not found: {path}")
    if path.lower().endswith(".safetensors"):
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise WeightsError("Reading .safetensors needs the safetensors package "
                               "(pip install safetensors).") from None
        try:
            tensors = load_file(path)
        except Exception as error:  # safetensors raises its own error types
            raise WeightsError(f"{path} is not a readable .safetensors file: {error}") from None
    else:
        tensors = _read_torch(path)
    tensors = {re.sub(r"^module\.", "", key): value for key, value in tensors.items()}
    with np.errstate(over="ignore"):  # an overflow becomes an inf, which import_checkpoint names
        return {key: np.asarray(value, dtype=np.float32) if _is_float(value.dtype)
                else np.asarray(value) for key, value in tensors.items()}


def _read_torch(path):
    """A PyTorch file's state dict, read without torch (`torch_pickle`: what torch.load with
    weights_only=True reads, and nothing it refuses)."""
    try:
        state = torch_pickle.load(path)
    except ValueError as error:
        raise WeightsError(f"{path} is not a readable PyTorch checkpoint: {error}") from None
    for key in _WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise WeightsError(f"{path} holds no state dict of tensors (found {type(state).__name__}"
                           f" with keys {_listing(map(str, getattr(state, 'keys', list)()))}).")
    return state


def checkpoint_map(variant, source=None):
    """The `CheckpointMap` of a registered variant's family for `source` (default: the
    variant's reference)."""
    from keras_backbones import registry

    spec = registry.get_spec(variant)
    source = source or spec.reference[0]
    maps = getattr(sys.modules[spec.builder.__module__], "CHECKPOINTS", {})
    if source not in maps:
        raise WeightsError(
            f"No checkpoint import for {variant} from {source!r}: "
            + (f"its family reads {', '.join(maps)}." if maps else
               f"{variant}'s reference is {spec.reference[0]} {spec.reference[1]!r}, "
               "which publishes no checkpoint to import."))
    return maps[source]


def _variant_of(model):
    from keras_backbones import registry

    # The variant the application base recorded (the model may carry the user's name=), or
    # a model loaded from a file, known by its name.
    for name in (getattr(model, "variant", None), model.name,
                 re.sub(r"_features$", "", model.name)):
        if name in registry.list_models():
            return name
    raise WeightsError(f"Cannot tell which registered variant {model.name!r} is, to map a "
                       "reference checkpoint onto it: build it with "
                       "create_model(NAME, weights=...) or pass variant=NAME.")


# The reference tensor and conversion of each Keras weight, by layer type (most specific
# class first in the layer's MRO) and weight name.
def _conv_kernel(tensor, _):  # OIHW -> HWIO (grouped convs too: I is in/groups in both)
    return tensor.transpose(2, 3, 1, 0)


def _conv1d_kernel(tensor, _):  # OIK -> KIO
    return tensor.transpose(2, 1, 0)


def _depthwise_kernel(tensor, shape):  # (C*M, 1, H, W) -> (H, W, C, M)
    channels, multiplier = shape[2], shape[3]
    return tensor.reshape(channels, multiplier, *tensor.shape[2:]).transpose(2, 3, 0, 1)


def _dense_kernel(tensor, _):  # (out, in) -> (in, out); a 1x1 conv head counts as linear
    return tensor.reshape(tensor.shape[0], -1).T


def _same(tensor, _):
    return tensor


_NORM = {"gamma": ("weight", _same), "beta": ("bias", _same),
         "moving_mean": ("running_mean", _same), "moving_variance": ("running_var", _same)}
_BIAS = {"bias": ("bias", _same)}
CONVERSIONS = {
    "DepthwiseConv2D": {"kernel": ("weight", _depthwise_kernel),
                        "depthwise_kernel": ("weight", _depthwise_kernel), **_BIAS},
    "Conv2D": {"kernel": ("weight", _conv_kernel), **_BIAS},
    "Conv1D": {"kernel": ("weight", _conv1d_kernel), **_BIAS},
    "Dense": {"kernel": ("weight", _dense_kernel), **_BIAS},
    "BatchNormalization": _NORM,
    "GroupNormalization": _NORM,
    "LayerNormalization": _NORM,
    "Embedding": {"embeddings": ("weight", _same)},
}


def _kind(layer):
    """The layer's most specific class that `CONVERSIONS` knows, or None (a custom layer)."""
    return next((cls.__name__ for cls in type(layer).__mro__ if cls.__name__ in CONVERSIONS), None)


def _conversion(layer, weight_name):
    kind = _kind(layer)
    if kind is None:
        return weight_name, _same  # a custom layer's own weight: the reference uses its name
    return CONVERSIONS[kind].get(weight_name)


def _modules(layer):
    """(Keras module path, module) of a layer and of the sublayers that own weights."""
    yield layer.name, layer
    for sub in layer._flatten_layers(include_self=False, recursive=True):
        yield f"{layer.name}/{sub.name}", sub


def _weight_name(weight):  # "kernel" from Keras 3's "kernel" and tf-keras' "conv/kernel:0"
    return weight.name.split("/")[-1].split(":")[0]


def import_checkpoint(model, checkpoint, *, variant=None, source=None, drop=()):
    """{portable key: array} for `model` from a reference checkpoint (a path, or its
    {name: array} as `read_checkpoint` returns them), or a `WeightsError` listing every
    reference tensor left unused, Keras weight left unfilled and shape that does not match.
    The model may differ from the checkpoint as `load_weights` allows (its classifier and
    stem). drop: prefixes of tensors to leave out (training-only auxiliary classifiers)."""
    variant = variant or _variant_of(model)
    cmap = checkpoint_map(variant, source)
    what = "the checkpoint" if isinstance(checkpoint, Mapping) else os.fspath(checkpoint)
    tensors = checkpoint if isinstance(checkpoint, Mapping) else read_checkpoint(checkpoint)
    tensors = {name: tensor for name, tensor in tensors.items()
               if not name.startswith(tuple(drop))}
    arrays, used, unfilled, mismatched, fitted = {}, set(), [], [], _Fitted()
    for layer in model.layers:
        owners = {}
        for module_path, module in _modules(layer):
            for weight in module.weights:  # sublayers come later: the innermost owner wins
                owners[id(weight)] = (module_path, module)
            if _kind(module) == "BatchNormalization" and not np.isclose(
                    module.epsilon, np.atleast_1d(cmap.norm_epsilon), rtol=1e-6, atol=0).any():
                mismatched.append(f"{module_path}: epsilon {module.epsilon}, the reference's "
                                  f"is {cmap.norm_epsilon}")
        for index, weight in enumerate(layer.weights):
            key = f"{layer.name}/{index}"
            module_path, module = owners[id(weight)]
            reference = cmap.names(module_path, model)
            conversion = _conversion(module, _weight_name(weight))
            if reference is None or conversion is None:
                unfilled.append(f"{key} ({module_path}/{_weight_name(weight)})")
                continue
            tensor_name, convert = conversion
            name = f"{reference}.{tensor_name}" if reference else tensor_name  # "": top level
            if name not in tensors:
                unfilled.append(f"{key} ({module_path}/{_weight_name(weight)} <- {name})")
                continue
            used.add(name)
            tensor = tensors[name]
            if module_path in cmap.flattened and tensor.ndim == 2:  # flattened C,H,W -> H,W,C
                h, w, c = model.get_layer(cmap.flattened[module_path]).input.shape[1:]
                tensor = (tensor.reshape(-1, c, h, w).transpose(0, 2, 3, 1)
                          .reshape(tensor.shape[0], -1))
            expected = tuple(weight.shape)
            try:
                value = fitted(model, key, convert(tensor, expected), expected)
            except ValueError:
                value = _MISMATCH
            if value is _MISMATCH:
                mismatched.append(f"{key} <- {name}: checkpoint {tuple(tensor.shape)}, "
                                  f"model {expected}")
            elif value is not _KEEP:
                arrays[key] = value
    unused = {name for name in set(tensors) - used if not IGNORED_TENSORS.fullmatch(name)}
    if not _classifiers(model):  # built without its top
        unused = {name for name in unused if not name.startswith(cmap.head)}
    unusable = _unusable({name: tensors[name] for name in used})
    if unused or unfilled or mismatched or any(items for _, items in unusable):
        raise _refusal(
            f"Cannot import {what} into {model.name} (as {variant}, "
            f"{source or 'its reference'} names)", [
                ("model weights not filled", unfilled),
                ("checkpoint tensors not used", unused),
                ("mismatches", mismatched), *unusable])
    fitted.report(model)
    return arrays


def convert_checkpoint(variant, checkpoint, out, *, source=None, **model_kwargs):
    """Writes a reference checkpoint of `variant` in the portable format; returns `out`."""
    from keras_backbones import registry

    model = registry.create_model(variant, **model_kwargs)
    _assign(model, import_checkpoint(model, checkpoint, variant=variant, source=source))
    return save_weights(model, out)
