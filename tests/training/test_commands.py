"""Bad input to `keras-backbones train/evaluate` is a clear error (exit status 2, a message
naming the problem and what is allowed, no traceback), found before any training starts:
while the command line parses, before TensorFlow is imported."""

import subprocess

from tests.training.helpers import DIGITS, ROOT, command, environment, usage_error_failures

CASES = {
    "unknown field": (("train", "--recipe", DIGITS, "--recipe.epoch=3"),
                      "unknown field epoch (did you mean epochs?)"),
    "unknown nested field": (("train", "--recipe", DIGITS, "--recipe.optimizer.lr=0.1"),
                             "unknown field optimizer.lr"),
    "bad value": (("train", "--recipe", DIGITS, "--recipe.optimizer.name=adam"),
                  "optimizer.name must be one of 'sgd', 'rmsprop', 'adamw'; got 'adam'"),
    "bad strategy": (("train", "--recipe", DIGITS, "--strategy=mirorred"),
                     "--strategy must be one of default, one_device, mirrored, multi_worker, "
                     "tpu; got 'mirorred'"),
    "bad precision": (("train", "--recipe", DIGITS, "--mixed_precision=fp16"),
                      "--mixed_precision must be one of none, mixed_float16, mixed_bfloat16"),
    "missing recipe file": (("train", "--recipe", "recipes/no_such_recipe.py"),
                            "Cannot load --recipe=recipes/no_such_recipe.py"),
    "no recipe": (("train",), "the following arguments are required: --recipe"),
    "stray argument": (("train", "--recipe", DIGITS, "extra"), "unrecognized arguments: extra"),
    "unknown flag": (("train", "--recipe", DIGITS, "--epochs=3"),
                     "unrecognized arguments: --epochs"),
    "override without a recipe": (("export", "--model=lenet5", f"--weights={DIGITS[:-7]}",
                                   "--recipe.epochs=3"), "overrides the fields of --recipe"),
    "evaluate without weights": (("evaluate", "--recipe", DIGITS),
                                 "the following arguments are required: --weights"),
    "evaluate, missing weights": (("evaluate", "--recipe", DIGITS, "--weights", "none.npz"),
                                  "--weights: no such file: 'none.npz'"),
}


def test_bad_input_is_a_clear_error():
    failures = usage_error_failures(CASES)
    assert not failures, "\n\n".join(failures)


def test_wrongly_typed_value_is_a_flag_error():
    done = subprocess.run(command("train", "--recipe", DIGITS, "--recipe.epochs=ten"), cwd=ROOT,
                          env=environment(), text=True, capture_output=True, timeout=120)
    assert done.returncode == 2
    assert "--recipe.epochs=ten" in done.stderr and "Traceback" not in done.stderr


def test_overrides_are_typed_by_the_recipe_and_reach_the_command():
    from keras_backbones import cli

    args = cli.parse(["keras-backbones", "train", "--recipe", DIGITS, "--recipe.epochs", "4",
                      "--recipe.schedule.boundaries=(2, 3)", "--norecipe.data.cache",
                      "--recipe.model.kwargs.drop_path_rate=0.1", "--workdir=runs/x"])
    assert args.run.__name__ == "train" and args.recipe_spec == DIGITS
    assert args.recipe.epochs == 4 and args.recipe.schedule.boundaries == (2, 3)
    assert args.recipe.data.cache is False and args.recipe.model.kwargs.drop_path_rate == 0.1
    assert args.workdir == "runs/x" and args.strategy == "default" and args.jit_compile is None
