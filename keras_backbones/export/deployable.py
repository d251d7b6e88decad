"""What an export starts from: a trained model, how its inputs are prepared, its labels and
its data.

Everything comes from the weights file and the recipe it was trained with: `train` writes
`recipe.json` beside `weights.npz`, and that recipe names the model, its arguments, its input
size and channels, its classes (the training split's: the labels) and its data (whose test
split evaluates every artifact, and whose training split calibrates int8 quantization). A
weights file without a recipe (a converted ImageNet checkpoint) is exported from the
registry's defaults and `--classes`. A model with one class warns: its softmax is 1.0 for
every input.
"""

import dataclasses
import json
import os
import warnings
from typing import Optional, Sequence, Tuple

import numpy as np

from keras_backbones import pretrained, registry
from keras_backbones.data import preprocessing as prep


@dataclasses.dataclass
class Deployable:
    name: str                  # the registered variant
    model: object              # Keras model: normalized images -> probabilities
    image_size: Tuple[int, int]
    channels: int
    preprocessing: prep.Spec
    labels: Sequence[str]
    recipe: Optional[object]   # the ConfigDict it was trained with, when known
    model_kwargs: dict         # what rebuilds it: create_model(name, **model_kwargs)

    @property
    def input_shape(self):
        return (*self.image_size, self.channels)

    def metadata(self):
        """What travels with every artifact: enough to feed it, read its outputs and evaluate
        it on its data (`from_metadata`)."""
        recipe = json.loads(self.recipe.to_json_best_effort()) if self.recipe is not None else None
        return {"model": self.name, "input_shape": list(self.input_shape),
                "input": "RGB 0..255, resized to cover input_size / crop_pct, center-cropped, "
                         "then (x / 255 - mean) / std",
                "mean": list(self.preprocessing.mean), "std": list(self.preprocessing.std),
                "interpolation": self.preprocessing.interpolation,
                "crop_pct": self.preprocessing.crop_pct, "labels": list(self.labels),
                "model_kwargs": self.model_kwargs, "recipe": recipe}

    @classmethod
    def from_metadata(cls, meta):
        """The Deployable an artifact's sidecar describes, without a Keras model: for
        evaluating the artifact on its data."""
        import ml_collections

        try:
            return cls(name=meta["model"], model=None, image_size=tuple(meta["input_shape"][:2]),
                       channels=meta["input_shape"][2],
                       preprocessing=prep.spec(meta), labels=meta["labels"],
                       recipe=ml_collections.ConfigDict(meta["recipe"]) if meta.get("recipe") else None,
                       model_kwargs=meta.get("model_kwargs", {}))
        except (KeyError, TypeError, IndexError) as error:
            raise ValueError(f"Not a keras_backbones artifact sidecar (missing {error}).") from None

    def dataset(self, split, batch_size=64):
        """(images, one-hot labels) batches of the recipe's data, evaluation transform."""
        from keras_backbones.data import pipeline, sources

        if self.recipe is None:
            raise ValueError(f"No recipe is known for {self.name}'s weights: pass --recipe (the "
                             "recipe it was trained with) to name its data.")
        source = sources.load(self.recipe.data, split)
        return pipeline.make_dataset(source, training=False, image_size=self.image_size,
                                     channels=self.channels, preprocessing=self.preprocessing,
                                     batch_size=batch_size, num_classes=len(self.labels))

    def calibration_images(self, count=200):
        """Normalized images from the training split, for int8 calibration."""
        images = []
        for batch, _ in self.dataset("train"):
            images.append(batch.numpy())
            if sum(len(b) for b in images) >= count:
                break
        return np.concatenate(images)[:count]


def find_recipe(weights_path, recipe_spec=None):
    """The recipe ConfigDict: `recipe_spec` ("recipes/x.py:arg" or a recipe.json), else the
    recipe.json that `train` wrote beside the weights, else None."""
    from keras_backbones.training import recipe as recipe_lib

    if recipe_spec is not None and not isinstance(recipe_spec, (str, os.PathLike)):
        return recipe_spec  # already a ConfigDict (the command line's --recipe)
    if recipe_spec:
        return recipe_lib.load(recipe_spec)
    return recipe_lib.run_recipe(weights_path)


