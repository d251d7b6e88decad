"""Inputs that could give a wrong result are errors that name the problem (issue 17): weights
that are not real numbers, model arguments that would be ignored, recipe values that cannot
train, and recipe files that do not load."""

import inspect
import json
import math
import os
import re
import textwrap

import ml_dtypes
import numpy as np
import pytest

import keras_backbones
from keras_backbones import registry
from keras_backbones.backend import clear_session
from keras_backbones.models.alexnet import REFERENCE_NAMES
from keras_backbones.training import recipe
from keras_backbones.weights import (WeightsError, convert_checkpoint, load_weights, read_weights,
                                     save_weights)
from tests import support
from tests.training.helpers import ROOT, usage_error_failures


@pytest.fixture(autouse=True)
def fresh_session():
    clear_session()
    yield
    clear_session()


# --- weights that are not real numbers -------------------------------------------------------

@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory):
    clear_session()
    return save_weights(registry.create_model("lenet5"), tmp_path_factory.mktemp("w") / "lenet.npz")


def _rewritten(path, out, change):
    """A copy of a portable weights file with change(array) applied to every array."""
    meta, arrays = read_weights(path)
    np.savez(out, **{key: change(array) for key, array in arrays.items()},
             __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return os.fspath(out)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint8, np.bool_, np.complex64])
def test_portable_weights_that_are_not_floating_point_are_refused(lenet_file, tmp_path, dtype):
    path = _rewritten(lenet_file, tmp_path / "cast.npz", lambda a: a.astype(dtype))
    count = len(read_weights(lenet_file)[1])
    name = np.dtype(dtype).name
    with pytest.raises(WeightsError, match=rf"{count} tensors not floating point: \S+/0 \({name}\)"):
        registry.create_model("lenet5", weights=path)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])  # 1e300: float32's inf
def test_portable_weights_with_nan_or_inf_are_refused(lenet_file, tmp_path, bad):
    def spoil(array):
        array = array.astype(np.float64)
        array.flat[0] = bad
        return array

    path = _rewritten(lenet_file, tmp_path / "spoilt.npz", spoil)
    model = registry.create_model("lenet5")
    with pytest.raises(WeightsError, match=r"tensors with NaN or inf: \S+/0 \(1 of \d+ values\)"):
        load_weights(model, path)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_portable_weights_of_other_float_widths_load(lenet_file, tmp_path, dtype):
    path = _rewritten(lenet_file, tmp_path / "other.npz", lambda a: a.astype(dtype))
    model = registry.create_model("lenet5", weights=path)
    _, expected = read_weights(lenet_file)
    loaded = save_weights(model, tmp_path / "back.npz")
    for key, array in read_weights(loaded)[1].items():
        np.testing.assert_array_equal(array, expected[key].astype(dtype).astype(np.float32))


def _alexnet():
    return registry.create_model("alexnet", include_top=False, input_shape=(63, 63, 3))


@pytest.fixture(scope="module")
def alexnet_state():
    """torchvision's names and layouts of AlexNet's convolutions (include_top=False)."""
    clear_session()
    state = {}
    for layer in _alexnet().layers:
        if layer.name in REFERENCE_NAMES and layer.weights:
            kernel, bias = (np.asarray(w.numpy()) for w in layer.weights)
            state[f"{REFERENCE_NAMES[layer.name]}.weight"] = kernel.transpose(3, 2, 0, 1)  # OIHW
            state[f"{REFERENCE_NAMES[layer.name]}.bias"] = bias
    return state


def _safetensors(path, state):
    from safetensors.numpy import save_file

    save_file({key: np.ascontiguousarray(value) for key, value in state.items()}, path)
    return os.fspath(path)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.bool_])
