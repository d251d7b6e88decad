"""The one module that imports Keras.

keras_backbones runs on Keras 3 (the default) and on tf-keras (Keras 2), which TFMOT needs.
`TF_USE_LEGACY_KERAS=1`, set before TensorFlow is imported, selects tf-keras. Every other
module does `from keras_backbones.backend import keras`.
"""

import os

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
