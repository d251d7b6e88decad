"""What a training recipe holds, the defaults every recipe starts from, and the checks of a
finished one.

A recipe is a Python file in `recipes/` whose `get_config(arg=None)` returns an
`ml_collections.ConfigDict` (the `path.py:arg` form of `ml_collections.config_flags`): data,
not code. Every recipe starts from `defaults()` and changes what its paper says; the command
line overrides any field (`--recipe.optimizer.learning_rate=0.05`). The recipe.json that a run
writes loads back as the recipe it ran (`load`). `validate` names every unknown field and every
value that cannot train (numbers must be finite). This module imports no TensorFlow: the
command line loads recipes while it parses its flags.

The fields (units in brackets):

    model.name               a registered variant ("resnet50")
    model.kwargs             its builder's arguments (drop_path_rate, dropout_rate, ...)
    model.weights            where training starts: "" (random initialization), "imagenet",
                             "SOURCE:TAG", a URL or a weights file (`create_model`'s weights=;
                             built with the data's classes, the checkpoint's classifier is
                             left out where they differ)
    data.*                   where the images come from: `keras_backbones.data.sources.load`'s
                             fields (source, path, name, train_split, eval_split,
                             one_based_labels, num_classes, class_names, test_fraction;
                             `train` records the training split's classes in num_classes and
                             class_names, and every split must have them), and
    data.image_size          [pixels] the square training/evaluation size (0: the model's)
    data.channels            (0: the model's, from the registry's input size)
    data.cache               keep the decoded images in memory
    data.deterministic       reproducible batches (slower: ordered parallel maps)
    data.train_examples      the training split's size where the source cannot tell (TFRecords)
    augment.*                `keras_backbones.data.augment`'s fields (crop, flip, RandAugment,
                             AutoAugment, TrivialAugmentWide, AugMix, random erasing, label
                             smoothing, MixUp, CutMix); fields left out take the data source's
                             defaults
    mixing.method            hidden-state mixing in the train step: "" (off), "manifold_mixup",
                             "patchup" or "puzzlemix" (`keras_backbones.training.mixing`)
    mixing.alpha             its Beta(alpha, alpha) (PuzzleMix's papers: 1.0)
    mixing.puzzlemix         PuzzleMix's setting: "cifar" or "imagenet" (the authors' values,
                             `keras_backbones.training.puzzlemix`)
    optimizer.name           "sgd" (momentum, nesterov), "rmsprop" (rho, momentum, epsilon) or
                             "adamw" (beta_1, beta_2, epsilon)
    optimizer.learning_rate  the peak rate, for a global batch of reference_batch_size
    optimizer.reference_batch_size
                             linear scaling: rate x batch_size / this (0: no scaling)
    optimizer.weight_decay   sgd and rmsprop: L2, the gradient gets + weight_decay x w (PyTorch's
                             SGD and the TF references' l2 loss); adamw: decoupled, w -= lr x
                             weight_decay x w (PyTorch's AdamW)
    optimizer.decay_norms_and_biases
                             False: 1-D weights (norm scales/shifts, biases, layer scales) are
                             not decayed (timm's rule)
    optimizer.no_decay_names regular expressions of weight paths never decayed (pos_embed, ...)
    optimizer.clipnorm       clip the global gradient norm (0: off)
    optimizer.layer_decay    layer-wise learning-rate decay (BEiT's, ConvNeXt's and MAE's
                             fine-tuning; 0: off): each weight's rate x layer_decay^(num_layers
                             - depth), depth 0 the stem, one more per stage (a ViT's block),
                             num_layers the classifier
                             (`keras_backbones.training.optimizers.layer_depths`)
    schedule.name            "constant", "step" (x decay_rate at each of boundaries [epochs]),
                             "cosine" (to min_learning_rate), "poly" (to min_learning_rate as
                             (1 - progress)^power) or "plateau" (x decay_rate when `monitor`
                             has not improved for `patience` epochs)
    schedule.warmup_epochs   linear warmup from warmup_start x the rate (step and cosine)
    loss.aux_weight          weight of each auxiliary classifier's loss (outputs named aux*)
    finetune.head_epochs     the first epochs train only the head, the layers after the last
                             stage (the classifier, new where the classes differ), the
                             backbone frozen with its BatchNorm in inference mode; the rest of
                             `epochs` trains the whole network (0: off)
    ema.decay                exponential moving average of the weights, used for evaluation
                             and the exported weights (0: off)
    epochs, batch_size       batch_size is GLOBAL: each of R replicas gets batch_size / R
    eval_batch_size          (0: batch_size)
    steps_per_epoch, eval_steps
                             (0: one pass over the split; smaller for smoke runs)
    steps_per_execution      train steps per call into TensorFlow (epochs are rounded down to a
                             multiple)
    mixed_precision          "none", "mixed_float16" (with loss scaling) or "mixed_bfloat16"
    jit_compile              XLA-compile the train and eval steps
    sync_batchnorm           with several replicas, BatchNorm statistics over the global batch
    checkpoint.keep          the last N epoch checkpoints are kept
    checkpoint.backup_every_steps
                             the fault-tolerance backup's interval (0: at each epoch's end)
    seed                     data order and augmentation
"""

