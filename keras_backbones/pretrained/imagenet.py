"""The ImageNet-1k classes, and `decode_predictions`: a classifier's scores as labels.

The 1000 classes ship as package data, `imagenet_classes.json` beside this module, in the
order of every ImageNet-1k classifier's outputs (their WordNet ids, sorted): each class's
WordNet id (timm's `imagenet_synsets.txt`) and readable name (torchvision's `categories`),
written by `tools/imagenet_classes.py`.
"""

import functools
import json
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

CLASSES_FILE = os.path.join(os.path.dirname(__file__), "imagenet_classes.json")
IMAGENET_CLASSES = 1000


@functools.lru_cache(maxsize=None)
def imagenet_classes() -> Tuple[Tuple[str, str], ...]:
    """The ImageNet-1k classes as (WordNet id, name), in the classifiers' order."""
    with open(CLASSES_FILE, encoding="utf-8") as f:
        return tuple((wnid, name) for wnid, name in json.load(f)["classes"])


def decode_predictions(preds, top=5, labels: Optional[Sequence[str]] = None
                       ) -> List[List[Tuple]]:
    """The `top` best classes of each row of `preds` (batch, classes), best first, as
    keras.applications' decode_predictions gives them: for 1000 ImageNet-1k scores, a list per
    image of (WordNet id, name, score); with `labels` (one name per class, for any other
    classifier), of (class index, label, score). Scores are returned as given, as Python
    floats (probabilities from a softmax head); ties keep the lower class first."""
    scores = np.asarray(preds)
    if scores.ndim != 2:
        raise ValueError("decode_predictions expects a batch of scores, shape (images, "
                         f"classes); got shape {scores.shape}.")
    if scores.dtype.kind not in "iuf" and scores.dtype.name != "bfloat16":
        raise ValueError(f"decode_predictions expects real scores; got dtype {scores.dtype}.")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer; got {top!r}.")
    width = scores.shape[1]
    if labels is None:
        if width != IMAGENET_CLASSES:
            raise ValueError(f"decode_predictions without `labels` decodes the {IMAGENET_CLASSES} "
                             f"ImageNet-1k classes; got {width} scores per image (pass labels=, "
                             "one name per class).")
        classes = imagenet_classes()
    else:
        labels = [str(label) for label in labels]
        if len(labels) != width:
            raise ValueError(f"labels has {len(labels)} names for {width} scores per image.")
        classes = list(enumerate(labels))
    scores = scores.astype(np.float64)
    if not np.isfinite(scores).all():
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(scores))[:, 0]})
        raise ValueError(f"decode_predictions: the scores of image(s) {bad} are not finite "
                         "(NaN or inf): the model's output is broken.")
    best = np.argsort(-scores, axis=1, kind="stable")[:, :min(int(top), width)]
    return [[(*classes[index], float(row[index])) for index in order]
            for row, order in zip(scores, best)]
