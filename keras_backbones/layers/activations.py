"""Activations whose definition differs between frameworks, pinned to the reference's.

Keras 3's `hard_sigmoid` is relu6(x + 3) / 6 but tf-keras's is clip(0.2 x + 0.5, 0, 1), so the
models use these layers (PyTorch's definitions) rather than the activation strings."""

import tensorflow as tf

from keras_backbones.backend import keras, register_serializable
from keras_backbones.layers.helpers import tracing_for_int8_tflite


def hard_sigmoid(x):
    """PyTorch's nn.Hardsigmoid: relu6(x + 3) / 6."""
    return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def hard_swish(x):
    """PyTorch's nn.Hardswish: x * relu6(x + 3) / 6, which TFLite fuses into HARD_SWISH. XNNPACK
    has no int8 HARD_SWISH: for full int8 (`helpers.int8_tflite_trace()`) it is traced as
    (relu6(x + 3) * x) / 6, which TFLite leaves as ADD (with RELU6) and two MULs."""
    if tracing_for_int8_tflite():
        return (tf.nn.relu6(x + 3.0) * x) * (1.0 / 6.0)
    return x * hard_sigmoid(x)


# The activations the attention layers accept by name, with the same meaning under both Kerases.
ACTIVATIONS = {
    "relu": tf.nn.relu,
    "relu6": tf.nn.relu6,
    "sigmoid": tf.sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "hard_swish": hard_swish,
    "swish": tf.nn.silu,
    "silu": tf.nn.silu,
    "gelu": lambda x: tf.nn.gelu(x, approximate=False),
    "tanh": tf.tanh,
    "linear": tf.identity,
}


def get(name):
    """The tf function of an activation name in ACTIVATIONS."""
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; expected one of {', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


class _Elementwise(keras.layers.Layer):
    """A stateless elementwise layer: same shape out as in."""

    def compute_output_shape(self, input_shape):
        return input_shape


@register_serializable
class HardSigmoid(_Elementwise):
    """nn.Hardsigmoid: relu6(x + 3) / 6 (the gate of MobileNetV3's and GhostNet's SE)."""

    def call(self, inputs):
        return hard_sigmoid(inputs)


@register_serializable
class HardSwish(_Elementwise):
    """nn.Hardswish: x * relu6(x + 3) / 6 (MobileNetV3, MobileNetV4)."""

    def call(self, inputs):
        return hard_swish(inputs)


@register_serializable
class ScaledTanh(_Elementwise):
    """LeNet-5's squashing function A * tanh(S * x) (LeCun et al. 1998, appendix A), with
    A = 1.7159 and S = 2/3 so that f(1) = 1 and f(-1) = -1."""

    def __init__(self, amplitude=1.7159, slope=2.0 / 3.0, **kwargs):
        super().__init__(**kwargs)
        self.amplitude = float(amplitude)
        self.slope = float(slope)

    def call(self, inputs):
        return self.amplitude * tf.tanh(self.slope * inputs)

    def get_config(self):
        return {**super().get_config(), "amplitude": self.amplitude, "slope": self.slope}
