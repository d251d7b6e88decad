"""Recipes are checked data; each distinct training path trains one step on tiny synthetic
data, and every recipe's model builds with the recipe's arguments."""

import io
import json
import pathlib

import numpy as np
import pytest

from keras_backbones.training import recipe
from tests.training.helpers import ROOT

RECIPES = sorted(p.stem for p in (ROOT / "recipes").glob("*.py"))
# One step runs at 64x64 (72 for AlexNet's minimum, 32 for the CIFAR WRN) on batches of 4: at smaller sizes and
# batches the last stage's BatchNorm sees a handful of values per channel and one step can
# blow up. The 50-layer networks run as their 18-layer siblings (same builder, same options):
# tracing a 50-layer train step costs a CI minute each.
# WRN-28-10 is a CIFAR network (32x32); Inception-v3's auxiliary classifier, which its recipe
# trains, needs the 299x299 input, and Inception-v4 takes at least 75x75.
TINY_SIZE = {"alexnet": 72, "wrn": 32, "effnet": 32, "inception_v3": 299, "inception_v4": 75}
SMALLER = {"resnet50": "resnet18", "resnetv2_50": "resnetv2_18", "seresnet50": "seresnet18",
           "eca_resnet50": "eca_resnet18", "cbam_resnet50": "cbam_resnet18", "vgg16": "vgg11",
           "convnext_tiny": "convnext_atto", "mobilenet_v3_large": "mobilenet_v3_small",
           "mnasnet1_0": "mnasnet0_5", "efficientnet_v2_s": "efficientnet_v2_b0",
           "resnest50d": "resnest14d", "dpn92": "dpn68", "ghostnet_100": "ghostnet_050",
           "shufflenet_v1_g3_x1_0": "shufflenet_v1_g3_x0_5", "shufflenet_v2_x1_0": "shufflenet_v2_x0_5"}


def test_every_family_of_the_issue_has_a_recipe():
    assert {"lenet5", "alexnet", "vgg", "resnet", "resnet_v2", "wrn", "resnext", "senet", "eca",
            "cbam", "convnext", "densenet", "squeezenet", "xception", "vit", "swin", "googlenet",
            "inception_v3", "inception_v4", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3",
            "mnasnet", "regnet", "efficientnet", "efficientnet_v2", "dpn", "hardnet", "resnest",
            "mobilenet_v4", "shufflenet_v1", "shufflenet_v2", "ghostnet", "effnet"} <= set(RECIPES)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_is_valid_and_names_its_paper(name):
    path = ROOT / "recipes" / f"{name}.py"
    config = recipe.load(path)
    recipe.validate(config)
    source = path.read_text()
    assert source.lstrip().startswith('"""') and ("et al" in source or "&" in source), \
        f"{name}.py must name its paper and authors in its docstring"
    assert config.batch_size >= 1 and config.epochs >= 1


def _variant_arguments():
    """(recipe, argument) for every recipe whose get_config takes a variant from its VARIANTS."""
    return [(name, variant) for name in RECIPES
            for variant in getattr(recipe.load_module(ROOT / "recipes" / f"{name}.py"), "VARIANTS", {})]


@pytest.mark.parametrize("name, variant", _variant_arguments())
def test_every_variant_argument_of_a_recipe_is_a_valid_recipe_for_that_model(name, variant):
    from keras_backbones import registry

    config = recipe.load(f"{ROOT / 'recipes' / name}.py:{variant}")
    recipe.validate(config)
    assert config.model.name == variant and variant in registry.list_models()


def test_unknown_fields_and_bad_values_are_named():
    config = recipe.load(ROOT / "recipes" / "resnet.py")
    with config.unlocked():
        config.optimizer.momentun = 0.9
        config.epoch = 3
    with pytest.raises(ValueError) as error:
        recipe.validate(config)
    message = str(error.value)
    assert "optimizer.momentun (did you mean optimizer.momentum?)" in message
    assert "epoch (did you mean epochs" in message

    config = recipe.load(ROOT / "recipes" / "resnet.py")
    config.optimizer.name = "adam"
    config.schedule.boundaries = (60, 30)
    config.batch_size = 0
    with pytest.raises(ValueError) as error:
        recipe.validate(config)
    message = str(error.value)
    assert "optimizer.name must be one of 'sgd', 'rmsprop', 'adamw'; got 'adam'" in message
    assert "schedule.boundaries must be increasing" in message
    assert "batch_size must be a positive integer" in message


def test_missing_recipe_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="Recipe file not found"):
        recipe.load(tmp_path / "nope.py")


def _write_tfrecords(path, count, classes, seed):
    """ImageNet-format records: JPEG `image/encoded`, 1-based `image/class/label`."""
    import tensorflow as tf
    from PIL import Image

    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for _ in range(count):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(buffer, "JPEG")
            feature = {
                "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[buffer.getvalue()])),
                "image/class/label": tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[int(rng.integers(1, classes + 1))])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


