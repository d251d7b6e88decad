"""The `keras-backbones` command line: `keras-backbones --help` lists the commands,
`keras-backbones COMMAND --help` a command's flags with their defaults.

Each command is a function of its parsed arguments (an argparse.Namespace): list, info,
convert, parity and docs here; train and evaluate in keras_backbones/training/commands.py;
export, optimize and evaluate-tflite in keras_backbones/export/commands.py; benchmark in
keras_backbones/benchmark.py. The first line of its docstring is its line in the command list,
the rest its description.

Parsing is argparse through absl's `argparse_flags` (absl's own flags, such as --verbosity,
keep working after any command). The flags that several commands take are defined once, in
SHARED_FLAGS. Booleans follow absl: --jit_compile / --nojit_compile. --recipe takes
ml_collections' overrides, --recipe.FIELD=VALUE, which a config flag of their own parses
(typed by the field's value; `--recipe.schedule.boundaries='(30, 60)'` for a tuple).

A usage error exits with status 2 and one message, no traceback; so does a ValueError or
OSError that a command raises (a bad model name, a missing file). Everything before the
command runs imports no TensorFlow: a mistyped flag, choice or recipe field fails at once.
TensorFlow's start-up lines (oneDNN, "Could not find cuda drivers", "failed call to cuInit")
are hidden unless --verbose, or TF_CPP_MIN_LOG_LEVEL=0, asks for them.
"""

import argparse
import dataclasses
import difflib
import inspect
import os
import sys
import tempfile
from typing import Callable, Optional, Tuple

from absl import app, flags
from absl import logging as absl_logging
from absl.flags import argparse_flags
from ml_collections import config_flags

from keras_backbones import benchmark, pretrained
from keras_backbones.export import commands as export_commands
from keras_backbones.training import commands as training_commands
from keras_backbones.training import recipe as recipe_lib

PROG = "keras-backbones"


# --- the model zoo's commands -------------------------------------------------------------------

