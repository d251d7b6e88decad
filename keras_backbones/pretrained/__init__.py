"""Pretrained weights by name: `weights="imagenet"`, `"SOURCE:TAG"` or a URL.

    create_model("resnet50", weights="imagenet")               # the reference's default
    create_model("resnet50", weights="timm:a1_in1k", classes=10)  # all but the classifier
    create_model("resnet50", weights="https://.../resnet50-11ad3fa6.pth")

A named checkpoint (see `checkpoints(variant)`, the table in `table.py`) is downloaded once
into the cache (`download.fetch`: hash-checked, whole or not at all), converted once to the
portable format (`keras_backbones.weights`) under `$KERAS_BACKBONES_HOME/weights/<variant>/`,
and loaded from there afterwards, without a request. Loading then allows what a user changes
when fine-tuning (`weights.load_weights`): another number of classes, no classifier, other
input channels.
"""

import gc
import os
import re
import urllib.parse

from keras_backbones.pretrained.download import (MIRROR_ENV, DownloadError, cache_dir,  # noqa: F401
                                                 fetch)
from keras_backbones.pretrained.table import Checkpoint, checkpoints, without_checkpoints

IMAGENET = "imagenet"


def is_named(weights):
    """Whether `weights` names a published checkpoint or a URL (not a local file)."""
    if weights == IMAGENET:  # as keras.applications: the name, even beside a file so named
        return True
    if not isinstance(weights, str) or os.path.exists(weights):
        return False
    return _is_url(weights) or bool(_SOURCE_TAG.match(weights))


_SOURCE_TAG = re.compile(r"^(?P<source>[a-z]+(?::[\w.\-]+/[\w.\-]+)?):(?P<tag>[\w.\-]+)$")


def _is_url(weights):
    return urllib.parse.urlsplit(weights).scheme in ("http", "https")


def resolve(variant, weights):
    """The `Checkpoint` that `weights` names for `variant`: "imagenet" (the reference's
    default), "SOURCE:TAG" or an http(s) URL; None for None or a local path."""
    if not is_named(weights):
        return None
    published = checkpoints(variant)
    if weights == IMAGENET:
        if not published:
            raise ValueError(f"{variant} has no published ImageNet weights: "
                             f"{without_checkpoints().get(variant, 'none are listed')}. "
                             "Pass weights=None or the path to a weights file.")
        return published[0]
    if _is_url(weights):
        return next((c for c in published if c.url == weights), None) or _unlisted(variant,
                                                                                   weights)
    found = next((c for c in published if c.name == weights), None)
    if found is None:
        listed = ", ".join(c.name for c in published) or "none"
        raise ValueError(f"{variant} has no published checkpoint {weights!r}; its checkpoints: "
                         f"{listed} (or 'imagenet' for the default, a URL or a path).")
    return found


def _unlisted(variant, url):
    """A URL that the table does not list: a file in the variant's reference layout, its
    facts unknown (the number of classes is read from the file)."""
    from keras_backbones import registry

    spec = registry.get_spec(variant)
    path = urllib.parse.urlsplit(url).path
    hash_prefix = re.search(r"-([a-f0-9]{8,64})\.", os.path.basename(path))  # torch.hub's rule
    pre = spec.preprocessing
    return Checkpoint(
        variant=variant, source="url", tag=os.path.basename(path), default=False, url=url,
        file_format="safetensors" if path.endswith(".safetensors") else "pth",
        sha256=hash_prefix.group(1) if hash_prefix else None, converter=spec.reference[0],
        classes=None, input_size=tuple(pre.input_size[:2]),
        resize_size=int(pre.input_size[0] / pre.crop_pct), crop_pct=pre.crop_pct,
        interpolation=pre.interpolation, mean=tuple(pre.mean), std=tuple(pre.std), top1=None,
        top5=None, eval_size=None, license="unknown", origin={"url": "given by the user"})


def converted_path(variant, checkpoint):
    """Where `checkpoint`'s conversion for `variant` is kept."""
    slug = re.sub(r"[^\w.\-]+", "_", f"{checkpoint.source}-{checkpoint.tag}")
    return os.path.join(cache_dir(), "weights", variant, slug + ".npz")


def weights_file(variant, checkpoint, *, progress=True):
    """The portable weights file of `checkpoint`: downloaded and converted the first time."""
    out = converted_path(variant, checkpoint)
    if os.path.isfile(out):
        return out
    from keras_backbones import registry, weights

    tensors = weights.read_checkpoint(
        fetch(checkpoint.url, sha256=checkpoint.sha256, progress=progress))
    classes = checkpoint.classes or _classes_in(variant, checkpoint.converter, tensors)
    model = registry.create_model(variant, classes=classes)
    arrays = weights.import_checkpoint(model, tensors, variant=variant,
                                       source=checkpoint.converter, drop=checkpoint.drop)
    if checkpoint.channel_order == "BGR":  # trained on BGR images: the model takes RGB
        for layer in weights.stem_layers(model):
            arrays[f"{layer.name}/0"] = arrays[f"{layer.name}/0"][:, :, ::-1]
    weights._assign(model, arrays)
    weights.save_weights(model, out)
    del model
    gc.collect()
    return out


def _classes_in(variant, converter, tensors):
    """The classifier width of a reference state dict, from the tensor its map gives the
    classifier ("fc.weight": (classes, features))."""
    from keras_backbones import registry, weights

    model = registry.create_model(variant)
    name = weights.checkpoint_map(variant, converter).names("logits", model)
    tensor = tensors.get(f"{name}.weight") if name is not None else None
    if tensor is None:
        raise weights.WeightsError(f"Cannot tell the number of classes of this {variant} "
                                   f"checkpoint: it has no {name or 'classifier'}.weight.")
    return int(tensor.shape[0])


def load(model, weights, *, progress=True):
    """Loads `weights` (a name, URL or path) into `model`, a registered variant's model; a
    published checkpoint is recorded as `model.checkpoint`."""
    from keras_backbones import weights as portable

    variant = getattr(model, "variant", None)
    if not is_named(weights):
        return portable.load_weights(model, weights)
    if variant is None:
        raise ValueError(f"weights={weights!r} names a published checkpoint of a registered "
                         f"variant; {model.name} was not built as one (create_model(NAME)).")
    checkpoint = resolve(variant, weights)
    portable.load_weights(model, weights_file(variant, checkpoint, progress=progress))
    model.checkpoint = checkpoint  # its preprocessing and labels, for predict
    return model
