"""The table of published checkpoints: every file a reference publishes for a variant, with
the facts that go with it (where it is, its hash, its accuracy, its preprocessing, its
license) and where each fact was read.

The table is data, `checkpoints.json` beside this module, generated from the installed
torchvision and timm (their `Weights` enums and `default_cfgs`) and the official repositories
by `tools/checkpoint_table.py`; see that script for the origin of every field.
"""

import dataclasses
import functools
import json
import os
from typing import Mapping, Optional, Tuple

TABLE = os.path.join(os.path.dirname(__file__), "checkpoints.json")


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One published checkpoint of one variant.

    source, tag: "torchvision" and its Weights name ("IMAGENET1K_V2"), "timm" and its
        pretrained tag ("a1_in1k"), or an official repository ("official:PingoLH/...") and
        the file's name. `f"{source}:{tag}"` names it in `weights=`.
    default: the reference's own default for the variant (`weights="imagenet"`).
    url, file_format: where the file is, and its format ("pth" or "safetensors").
    sha256: the hash its source publishes (torchvision: the sha256 prefix in the file's name),
        or None where it is only known at download (Hugging Face's X-Linked-Etag).
    converter: the key of the family's `CHECKPOINTS` map that reads the file's names.
    drop: prefixes of tensors the file holds and the model has no counterpart for (auxiliary
        classifiers used only in training).
    classes: the classifier's width. input_size, resize_size, crop_pct, interpolation, mean,
        std: the evaluation preprocessing that goes with these weights (resize the shorter
        side to resize_size, center-crop input_size, scale to [0, 1], normalize).
    channel_order: "RGB", or "BGR" for a file trained on BGR images (the stem's input
        channels are reversed at conversion, so the model always takes RGB).
    crop_mode: "center" (the shorter side resized, the aspect kept), or timm's "squash" (both
        sides resized to resize_size, the aspect not kept), before the center crop.
    top1, top5, eval_size: the published ImageNet accuracy (%) and the size it was measured at.
    file_size_mib: the file's size in MiB, where its source publishes it (torchvision).
    license: of the weights, as their source states it.
    origin: where these facts were read ({field group: source}).
    """

    variant: str
    source: str
    tag: str
    default: bool
    url: str
    file_format: str
    sha256: Optional[str]
    converter: str
    classes: int
    input_size: Tuple[int, int]
    resize_size: int
    crop_pct: float
    interpolation: str
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    top1: Optional[float]
    top5: Optional[float]
    eval_size: Optional[int]
    license: str
    origin: Mapping[str, str]
    drop: Tuple[str, ...] = ()
    channel_order: str = "RGB"
    crop_mode: str = "center"
    file_size_mib: Optional[float] = None

    @property
    def name(self):
        return f"{self.source}:{self.tag}"

    def as_dict(self):
        return dataclasses.asdict(self)


def _checkpoint(variant, fields):
    tuples = {key: tuple(fields[key]) for key in ("input_size", "mean", "std", "drop")
              if key in fields}
    return Checkpoint(variant=variant, **{**fields, **tuples})


@functools.lru_cache(maxsize=None)
def _table():
    with open(TABLE, encoding="utf-8") as f:
        data = json.load(f)
    checkpoints = {variant: tuple(_checkpoint(variant, fields) for fields in entries)
                   for variant, entries in data["checkpoints"].items()}
    return checkpoints, dict(data["without"])


def checkpoints(variant) -> Tuple[Checkpoint, ...]:
    """The published checkpoints of `variant` (the default first), or () if none."""
    return _table()[0].get(variant, ())


def without_checkpoints() -> Mapping[str, str]:
    """{variant: why no published checkpoint is listed} for the variants that have none."""
    return _table()[1]
