"""`keras-backbones train` and `keras-backbones evaluate`.

    keras-backbones train --recipe recipes/lenet5.py:digits [--recipe.FIELD=VALUE ...]
        [--workdir DIR] [--strategy default|one_device|mirrored|multi_worker|tpu] [--tpu NAME]
        [--jit_compile] [--mixed_precision none|mixed_float16|mixed_bfloat16]
    keras-backbones evaluate --recipe recipes/lenet5.py:digits --weights runs/lenet5_digits/weights.npz
        [--tta none|flip|10crop|144crop|dense] [--scales Q,...]

Each command is a function of the parsed arguments (keras_backbones.cli parses them, with the
--recipe, --weights and --workdir that export and optimize share): `args.recipe` is the recipe
loaded, overridden and validated, `args.recipe_spec` what --recipe said. TensorFlow is
imported only when a command runs.
"""

import argparse
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


# The modes of keras_backbones.training.tta (which imports TensorFlow: not at parse time).
TTA_MODES = ("none", "flip", "10crop", "144crop", "dense")
SCALED_TTA_MODES = ("144crop", "dense")


def _scales(value):
    """--scales: comma-separated shorter sides in pixels."""
    try:
        scales = tuple(int(scale) for scale in value.split(","))
    except ValueError:
        scales = ()
    if not scales or min(scales) < 1:
        raise argparse.ArgumentTypeError(f"--scales takes positive integers separated by "
                                         f"commas (e.g. 224,256,288); got {value!r}.")
    return scales


def add_evaluate_arguments(parser):
    """The flags of `keras-backbones evaluate` beside --recipe, --weights and --workdir."""
    parser.add_argument("--tta", default="none", choices=TTA_MODES,
                        help="test-time evaluation, softmax probabilities averaged: none (the "
                        "center crop), flip (and its mirror), 10crop (AlexNet: corners and "
                        "center, mirrored), 144crop (GoogLeNet: 4 scales x 3 squares x 6 crops "
                        "x 2), dense (VGG: the classifier made convolutional on whole images at "
                        "--scales, and mirrored)")
    parser.add_argument("--scales", type=_scales, metavar="Q,...",
                        help="dense and 144crop: the shorter sides the whole image is resized to "
                        "(default dense: S-32,S,S+32 with S = size / crop_pct, 224,256,288 at "
                        "224; 144crop: 256,288,320,352 at 224, in proportion to another size)")


def evaluate(args):
    """Top-1/top-5 accuracy of trained weights.

    Reads the recipe's evaluation split; writes the confusion matrix (a PNG) to --workdir,
    default the weights' directory. --tta evaluates as the papers do (flips, 10 or 144 crops,
    VGG's dense evaluation). Example:
      keras-backbones evaluate --recipe recipes/lenet5.py:digits \\
          --weights runs/lenet5_digits/weights.npz --tta dense --scales 32,40"""
    if args.scales and args.tta not in SCALED_TTA_MODES:
        raise ValueError(f"--scales applies to --tta {' and '.join(SCALED_TTA_MODES)}; got "
                         f"--tta {args.tta}.")
    from keras_backbones.training import loop

    loop.evaluate(args.recipe, args.weights, out_dir=args.workdir, tta=args.tta,
                  scales=args.scales)
