"""Edge artifacts (TFLite in four quantizations, ONNX), their sidecar metadata, and their
evaluation on real data.

An artifact takes the normalized image the model takes (input_shape, after the resize, crop
and (x / 255 - mean) / std that its sidecar `<artifact>.json` spells out with the labels) and
outputs probabilities. LiteRT metadata would carry the same inside the .tflite file, but its
writer (tflite-support) has no release for this TensorFlow: the sidecar is the portable form.
Files are written whole or not at all (`keras_backbones.files`).
"""

import csv
import gzip
import io
import json
import os
import time

import numpy as np
import tensorflow as tf

from keras_backbones import files, fusion
from keras_backbones.export import tflite

FORMATS = ("savedmodel", "tflite", "onnx")
ONNX_OPSET = 17


def default_path(deployable, fmt, quantize="none", out_dir="exports"):
    suffix = {"tflite": f"-{quantize}.tflite", "onnx": ".onnx"}[fmt]
    return os.path.join(out_dir, deployable.name, deployable.name + suffix)


def write_sidecar(path, deployable, **extra):
    meta = {**deployable.metadata(), **extra}
    return files.write_bytes(path + ".json", json.dumps(meta, indent=1).encode())


def write_tflite(deployable, path, quantize="none", *, int8_io=False, calibration=None,
                 model=None):
    """Converts (builtin ops only) and writes a .tflite file and its sidecar. int8 calibrates
    on `calibration` (default: 200 images of the recipe's training split). `model`: another
    Keras model of the same input (a TFMOT result) instead of the deployable's."""
    if quantize == "int8" and calibration is None:
        calibration = deployable.calibration_images()
    content = tflite.convert(model or deployable.model, quantize=quantize,
                             representative_data=calibration, int8_io=int8_io)
    files.write_bytes(path, content)
    write_sidecar(path, deployable, format="tflite", quantize=quantize,
                  int8_io=bool(int8_io and quantize == "int8"))
    return path


def _erfc(ctx, node, name, args):
    """Erfc(x) as 1 - Erf(x): TensorFlow's exact GELU uses Erfc, which tf2onnx lacks and
    ONNX has no operator for."""
    del name, args
    from tf2onnx import utils

    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    erf = ctx.make_node("Erf", [node.input[0]])
    one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
    node.type = "Sub"
    ctx.replace_inputs(node, [one.output[0], erf.output[0]])


def onnx_bytes(model):
    """The ONNX file of a Keras model (tf2onnx, opset ONNX_OPSET), input "images"."""
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    signature = (tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name="images"),)
    function = tf.function(lambda images: {"outputs": model(images, training=False)},
                           input_signature=signature)
    concrete = function.get_concrete_function()
    frozen = convert_variables_to_constants_v2(concrete, lower_control_flow=False,
                                               aggressive_inlining=True)
    graph_def = frozen.graph.as_graph_def()
    # Keras 3 runs a grouped convolution on CPU in a function compiled by XLA and kept out of
    # line, which ONNX has no op for; inlined, it is a Conv2D that tf2onnx makes a grouped Conv.
    for function_def in graph_def.library.function:
        function_def.attr.pop("_noinline", None)
        for node in function_def.node_def:
            node.attr.pop("_XlaMustCompile", None)
    for node in graph_def.node:
        node.attr.pop("_XlaMustCompile", None)
    inputs = [t.name for t in frozen.inputs]
    outputs = [t.name for t in frozen.outputs]
    names = tf2onnx.convert.tensor_names_from_structed(concrete, inputs, outputs)

    def convert():
        return tf2onnx.convert.from_graph_def(
            graph_def, input_names=inputs, output_names=outputs, opset=ONNX_OPSET,
            custom_op_handlers={"Erfc": (_erfc, [])}, tensors_to_rename=names)[0]

    # tf2onnx deep-copies the whole graph, weights included, before each optimizer pass, so
    # that a pass that fails can be skipped: AlexNet's conversion peaks at 14 GB that way, 10
    # without the copies (TF2ONNX_CATCH_ERRORS set: a failing pass raises). Without first;
    # where a pass fails (its transpose optimizer on MobileNetV3), again with them.
    previous = os.environ.get("TF2ONNX_CATCH_ERRORS")
    os.environ["TF2ONNX_CATCH_ERRORS"] = "FALSE"
    try:
        proto = convert()
    except Exception:  # noqa: BLE001 - an optimizer pass failed; tf2onnx's default skips it
        os.environ.pop("TF2ONNX_CATCH_ERRORS")
        proto = convert()
    finally:
        if previous is None:
            os.environ.pop("TF2ONNX_CATCH_ERRORS", None)
        else:
            os.environ["TF2ONNX_CATCH_ERRORS"] = previous
    return proto.SerializeToString()


