"""`keras-backbones export`, `optimize` and `evaluate-tflite`.

    keras-backbones export --model lenet5 --weights runs/lenet5_digits/weights.npz
        [--format savedmodel|tflite|onnx] [--quantize none|float16|dynamic|int8] [--int8_io]
        [--labels FILE] [--version N] [--overwrite] [--top_k K] [--out PATH]
        [--max_image_pixels P] [--max_aspect_ratio R] [--max_batch_size N]
    keras-backbones optimize --method qat|prune|pqat|cluster --model lenet5 --weights ...
        [--sparsity 0.5] [--clusters 16] [--finetune_epochs 3] [--out PATH]
    keras-backbones evaluate-tflite ARTIFACT [ARTIFACT ...] [--report STEM]

The recipe (data, labels, input size, model arguments) is the recipe.json that `train` wrote
beside the weights, or --recipe. SavedModels go to savedmodels/<model>/<version>/ (the TF
Serving base path); TFLite and ONNX files to exports/<model>/ unless --out says otherwise.
"""

import json
import os

from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "export/optimize: the registered variant the weights are of.")
flags.DEFINE_string("labels", None, "export/optimize: a file with one class label per line "
                    "(default: the recipe's data's class names).")
flags.DEFINE_string("format", "savedmodel", "export: savedmodel, tflite or onnx.")
flags.DEFINE_string("quantize", "none", "export --format tflite: none (float32), float16, "
                    "dynamic (int8 weights) or int8 (full integer, calibrated on the recipe's "
                    "training images).")
flags.DEFINE_boolean("int8_io", False, "export --quantize int8: int8 input and output tensors "
                     "(default float32, quantized inside).")
flags.DEFINE_integer("version", None, "export --format savedmodel: the version directory "
                     "(default: the next one).")
flags.DEFINE_boolean("overwrite", False, "export: replace an existing version.")
flags.DEFINE_integer("top_k", 5, "export --format savedmodel: how many classes the top-k "
                     "outputs hold.")
# The SavedModel's serving limits (savedmodel.MAX_*: tests check the defaults agree; that
# module imports TensorFlow, which the command line loads only when a command needs it).
SERVING_LIMITS = ("max_image_pixels", "max_aspect_ratio", "max_batch_size")
flags.DEFINE_integer("max_image_pixels", 89_478_485, "export --format savedmodel: the most "
                     "pixels (height x width, read from a file's header before decoding) an "
                     "image of a request may have; Pillow's MAX_IMAGE_PIXELS.", lower_bound=1)
flags.DEFINE_float("max_aspect_ratio", 20, "export --format savedmodel: the largest long side "
                   "/ short side of an image of a request.", lower_bound=1)
flags.DEFINE_integer("max_batch_size", 64, "export --format savedmodel: the most images in "
                     "one request.", lower_bound=1)
flags.DEFINE_string("base_dir", "savedmodels", "export --format savedmodel: the TF Serving "
                    "base path (models.config is written there).")
flags.DEFINE_string("out", None, "export tflite/onnx, optimize: the artifact's path (default "
                    "exports/<model>/<model>-<quantize or method>.tflite / .onnx).")
flags.DEFINE_string("method", None, "optimize: qat, prune, pqat or cluster.")
flags.DEFINE_float("sparsity", 0.5, "optimize --method prune/pqat: the target sparsity.")
flags.DEFINE_integer("clusters", 16, "optimize --method cluster: weight clusters per layer.")
flags.DEFINE_integer("finetune_epochs", 3, "optimize: epochs of fine-tuning on the recipe's "
                     "training split.")
flags.DEFINE_float("finetune_learning_rate", 1e-4, "optimize: Adam's learning rate.")
flags.DEFINE_string("report", None, "evaluate-tflite: write the table to STEM.md and STEM.csv.")


def _recipe_flag():
    from keras_backbones.training import commands as training_commands

    return training_commands._recipe() if FLAGS.recipe is not None else None


def _deployable():
    from keras_backbones.export import deployable

    if not FLAGS.model or not FLAGS.weights:
        raise ValueError("--model NAME and --weights PATH are required.")
    return deployable.load(FLAGS.model, FLAGS.weights, recipe=_recipe_flag(),
                           labels_path=FLAGS.labels, classes=FLAGS["classes"].value
                           if FLAGS["classes"].present else None)


