"""TFLite conversion with builtin ops only, and running the result in LiteRT.

Conversion goes through an inference SavedModel: the model's variables and its call in
inference mode. It is exported once for all the quantizations asked of one model (twice where a
model with hard-swish or average pooling is also converted to full int8: see
`helpers.int8_tflite_trace`) and read by one converter, which reads the SavedModel into Python
once when it is made and again at each conversion. No SELECT_TF_OPS: a model that needs a
TensorFlow op TFLite lacks fails to convert, which is the point (the artifact must run on a
phone's stock runtime).
"""

import contextlib
import os
import tempfile

import numpy as np
import tensorflow as tf

from keras_backbones.layers.activations import HardSwish
from keras_backbones.layers.helpers import int8_tflite_trace
from keras_backbones.layers.pooling import IntegerAveragePooling2D

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def convert(model, quantize="none", representative_data=None, int8_io=True):
    """The .tflite bytes of `model`.

    quantize: "none" (float32), "float16" (weights stored in float16, computed in float32),
    "dynamic" (int8 weights, float activations quantized on the fly) or "int8" (full integer:
    weights and activations; needs `representative_data`, an iterable of single input arrays
    without the batch axis).
    int8_io: with "int8", make the input and output tensors int8 too (else float32)."""
    return convert_each(model, (quantize,), representative_data, int8_io)[quantize]


def convert_each(model, quantizations, representative_data=None, int8_io=True):
    """{quantize: .tflite bytes} for each of `quantizations`, from one export of `model`."""
    for quantize in quantizations:
        if quantize not in QUANTIZATIONS:
            raise ValueError(f"`quantize` must be one of {', '.join(QUANTIZATIONS)}; got {quantize!r}.")
    if "int8" in quantizations and representative_data is None:
        raise ValueError("int8 quantization needs `representative_data` (calibration inputs).")
    shape = model.inputs[0].shape
    if any(d is None for d in shape[1:]):
        raise ValueError(f"TFLite conversion needs a fixed input size; {model.name} takes {tuple(shape)}.")
    # Full int8 traces hard-swish and average pooling in ops XNNPACK runs in int8
    # (helpers.int8_tflite_trace): a second export where a model has them and float conversions
    # are asked for too.
    retraced = any(isinstance(layer, (HardSwish, IntegerAveragePooling2D))
                   for layer in model._flatten_layers())
    exports = {}
    for quantize in quantizations:
        exports.setdefault(quantize == "int8" and retraced, []).append(quantize)
    results = {}
    with tempfile.TemporaryDirectory(prefix="keras_backbones_tflite_") as directory:
        for integer, group in exports.items():
            path = os.path.join(directory, "int8" if integer else "float")
            with int8_tflite_trace() if integer else contextlib.nullcontext():
                _export_for_inference(model, path)
            converter = tf.lite.TFLiteConverter.from_saved_model(path)
            for quantize in group:
                results[quantize] = _configure(converter, quantize, representative_data,
                                               int8_io).convert()
    if "int8" in results:
        results["int8"] = widen_ranges_xnnpack_refuses(results["int8"])
    return {quantize: results[quantize] for quantize in quantizations}


# XNNPACK, LiteRT's default CPU delegate, rescales an int8 convolution's accumulator to its
# output by input scale x weight scale / output scale, and refuses the whole model (it fails to
# load) where that factor is 256 or more. A convolution whose output range is near zero on every
# calibration sample (a ReLU that none of them switches on: rare after training, 1 in ~12 draws
# of MNASNet-S's random weights) gets one.
XNNPACK_MAX_REQUANTIZATION = 256.0
_REQUANTIZING_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}  # input, weights first


