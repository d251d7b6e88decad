"""Named variants: builder, default arguments and metadata.

Each family module registers its variants with `@register_model(...)` on their public
constructors at import time. Parameter and FLOP counts are not typed in: `model_info` builds the model and counts them (and caches
the result on disk, keyed by the package's source, so a change to any builder recounts).
"""

import contextlib
import contextvars
import dataclasses
import difflib
import fnmatch
import functools
import hashlib
import inspect
import json
import os
import pathlib
from typing import Any, Callable, Mapping, Optional, Tuple

from keras_backbones import pretrained

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
# CIFAR-10's, as the official Wide ResNet code normalizes (pytorch/main.py), in [0, 1] units.
CIFAR10_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR10_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)


@dataclasses.dataclass(frozen=True)
class Paper:
    title: str
    year: int
    arxiv: Optional[str] = None  # arXiv id, or None for papers that are not on arXiv


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """How the reference implementation feeds images: resize to input_size / crop_pct with
    `interpolation`, center-crop input_size, scale to [0, 1], subtract mean, divide by std."""

    input_size: Tuple[int, int, int] = (224, 224, 3)
    mean: Tuple[float, ...] = IMAGENET_MEAN
    std: Tuple[float, ...] = IMAGENET_STD
    interpolation: str = "bilinear"
    crop_pct: float = 0.875


# The CIFAR-10 networks' (Wide ResNet, EffNet): 32x32 images, uncropped.
CIFAR10_PREPROCESSING = Preprocessing(input_size=(32, 32, 3), mean=CIFAR10_MEAN, std=CIFAR10_STD,
                                      crop_pct=1.0)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    builder: Callable[..., Any]
    kwargs: Mapping[str, Any]
    paper: Paper
    reference: Tuple[str, str]  # (source, name): ("torchvision", "resnet50"), ("paper", "table 1 C")
    preprocessing: Preprocessing
    # The paper's own (rounded) parameter count, for variants with no code reference.
    paper_params: Optional[int] = None

    def build(self, **overrides):
        return self.builder(**{**self.kwargs, **overrides})


_REGISTRY = {}


def register_model(name, *, family, paper, reference, preprocessing=Preprocessing(),
                   paper_params=None, doc=None, **kwargs):
    """Decorator: registers a public constructor as the variant `name` (kwargs: its defaults,
    applied by create_model and by a direct call of the constructor alike).

    doc: the family's docstring template, formatted with the variant's name and reference."""
    def decorate(constructor):
        if name in _REGISTRY:
            raise ValueError(f"Model name {name!r} is registered twice.")
        if doc is not None:  # an application builder's own summary, without its Args
            summary = getattr(constructor, "summary", None) or (constructor.__doc__ or "").strip()
            constructor.__doc__ = doc.format(name=name, summary=summary,
                                             reference=f"{reference[0]} {reference[1]}",
                                             input_size=str(tuple(preprocessing.input_size)))
        public = _public_constructor(name, constructor)
        _REGISTRY[name] = ModelSpec(name=name, family=family, builder=public, kwargs=kwargs,
                                    paper=paper, reference=tuple(reference),
                                    preprocessing=preprocessing, paper_params=paper_params)
        return public
    return decorate


# The registered variant being built, for the application base: its default input size, and
# the variant recorded on the model (what a renamed model's checkpoint names are found by).
_BUILDING = contextvars.ContextVar("keras_backbones_building", default=None)


def building() -> Optional[ModelSpec]:
    """The registered variant whose constructor is running, or None."""
    return _BUILDING.get()


@contextlib.contextmanager
def _building(spec):
    token = _BUILDING.set(spec)
    try:
        yield
    finally:
        _BUILDING.reset(token)


def _public_constructor(variant, constructor):
    """`constructor` as users call it: building the registered variant `variant`, with
    keras.applications' `name=` (the Keras model's name; its layers keep theirs, which weights
    files use)."""
    signature = inspect.signature(constructor)

    @functools.wraps(constructor)
    def build(*args, name=None, **kwargs):
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"{variant}: `name` must be a non-empty string without '/'; "
                             f"got {name!r}.")
        # The outermost registered constructor is the variant built (ECAMobileNetV2 calls
        # MobileNetV2, the family's builder, registered itself as mobilenet_v2).
        spec = _REGISTRY[variant]
        outermost = building() is None
        if outermost:  # the variant's registered defaults, under what the caller passed
            given = signature.bind_partial(*args, **kwargs).arguments
            kwargs = {**{k: v for k, v in spec.kwargs.items() if k not in given}, **kwargs}
        elif name is not None:  # another variant's constructor naming its network
            kwargs["name"], name = name, None
        with _building(spec) if outermost else contextlib.nullcontext():
            model = constructor(*args, **kwargs)
        return model if name is None else _renamed(model, name)

    # help() and inspect show the constructor's own arguments, and name=.
    if "name" not in signature.parameters:
        parameters = list(signature.parameters.values())
        at = next((i for i, p in enumerate(parameters) if p.kind is p.VAR_KEYWORD), len(parameters))
        parameters.insert(at, inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY,
                                                default=None))
        build.__signature__ = signature.replace(parameters=parameters)
    return build


