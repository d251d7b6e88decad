"""Bad input to `keras-backbones train/evaluate` is a clear error (exit status 2, a message
naming the problem and what is allowed, no traceback), found before any training starts."""

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
    "no recipe": (("train",), "--recipe is required"),
    "stray argument": (("train", "--recipe", DIGITS, "extra"), "unexpected arguments: extra"),
    "evaluate without weights": (("evaluate", "--recipe", DIGITS), "evaluate needs --weights"),
    "evaluate, missing weights": (("evaluate", "--recipe", DIGITS, "--weights", "none.npz"),
                                  "--weights: no such file: 'none.npz'"),
}


def test_bad_input_is_a_clear_error():
    failures = usage_error_failures(CASES)
    assert not failures, "\n\n".join(failures)


def test_wrongly_typed_value_is_a_flag_error():
    done = subprocess.run(command("train", "--recipe", DIGITS, "--recipe.epochs=ten"), cwd=ROOT,
                          env=environment(), text=True, capture_output=True, timeout=120)
    assert done.returncode != 0
    assert "--recipe.epochs=ten" in done.stderr and "Traceback" not in done.stderr
