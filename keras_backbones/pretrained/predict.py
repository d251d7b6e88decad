"""Labels for images: `predict` runs a model on image files as its checkpoint's reference
evaluates them and names the best classes; `predict_files` is `keras-backbones predict`:
the model and its labels from a variant's name and its weights.

    model = create_model("resnet50", weights="imagenet")
    predict(model, ["cat.jpg"], checkpoint="imagenet")
    # a list per image, best first: [[("n02123045", "tabby", probability), ...]]

Labels: the ImageNet-1k names for 1000 classes; for weights that `train` wrote, the class
names its run recorded (the recipe.json beside the weights); "class 7" where a class has no
name.
"""

import dataclasses
import os
from typing import Any, Mapping, Optional, Sequence, Tuple

import numpy as np

from keras_backbones.pretrained import imagenet, images as images_lib

BATCH_SIZE = 16  # images per call of the model: few enough for the largest variants' memory


@dataclasses.dataclass(frozen=True)
class Trained:
    """What a training run recorded beside its weights (the recipe.json that `train` writes):
    the variant and arguments it built, its input shape, and the classes it learned (their
    number, and their names where the data has them)."""

    model: str
    kwargs: Mapping[str, Any]
    input_shape: Tuple[int, int, int]
    classes: int
    class_names: Tuple[str, ...] = ()


def predict(model, images, *, checkpoint=None, labels: Optional[Sequence[str]] = None, top=5):
    """The `top` classes of each image, best first: a list per image of (WordNet id, name,
    score) for an ImageNet-1k classifier, else of (class index, label, score) (`labels`: a
    name per class; default "class 0", "class 1", ...). Scores are the model's outputs
    (probabilities with the default classifier_activation="softmax").

    images: image files (or PIL images), one or a list, resized and cropped by
        `load_image`; or arrays of pixels already at the model's input size (uint8 or 0..255
        floats, [height, width, channels] or a batch of them).
    checkpoint: the published checkpoint whose weights the model holds, by the name given
        to `weights=` ("imagenet", "SOURCE:TAG") or as a `Checkpoint`; or a registry
        `Preprocessing`: how the images are resized, cropped and normalized. Default: that of
        the checkpoint the model was built with (`model.checkpoint`), else the registered
        preprocessing of the variant the model was built as."""
    if checkpoint is None or isinstance(checkpoint, str):
        checkpoint = _preprocessing_of(model, checkpoint)
    _, height, width, channels = _input_shape(model)
    size = (height, width) if height and width else None
    pixels = [image if isinstance(image, np.ndarray) else
              images_lib.load_image(image, checkpoint, size=size, channels=channels)
              for image in _as_list(images)]
    if not pixels:
        raise ValueError("predict: no images given.")
    expected = (height, width, channels)
    shapes = sorted({image.shape for image in pixels})
    if len(shapes) > 1 or len(shapes[0]) != 3 or any(
            want and have != want for have, want in zip(shapes[0], expected)):
        raise ValueError(f"predict: arrays must be images of the model's input shape "
                         f"{expected}; got shapes {shapes} (load_image resizes a file).")
    batch = images_lib.preprocess_input(np.stack(pixels), checkpoint)
    scores = np.concatenate([_outputs(model, batch[start:start + BATCH_SIZE])
                             for start in range(0, len(batch), BATCH_SIZE)])
    if labels is None and scores.shape[1] != imagenet.IMAGENET_CLASSES:
        labels = class_labels(scores.shape[1])
    return imagenet.decode_predictions(scores, top=top, labels=labels)


def _as_list(images):
    """One image (a path, a PIL image, an array of at most 3 dimensions), or several."""
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    if isinstance(images, (str, bytes, os.PathLike)) or not hasattr(images, "__iter__"):
        return [images]
    return list(images)


def _input_shape(model):
    shape = model.input_shape
    if isinstance(shape, list) or len(shape) != 4:
        raise ValueError(f"predict takes a model of one image input; {model.name} takes "
                         f"{shape}.")
    return shape


def _outputs(model, batch):
    outputs = model(batch, training=False)
    if isinstance(outputs, (list, tuple)):  # auxiliary classifiers: the main one is first
        outputs = outputs[0]
    return np.asarray(outputs, dtype=np.float32).reshape(len(batch), -1)


