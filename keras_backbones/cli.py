"""The `keras-backbones` command.

    keras-backbones list [PATTERN]     name, family, parameters and FLOPs of each variant
    keras-backbones info NAME          a variant's metadata and its model summary
    keras-backbones convert --name NAME [--source SOURCE] CHECKPOINT OUT.npz
                                       a reference checkpoint -> the portable weights format
    keras-backbones parity NAME [--sizes 224x224,160x192]
                                       max |logits difference| against the reference at
                                       random init (needs the parity extra)
    keras-backbones train / evaluate   see `keras-backbones train --helpfull`
    keras-backbones export / optimize / evaluate-tflite
                                       TF Serving SavedModels, TFLite (float32, float16,
                                       dynamic, int8), ONNX; TFMOT QAT, pruning, clustering;
                                       artifacts evaluated on the recipe's data
    keras-backbones benchmark NAME     images/s, against keras.applications
"""

import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

from absl import app, flags  # noqa: E402

import keras_backbones.benchmark as benchmark  # noqa: E402  (defines its flags)
from keras_backbones.export import commands as export_commands  # noqa: E402  (its flags)
from keras_backbones.training import commands as training_commands  # noqa: E402  (its flags)

FLAGS = flags.FLAGS
flags.DEFINE_string("family", None, "list: only the variants of this family.")
flags.DEFINE_boolean("summary", True, "info: print the Keras model summary too.")
flags.DEFINE_string("name", None, "convert: the registered variant the checkpoint is of.")
flags.DEFINE_string("source", None, "convert: whose names the checkpoint uses (torchvision, "
                    "timm, official:...); default: the variant's reference.")
flags.DEFINE_integer("classes", 1000, "convert: classes of the checkpoint's classifier; export: "
                     "of the model, for weights without a recipe.")
flags.DEFINE_string("sizes", None, "parity: input sizes HxW, comma separated; default: the "
                    "variant's input size and 160x192.")
flags.DEFINE_string("references", None, "parity: a module whose build(source, name, options) "
                    "builds references torchvision and timm lack; default: the repository's "
                    "tests/parity/references.py when present.")

USAGE = __doc__.strip()


def cmd_list(args):
    from keras_backbones import registry

    pattern = args[0] if args else "*"
    names = registry.list_models(pattern, family=FLAGS.family)
    if not names:
        families = sorted({registry.get_spec(n).family for n in registry.list_models()})
        raise app.UsageError(f"No model matches {pattern!r}"
                             + (f" in family {FLAGS.family!r}" if FLAGS.family else "")
                             + f". Families: {', '.join(families)}.")
    stats = registry.model_stats(names)
    rows = [("name", "family", "params", "GMACs", "GFLOPs")]
    for name in names:
        counted = stats[name]
        rows.append((name, registry.get_spec(name).family, f"{counted['params']:,}",
                     f"{counted['macs'] / 1e9:.4g}", f"{2 * counted['macs'] / 1e9:.4g}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))))
    print(f"\n{len(names)} variants. FLOPs = 2 x multiply-accumulates of conv/dense/matmul "
          "layers at the default input size.")


def cmd_info(args):
    from keras_backbones import registry

    if len(args) != 1:
        raise app.UsageError("info takes one model name: keras-backbones info resnet50")
    info = registry.model_info(args[0])
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
        ("defaults", ", ".join(f"{k}={v!r}" for k, v in info["default_kwargs"].items()) or "-"),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key.ljust(width)}  {value}")
    if FLAGS.summary:
        print()
        registry.create_model(args[0]).summary()


def cmd_convert(args):
    from keras_backbones import weights

    if len(args) != 2 or not FLAGS.name:
        raise app.UsageError("convert takes --name and two paths: keras-backbones convert "
                             "--name resnet50 --source torchvision resnet50.pth resnet50.npz")
    checkpoint, out = args
    if not weights.is_checkpoint(checkpoint):
        raise ValueError(f"{checkpoint} is not a reference checkpoint: expected one of "
                         f"{', '.join(weights.CHECKPOINT_SUFFIXES)}.")
    weights.convert_checkpoint(FLAGS.name, checkpoint, out, source=FLAGS.source,
                               classes=FLAGS.classes)
    print(f"Wrote {out}: {FLAGS.name} from {checkpoint}, in the portable format.")


def cmd_parity(args):
    from keras_backbones import parity, registry

    if len(args) != 1:
        raise app.UsageError("parity takes one model name: keras-backbones parity resnet50")
    name = args[0]
    spec = registry.get_spec(name)
    sizes = (parity.parse_sizes(FLAGS.sizes) if FLAGS.sizes
             else [spec.preprocessing.input_size[:2], (160, 192)])
    references = FLAGS.references
    repository_references = pathlib.Path(__file__).parent.parent / "tests/parity/references.py"
    if references is None and repository_references.exists():
        references = repository_references
    print(f"{name} against {spec.reference[0]} {spec.reference[1]!r} at random init, "
          "norm statistics randomized, eval mode:")
    failed = False
    for result in parity.compare(name, sizes, references=references):
        failed |= not result.ok
        print(f"  {result.size[0]}x{result.size[1]}: max |difference| {result.max_abs_diff:.3g}"
              f" (tolerance {result.tolerance:.3g}, max |reference logit| "
              f"{result.max_abs_reference:.3g}) {'ok' if result.ok else 'FAILED'}")
    if failed:
        raise ValueError(f"{name} differs from its reference beyond the tolerance.")


COMMANDS = {"list": cmd_list, "info": cmd_info, "convert": cmd_convert, "parity": cmd_parity,
            "train": training_commands.train, "evaluate": training_commands.evaluate,
            "benchmark": benchmark.main, "export": export_commands.export,
            "optimize": export_commands.optimize, "evaluate-tflite": export_commands.evaluate_tflite}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise app.UsageError(USAGE if len(argv) < 2 else
                             f"Unknown command {argv[1]!r}. Commands: {', '.join(COMMANDS)}.\n\n{USAGE}")
    try:
        COMMANDS[argv[1]](argv[2:])
    except (ValueError, OSError) as error:  # bad names, arguments, files: the message says what
        print(f"keras-backbones: error: {error}", file=sys.stderr)
        return 2
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()