def test_checkpoints_that_are_not_floating_point_are_refused_on_every_path(
        alexnet_state, tmp_path, dtype):
    path = _safetensors(tmp_path / "cast.safetensors",
                        {key: value.astype(dtype) for key, value in alexnet_state.items()})
    expected = (rf"10 tensors not floating point: features\.0\.bias \({np.dtype(dtype).name}\), "
                r"features\.0\.weight")
    with pytest.raises(WeightsError, match=expected):
        registry.create_model("alexnet", include_top=False, input_shape=(63, 63, 3), weights=path)
    with pytest.raises(WeightsError, match=expected):
        load_weights(_alexnet(), path)
    with pytest.raises(WeightsError, match=expected):
        convert_checkpoint("alexnet", path, tmp_path / "out.npz", include_top=False,
                           input_shape=(63, 63, 3))
    assert not (tmp_path / "out.npz").exists()


def test_checkpoints_with_nan_or_inf_are_refused(alexnet_state, tmp_path):
    state = dict(alexnet_state)
    state["features.3.weight"] = state["features.3.weight"].copy()
    state["features.3.weight"].flat[:3] = (np.nan, np.inf, -np.inf)
    path = _safetensors(tmp_path / "nan.safetensors", state)
    with pytest.raises(WeightsError, match=r"1 tensors with NaN or inf: features\.3\.weight "
                                           r"\(3 of \d+ values\)"):
        load_weights(_alexnet(), path)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float64])
def test_checkpoints_of_other_float_widths_load(alexnet_state, tmp_path, dtype):
    path = _safetensors(tmp_path / "half.safetensors",
                        {key: value.astype(dtype) for key, value in alexnet_state.items()})
    model = load_weights(_alexnet(), path)
    conv1 = model.get_layer("conv1").weights[0].numpy()
    expected = alexnet_state["features.0.weight"].astype(dtype).astype(np.float32)
    np.testing.assert_array_equal(conv1, expected.transpose(2, 3, 1, 0))


# --- model arguments ------------------------------------------------------------------------

FEATURE_FAMILIES = support.representatives()


@pytest.mark.parametrize("name", FEATURE_FAMILIES)
def test_features_only_refuses_a_classifier_or_pooling(name):
    with pytest.raises(ValueError, match=rf"{name}: features_only=True returns the feature maps"
                                         r".*include_top=True"):
        registry.create_model(name, features_only=True, include_top=True)
    with pytest.raises(ValueError, match=r"features_only=True .*pooling='avg'"):
        registry.create_model(name, features_only=True, pooling="avg")


def test_features_only_refusal_covers_the_public_constructors():
    with pytest.raises(ValueError, match="include_top=True"):
        keras_backbones.ResNet18(features_only=True, include_top=True)
    # Saying include_top=False (or nothing) is fine.
    model = keras_backbones.LeNet5(features_only=True, include_top=False)
    assert model.name == "lenet5_features"


@pytest.mark.parametrize("name, options", [
    ("lenet5", {}), ("lenet5", {"features_only": True}), ("resnet18", {}),
    ("googlenet", {}),  # its auxiliary outputs re-wrap the model
    ("vit_tiny_patch16_224", {"include_top": False}),
])
def test_name_names_the_keras_model(name, options, tmp_path):
    model = registry.create_model(name, name="my_net", input_shape=support.small_shape(name),
                                  **options)
    assert model.name == "my_net"
    # The layers keep theirs: the weights file of a renamed model loads into the variant.
    path = save_weights(model, tmp_path / "w.npz")
    registry.create_model(name, input_shape=support.small_shape(name), weights=path, **options)


def test_every_registered_constructor_takes_name():
    assert keras_backbones.LeNet5(name="digits_net").name == "digits_net"
    plain = [n for n in registry.list_models() if not hasattr(registry.get_spec(n).builder,
                                                                 "__wrapped__")]
    assert not plain, f"constructors that do not go through register_model's wrapper: {plain}"
    # help() shows the constructor's own arguments, with their defaults, and name=.
    shown = inspect.signature(keras_backbones.WideResNet28_10).parameters
    assert shown["dropout_rate"].default == 0.3 and shown["name"].default is None


@pytest.mark.parametrize("bad", ["", "a/b", 3])
def test_a_bad_name_is_refused(bad):
    with pytest.raises(ValueError, match=r"lenet5: `name` must be a non-empty string without '/'"):
        registry.create_model("lenet5", name=bad)


# --- recipe values --------------------------------------------------------------------------