def _renamed(model, name):
    """`model`, named `name`: Keras 3's name is an attribute, tf-keras's a read-only property
    over `_name`."""
    from keras_backbones.backend import LEGACY_KERAS

    if LEGACY_KERAS:
        model._name = name
    else:
        model.name = name
    return model


def _ensure_loaded():
    from keras_backbones import models  # noqa: F401  (registers every family)


def get_spec(name) -> ModelSpec:
    _ensure_loaded()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=5, cutoff=0.5)
        hint = f" Closest names: {', '.join(close)}." if close else ""
        raise ValueError(f"Unknown model name {name!r}.{hint} "
                         "`keras_backbones.list_models()` lists every name.")
    return _REGISTRY[name]


def list_models(pattern="*", family=None):
    """Registered names matching a shell-style pattern (`"resnet*"`), in registration order."""
    _ensure_loaded()
    return [n for n, s in _REGISTRY.items()
            if fnmatch.fnmatch(n, pattern) and (family is None or s.family == family)]


def create_model(name, /, weights=None, **overrides):
    """Builds a registered variant: `create_model("resnet50", classes=10)`.

    `weights` is None or a local file in the portable format (see `keras_backbones.weights`).
    `features_only=True` returns a model whose outputs are the feature maps at each stride
    (include_top=True or a pooling with it is an error). `name=` names the Keras model.
    """
    return get_spec(name).build(weights=weights, **overrides)


# --- counted metadata ---------------------------------------------------------------------

def _source_digest():
    root = pathlib.Path(__file__).parent
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cache_path():
    base = os.environ.get("KERAS_BACKBONES_CACHE",
                          os.path.join(os.path.expanduser("~"), ".cache", "keras_backbones"))
    return pathlib.Path(base) / f"model_stats-{_source_digest()}.json"


def _read_cache(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(path, stats):
    from keras_backbones import files

    try:
        files.write_bytes(path, json.dumps(stats, indent=1, sort_keys=True).encode())
    except OSError:
        pass  # a read-only home only costs a recount next time


def model_stats(names):
    """{name: {"params": trainable parameters, "macs": multiply-accumulates, "activations":
    the RegNet paper's activations (`stats.count_activations`)}} at the default input size."""
    from keras_backbones import stats
    from keras_backbones.backend import clear_session

    path = _cache_path()
    cached = _read_cache(path)
    missing = [n for n in names if n not in cached]
    for name in missing:
        clear_session()
        model = get_spec(name).build()
        cached[name] = {"params": stats.trainable_params(model), "macs": stats.count_macs(model),
                        "activations": stats.count_activations(model)}
        del model
    if missing:
        clear_session()
        _write_cache(path, cached)
    return {n: cached[n] for n in names}


def model_info(name):
    """Everything known about a variant, with its parameter, FLOP and activation counts."""
    spec = get_spec(name)
    counted = model_stats([name])[name]
    pre = spec.preprocessing
    return {
        "name": spec.name,
        "family": spec.family,
        "paper": dataclasses.asdict(spec.paper),
        "reference": {"source": spec.reference[0], "name": spec.reference[1]},
        "default_kwargs": dict(spec.kwargs),
        "input_size": list(pre.input_size),
        "preprocessing": {"mean": list(pre.mean), "std": list(pre.std),
                          "interpolation": pre.interpolation, "crop_pct": pre.crop_pct},
        "params": counted["params"],
        "paper_params": spec.paper_params,
        "macs": counted["macs"],
        "flops": 2 * counted["macs"],
        "activations": counted["activations"],
        "checkpoints": [checkpoint.as_dict() for checkpoint in pretrained.checkpoints(name)],
        "without_checkpoints": pretrained.without_checkpoints().get(name),
    }