def export(args):
    from keras_backbones.export import artifacts, tflite

    if args:
        raise ValueError(f"export takes only flags; unexpected: {' '.join(args)}.")
    if FLAGS.format not in artifacts.FORMATS:
        raise ValueError(f"--format must be one of {', '.join(artifacts.FORMATS)}; "
                         f"got {FLAGS.format!r}.")
    if FLAGS.quantize not in tflite.QUANTIZATIONS:
        raise ValueError(f"--quantize must be one of {', '.join(tflite.QUANTIZATIONS)}; "
                         f"got {FLAGS.quantize!r}.")
    if FLAGS.format != "tflite" and (FLAGS.quantize != "none" or FLAGS.int8_io):
        raise ValueError("--quantize and --int8_io apply to --format tflite only.")
    if FLAGS.format != "savedmodel" and any(FLAGS[name].present for name in SERVING_LIMITS):
        raise ValueError(f"--{', --'.join(SERVING_LIMITS)} apply to --format savedmodel only.")
    item = _deployable()
    if FLAGS.format == "savedmodel":
        from keras_backbones.export import savedmodel

        path = savedmodel.export(item, FLAGS.base_dir, version=FLAGS.version,
                                 overwrite=FLAGS.overwrite, top_k=FLAGS.top_k,
                                 **{name: FLAGS[name].value for name in SERVING_LIMITS})
        print(f"Wrote {path} (signatures {savedmodel.IMAGES_SIGNATURE}, "
              f"{savedmodel.ENCODED_SIGNATURE}; warmup requests) and "
              f"{os.path.join(FLAGS.base_dir, savedmodel.MODELS_CONFIG)}.")
    elif FLAGS.format == "tflite":
        path = FLAGS.out or artifacts.default_path(item, "tflite", FLAGS.quantize)
        artifacts.write_tflite(item, path, FLAGS.quantize, int8_io=FLAGS.int8_io)
        print(f"Wrote {path} ({os.path.getsize(path):,} bytes) and {path}.json.")
    else:
        path = FLAGS.out or artifacts.default_path(item, "onnx")
        _, difference = artifacts.write_onnx(item, path)
        print(f"Wrote {path} ({os.path.getsize(path):,} bytes; onnxruntime agrees with Keras "
              f"to {difference:.2g}) and {path}.json.")


def optimize(args):
    from keras_backbones.export import optimize as optimize_lib

    if args:
        raise ValueError(f"optimize takes only flags; unexpected: {' '.join(args)}.")
    if FLAGS.method not in optimize_lib.METHODS:
        raise ValueError(f"--method must be one of {', '.join(optimize_lib.METHODS)}; "
                         f"got {FLAGS.method!r}.")
    if not FLAGS.model or not FLAGS.weights:
        raise ValueError("--model NAME and --weights PATH are required.")
    if not os.path.isfile(FLAGS.weights):
        raise ValueError(f"--weights: no such file: {FLAGS.weights!r}.")
    from keras_backbones import registry

    registry.get_spec(FLAGS.model)  # an unknown name fails before the child starts
    out = FLAGS.out or os.path.join("exports", FLAGS.model, f"{FLAGS.model}-{FLAGS.method}.tflite")
    recipe = None
    if FLAGS.recipe is not None:  # the child reads it from a file
        recipe = out + ".recipe.json"
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(recipe, "w") as f:
            f.write(_recipe_flag().to_json_best_effort())
    result = optimize_lib.optimize(
        FLAGS.model, FLAGS.weights, FLAGS.method, out, recipe=recipe, labels=FLAGS.labels,
        epochs=FLAGS.finetune_epochs, learning_rate=FLAGS.finetune_learning_rate,
        sparsity=FLAGS.sparsity, clusters=FLAGS.clusters)
    details = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in result.items() if k not in ("artifacts", "float_layers"))
    print(f"Wrote {' and '.join(result['artifacts'])} ({details}).")
    for layer, reason in result.get("float_layers", {}).items():
        print(f"  stays float in QAT: {layer}: {reason}")


def evaluate_tflite(args):
    from keras_backbones.export import artifacts, deployable

    if not args:
        raise ValueError("evaluate-tflite takes one or more .tflite files.")
    rows = []
    for path in args:
        sidecar = path + ".json"
        if not os.path.isfile(path):
            raise ValueError(f"No such artifact: {path!r}.")
        if not os.path.isfile(sidecar):
            raise ValueError(f"{path} has no sidecar {sidecar}: it names the model's data and "
                             "labels (export and optimize write it).")
        with open(sidecar) as f:
            item = deployable.Deployable.from_metadata(json.load(f))
        rows.append(artifacts.evaluate_tflite(path, item))
    markdown = (artifacts.write_report(rows, FLAGS.report) if FLAGS.report
                else artifacts.write_report(rows, os.path.join(os.path.dirname(args[0]), "report")))
    print(markdown)