import contextlib
import difflib
import importlib.util
import json
import math
import os
import traceback

import ml_collections

OPTIMIZERS = ("sgd", "rmsprop", "adamw")
SCHEDULES = ("constant", "step", "cosine", "poly", "plateau")
PRECISIONS = ("none", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")  # not a recipe's: a run's
MIXING = ("", "manifold_mixup", "patchup", "puzzlemix")
# Sections whose fields are checked by their consumer, not here: the builder's arguments and
# the augmentation config (`keras_backbones.data.augment.resolve` names unknown fields).
OPEN_SECTIONS = ("model.kwargs", "augment")


def defaults():
    """The fields of every recipe, with neutral values (no regularization, no warmup)."""
    return ml_collections.ConfigDict({
        "model": {"name": "", "kwargs": {}, "weights": ""},
        "data": {
            "source": "digits", "path": "", "name": "", "train_split": "", "eval_split": "",
            "one_based_labels": False, "num_classes": 0, "class_names": (), "test_fraction": 0.25,
            "image_size": 0, "channels": 0, "cache": False, "deterministic": False,
            "train_examples": 0,
        },
        "augment": {},
        "mixing": {"method": "", "alpha": 2.0, "puzzlemix": "cifar"},
        "optimizer": {
            "name": "sgd", "learning_rate": 0.1, "reference_batch_size": 0,
            "momentum": 0.9, "nesterov": False, "rho": 0.9, "beta_1": 0.9, "beta_2": 0.999,
            "epsilon": 1e-8, "weight_decay": 0.0, "decay_norms_and_biases": True,
            "no_decay_names": (), "clipnorm": 0.0, "layer_decay": 0.0,
        },
        "schedule": {
            "name": "constant", "warmup_epochs": 0.0, "warmup_start": 0.0,
            "boundaries": (), "decay_rate": 0.1, "min_learning_rate": 0.0, "power": 1.0,
            "monitor": "val_loss", "patience": 5,
        },
        "finetune": {"head_epochs": 0},
        "loss": {"aux_weight": 0.3},
        "ema": {"decay": 0.0},
        "epochs": 1,
        "batch_size": 256,
        "eval_batch_size": 0,
        "steps_per_epoch": 0,
        "eval_steps": 0,
        "steps_per_execution": 1,
        "mixed_precision": "none",
        "jit_compile": False,
        "sync_batchnorm": True,
        "checkpoint": {"keep": 3, "backup_every_steps": 0},
        "seed": 0,
    })


IMAGENET_TRAIN_EXAMPLES = 1_281_167


def imagenet(config):
    """Points a recipe at ImageNet-1k in the standard TFRecords (train-*, validation-*, labels
    1..1000 as the ImageNet-to-TFRecord scripts write them); the directory is given on the
    command line: --recipe.data.path=/data/imagenet."""
    config.data.update(source="tfrecords", one_based_labels=True, num_classes=1000,
                       train_examples=IMAGENET_TRAIN_EXAMPLES)
    return config


# The papers' ImageNet crops: Inception's random resized crop (8%..100% of the area, aspect
# 3/4..4/3), and the scale augmentation of VGG and ResNet (a square 224 crop of the image
# rescaled to a random shorter side in [256, 480]: 22%..77% of the area).
INCEPTION_CROP = {"crop_scale": (0.08, 1.0), "crop_ratio": (3 / 4, 4 / 3), "flip": True}
SCALE_CROP = {"crop_scale": (0.218, 0.766), "crop_ratio": (1.0, 1.0), "flip": True}


def imagenet_sgd(model, *, learning_rate, batch_size, epochs, weight_decay=1e-4,
                 boundaries=None, crop=INCEPTION_CROP, **model_kwargs):
    """The ImageNet recipe of the SGD era that AlexNet, VGG, ResNet and its descendants share:
    SGD with momentum 0.9, the rate (for `batch_size`, scaled linearly with the batch) divided
    by 10 at `boundaries` [epochs], or on a plateau of the validation accuracy (the AlexNet
    and VGG papers' rule; patience 5) when there are none."""
    config = imagenet(defaults())
    config.model.name = model
    config.model.kwargs.update(model_kwargs)
    config.augment.update(crop)
    config.optimizer.update(name="sgd", learning_rate=learning_rate, momentum=0.9,
                            weight_decay=weight_decay, reference_batch_size=batch_size)
    if boundaries:
        config.schedule.update(name="step", boundaries=tuple(boundaries), decay_rate=0.1)
    else:
        config.schedule.update(name="plateau", monitor="val_accuracy", decay_rate=0.1, patience=5)
    config.epochs = epochs
    config.batch_size = batch_size
    return config


def load(spec):
    """The ConfigDict of a recipe file: "recipes/resnet.py", "recipes/lenet5.py:digits", or
    the recipe.json a training run wrote."""
    path, _, arg = str(spec).partition(":")
    if not os.path.isfile(path):
        raise ValueError(f"Recipe file not found: {path!r} (give e.g. recipes/lenet5.py:digits).")
    if path.endswith(".json"):
        return _load_json(path)
    module = load_module(path)
    if not hasattr(module, "get_config"):
        raise ValueError(f"Recipe {path!r} has no get_config(arg=None).")
    with _located_errors(path, f" (in get_config({arg!r}))" if arg else " (in get_config())"):
        return module.get_config(arg) if arg else module.get_config()


def _load_json(path):
    """A recipe.json as `train` wrote it (`ConfigDict.to_json_best_effort`), back to the
    recipe that ran: JSON's lists become the tuples that recipes hold (they hold no lists),
    and, like every recipe, it starts from `defaults()` (a field added since the run was
    written takes its neutral value)."""
    try:
        with open(path) as f:
            fields = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}:{error.lineno}: not valid JSON: {error.msg} "
                         f"(column {error.colno}).") from None
    if not isinstance(fields, dict):
        raise ValueError(f"{path} must hold a JSON object of recipe fields; "
                         f"got a {type(fields).__name__}.")
    config = defaults()
    config.update(_with_tuples(fields))
    return config


