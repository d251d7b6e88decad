"""The command line explains itself: `keras-backbones --help` lists every command with a line
each, `keras-backbones COMMAND --help` that command's flags with their help and defaults, an
unknown command is a usage error listing the commands, and TensorFlow's start-up lines are
hidden unless asked for. Most checks run the real entry point in a child process (each
imports TensorFlow only where a command runs, not for help or usage errors)."""

import argparse
import inspect
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from keras_backbones import cli
from tests import support
from tests.support import ROOT

# What TensorFlow 2.19+ writes to stderr as it loads and starts on a CPU machine, through absl's
# C++ logging, before it reads TF_CPP_MIN_LOG_LEVEL (and, once running, "failed call to cuInit").
START_UP = ("absl::InitializeLog", "oneDNN custom operations", "Could not find cuda drivers",
            "cpu_feature_guard", "failed call to cuInit")


def environment(**extra):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user's shell has it
    env.update(extra)
    return env


def keras_backbones(*args, **extra):
    """Starts the installed `keras-backbones` script (this package first on its path)."""
    script = shutil.which("keras-backbones", path=os.path.dirname(sys.executable))
    command = [script] if script else [sys.executable, "-m", "keras_backbones.cli"]
    return subprocess.Popen([*command, *args], cwd=ROOT, env=environment(**extra), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finished(process, timeout=300):
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr


def summary(name):
    return inspect.getdoc(cli.COMMANDS[name].run).partition("\n")[0]


def test_help_lists_every_command_with_its_line():
    runs = [keras_backbones("--help"), keras_backbones("-h"), keras_backbones()]
    (code, listing, _), (short_code, short, _), (bare_code, bare, _) = map(finished, runs)
    assert (code, short_code, bare_code) == (0, 0, 2)  # no command: the list, as a usage error
    assert listing == short == bare
    for name in cli.COMMANDS:
        assert f"    {name}" in listing and summary(name) in listing, name
    assert "--verbose" in listing and "keras-backbones COMMAND --help" in listing


def test_export_help_shows_its_flags_their_help_and_defaults():
    code, text, _ = finished(keras_backbones("export", "--help"))
    assert code == 0 and summary("export") in text
    for flag, help_text in [("--format {savedmodel,tflite,onnx}", "(default: savedmodel)"),
                            ("--quantize {none,float16,dynamic,int8}", "(default: none)"),
                            ("--max_batch_size N", "(default: 64)"),
                            ("--top_k", "(default: 5)"),
                            ("--weights WEIGHTS", "published checkpoint: imagenet"),
                            ("--recipe RECIPE", "--recipe.FIELD=VALUE"),
                            ("--int8_io, --noint8_io", "int8 input and output tensors"),
                            ("--fuse, --nofuse", "--format savedmodel, onnx: fold the")]:
        assert flag in text and help_text in text, (flag, help_text)
    command = ["keras-backbones", "export", "--model", "lenet5", "--weights", "imagenet"]
    assert cli.parse(command).fuse and not cli.parse([*command, "--nofuse"]).fuse
    for other in ("--mode", "--strategy", "--method", "--workdir", "--verbosity"):
        assert not re.search(rf"{other}\b(?![_=])", text), f"export --help shows {other}"


def test_each_command_has_only_its_own_flags():
    parser = cli.build_parser()
    flags = {name: {option for action in sub._actions for option in action.option_strings
                    if action.help != argparse.SUPPRESS}
             for name, sub in parser.commands.choices.items()}
    assert {"--recipe", "--workdir", "--strategy", "--jit_compile"} <= flags["train"]
    assert "--weights" not in flags["train"] and "--format" not in flags["train"]
    assert {"--recipe", "--weights", "--workdir"} <= flags["evaluate"]
    assert {"--model", "--weights", "--recipe", "--method", "--out"} <= flags["optimize"]
    assert not {"--recipe", "--weights", "--model"} & flags["benchmark"]
    # the shared flags are one definition: the same help wherever they appear
    helps = {(option, action.help) for sub in parser.commands.choices.values()
             for action in sub._actions for option in action.option_strings
             if option.lstrip("-") in cli.SHARED_FLAGS}
    assert len(helps) == len({option for option, _ in helps})


def test_an_unknown_command_is_a_usage_error_listing_the_commands():
    code, _, stderr = finished(keras_backbones("evalute", "--recipe", "x"))
    assert code == 2 and "Traceback" not in stderr
    assert "Unknown command 'evalute'. Did you mean evaluate?" in stderr
    assert f"Commands: {', '.join(cli.COMMANDS)}." in stderr


def test_choices_and_booleans_parse_as_absl_wrote_them(capsys):
    args = cli.parse(["keras-backbones", "benchmark", "lenet5", "--jit", "--nojit",
                      "--mode", "train"])
    assert args.jit is False and args.mode == "train" and args.batch is None
    args = cli.parse(["keras-backbones", "--verbose", "info", "lenet5", "--nosummary"])
    assert args.verbose and not args.summary and args.run is cli.info
    with pytest.raises(SystemExit) as exited:
        cli.parse(["keras-backbones", "benchmark", "lenet5", "--mode=fast"])
    assert exited.value.code == 2
    assert "--mode must be one of infer, train, tflite, serve; got 'fast'." in capsys.readouterr().err


def test_the_export_constants_agree_with_their_modules():
    from keras_backbones.export import artifacts, commands, savedmodel, tflite

    assert commands.FORMATS == artifacts.FORMATS
    assert commands.QUANTIZATIONS == tflite.QUANTIZATIONS
    assert commands.SERVING_LIMITS == {name: getattr(savedmodel, name.upper())
                                       for name in commands.SERVING_LIMITS}


def test_optimize_and_evaluate_tflite_take_their_parsed_arguments(monkeypatch, tmp_path):
    from keras_backbones.export import commands, optimize

    weights, out = tmp_path / "weights.npz", tmp_path / "lenet5-prune.tflite"
    weights.touch()
    seen = {}

    def child(name, weights_path, method, out_path, **options):
        seen.update(options, name=name, weights=weights_path, method=method, out=out_path)
        return {"artifacts": [out_path], "sparsity": 0.75}

    monkeypatch.setattr(optimize, "optimize", child)
    commands.optimize(cli.parse([
        "keras-backbones", "optimize", "--method=prune", "--model=lenet5", f"--weights={weights}",
        "--recipe", str(ROOT / "recipes" / "lenet5.py") + ":digits", "--recipe.epochs=2",
        "--sparsity", "0.75", f"--out={out}"]))
    assert (seen["name"], seen["method"], seen["out"]) == ("lenet5", "prune", str(out))
    assert seen["sparsity"] == 0.75 and seen["epochs"] == 3 and seen["clusters"] == 16
    assert '"epochs": 2' in pathlib.Path(seen["recipe"]).read_text()  # the overridden recipe
    with pytest.raises(ValueError, match="No such artifact: 'missing.tflite'"):
        commands.evaluate_tflite(cli.parse(["keras-backbones", "evaluate-tflite",
                                            "missing.tflite"]))


def test_tensorflow_start_up_lines_are_hidden_unless_asked_for():
    quiet = keras_backbones("list", "lenet*")
    asked = keras_backbones("list", "lenet*", TF_CPP_MIN_LOG_LEVEL="0")  # the user's level
    code, listing, stderr = finished(quiet)
    assert code == 0 and listing.startswith("name") and "lenet5" in listing
    assert not [line for line in START_UP if line in stderr], stderr
    code, stdout, stderr = finished(asked)
    assert code == 0 and stdout == listing
    # TensorFlow 2.21 (setup.py pins the minor) prints these on any CPU machine: were it to
    # stop, the check above would hold without hiding anything.
    assert {"absl::InitializeLog", "oneDNN custom operations"} <= {
        line for line in START_UP if line in stderr}, stderr


def test_verbose_leaves_tensorflow_alone_and_a_users_level_is_kept(monkeypatch):
    quieted = []
    monkeypatch.setattr(cli, "_quiet_tensorflow", lambda: quieted.append(True))
    def list_nothing(args):
        """Lists nothing."""

    monkeypatch.setitem(cli.COMMANDS, "list", cli.Command(list_nothing))
    for argv, quiet in [(["list"], True), (["--verbose", "list"], False),
                        (["list", "--verbose"], False)]:
        quieted.clear()
        assert cli.main(cli.parse(["keras-backbones", *argv])) == 0
        assert quieted == ([True] if quiet else []), argv
    monkeypatch.undo()
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    import tensorflow as tf
    from absl import logging

    levels = tf.get_logger().level, logging.get_verbosity()
    try:
        cli._quiet_tensorflow()
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
        assert tf.get_logger().level == logging.converter.STANDARD_WARNING
    finally:
        tf.get_logger().setLevel(levels[0])
        logging.set_verbosity(levels[1])


@pytest.mark.parametrize("variant", [pytest.param("eca_resnet18", marks=support.PARITY_MARKS)])
def test_parity_needs_nothing_from_the_tests(variant, tmp_path):
    """`keras-backbones parity` of a variant whose reference only the package's own
    references build (ECA-ResNet: the official code is not on PyPI), run from a copy of the
    package alone: no tests/ directory to fall back on."""
    shutil.copytree(ROOT / "keras_backbones", tmp_path / "keras_backbones",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "keras_backbones.cli", "parity", variant,
                           "--sizes", "64x64"], cwd=tmp_path, text=True, capture_output=True,
                          env=environment(PYTHONPATH=str(tmp_path)), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "64x64: max |difference|" in done.stdout and done.stdout.rstrip().endswith(" ok")