def _preprocessing_of(model, weights):
    """The Checkpoint that `weights` names for the model's variant, else its registered
    preprocessing."""
    from keras_backbones import pretrained, registry

    if weights is None and getattr(model, "checkpoint", None) is not None:
        return model.checkpoint
    variant = getattr(model, "variant", None)
    if variant is None:
        raise ValueError(f"predict: {model.name} was not built as a registered variant: pass "
                         "checkpoint= (a published Checkpoint or a registry Preprocessing).")
    return pretrained.resolve(variant, weights) or registry.get_spec(variant).preprocessing


def class_labels(classes, names=()):
    """A label per class: `names` where given, "class N" for the rest."""
    names = [str(name) for name in names][:classes]
    return names + [f"class {index}" for index in range(len(names), classes)]


# --- keras-backbones predict ----------------------------------------------------------------

def predict_files(name, weights, images, *, top=5, trained: Optional[Trained] = None):
    """`keras-backbones predict`: the registered variant `name` with `weights` ("imagenet",
    "SOURCE:TAG", a URL or a weights file) on image files: [(image, the `top` classes as
    `predict` gives them)]. trained: what the run that wrote a weights file recorded (its
    recipe.json), for its model arguments, input and class names.

    Every image is decoded before the model is built: a missing or broken file is an error
    at once, naming it."""
    from keras_backbones import pretrained, registry

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"--top must be a positive integer; got {top!r}.")
    spec = registry.get_spec(name)
    height, width, channels = spec.preprocessing.input_size
    checkpoint = pretrained.resolve(name, weights)
    kwargs = {}
    if checkpoint is not None:
        preprocessing = checkpoint
        if checkpoint.classes:
            kwargs["classes"] = checkpoint.classes
        if tuple(checkpoint.input_size) != (height, width):
            height, width = checkpoint.input_size
            kwargs["input_shape"] = (height, width, channels)
    elif trained is not None:
        preprocessing = spec.preprocessing
        if trained.model != name:
            raise ValueError(f"{weights} holds weights of {trained.model} (the recipe.json "
                             f"beside it says so), not of {name}.")
        height, width, channels = trained.input_shape
        kwargs = {**trained.kwargs, "classes": trained.classes,
                  "input_shape": tuple(trained.input_shape)}
    else:
        preprocessing = spec.preprocessing
        classes = _classifier_width(weights)
        if classes:
            kwargs["classes"] = classes
    pixels = [images_lib.load_image(image, preprocessing, size=(height, width),
                                    channels=channels) for image in images]
    try:
        model = registry.create_model(name, weights=weights, **kwargs)
    except TypeError as error:  # a recorded model argument that the builder does not take
        if trained is None:
            raise
        raise ValueError(f"{name} does not take the arguments its recipe.json records "
                         f"({trained.kwargs}): {error}.") from None
    classes = (model.output_shape[0] if isinstance(model.output_shape, list)
               else model.output_shape)[-1]
    # A run's classes have the names it recorded; 1000 classes otherwise are ImageNet-1k's.
    labels = (class_labels(classes, trained.class_names) if trained is not None
              else None if classes == imagenet.IMAGENET_CLASSES else class_labels(classes))
    results = predict(model, pixels, checkpoint=preprocessing, labels=labels, top=top)
    return list(zip(images, results))


def _classifier_width(path):
    """The classifier's width in a portable weights file (its "logits" layer's kernel), or
    None where it holds none or is a reference checkpoint (read by the loader)."""
    from keras_backbones import weights as portable

    if not os.path.isfile(path) or portable.is_checkpoint(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return int(arrays["logits/0"].shape[-1]) if "logits/0" in arrays.files else None
    except (OSError, ValueError, KeyError):
        return None  # not a weights file: the loader says so


def format_predictions(image, rows):
    """The lines `keras-backbones predict` prints for one image."""
    lines = [f"{image}:"]
    for rank, (key, label, score) in enumerate(rows, start=1):
        wnid = f"  ({key})" if isinstance(key, str) else ""
        lines.append(f"  {rank}. {score:7.2%}  {label}{wnid}")
    return "\n".join(lines)