def _digits():
    return recipe.load(f"{ROOT / 'recipes' / 'lenet5.py'}:digits")


@pytest.mark.parametrize("path, value, message", [
    ("optimizer.learning_rate", math.inf, "optimizer.learning_rate must be a finite number > 0"),
    ("optimizer.learning_rate", math.nan, "optimizer.learning_rate must be a finite number > 0"),
    ("optimizer.learning_rate", -0.1, "optimizer.learning_rate must be a finite number > 0"),
    ("optimizer.weight_decay", math.inf, "optimizer.weight_decay must be a finite number >= 0"),
    ("optimizer.clipnorm", math.inf, "optimizer.clipnorm must be a finite number >= 0"),
    ("optimizer.reference_batch_size", math.inf, "optimizer.reference_batch_size must be an integer >= 0"),
    ("optimizer.reference_batch_size", 2.5, "optimizer.reference_batch_size must be an integer >= 0"),
    ("optimizer.epsilon", 0.0, "optimizer.epsilon must be a finite number > 0"),
    ("optimizer.epsilon", math.nan, "optimizer.epsilon must be a finite number > 0"),
    ("optimizer.momentum", math.nan, "optimizer.momentum must be in [0, 1)"),
    ("schedule.warmup_epochs", math.inf, "schedule.warmup_epochs must be a finite number >= 0"),
    ("schedule.min_learning_rate", math.inf, "schedule.min_learning_rate must be a finite number >= 0"),
    ("schedule.min_learning_rate", -1e-3, "schedule.min_learning_rate must be a finite number >= 0"),
    ("schedule.power", math.inf, "schedule.power must be a finite number > 0"),
    ("schedule.boundaries", (10, math.inf), "schedule.boundaries must be increasing epochs"),
    ("schedule.patience", -1, "schedule.patience must be an integer >= 0"),
    ("schedule.patience", 2.5, "schedule.patience must be an integer >= 0"),
    ("loss.aux_weight", math.inf, "loss.aux_weight must be a finite number >= 0"),
    ("mixing.alpha", math.inf, "mixing.alpha must be a finite number > 0"),
    ("mixing.alpha", 0.0, "mixing.alpha must be a finite number > 0"),
    ("ema.decay", math.inf, "ema.decay must be in [0, 1)"),
    ("data.test_fraction", 1.5, "data.test_fraction must be in (0, 1)"),
    ("data.test_fraction", math.nan, "data.test_fraction must be in (0, 1)"),
    ("epochs", math.inf, "epochs must be a positive integer"),
    ("batch_size", True, "batch_size must be a positive integer"),
    ("seed", 0.5, "seed must be an integer >= 0"),
])
def test_recipe_values_that_cannot_train_are_named(path, value, message):
    config = _digits()
    section, _, field = path.rpartition(".")
    target = config[section] if section else config
    with target.ignore_type():
        target[field] = value
    with pytest.raises(ValueError, match=r"Invalid recipe: .*" + re.escape(message)):
        recipe.validate(config)


def test_every_shipped_recipe_still_validates():
    for path in sorted((ROOT / "recipes").glob("*.py")):
        recipe.validate(recipe.load(path))


# --- recipe files ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def four_step_run(tmp_path_factory):
    """A 4-step run of the digits recipe (with tuples and None in it), and its work directory."""
    from keras_backbones.training import loop

    config = _digits()
    config.update({"epochs": 1, "steps_per_epoch": 4, "eval_steps": 1})
    with config.unlocked():
        config.augment.crop_scale = (0.5, 1.0)
        config.augment.randaugment = None
    config.schedule.update(name="step", boundaries=(1.0,))
    work = tmp_path_factory.mktemp("four_steps")
    clear_session()
    loop.train(config, str(work), verbose=0)
    return config, work