def widen_ranges_xnnpack_refuses(content):
    """An int8 .tflite model whose convolutions all rescale by less than XNNPACK's 256: each
    output that needs it gets the coarser scale that gives 255. Its range only grows, so no
    calibrated value is clipped; the tensor's consumers read the same (scale, zero point).
    Returns `content` itself where nothing needed it."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    widened = 0
    for subgraph in model.subgraphs:
        tensors = subgraph.tensors
        for op in subgraph.operators:  # in execution order: an op's input scales are final
            if flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) not in _REQUANTIZING_OPS:
                continue
            inputs, weights, output = (tensors[i].quantization for i in (*op.inputs[:2], op.outputs[0]))
            if any(q is None or q.scale is None for q in (inputs, weights, output)):
                continue
            product = np.float32(inputs.scale[0]) * np.max(np.asarray(weights.scale, np.float32))
            if product / np.float32(output.scale[0]) >= XNNPACK_MAX_REQUANTIZATION:
                output.scale = [float(product / np.float32(XNNPACK_MAX_REQUANTIZATION - 1))]
                widened += 1
    if not widened:
        return content
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


# A SavedModel for conversion only: no gradient functions (they add to what the converter reads).
_EXPORT_OPTIONS = tf.saved_model.SaveOptions(experimental_custom_gradients=False)


def _export_for_inference(model, directory):
    """A SavedModel of the call in inference mode, for the converter: the model's variables and
    that one function, not the Keras object graph around them (an ExportArchive or
    `tf.saved_model.save(model)` also serializes every layer: DenseNet-121's export took 14 s
    that way, 5 s this way, and its conversion twice as long)."""
    from keras_backbones.backend import tf_variables

    module = tf.Module()
    module.model_variables = tf_variables(model)
    signature = [tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in model.inputs]
    serve = tf.function(lambda *inputs: model(list(inputs) if len(inputs) > 1 else inputs[0],
                                              training=False), input_signature=signature)
    tf.saved_model.save(module, directory, options=_EXPORT_OPTIONS,
                        signatures={"serving_default": serve.get_concrete_function()})


def _configure(converter, quantize, representative_data, int8_io):
    """Sets every quantization field of `converter` (one converter serves each quantization)."""
    int8 = quantize == "int8"
    converter.optimizations = [tf.lite.Optimize.DEFAULT] if quantize != "none" else []
    converter.target_spec.supported_types = [tf.float16] if quantize == "float16" else []
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if int8
                                           else tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.representative_dataset = None
    if int8:
        samples = [np.asarray(sample, np.float32) for sample in representative_data]
        converter.representative_dataset = lambda: ([sample[None]] for sample in samples)
    io_type = tf.int8 if int8 and int8_io else tf.float32
    converter.inference_input_type = converter.inference_output_type = io_type
    return converter


def interpreter(content, delegates=True):
    """A LiteRT interpreter; delegates=False reads the model's own ops (XNNPACK, the default
    delegate, would replace the ops it takes by one DELEGATE node)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = (OpResolverType.AUTO if delegates
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    runner = Interpreter(model_content=content, experimental_op_resolver_type=resolver)
    runner.allocate_tensors()
    return runner


def xnnpack_partitions(runner):
    """How many partitions XNNPACK made of an interpreter's graph: one where it takes the whole
    graph; each op it cannot run splits it, and runs on TFLite's own kernels in between."""
    return sum(op["op_name"] == "DELEGATE" for op in runner._get_ops_details())


def op_dtypes(content):
    """[(op name, sorted dtype names of its input and output tensors)] of a .tflite model.

    "Full int8" must be checked here: TFLITE_BUILTINS_INT8 does not fail on an op without an
    int8 kernel (POW, LOCAL_RESPONSE_NORMALIZATION), it keeps it in float between DEQUANTIZE
    and QUANTIZE."""
    runner = interpreter(content, delegates=False)
    dtypes = {t["index"]: np.dtype(t["dtype"]).name for t in runner.get_tensor_details()}
    return [(op["op_name"], sorted({dtypes[i] for i in (*op["inputs"], *op["outputs"]) if i >= 0}))
            for op in runner._get_ops_details()]


def op_names(content):
    """The names of the operators in a .tflite model."""
    return sorted({name for name, _ in op_dtypes(content)})


def float_ops(content):
    """The ops of a quantized model that still compute in floating point."""
    return [(name, types) for name, types in op_dtypes(content)
            if any(t.startswith("float") for t in types)]


def run(content, inputs):
    """Runs a .tflite model on a batch, one sample at a time; (de)quantizes int8 tensors.

    Returns a list with one float32 array per output, batched."""
    runner = interpreter(content)
    (input_detail,) = runner.get_input_details()
    output_details = runner.get_output_details()
    results = [[] for _ in output_details]
    for sample in np.asarray(inputs, np.float32):
        value = sample[None]
        if input_detail["dtype"] == np.int8:
            scale, zero_point = input_detail["quantization"]
            value = np.clip(np.round(value / scale + zero_point), -128, 127).astype(np.int8)
        runner.set_tensor(input_detail["index"], value)
        runner.invoke()
        for out, detail in zip(results, output_details):
            value = runner.get_tensor(detail["index"])
            if detail["dtype"] == np.int8:
                scale, zero_point = detail["quantization"]
                value = (value.astype(np.float32) - zero_point) * scale
            out.append(value[0])
    return [np.stack(out) for out in results]