def _with_tuples(value):
    if isinstance(value, dict):
        return {key: _with_tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_with_tuples(item) for item in value)
    return value


@contextlib.contextmanager
def _located_errors(path, context=""):
    """Reraises an error of a recipe file's code as one line that names the file's line
    (the offending text for a syntax error), instead of a traceback through importlib."""
    try:
        yield
    except Exception as error:  # the recipe's own code: any error it may raise
        if isinstance(error, SyntaxError) and _same_file(error.filename, path):
            raise ValueError(f"{path}:{error.lineno}: {error.msg}: "
                             f"{(error.text or '').strip()}") from None
        lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
                 if _same_file(frame.filename, path)]
        where = f"{path}:{lines[-1]}" if lines else path
        raise ValueError(f"{where}: {type(error).__name__}: {error}{context}") from None


def _same_file(name, path):
    return bool(name) and os.path.abspath(name) == os.path.abspath(path)


RUN_RECIPE = "recipe.json"  # what `train` writes into its work directory, beside the weights


def run_recipe(weights_path):
    """The recipe of the run that wrote `weights_path` (its recipe.json), or None."""
    path = os.path.join(os.path.dirname(os.path.abspath(weights_path)), RUN_RECIPE)
    return load(path) if os.path.isfile(path) else None


def with_recorded_classes(config, weights_path):
    """`config`, or a copy with the classes (data.num_classes, data.class_names) that the run
    which wrote `weights_path` recorded, where `config` records none: the weights' outputs are
    that run's training classes, whatever split is read now."""
    recorded = run_recipe(weights_path)
    if config.data.get("class_names") or recorded is None:
        return config
    if not (recorded.data.get("class_names") or recorded.data.get("num_classes")):
        return config  # a run from before classes were recorded
    config = config.copy_and_resolve_references()
    with config.unlocked():
        config.data.num_classes = recorded.data.num_classes
        config.data.class_names = tuple(recorded.data.get("class_names", ()))
    return config


