"""Weights in the portable format, readable and writable under Keras 3 and tf-keras.

One `.npz` file (NumPy's zip of arrays, no pickle): the weights of each layer under
"<layer name>/<index in layer.weights>", plus "__meta__", a JSON record of the model name,
format version and the Keras that wrote it. Layer names are deterministic in every builder,
so a file written by a model built under Keras 3 loads into the same model built under
tf-keras (for TFMOT), and loading checks every name and shape: a missing weight, an unused
one or a shape mismatch is an error that lists them, never a silent partial load.
"""

import json
import os
import tempfile
import zipfile

import numpy as np

from keras_backbones.backend import KERAS_VERSION, LEGACY_KERAS

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
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def read_weights(path):
    """(meta, {key: array}) of a portable weights file, with clear errors for a bad file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Weights file not found: {path}")
    if os.path.isdir(path):
        raise WeightsError(f"{path} is a directory, not a weights file.")
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


def load_weights(model, path):
    """Loads a portable weights file into `model`, checking every name and shape."""
    meta, arrays = read_weights(path)
    targets = _model_arrays(model)
    missing = set(targets) - set(arrays)
    unused = set(arrays) - set(targets)
    mismatched = [f"{key}: file {arrays[key].shape} vs model {tuple(targets[key].shape)}"
                  for key in set(targets) & set(arrays)
                  if tuple(arrays[key].shape) != tuple(targets[key].shape)]
    if missing or unused or mismatched:
        problems = []
        if meta.get("model") != model.name:
            problems.append(f"the file holds weights of {meta.get('model')!r}, "
                            f"the model is {model.name!r}")
        if missing:
            problems.append(f"{len(missing)} model weights not in the file: {_listing(missing)}")
        if unused:
            problems.append(f"{len(unused)} file weights not in the model: {_listing(unused)}")
        if mismatched:
            problems.append(f"{len(mismatched)} shape mismatches: {_listing(mismatched)}")
        raise WeightsError(f"Cannot load {os.fspath(path)} into {model.name}: " + "; ".join(problems) + ".")
    for key, weight in targets.items():
        weight.assign(arrays[key].astype(weight.dtype.name if hasattr(weight.dtype, "name")
                                         else weight.dtype))
    return model