def test_the_recipe_json_of_a_run_loads_as_the_recipe_that_ran(four_step_run, tmp_path):
    config, work = four_step_run
    loaded = recipe.load(work / "recipe.json")
    recipe.validate(loaded)
    ran = config.copy_and_resolve_references()
    with ran.unlocked():  # train records the training split's classes in the recipe it ran
        ran.data.update({field: loaded.data[field] for field in ("num_classes", "class_names")
                         if field in loaded.data})
    assert loaded == ran
    assert loaded.schedule.boundaries == (1.0,) and loaded.augment.crop_scale == (0.5, 1.0)
    assert loaded.augment.randaugment is None
    # The same for every shipped recipe, as train writes it.
    for path in sorted((ROOT / "recipes").glob("*.py")):
        config = recipe.load(path)
        (tmp_path / "recipe.json").write_text(config.to_json_best_effort(indent=1, sort_keys=True))
        assert recipe.load(tmp_path / "recipe.json") == config, path.name


def _write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_a_recipe_with_a_syntax_error_names_its_line(tmp_path):
    path = _write(tmp_path / "broken.py", """\
        import ml_collections

        def get_config(:
            return ml_collections.ConfigDict()
        """)
    with pytest.raises(ValueError) as error:
        recipe.load(path)
    message = str(error.value)
    assert f"{path}:3: invalid syntax" in message and "def get_config(:" in message, message
    assert "\n" not in message


def test_a_recipe_that_raises_names_its_line(tmp_path):
    path = _write(tmp_path / "raising.py", """\
        from keras_backbones.training import recipe

        VARIANTS = {"a": 1}

        def get_config(arg="a"):
            config = recipe.defaults()
            config.epochs = VARIANTS[arg]
            return config
        """)
    with pytest.raises(ValueError, match=rf"^{path}:7: KeyError: 'b' \(in get_config\('b'\)\)$"):
        recipe.load(f"{path}:b")
    at_import = _write(tmp_path / "at_import.py", "x = 1\ny = 1 / 0\n")
    with pytest.raises(ValueError, match=rf"^{at_import}:2: ZeroDivisionError: division by zero$"):
        recipe.load_module(at_import)


def test_a_recipe_json_that_is_not_json_names_its_line(tmp_path):
    path = tmp_path / "recipe.json"
    path.write_text('{\n "epochs": 1,\n "batch_size": 2\n "seed": 0\n}\n')
    with pytest.raises(ValueError, match=rf"^{path}:4: not valid JSON: Expecting ','"):
        recipe.load(path)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        recipe.load(path)


def test_the_command_line_takes_a_run_s_recipe_json_and_names_bad_recipe_lines(four_step_run, tmp_path):
    _, work = four_step_run
    broken = _write(tmp_path / "broken.py", "def get_config(:\n    pass\n")
    raising = _write(tmp_path / "raising.py", "def get_config():\n    return {}['x']\n")
    cases = {
        # Gets past loading and validating the recipe, to the weights.
        "run's recipe.json": (("evaluate", "--recipe", work / "recipe.json", "--recipe.seed=3",
                               "--weights", tmp_path / "none.npz"), "--weights: no such file"),
        "syntax error": (("train", "--recipe", broken),
                         f"Cannot load --recipe={broken}: {broken}:1: invalid syntax"),
        "error in get_config": (("train", "--recipe", raising, "--recipe.epochs=2"),
                                f"{raising}:2: KeyError: 'x'"),
    }
    failures = usage_error_failures(cases)
    assert not failures, "\n\n".join(failures)


# --- divergence -----------------------------------------------------------------------------

@pytest.mark.parametrize("backup_every_steps", [0, 1])
def test_the_divergence_message_cites_only_saved_states(tmp_path, backup_every_steps):
    from keras_backbones.training import loop

    config = _digits()
    config.update({"epochs": 1, "steps_per_epoch": 20, "eval_steps": 1})
    config.optimizer.update(name="adamw", learning_rate=1e30)
    config.checkpoint.backup_every_steps = backup_every_steps
    clear_session()
    with pytest.raises(loop.Diverged) as error:
        loop.train(config, str(tmp_path), verbose=0)
    message = str(error.value)
    assert "the loss is not finite" in message
    if backup_every_steps:
        cited = message.split("resumes from ")[1].split(",")[0]
        assert os.path.exists(cited + ".index"), message
    else:
        assert "nothing was saved before it" in message and "checkpoints in" not in message, message
