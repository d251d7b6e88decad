"""`keras-backbones train` and `keras-backbones evaluate`.

    keras-backbones train --recipe recipes/lenet5.py:digits [--recipe.FIELD=VALUE ...]
        [--workdir DIR] [--strategy default|one_device|mirrored|multi_worker|tpu] [--tpu NAME]
        [--jit_compile] [--mixed_precision none|mixed_float16|mixed_bfloat16]
    keras-backbones evaluate --recipe recipes/lenet5.py:digits --weights runs/lenet5_digits/weights.npz

Each command is a function of the parsed arguments (keras_backbones.cli parses them, with the
--recipe, --weights and --workdir that export and optimize share): `args.recipe` is the recipe
loaded, overridden and validated, `args.recipe_spec` what --recipe said. TensorFlow is
imported only when a command runs.
"""

import os

from keras_backbones.training import recipe as recipe_lib


def add_train_arguments(parser):
    """The flags of `keras-backbones train` beside --recipe and --workdir."""
    parser.add_argument("--strategy", default="default", choices=recipe_lib.STRATEGIES,
                        help="the tf.distribute strategy; multi_worker reads the cluster from "
                        "TF_CONFIG")
    parser.add_argument("--tpu", default="", metavar="NAME",
                        help="--strategy tpu: the TPU's name or address (`local` on a Cloud TPU "
                        "VM; default $TPU_NAME)")
    parser.add_argument("--jit_compile", action="boolean",
                        help="XLA-compile the steps (default: the recipe's)")
    parser.add_argument("--mixed_precision", choices=recipe_lib.PRECISIONS,
                        help="the Keras dtype policy (default: the recipe's)")


def train(args):
    """Trains a model on a recipe's data.

    Checkpoints, logs, curves and weights go to --workdir (default runs/<recipe>, e.g.
    runs/lenet5_digits). Rerunning an interrupted run with the same --workdir resumes it;
    --recipe runs/NAME/recipe.json reruns a finished run's recipe as it ran. Example:
      keras-backbones train --recipe recipes/lenet5.py:digits --recipe.epochs=10"""
    from keras_backbones.training import loop

    workdir = args.workdir or os.path.join("runs", recipe_lib.name(args.recipe_spec))
    loop.train(args.recipe, workdir, strategy=args.strategy, tpu=args.tpu,
               jit_compile=args.jit_compile, mixed_precision=args.mixed_precision)


def evaluate(args):
    """Top-1/top-5 accuracy of trained weights.

    Reads the recipe's evaluation split; writes the confusion matrix (a PNG) to --workdir,
    default the weights' directory. Example:
      keras-backbones evaluate --recipe recipes/lenet5.py:digits \\
          --weights runs/lenet5_digits/weights.npz"""
    from keras_backbones.training import loop

    loop.evaluate(args.recipe, args.weights, out_dir=args.workdir)