def onnx_difference(model, content, images):
    """(max |ONNX - Keras|, its tolerance 1e-4 x max(1, |Keras output|)) on `images`."""
    expected = np.asarray(model(images, training=False))
    (got,) = run_onnx(content, images)
    return float(np.abs(got - expected).max()), 1e-4 * max(1.0, float(np.abs(expected).max()))


def write_onnx(deployable, path, *, fuse=True):
    """Converts with tf2onnx (the model with its BatchNormalizations folded, `fuse`), checks the
    file in onnxruntime against the Keras model as it was given on random images (max |diff| <=
    1e-4 x max(1, |output|), else nothing is written), and writes it and its sidecar. Returns
    (path, max |diff|)."""
    content = onnx_bytes(fusion.fuse(deployable.model) if fuse else deployable.model)
    images = np.random.default_rng(0).normal(size=(4, *deployable.input_shape)).astype(np.float32)
    difference, tolerance = onnx_difference(deployable.model, content, images)
    if not difference <= tolerance:
        raise ValueError(f"The ONNX model's outputs differ from the Keras model's by "
                         f"{difference:.3g} (> {tolerance:.3g}): not written.")
    files.write_bytes(path, content)
    write_sidecar(path, deployable, format="onnx", opset=ONNX_OPSET, fused=fuse)
    return path, difference


def run_onnx(content, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: np.asarray(images, np.float32)})


# --- evaluation -----------------------------------------------------------------------------

def gzip_size(content):
    """Bytes after gzip -9: how much a file's redundancy (pruned zeros, clustered weights)
    saves in a download."""
    return len(gzip.compress(content, compresslevel=9))


def latency_ms(content, repeats=50):
    """Median batch-1 latency of a .tflite model in LiteRT (XNNPACK), milliseconds."""
    runner = tflite.interpreter(content)
    (detail,) = runner.get_input_details()
    sample = np.zeros(detail["shape"], detail["dtype"])
    runner.set_tensor(detail["index"], sample)
    runner.invoke()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner.invoke()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def evaluate_tflite(path, deployable, split="eval"):
    """Top-1 accuracy of a .tflite file on the recipe's evaluation split, its size, gzip size
    and batch-1 latency: a report row."""
    with open(path, "rb") as f:
        content = f.read()
    correct = total = 0
    for images, labels in deployable.dataset(split):
        (probabilities,) = tflite.run(content, images.numpy())
        correct += int((probabilities.argmax(-1) == labels.numpy().argmax(-1)).sum())
        total += len(probabilities)
    return {"artifact": os.path.basename(path), "format": _format_of(path),
            "bytes": len(content), "gzip_bytes": gzip_size(content),
            "accuracy": correct / total, "examples": total,
            "latency_ms": latency_ms(content)}


def _format_of(path):
    sidecar = path + ".json"
    if os.path.exists(sidecar):
        with open(sidecar) as f:
            meta = json.load(f)
        quantize = {"none": "float32"}.get(meta.get("quantize"), meta.get("quantize"))
        return " ".join(filter(None, [meta.get("format"), meta.get("method"), quantize]))
    return os.path.splitext(path)[1].lstrip(".")


REPORT_COLUMNS = ("artifact", "format", "bytes", "gzip_bytes", "accuracy", "latency_ms")


def write_report(rows, path_stem):
    """The table as Markdown (path_stem.md) and CSV (path_stem.csv); returns the Markdown."""
    def cell(key, value):
        if value is None:
            return "-"
        if key == "accuracy":
            return f"{100 * value:.2f}%"
        if key == "latency_ms":
            return f"{value:.3f}"
        if key.endswith("bytes"):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(REPORT_COLUMNS) + " |",
             "|" + "|".join("---" for _ in REPORT_COLUMNS) + "|"]
    lines += ["| " + " | ".join(cell(k, row.get(k)) for k in REPORT_COLUMNS) + " |" for row in rows]
    markdown = "\n".join(lines) + "\n"
    files.write_bytes(path_stem + ".md", markdown.encode())
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    files.write_bytes(path_stem + ".csv", text.getvalue().encode())
    return markdown