def input_geometry(config):
    """(image_size, channels, preprocessing) of the recipe's model and data: the data's size
    and channels where it sets them, else the registered variant's; what training fed the
    model, and so what an export of its weights takes."""
    from keras_backbones import registry  # imports the families (TensorFlow): not at load

    pre = registry.get_spec(config.model.name).preprocessing
    size = config.data.image_size or pre.input_size[0]
    return (size, size), config.data.channels or pre.input_size[2], pre


def load_module(path):
    """A recipe file as a Python module (its get_config, and VARIANTS where it has them)."""
    module_spec = importlib.util.spec_from_file_location(
        "recipe_" + os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(module_spec)
    with _located_errors(path):
        module_spec.loader.exec_module(module)
    return module


def validate(config):
    """Raises ValueError naming every unknown field and invalid value of a recipe."""
    problems = _unknown_fields(config, defaults())
    problems += _invalid_values(config)
    if problems:
        raise ValueError("Invalid recipe: " + "; ".join(problems) + ".")


def _unknown_fields(config, schema, prefix=""):
    problems = []
    for key in config.keys():
        path = f"{prefix}{key}"
        if key not in schema:
            close = difflib.get_close_matches(key, list(schema.keys()), n=3)
            hint = f" (did you mean {', '.join(prefix + c for c in close)}?)" if close else ""
            problems.append(f"unknown field {path}{hint}; the fields of "
                            f"{prefix.rstrip('.') or 'a recipe'} are {', '.join(schema.keys())}")
        elif isinstance(schema[key], ml_collections.ConfigDict) and path not in OPEN_SECTIONS:
            value = config[key]
            if not isinstance(value, (ml_collections.ConfigDict, dict)):
                problems.append(f"{path} must be a section of fields; got {value!r}")
            else:
                problems += _unknown_fields(value, schema[key], f"{path}.")
    return problems


def _invalid_values(config):
    """Checks that need no TensorFlow; the model name is checked against the registry later."""
    problems = []

    def need(condition, message):
        if not condition:
            problems.append(message)

    def choice(path, value, allowed):
        need(value in allowed, f"{path} must be one of {', '.join(map(repr, allowed))}; "
                               f"got {value!r}")

    get = _getter(config)
    need(bool(get("model.name")), "model.name is empty: name a registered model "
                                  "(`keras-backbones list`)")
    choice("optimizer.name", get("optimizer.name"), OPTIMIZERS)
    choice("schedule.name", get("schedule.name"), SCHEDULES)
    choice("mixed_precision", get("mixed_precision"), PRECISIONS)
    choice("mixing.method", get("mixing.method"), MIXING)
    choice("mixing.puzzlemix", get("mixing.puzzlemix"), ("cifar", "imagenet"))
    augmix = config.augment.get("augmix")
    jsd = augmix is True or hasattr(augmix, "get") and augmix.get("jsd", True)
    need(not (jsd and get("mixing.method")),
         "augment.augmix.jsd trains on three views of each image, which hidden-state mixing "
         "does not take: set mixing.method='' or augment.augmix.jsd=False")
    for path in ("epochs", "batch_size"):
        need(_is_int(get(path)) and get(path) >= 1, f"{path} must be a positive integer; got {get(path)!r}")
    for path in ("eval_batch_size", "steps_per_epoch", "eval_steps", "checkpoint.backup_every_steps",
                 "data.image_size", "data.channels", "data.train_examples"):
        need(_is_int(get(path)) and get(path) >= 0, f"{path} must be an integer >= 0; got {get(path)!r}")
    num_classes = get("data.num_classes")
    need(_is_int(num_classes) and (num_classes == 0 or num_classes >= 2),
         f"data.num_classes must be 0 (the source's) or at least 2; got {num_classes!r}")
    for path in ("steps_per_execution", "checkpoint.keep"):
        need(_is_int(get(path)) and get(path) >= 1, f"{path} must be an integer >= 1; got {get(path)!r}")
    # Numbers are finite: an inf or NaN rate, decay or alpha trains to NaN, or not at all.
    for path in ("optimizer.learning_rate", "optimizer.epsilon", "schedule.power", "mixing.alpha"):
        need(_number(get(path)) and get(path) > 0,
             f"{path} must be a finite number > 0; got {get(path)!r}")
    for path in ("optimizer.weight_decay", "optimizer.clipnorm", "schedule.warmup_epochs",
                 "schedule.min_learning_rate", "loss.aux_weight"):
        need(_number(get(path)) and get(path) >= 0,
             f"{path} must be a finite number >= 0; got {get(path)!r}")
    for path in ("optimizer.reference_batch_size", "schedule.patience", "seed"):
        need(_is_int(get(path)) and get(path) >= 0, f"{path} must be an integer >= 0; got {get(path)!r}")
    for path in ("ema.decay", "optimizer.momentum", "optimizer.rho", "optimizer.beta_1",
                 "optimizer.beta_2"):
        need(_number(get(path)) and 0 <= get(path) < 1, f"{path} must be in [0, 1); got {get(path)!r}")
    need(_number(get("schedule.warmup_start")) and 0 <= get("schedule.warmup_start") <= 1,
         f"schedule.warmup_start (a share of the rate) must be in [0, 1]; "
         f"got {get('schedule.warmup_start')!r}")
    need(_number(get("schedule.decay_rate")) and 0 < get("schedule.decay_rate") <= 1,
         f"schedule.decay_rate must be in (0, 1]; got {get('schedule.decay_rate')!r}")
    layer_decay = get("optimizer.layer_decay")
    need(layer_decay is None or _number(layer_decay) and 0 <= layer_decay <= 1,
         f"optimizer.layer_decay must be 0 (off) or in (0, 1] (0.65-0.8 in MAE's and "
         f"ConvNeXt's fine-tuning); got {layer_decay!r}")
    head_epochs, epochs = get("finetune.head_epochs"), get("epochs")
    need(_is_int(head_epochs) and 0 <= head_epochs <= (epochs if _is_int(epochs) else 0),
         f"finetune.head_epochs must be an integer from 0 to epochs ({epochs!r}); "
         f"got {head_epochs!r}")
    need(get("model.weights") is None or isinstance(get("model.weights"), str),
         f"model.weights must be '' (random initialization), 'imagenet', 'SOURCE:TAG', a URL or "
         f"a path; got {get('model.weights')!r}")
    need(_number(get("data.test_fraction")) and 0 < get("data.test_fraction") < 1,
         f"data.test_fraction must be in (0, 1); got {get('data.test_fraction')!r}")
    boundaries = get("schedule.boundaries")
    need(isinstance(boundaries, (tuple, list)) and all(_number(b) and b > 0 for b in boundaries)
         and list(boundaries) == sorted(boundaries),
         f"schedule.boundaries must be increasing epochs; got {boundaries!r}")
    if get("schedule.name") == "step":
        need(bool(boundaries), "schedule.name='step' needs schedule.boundaries (epochs)")
    if get("schedule.name") == "plateau":
        need(str(get("schedule.monitor")).startswith("val_"),
             f"schedule.monitor must be a validation metric (val_loss, val_accuracy); "
             f"got {get('schedule.monitor')!r}")
    return problems


def check_choice(what, value, allowed):
    """A ValueError naming `what` and the allowed values, unless `value` is one of them."""
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}.")


def _getter(config):
    def get(path):
        value = config
        for key in path.split("."):
            value = value[key]
        return value
    return get


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value):
    """A finite int or float (not a bool, NaN or inf)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def name(spec):
    """A short name for a recipe spec, for its default work directory:
    "recipes/lenet5.py:digits" -> "lenet5_digits"."""
    path, _, arg = str(spec).partition(":")
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"{stem}_{arg}" if arg else stem
