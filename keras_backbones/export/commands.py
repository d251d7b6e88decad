"""`keras-backbones export`, `optimize` and `evaluate-tflite`.

    keras-backbones export --model lenet5 --weights runs/lenet5_digits/weights.npz
        [--format savedmodel|tflite|onnx] [--quantize none|float16|dynamic|int8] [--int8_io]
        [--labels FILE] [--version N] [--overwrite] [--top_k K] [--out PATH]
        [--max_image_pixels P] [--max_aspect_ratio R] [--max_batch_size N]
    keras-backbones optimize --method qat|prune|pqat|cluster --model lenet5 --weights ...
        [--sparsity 0.5] [--clusters 16] [--finetune_epochs 3] [--out PATH]
    keras-backbones evaluate-tflite ARTIFACT [ARTIFACT ...] [--report STEM]

Each command is a function of the parsed arguments (keras_backbones.cli parses them, with the
--model, --weights, --recipe, --labels, --classes and --out that several commands share). The
recipe (data, labels, input size, model arguments) is `args.recipe`, the recipe loaded from
--recipe, else the recipe.json that `train` wrote beside the weights. SavedModels go to
savedmodels/<model>/<version>/ (the TF Serving base path); TFLite and ONNX files to
exports/<model>/ unless --out says otherwise.
"""

import argparse
import json
import os

from keras_backbones import files
from keras_backbones.export import optimize as optimize_lib

# Stated here rather than imported: the modules that own them (artifacts.FORMATS,
# tflite.QUANTIZATIONS, savedmodel.MAX_*) import TensorFlow, and the command line defines its
# flags before it loads TensorFlow. tests/test_cli.py checks that they agree.
FORMATS = ("savedmodel", "tflite", "onnx")
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
SERVING_LIMITS = {"max_image_pixels": 89_478_485, "max_aspect_ratio": 20, "max_batch_size": 64}


