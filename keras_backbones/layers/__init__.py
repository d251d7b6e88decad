"""The shared custom layers: one theme per file, used by every family that needs them."""

from keras_backbones.layers.pooling import AdaptiveAveragePooling2D, PaddedMaxPooling2D