def read_labels(path, num_classes):
    with open(path) as f:
        labels = [line.strip() for line in f if line.strip()]
    if len(labels) != num_classes:
        raise ValueError(f"--labels {path} has {len(labels)} labels; the model has "
                         f"{num_classes} classes (one label per line).")
    return labels


def load(name, weights_path, *, recipe=None, labels_path=None, classes=None):
    """The Deployable of `weights_path`, trained as registered variant `name`."""
    from keras_backbones.data import sources
    from keras_backbones.training import recipe as recipe_lib

    spec = registry.get_spec(name)  # an unknown name fails here, with the closest names
    if pretrained.is_named(weights_path):
        return _published(name, weights_path, labels_path)
    if not weights_path or not os.path.isfile(weights_path):
        raise ValueError(f"--weights: no such file: {weights_path!r}.")
    config = find_recipe(weights_path, recipe)
    if config is not None and config.model.name != name:
        raise ValueError(f"The weights were trained as {config.model.name!r} (their recipe "
                         f"says so), not {name!r}.")
    class_names = None
    if config is not None:
        config = recipe_lib.with_recorded_classes(config, weights_path)
        image_size, channels, pre = recipe_lib.input_geometry(config)
        class_names = list(config.data.get("class_names") or ())
        if class_names:
            num_classes = len(class_names)
        else:  # not recorded: the training split's, which the model's outputs are
            source = sources.load(config.data, "train")
            num_classes, class_names = source.num_classes, source.class_names
        kwargs = dict(config.model.kwargs.to_dict())
    else:
        pre = spec.preprocessing
        image_size, channels = pre.input_size[:2], pre.input_size[2]
        num_classes = classes or spec.kwargs.get("classes", 1000)
        kwargs = {}
    if num_classes < 2:
        warnings.warn(f"{name} has {num_classes} class: its softmax is 1.0 for every input, so "
                      "its artifacts report 100% accuracy whatever they see; a classifier needs "
                      "at least 2 classes.", stacklevel=2)
    kwargs.update(classes=num_classes, input_shape=(*image_size, channels))
    model = registry.create_model(name, weights=weights_path, classifier_activation="softmax",
                                  **kwargs)
    if labels_path:
        labels = read_labels(labels_path, num_classes)
    elif class_names and len(class_names) == num_classes:
        labels = [str(c) for c in class_names]
    else:
        labels = [f"class_{i}" for i in range(num_classes)]
    kwargs["input_shape"] = list(kwargs["input_shape"])
    return Deployable(name=name, model=model, image_size=tuple(image_size), channels=channels,
                      preprocessing=prep.spec(pre), labels=labels, recipe=config,
                      model_kwargs=json.loads(json.dumps(kwargs)))


def _published(name, weights, labels_path):
    """The Deployable of a published checkpoint (`--weights imagenet`): its classes, input
    size and preprocessing, and the ImageNet class names for a 1000-class head."""
    from keras_backbones.pretrained import imagenet

    checkpoint = pretrained.resolve(name, weights)
    channels = 3
    pre = registry.Preprocessing(input_size=(*checkpoint.input_size, channels),
                                 mean=checkpoint.mean, std=checkpoint.std,
                                 interpolation=checkpoint.interpolation,
                                 crop_pct=checkpoint.crop_pct)
    kwargs = dict(classes=checkpoint.classes, input_shape=pre.input_size)
    model = registry.create_model(name, weights=weights, classifier_activation="softmax",
                                  **kwargs)
    if labels_path:
        labels = read_labels(labels_path, checkpoint.classes)
    elif checkpoint.classes == imagenet.IMAGENET_CLASSES:
        labels = [label for _, label in imagenet.imagenet_classes()]
    else:
        labels = [f"class_{i}" for i in range(checkpoint.classes)]
    kwargs["input_shape"] = list(kwargs["input_shape"])
    return Deployable(name=name, model=model, image_size=tuple(checkpoint.input_size),
                      channels=channels, preprocessing=prep.spec(pre), labels=labels,
                      recipe=None, model_kwargs=kwargs)