def _at_least_one(kind):
    """An argparse type: a number of `kind` that is at least 1."""
    def parse(text):
        value = kind(text)
        if not value >= 1:  # NaN too
            raise argparse.ArgumentTypeError(f"must be at least 1; got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def add_export_arguments(parser):
    """The flags of `keras-backbones export` beside the shared ones."""
    parser.add_argument("--format", default="savedmodel", choices=FORMATS,
                        help="a TF Serving SavedModel, a TFLite file or an ONNX file")
    parser.add_argument("--quantize", default="none", choices=QUANTIZATIONS,
                        help="--format tflite: float32 (none), float16, dynamic (int8 weights) "
                        "or int8 (full integer, calibrated on the recipe's training images)")
    parser.add_argument("--int8_io", action="boolean", default=False,
                        help="--quantize int8: int8 input and output tensors (default float32, "
                        "quantized inside)")
    parser.add_argument("--fuse", action="boolean", default=True,
                        help="--format savedmodel, onnx: fold the BatchNormalizations into the "
                        "layers before them (keras_backbones.fuse: the same outputs, faster); "
                        "--nofuse exports the model as it is")
    parser.add_argument("--version", type=int, help="--format savedmodel: the version "
                        "directory (default: the next one)")
    parser.add_argument("--overwrite", action="boolean", default=False,
                        help="--format savedmodel: replace an existing version")
    parser.add_argument("--top_k", type=int, default=5,
                        help="--format savedmodel: how many classes the top-k outputs hold")
    parser.add_argument("--base_dir", default="savedmodels", metavar="DIR",
                        help="--format savedmodel: the TF Serving base path (models.config is "
                        "written there)")
    limits = parser.add_argument_group(
        "serving limits", "--format savedmodel: what a request to the SavedModel may hold;\n"
        "more is refused with an error naming the limit.")
    limits.add_argument("--max_image_pixels", type=_at_least_one(int), metavar="P",
                        default=SERVING_LIMITS["max_image_pixels"],
                        help="the most pixels (height x width, read from a file's header before "
                        "decoding) of an image; Pillow's MAX_IMAGE_PIXELS")
    limits.add_argument("--max_aspect_ratio", type=_at_least_one(float), metavar="R",
                        default=SERVING_LIMITS["max_aspect_ratio"],
                        help="the largest long side / short side of an image")
    limits.add_argument("--max_batch_size", type=_at_least_one(int), metavar="N",
                        default=SERVING_LIMITS["max_batch_size"],
                        help="the most images in one request")


def add_optimize_arguments(parser):
    """The flags of `keras-backbones optimize` beside the shared ones."""
    parser.add_argument("--method", required=True, choices=optimize_lib.METHODS,
                        help="quantization-aware training, magnitude pruning, pruning-preserving "
                        "QAT or weight clustering")
    parser.add_argument("--sparsity", type=float, default=0.5,
                        help="--method prune/pqat: the target sparsity")
    parser.add_argument("--clusters", type=int, default=16,
                        help="--method cluster: weight clusters per layer")
    parser.add_argument("--finetune_epochs", type=int, default=3, metavar="N",
                        help="epochs of fine-tuning on the recipe's training split")
    parser.add_argument("--finetune_learning_rate", type=float, default=1e-4, metavar="RATE",
                        help="Adam's learning rate")


def add_evaluate_tflite_arguments(parser):
    """The arguments of `keras-backbones evaluate-tflite`."""
    parser.add_argument("artifacts", nargs="+", metavar="ARTIFACT",
                        help="a .tflite file that export or optimize wrote (with its .json "
                        "sidecar)")
    parser.add_argument("--report", metavar="STEM", help="write the table to STEM.md and "
                        "STEM.csv (default: report.md and .csv beside the first artifact)")


def _deployable(args):
    from keras_backbones.export import deployable

    return deployable.load(args.model, args.weights, recipe=args.recipe,
                           labels_path=args.labels, classes=args.classes)


def export(args):
    """A SavedModel, TFLite or ONNX file of trained weights.

    The SavedModel takes images or encoded JPEG/PNG bytes and answers the top-k classes with
    their labels, and carries warmup requests; the TFLite (float32, float16, dynamic or int8)
    and ONNX files come with a .json sidecar naming the model's input, labels and data.
    Example: keras-backbones export --model lenet5 --weights runs/lenet5_digits/weights.npz"""
    if args.format != "tflite" and (args.quantize != "none" or args.int8_io):
        raise ValueError("--quantize and --int8_io apply to --format tflite only.")
    limits = {name: getattr(args, name) for name in SERVING_LIMITS}
    if args.format != "savedmodel" and limits != SERVING_LIMITS:
        raise ValueError(f"--{', --'.join(SERVING_LIMITS)} apply to --format savedmodel only.")
    item = _deployable(args)
    if args.format == "savedmodel":
        from keras_backbones.export import savedmodel

        path = savedmodel.export(item, args.base_dir, version=args.version,
                                 overwrite=args.overwrite, top_k=args.top_k, fuse=args.fuse,
                                 **limits)
        print(f"Wrote {path} (signatures {savedmodel.IMAGES_SIGNATURE}, "
              f"{savedmodel.ENCODED_SIGNATURE}; warmup requests) and "
              f"{os.path.join(args.base_dir, savedmodel.MODELS_CONFIG)}.")
        return
    from keras_backbones.export import artifacts

    if args.format == "tflite":
        path = args.out or artifacts.default_path(item, "tflite", args.quantize)
        artifacts.write_tflite(item, path, args.quantize, int8_io=args.int8_io)
        print(f"Wrote {path} ({os.path.getsize(path):,} bytes) and {path}.json.")
    else:
        path = args.out or artifacts.default_path(item, "onnx")
        _, difference = artifacts.write_onnx(item, path, fuse=args.fuse)
        print(f"Wrote {path} ({os.path.getsize(path):,} bytes; onnxruntime agrees with Keras "
              f"to {difference:.2g}) and {path}.json.")


def optimize(args):
    """TFMOT QAT, pruning or clustering -> an int8 TFLite file.

    Runs in a tf-keras child process (TFMOT needs Keras 2); the fine-tuning reads the recipe's
    training split. Example:
      keras-backbones optimize --method qat --model lenet5 \\
          --weights runs/lenet5_digits/weights.npz"""
    from keras_backbones import registry

    registry.get_spec(args.model)  # an unknown name fails before the child starts
    out = args.out or os.path.join("exports", args.model, f"{args.model}-{args.method}.tflite")
    recipe = None
    if args.recipe is not None:  # the child reads it from a file
        recipe = out + ".recipe.json"
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        files.write_bytes(recipe, args.recipe.to_json_best_effort().encode())
    result = optimize_lib.optimize(
        args.model, args.weights, args.method, out, recipe=recipe, labels=args.labels,
        epochs=args.finetune_epochs, learning_rate=args.finetune_learning_rate,
        sparsity=args.sparsity, clusters=args.clusters)
    details = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in result.items() if k not in ("artifacts", "float_layers"))
    print(f"Wrote {' and '.join(result['artifacts'])} ({details}).")
    for layer, reason in result.get("float_layers", {}).items():
        print(f"  stays float in QAT: {layer}: {reason}")


def evaluate_tflite(args):
    """Accuracy of TFLite files on their data, as a table.

    Reads the test split of each file's recipe (its .json sidecar names the model, labels and
    data); writes the table as Markdown and CSV (--report). Example:
      keras-backbones evaluate-tflite exports/lenet5/*.tflite --report exports/lenet5/report"""
    from keras_backbones.export import artifacts, deployable

    rows = []
    for path in args.artifacts:
        sidecar = path + ".json"
        if not os.path.isfile(path):
            raise ValueError(f"No such artifact: {path!r}.")
        if not os.path.isfile(sidecar):
            raise ValueError(f"{path} has no sidecar {sidecar}: it names the model's data and "
                             "labels (export and optimize write it).")
        with open(sidecar) as f:
            item = deployable.Deployable.from_metadata(json.load(f))
        rows.append(artifacts.evaluate_tflite(path, item))
    report = args.report or os.path.join(os.path.dirname(args.artifacts[0]), "report")
    print(artifacts.write_report(rows, report))
