"""The one module that imports Keras.

keras_backbones runs on Keras 3 (the default) and on tf-keras (Keras 2), which TFMOT needs.
`TF_USE_LEGACY_KERAS=1`, set before TensorFlow is imported, selects tf-keras. Every other
module does `from keras_backbones.backend import keras`.
"""

import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes")

if LEGACY_KERAS:
    import tf_keras as keras  # noqa: F401
else:
    import keras  # noqa: F401

KERAS_VERSION = keras.__version__


def register_serializable(cls):
    """Registers a custom layer under the package name, for `.keras` files and safe_mode."""
    return keras.utils.register_keras_serializable(package="keras_backbones")(cls)


def set_dtype_policy(name):
    """Sets the global mixed-precision policy ("float32", "mixed_float16", "mixed_bfloat16")."""
    if LEGACY_KERAS:
        keras.mixed_precision.set_global_policy(name)
    else:
        keras.config.set_dtype_policy(name)


def dtype_policy_name():
    if LEGACY_KERAS:
        return keras.mixed_precision.global_policy().name
    return keras.config.dtype_policy().name


def clear_session(free_memory=True):
    """Resets Keras's global state (layer names, the tf-keras graph); `free_memory` also runs
    Python's garbage collector under Keras 3 (a third of a second with TensorFlow loaded)."""
    if LEGACY_KERAS:
        keras.backend.clear_session()
    else:
        keras.backend.clear_session(free_memory=free_memory)


def tf_variables(model):
    """The model's variables as `tf.Variable`s (Keras 3 wraps them), for tf.Module tracking."""
    return [v if LEGACY_KERAS else v.value for v in model.variables]


def graph_nodes(model):
    """The nodes of a functional model's own graph, inputs first, as (layer, [its input
    KerasTensors]) pairs: the two Kerases name a node's parts differently."""
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            if LEGACY_KERAS:
                yield node.layer, list(node.keras_inputs)
            else:
                yield node.operation, list(node.input_tensors)


# What XLA cost on a CPU, measured with keras_backbones.benchmark's harness on a 2-core x86
# machine, XLA and no XLA alternating in rounds (benchmarks/RESULTS.md, "XLA on a CPU").
XLA_ON_CPU_COST = ("mobilenet_v2 at batch 16 ran 13x slower in inference (5.0 against 65.7 "
                   "images/s) and 8x slower per training step (1.4 against 12.5)")


def warn_if_xla_on_cpu(flag):
    """Warns, naming `flag`, where XLA would compile for the CPU alone: there it is slower."""
    import tensorflow as tf

    if not any(tf.config.list_logical_devices(kind) for kind in ("GPU", "TPU")):
        warnings.warn(f"{flag} on a machine with no GPU or TPU: XLA compiles for the CPU, where "
                      f"it is slower, not faster (measured: {XLA_ON_CPU_COST}). Leave it off "
                      "here; it pays on accelerators.", stacklevel=2)