def list_models(args):
    """Each variant's family, parameters, FLOPs and activations.

    The counts are at the variant's default input size, measured once and cached. Example:
      keras-backbones list 'resnet*' --family ResNet"""
    from keras_backbones import registry

    names = registry.list_models(args.pattern, family=args.family)
    if not names:
        families = sorted({registry.get_spec(n).family for n in registry.list_models()})
        raise ValueError(f"No model matches {args.pattern!r}"
                         + (f" in family {args.family!r}" if args.family else "")
                         + f". Families: {', '.join(families)}.")
    stats = registry.model_stats(names)
    rows = [("name", "family", "params", "GMACs", "GFLOPs", "acts (M)")]
    for name in names:
        counted = stats[name]
        rows.append((name, registry.get_spec(name).family, f"{counted['params']:,}",
                     f"{counted['macs'] / 1e9:.4g}", f"{2 * counted['macs'] / 1e9:.4g}",
                     f"{counted['activations'] / 1e6:.4g}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))))
    print(f"\n{len(names)} variants, counted at the default input size. FLOPs = 2 x "
          "multiply-accumulates of conv/dense/matmul layers; acts = elements of their outputs "
          "(the RegNet paper's activations).")


def info(args):
    """A variant's paper, reference, counts and model summary.

    Also its input size, preprocessing and default constructor arguments."""
    from keras_backbones import registry

    info = registry.model_info(args.name)
    paper = info["paper"]
    pre = info["preprocessing"]
    lines = [
        ("name", info["name"]),
        ("family", info["family"]),
        ("paper", f"{paper['title']} ({paper['year']})"
                  + (f", arXiv:{paper['arxiv']}" if paper["arxiv"] else "")),
        ("reference", f"{info['reference']['source']}: {info['reference']['name']}"),
        ("input size", "x".join(str(d) for d in info["input_size"])),
        ("preprocessing", f"mean {pre['mean']}, std {pre['std']}, {pre['interpolation']}, "
                          f"crop_pct {pre['crop_pct']}"),
        ("parameters", f"{info['params']:,} trainable"
                       + (f" (paper: {info['paper_params']:,})" if info["paper_params"] else "")),
        ("MACs", f"{info['macs']:,} ({2 * info['macs'] / 1e9:.3f} GFLOPs)"),
        ("activations", f"{info['activations']:,} (conv/dense/matmul output elements)"),
        ("defaults", ", ".join(f"{k}={v!r}" for k, v in info["default_kwargs"].items()) or "-"),
        ("weights", _weights_line(info)),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key.ljust(width)}  {value}")
    if args.summary:
        print()
        registry.create_model(args.name).summary()


def _weights_line(info):
    """The default published checkpoint and how many there are, or why there are none."""
    published = info["checkpoints"]
    if not published:
        return f"none published ({info['without_checkpoints'] or 'none listed'})"
    default = published[0]
    accuracy = (f", {default['top1']}% top-1 at {default['eval_size']}"
                if default["top1"] is not None else "")
    return (f"imagenet = {default['source']}:{default['tag']}{accuracy}; "
            f"{len(published)} published (keras-backbones weights {info['name']})")


def convert(args):
    """A reference checkpoint -> the portable weights format.

    Reads .pth, .pth.tar, .pt, .bin and .safetensors checkpoints by the variant's checkpoint
    map, checking every name and shape. Example:
      keras-backbones convert --name resnet50 --source torchvision resnet50.pth resnet50.npz"""
    from keras_backbones import weights

    if not weights.is_checkpoint(args.checkpoint):
        raise ValueError(f"{args.checkpoint} is not a reference checkpoint: expected one of "
                         f"{', '.join(weights.CHECKPOINT_SUFFIXES)}.")
    weights.convert_checkpoint(args.name, args.checkpoint, args.out, source=args.source,
                               classes=1000 if args.classes is None else args.classes)
    print(f"Wrote {args.out}: {args.name} from {args.checkpoint}, in the portable format.")


def parity(args):
    """Logits against the reference at random init (parity extra).

    The reference (torchvision, timm, or keras_backbones.parity_references) runs in a torch
    child process with every norm's statistics randomized; eval logits must agree to
    1e-4 x max(1, max |reference logit|)."""
    from keras_backbones import parity, registry

    spec = registry.get_spec(args.name)
    sizes = (parity.parse_sizes(args.sizes) if args.sizes
             else [spec.preprocessing.input_size[:2], (160, 192)])
    print(f"{args.name} against {spec.reference[0]} {spec.reference[1]!r} at random init, "
          "norm statistics randomized, eval mode:")
    failed = False
    for result in parity.compare(args.name, sizes, references=args.references):
        failed |= not result.ok
        print(f"  {result.size[0]}x{result.size[1]}: max |difference| {result.max_abs_diff:.3g}"
              f" (tolerance {result.tolerance:.3g}, max |reference logit| "
              f"{result.max_abs_reference:.3g}) {'ok' if result.ok else 'FAILED'}")
    if failed:
        raise ValueError(f"{args.name} differs from its reference beyond the tolerance.")


def published_weights(args):
    """A variant's published checkpoints and their accuracy.

    One line per checkpoint, the default (what --weights imagenet loads) marked *; any other
    loads by its name, --weights SOURCE:TAG. top-1/top-5 are the accuracy its source
    publishes (%), at the evaluation size after @; input, resize, crop_pct and interpolation
    are the evaluation transform that goes with the weights (predict applies it). Example:
      keras-backbones weights resnet50"""
    from keras_backbones import pretrained, registry

    registry.get_spec(args.name)  # an unknown name: the registry's error, with close matches
    published = pretrained.checkpoints(args.name)
    if not published:
        reason = pretrained.without_checkpoints().get(args.name, "none is listed")
        print(f"{args.name} has no published checkpoint: {reason}")
        return

    def number(value, unit=""):
        return "-" if value is None else f"{value:.2f}{unit}"

    sizes = any(checkpoint.file_size_mib for checkpoint in published)  # a column where known
    rows = [("", "checkpoint", "top-1", "top-5", "@", "classes", "input", "resize", "crop_pct",
             "interpolation", "license", *(("MiB",) if sizes else ()), "url")]
    for checkpoint in published:
        rows.append(("*" if checkpoint.default else "", checkpoint.name, number(checkpoint.top1),
                     number(checkpoint.top5), str(checkpoint.eval_size or "-"),
                     str(checkpoint.classes or "-"), "x".join(map(str, checkpoint.input_size)),
                     str(checkpoint.resize_size), f"{checkpoint.crop_pct:.4g}",
                     checkpoint.interpolation + (" BGR" if checkpoint.channel_order == "BGR"
                                                 else ""), checkpoint.license,
                     *((number(checkpoint.file_size_mib),) if sizes else ()), checkpoint.url))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = {"top-1", "top-5", "@", "classes", "MiB"}
    print(f"{args.name}: {len(published)} published checkpoint"
          f"{'s' if len(published) > 1 else ''} (* the default: --weights imagenet)")
    for row in rows:
        print("  ".join(cell.rjust(w) if rows[0][i] in numeric else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())


def predict(args):
    """The top classes of images, with their probabilities.

    --weights: imagenet (the reference's default checkpoint), SOURCE:TAG (`weights NAME`
    lists them), a URL, or a weights file; for weights that train wrote, the classes and
    input come from the recipe.json beside them. Each image is resized and center-cropped
    as the checkpoint's reference evaluates it. Example:
      keras-backbones predict --model resnet50 --weights imagenet cat.jpg dog.png"""
    from keras_backbones.pretrained import predict as predicting

    trained = None
    if os.path.isfile(args.weights):
        run = recipe_lib.run_recipe(args.weights)
        if run is not None and run.data.num_classes:
            size, channels, _ = recipe_lib.input_geometry(run)
            trained = predicting.Trained(
                model=run.model.name, kwargs=run.model.kwargs.to_dict(),
                input_shape=(*size, channels), classes=run.data.num_classes,
                class_names=tuple(run.data.class_names))
    results = predicting.predict_files(args.model, args.weights, args.images, top=args.top,
                                       trained=trained)
    print("\n\n".join(predicting.format_predictions(image, rows) for image, rows in results))


def build_docs(args):
    """Build the documentation site (strictly: any warning fails).

    The guides (docs/) and the pages generated from the code (the model table, a page per
    family, the API and command-line references) into --site_dir; needs a checkout of the
    repository and the docs extra (pip install -e ".[docs]"). Open SITE_DIR/index.html, or
    --serve it."""
    from keras_backbones import docs

    if args.serve:
        docs.serve(args.serve)
        return
    site = docs.build(args.site_dir)
    print(f"Built {os.path.join(site, 'index.html')}")


def _docs_arguments(parser):
    parser.add_argument("--site_dir", default="site", metavar="DIR",
                        help="where the built site goes")
    parser.add_argument("--serve", metavar="HOST:PORT", default="",
                        help="serve the site there instead, rebuilt as its sources change "
                        "(e.g. 127.0.0.1:8000)")


def _list_arguments(parser):
    parser.add_argument("pattern", nargs="?", default="*", metavar="PATTERN",
                        help="an fnmatch pattern of variant names (quote it in the shell)")
    parser.add_argument("--family", help="only the variants of this family (e.g. ResNet)")


def _info_arguments(parser):
    parser.add_argument("name", metavar="NAME", help="a registered variant")
    parser.add_argument("--summary", action="boolean", default=True,
                        help="print the Keras model summary too (--nosummary: not)")


def _convert_arguments(parser):
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="the reference checkpoint")
    parser.add_argument("out", metavar="OUT.npz", help="the portable weights file to write")
    parser.add_argument("--name", required=True,
                        help="the registered variant the checkpoint is of")
    parser.add_argument("--source", help="whose names the checkpoint uses (torchvision, timm, "
                        "official:...; default: the variant's reference)")


def _parity_arguments(parser):
    parser.add_argument("name", metavar="NAME", help="a registered variant with a code reference")
    parser.add_argument("--sizes", metavar="HxW,...", help="input sizes, comma separated "
                        "(default: the variant's input size and 160x192)")
    parser.add_argument("--references", metavar="FILE", help="a module whose build(source, "
                        "name, options) builds references the package lacks (asked first)")


def _weights_arguments(parser):
    parser.add_argument("name", metavar="NAME", help="a registered variant")


def _predict_arguments(parser):
    parser.add_argument("images", nargs="+", metavar="IMAGE",
                        help="image files (JPEG, PNG, ...: whatever PIL reads)")
    parser.add_argument("--top", type=int, default=5, metavar="K",
                        help="the number of classes shown per image")


# --- the flags several commands share -----------------------------------------------------------

def _existing_file(path):
    if not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"no such file: {path!r}")
    return path


def _weights(value):
    """A weights file, or a published checkpoint's name or URL (imagenet, SOURCE:TAG)."""
    if pretrained.is_named(value):
        return value
    try:
        return _existing_file(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"no such file: {value!r} (nor imagenet, SOURCE:TAG "
                                         "or a URL)") from None


SHARED_FLAGS = {
    "recipe": dict(metavar="RECIPE", help="a recipe file, recipes/NAME.py[:ARG], or the "
                   "recipe.json of a run; override its fields with --recipe.FIELD=VALUE (e.g. "
                   "--recipe.epochs=10)"),
    "weights": dict(metavar="WEIGHTS", type=_weights,
                    help="a weights file (portable format, as train and convert write it, or a "
                    "reference checkpoint), or a published checkpoint: imagenet, SOURCE:TAG "
                    "(see `weights NAME`) or its URL"),
    "workdir": dict(metavar="DIR", help="train: where checkpoints, logs, curves and weights go "
                    "(default runs/<recipe>); evaluate: where the confusion matrix goes "
                    "(default: the weights' directory)"),
    "model": dict(metavar="NAME", help="the registered variant the weights are of"),
    "classes": dict(type=int, metavar="N", help="classes of the classifier: convert: of the "
                    "checkpoint (default 1000); export: of the model, for weights without a "
                    "recipe (default: the variant's)"),
    "labels": dict(metavar="FILE", help="a file with one class label per line (default: the "
                   "recipe's data's class names)"),
    "out": dict(metavar="PATH", help="the artifact's path (default exports/<model>/<model>-"
                "<quantize or method>.tflite, or .onnx)"),
}


# --- the commands -------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Command:
    """A command of the command line."""

    run: Callable                   # run(args); its docstring describes the command
    arguments: Optional[Callable] = None  # arguments(parser): its own flags and positionals
    shared: Tuple[str, ...] = ()    # the SHARED_FLAGS it takes
    required: Tuple[str, ...] = ()  # those of them it cannot do without


COMMANDS = {
    "list": Command(list_models, _list_arguments),
    "info": Command(info, _info_arguments),
    "weights": Command(published_weights, _weights_arguments),
    "predict": Command(predict, _predict_arguments, shared=("model", "weights"),
                       required=("model", "weights")),
    "convert": Command(convert, _convert_arguments, shared=("classes",)),
    "parity": Command(parity, _parity_arguments),
    "train": Command(training_commands.train, training_commands.add_train_arguments,
                     shared=("recipe", "workdir"), required=("recipe",)),
    "evaluate": Command(training_commands.evaluate, training_commands.add_evaluate_arguments,
                        shared=("recipe", "weights", "workdir"), required=("recipe", "weights")),
    "export": Command(export_commands.export, export_commands.add_export_arguments,
                      shared=("model", "weights", "recipe", "labels", "classes", "out"),
                      required=("model", "weights")),
    "optimize": Command(export_commands.optimize, export_commands.add_optimize_arguments,
                        shared=("model", "weights", "recipe", "labels", "out"),
                        required=("model", "weights")),
    "evaluate-tflite": Command(export_commands.evaluate_tflite,
                               export_commands.add_evaluate_tflite_arguments),
    "benchmark": Command(benchmark.main, benchmark.add_arguments),
    "docs": Command(build_docs, _docs_arguments),
}


class _Boolean(argparse.Action):
    """absl's boolean flags: --NAME sets it, --noNAME clears it."""

    def __init__(self, option_strings, dest, default=None, help=None):
        self.negations = [f"--no{option[2:]}" for option in option_strings]
        super().__init__(option_strings + self.negations, dest, nargs=0, default=default,
                         help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, option_string not in self.negations)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written; a flag's default after its help, where it has one."""

    def __init__(self, prog, max_help_position=28, **kwargs):
        super().__init__(prog, max_help_position=max_help_position, **kwargs)

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.option_strings and action.default not in (None, False, "", argparse.SUPPRESS)
                and "%(default)" not in text):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse_flags.ArgumentParser):
    """argparse with absl's flags, `action="boolean"`, and choices errors worded as the
    package's (`--format must be one of savedmodel, tflite, onnx; got 'coreml'.`)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(**kwargs)
        self.register("action", "boolean", _Boolean)

    def _check_value(self, action, value):  # argparse's hook for `choices`
        if action.choices is None or value in action.choices:
            return
        if isinstance(action, argparse._SubParsersAction):
            close = difflib.get_close_matches(value, action.choices, n=1)
            raise argparse.ArgumentError(None, f"Unknown command {value!r}."
                                         + (f" Did you mean {close[0]}?" if close else "")
                                         + f" Commands: {', '.join(action.choices)}.")
        raise argparse.ArgumentError(None, f"{action.option_strings[0]} must be one of "
                                     f"{', '.join(map(str, action.choices))}; got {value!r}.")


def build_parser():
    """The parser of the whole command line, one sub-parser per command."""
    parser = _Parser(prog=PROG, description="Image-classification backbones in Keras, equal to "
                     "their references:\nlist and inspect them, convert checkpoints, check "
                     "parity, train, evaluate,\nexport, optimize, benchmark.",
                     epilog=f"Run `{PROG} COMMAND --help` for a command's flags.")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and INFO lines (as does "
                        "TF_CPP_MIN_LOG_LEVEL=0)")
    parser.commands = parser.add_subparsers(title="commands", dest="command",
                                            metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        summary, _, details = inspect.getdoc(command.run).partition("\n")
        sub = parser.commands.add_parser(name, help=summary,
                                         description=f"{summary}\n{details}")
        for flag in command.shared:
            sub.add_argument(f"--{flag}", required=flag in command.required,
                             **SHARED_FLAGS[flag])
        if command.arguments:
            command.arguments(sub)
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show TensorFlow's start-up and INFO lines")
        sub.set_defaults(run=command.run)
    return parser


def parse(argv):
    """The parsed command line `argv` (argv[0] is the program): an argparse.Namespace whose
    `run(args)` is the command, with the recipe loaded (`recipe`, and `recipe_spec`, what
    --recipe said) where the command takes one. A usage error exits with status 2."""
    parser = build_parser()
    if len(argv) < 2:
        parser.print_help()
        parser.exit(2)
    args, rest = parser.parse_known_args(argv[1:])
    command = parser.commands.choices[args.command]
    if "recipe" not in vars(args):
        if rest:
            command.error(f"unrecognized arguments: {' '.join(rest)}")
        return args
    args.recipe_spec = args.recipe
    try:
        args.recipe = load_recipe(args.recipe, rest)
    except ValueError as error:
        command.exit(2, f"{command.prog}: error: {error}\n")
    return args


def load_recipe(spec, overrides=()):
    """The recipe that `spec` names with `overrides` (["--recipe.epochs=10", ...]) applied,
    validated; None without a spec. A ValueError says what is wrong: the recipe file's line,
    the override, the unknown field with the fields that exist."""
    if spec is None:
        if any(arg.startswith(("--recipe.", "--norecipe.")) for arg in overrides):
            raise ValueError("--recipe.FIELD=VALUE overrides the fields of --recipe, which is "
                             "missing.")
        if overrides:
            raise ValueError(f"unrecognized arguments: {' '.join(overrides)}")
        return None
    try:
        config = recipe_lib.load(spec)
    except ValueError as error:
        raise ValueError(f"Cannot load --recipe={spec}: {error}") from None
    # ml_collections' config flag types each override by the field's value; accepting new
    # attributes lets a misspelt field through, for `validate` to name with the fields that exist.
    argv = [PROG, *overrides]
    fields = flags.FlagValues()
    try:  # defining the flag defines a flag per overridden field, typed by its value
        config_flags.DEFINE_config_dict("recipe", config, flag_values=fields, lock_config=False,
                                        accept_new_attributes=True, sys_argv=argv)
        unparsed = fields(argv)[1:]
    except flags.UnrecognizedFlagError as error:
        raise ValueError(f"unrecognized arguments: --{error.flagname}") from None
    except (flags.Error, TypeError, KeyError, AttributeError) as error:  # a field's path, type
        raise ValueError(error.args[0] if isinstance(error, KeyError) else str(error)) from None
    if unparsed:
        raise ValueError(f"unrecognized arguments: {' '.join(unparsed)}")
    recipe_lib.validate(config)
    return config


# --- running a command --------------------------------------------------------------------------

def _quiet_tensorflow():
    """Hides TensorFlow's start-up lines and INFO logs, unless TF_CPP_MIN_LOG_LEVEL=0.

    TF_CPP_MIN_LOG_LEVEL=3 where the user set no level (child processes inherit it) hides what
    TensorFlow's C++ logs once running ("failed call to cuInit"). The lines it writes while
    loading (oneDNN, "Could not find cuda drivers") come through absl's C++ logging before
    that variable is read, which only file descriptor 2 can hide: TensorFlow is imported here
    with it captured (and shown after all if the import fails)."""
    if os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3") == "0":
        return
    with tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf
        except BaseException:
            sys.stderr.flush()
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.buffer.write(captured.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    # INFO lines (one per checkpoint written) would drown the progress bars; absl's own
    # --verbosity, when given, has the last word on absl's.
    tf.get_logger().setLevel("WARNING")
    if not flags.FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.WARNING)


def main(args):
    """Runs the parsed command line (`parse`); the exit status."""
    if not args.verbose:
        _quiet_tensorflow()
    try:
        args.run(args)
    except (ValueError, OSError) as error:  # bad names, arguments, files: the message says what
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


def run():
    app.run(main, flags_parser=parse)


if __name__ == "__main__":
    run()
