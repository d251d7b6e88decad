"""`keras-backbones train` and `keras-backbones evaluate`.

    keras-backbones train --recipe recipes/lenet5.py:digits [--recipe.FIELD=VALUE ...]
        [--workdir DIR] [--strategy default|one_device|mirrored|multi_worker|tpu] [--tpu NAME]
        [--jit_compile] [--mixed_precision none|mixed_float16|mixed_bfloat16]
    keras-backbones evaluate --recipe recipes/lenet5.py:digits --weights runs/lenet5_digits/weights.npz

The flags are defined here, at import, because the command line parses them before it knows
the command; TensorFlow is imported only when a command runs. Rerunning an interrupted
`train` with the same work directory resumes it; `--recipe runs/NAME/recipe.json` reruns a
finished run's recipe as it ran. A recipe that does not load is reported (file:line) when the
command starts, not as a flag-parsing traceback.
"""

import logging
import os

from absl import flags
from absl import logging as absl_logging
import ml_collections
from ml_collections import config_flags

from keras_backbones.training import recipe as recipe_lib

FLAGS = flags.FLAGS
# accept_new_attributes: a misspelt --recipe.field is then reported by recipe.validate (with
# the fields that exist) instead of failing inside flag parsing with a traceback.
config_flags.DEFINE_config_file(
    "recipe", None, "train/evaluate: a recipe file, `recipes/NAME.py[:ARG]`, or the recipe.json "
    "of a run; override its fields with --recipe.FIELD=VALUE (e.g. --recipe.epochs=10).",
    lock_config=False, accept_new_attributes=True)


class _UnloadedRecipe(ml_collections.ConfigDict):
    """The default recipe standing for one that failed to load, so that flag parsing (which
    applies the --recipe.FIELD overrides to it) goes on and `_recipe` reports `error`: raised
    during flag parsing, it would end in absl's usage text or a traceback."""

    def __init__(self, error):
        super().__init__(recipe_lib.defaults())
        object.__setattr__(self, "error", error)


class _RecipeParser(flags.ArgumentParser):
    """Loads --recipe with `recipe.load`: recipe.json files too (config_flags' own parser
    would run them as Python), and errors that name the recipe's line."""

    def parse(self, spec):
        try:
            return recipe_lib.load(spec)
        except ValueError as error:
            return _UnloadedRecipe(error)

    def flag_type(self):
        return "config object"


FLAGS["recipe"].parser = _RecipeParser()
flags.DEFINE_string("workdir", None, "train: where checkpoints, logs, curves and weights go "
                    "(default runs/<recipe>); evaluate: where the confusion matrix goes "
                    "(default: the weights' directory).")
flags.DEFINE_string("strategy", "default", "train: default, one_device, mirrored, multi_worker "
                    "(the cluster in TF_CONFIG) or tpu.")
flags.DEFINE_string("tpu", "", "train --strategy=tpu: the TPU's name or address "
                    "(`local` on a Cloud TPU VM; default $TPU_NAME).")
flags.DEFINE_boolean("jit_compile", None, "train: XLA-compile the steps (default: the recipe's).")
flags.DEFINE_string("mixed_precision", None, "train: none, mixed_float16 or mixed_bfloat16 "
                    "(default: the recipe's).")
flags.DEFINE_string("weights", None, "evaluate, export, optimize: the weights file (portable "
                    "format).")


def _recipe():
    """The parsed --recipe, or a ValueError saying what is wrong with it."""
    config = FLAGS.recipe
    if config is None:
        raise ValueError("--recipe is required, e.g. --recipe recipes/lenet5.py:digits.")
    if isinstance(config, _UnloadedRecipe):
        raise ValueError(f"Cannot load --recipe={config_flags.get_config_filename(FLAGS['recipe'])}: "
                         f"{config.error}")
    recipe_lib.validate(config)
    return config


def _quiet_tensorflow():
    """TensorFlow's INFO lines (one per checkpoint written) would drown the progress bars;
    --verbosity=0 brings them back."""
    logging.getLogger("tensorflow").setLevel(logging.WARNING)
    if not FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.WARNING)


def _no_arguments(args, command):
    if args:
        raise ValueError(f"{command} takes only flags; unexpected arguments: {' '.join(args)}.")


def train(args):
    _no_arguments(args, "train")
    config = _recipe()
    # Checked before TensorFlow loads (seconds): a typo fails at once.
    recipe_lib.check_choice("--strategy", FLAGS.strategy, recipe_lib.STRATEGIES)
    if FLAGS.mixed_precision is not None:
        recipe_lib.check_choice("--mixed_precision", FLAGS.mixed_precision, recipe_lib.PRECISIONS)
    workdir = FLAGS.workdir or os.path.join(
        "runs", recipe_lib.name(config_flags.get_config_filename(FLAGS["recipe"])))
    _quiet_tensorflow()
    from keras_backbones.training import loop

    loop.train(config, workdir, strategy=FLAGS.strategy, tpu=FLAGS.tpu,
               jit_compile=FLAGS.jit_compile, mixed_precision=FLAGS.mixed_precision)


def evaluate(args):
    _no_arguments(args, "evaluate")
    config = _recipe()
    if not FLAGS.weights:
        raise ValueError("evaluate needs --weights PATH (a weights file that `train` wrote).")
    _quiet_tensorflow()
    from keras_backbones.training import loop

    loop.evaluate(config, FLAGS.weights, out_dir=FLAGS.workdir)
