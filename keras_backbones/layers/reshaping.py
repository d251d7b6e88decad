"""Reshapes that convert to one static TFLite op."""

import math

import tensorflow as tf

from keras_backbones.backend import LEGACY_KERAS, keras, register_serializable


class StaticFlatten(keras.layers.Flatten):
    """keras.layers.Flatten with the flattened size written into the graph where it is known.

    Keras 3's Flatten reshapes to (batch read at run time, size): in TFLite, SHAPE,
    STRIDED_SLICE and PACK ops before the RESHAPE, which XNNPACK does not run (the model splits
    into two partitions there). A -1 batch gives one RESHAPE with a constant shape."""

    def call(self, inputs):
        features = inputs.shape[1:]
        if self.data_format == "channels_first" or any(d is None for d in features):
            return super().call(inputs)
        return tf.reshape(inputs, [-1, math.prod(features)])


# tf-keras's Flatten already writes the size in (and TFMOT's quantization schemes know its class,
# not a subclass's).
Flatten = keras.layers.Flatten if LEGACY_KERAS else register_serializable(StaticFlatten)