@pytest.fixture(scope="module")
def synthetic_imagenet(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tfrecords")
    _write_tfrecords(directory / "train-00000-of-00001", 4, 10, seed=0)
    _write_tfrecords(directory / "validation-00000-of-00001", 2, 10, seed=1)
    return directory


def _switches(section):
    """A config section's fields as on/off (strings as they are): which code runs, not with
    which numbers."""
    out = {}
    for key, value in section.items():
        if hasattr(value, "items"):
            out.update({f"{key}.{k}": v for k, v in _switches(value).items()})
        else:
            out[key] = value if isinstance(value, str) else bool(value)
    return out


def training_path(config):
    """What decides the code one training step runs: the data source, the augmentations
    switched on, the optimizer and schedule kinds and their switches (Nesterov, warmup,
    clipping, which weights decay, layer-wise rate decay), EMA, hidden-state mixing, the
    precision, XLA, fine-tuning's head epochs. Recipes that differ only in their model and in
    numbers run the same code."""
    optimizer = _switches(config.optimizer)
    return (config.data.source, tuple(sorted(_switches(config.augment).items())),
            config.optimizer.name, optimizer["nesterov"], optimizer["clipnorm"],
            optimizer["weight_decay"], optimizer["decay_norms_and_biases"],
            optimizer["no_decay_names"], optimizer["layer_decay"], config.schedule.name,
            bool(config.schedule.warmup_epochs), bool(config.ema.decay), config.mixing.method,
            config.mixed_precision, config.jit_compile, bool(config.finetune.head_epochs))


def _first_of_each_path():
    chosen = {}
    for name in RECIPES:
        chosen.setdefault(training_path(recipe.load(ROOT / "recipes" / f"{name}.py")), name)
    return sorted(chosen.values())


# The recipes that train one step: the first of each training path; the others build their
# model with their arguments (test_recipe_model_builds_with_its_arguments).
STEPPED = _first_of_each_path()


def test_paths_tell_recipes_apart():
    load = lambda name: recipe.load(ROOT / "recipes" / f"{name}.py")
    assert training_path(load("resnet")) == training_path(load("senet"))  # SGD, steps, same crop
    assert training_path(load("resnet")) != training_path(load("densenet"))  # Nesterov
    assert training_path(load("convnext")) != training_path(load("swin"))  # clipping
    assert training_path(load("convnext")) == training_path(load("vit"))  # DeiT's recipe


def _tiny_model_config(config, name, data_path):
    """The recipe at a tiny size: its smaller sibling model, 4 synthetic ImageNet-format
    records; a fine-tuning recipe from random initialization (tests/training/test_finetune.py
    trains it from a checkpoint)."""
    config.model.name = SMALLER.get(config.model.name, config.model.name)
    config.model.weights = ""
    if config.data.source != "digits":
        classes = config.data.num_classes or 10
        config.data.update(source="tfrecords", path=str(data_path), one_based_labels=True,
                           num_classes=classes, cache=False, train_examples=4)
        config.data.image_size = TINY_SIZE.get(name, 64)
    return config


@pytest.mark.parametrize("name", [n for n in RECIPES if n not in STEPPED])
def test_recipe_model_builds_with_its_arguments(name):
    """A recipe whose training path another recipe's step covers: its model, at the tiny size,
    takes the recipe's arguments."""
    from keras_backbones import registry
    from keras_backbones.backend import clear_session

    config = recipe.load(ROOT / "recipes" / f"{name}.py")
    assert config.model.name in registry.list_models(), f"{name}.py trains an unknown model"
    config = _tiny_model_config(config, name, "")
    height, _, channels = registry.get_spec(config.model.name).preprocessing.input_size
    size = config.data.image_size or height
    clear_session()
    model = registry.create_model(config.model.name, input_shape=(size, size, channels),
                                  classes=config.data.num_classes or 10, **config.model.kwargs)
    clear_session()
    assert model.count_params() > 0


def _stepped(name):
    marks = [pytest.mark.allow_slow("Inception-v3's auxiliary classifier, which its recipe "
                                    "trains, needs the 299x299 input")] if name == "inception_v3" else []
    return pytest.param(name, marks=marks)


@pytest.mark.parametrize("name", [_stepped(n) for n in STEPPED])
def test_one_step_of_each_training_path(name, synthetic_imagenet, tmp_path):
    """The recipe as written (optimizer, schedule, EMA, augmentation, loss, model kwargs), on
    4 synthetic images at a tiny size: one training step, one evaluation step, all artifacts."""
    from keras_backbones import registry
    from keras_backbones.backend import clear_session
    from keras_backbones.training import loop

    config = recipe.load(ROOT / "recipes" / f"{name}.py")
    assert config.model.name in registry.list_models(), f"{name}.py trains an unknown model"
    config = _tiny_model_config(config, name, synthetic_imagenet)
    config.update(epochs=1, steps_per_epoch=1, eval_steps=1, batch_size=4, eval_batch_size=4)
    config.finetune.head_epochs = min(config.finetune.head_epochs, 1)  # the step trains the head
    clear_session()
    result = loop.train(config, str(tmp_path), verbose=0)
    clear_session()
    assert result["steps"] == 1
    assert np.isfinite(result["eval_loss"])
    for artifact in ("weights.npz", "history.json", "curves.png", "result.json", "recipe.json"):
        assert (tmp_path / artifact).exists(), artifact
    assert list((tmp_path / "checkpoints").glob("ckpt-1.index"))
    assert not (tmp_path / "backup").exists()  # removed once the run completed
    assert json.loads((tmp_path / "result.json").read_text())["model"] == config.model.name
    assert pathlib.Path(result["weights"]).stat().st_size > 0
