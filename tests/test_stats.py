"""Activations (stats.count_activations): counted by hand on small models, and against the
counts the RegNet paper publishes."""

import importlib
import inspect
import pkgutil

import pytest

from keras_backbones import layers, registry, stats
from keras_backbones.backend import keras


def test_activations_of_every_kind_of_layer_by_hand():
    inputs = keras.Input(shape=(8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", groups=2)(x)
    x = keras.layers.MaxPooling2D(1)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = keras.layers.SeparableConv2D(6, 3, padding="same")(x)
    x = keras.Sequential([keras.layers.Conv2D(2, 1)], name="nested")(x)
    x = keras.layers.Dense(5)(x)  # on the 4-D map: per position, as ConvNeXt's pointwise Dense
    x = keras.layers.Reshape((16, 5))(x)
    x = keras.layers.Conv1D(3, 3, padding="same")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    # Only convolution and dense outputs: normalization, activation and pooling count nothing.
    assert stats.count_activations(model) == (
        8 * 8 * 4  # conv 3x3
        + 4 * 4 * 8  # grouped conv, stride 2
        + 4 * 4 * 16  # depthwise, 8 channels x 2
        + 4 * 4 * 16 + 4 * 4 * 6  # separable: its depthwise output, then its pointwise one
        + 4 * 4 * 2  # the nested model's 1x1 conv
        + 4 * 4 * 5  # dense at each of the 16 positions
        + 16 * 3  # conv 1-D
        + 10)  # the classifier
    assert stats.count_activations(model) == 256 + 128 + 256 + 352 + 32 + 80 + 48 + 10 == 1162


# pycls's MODEL_ZOO.md (facebookresearch/pycls), also Figures 15 and 16 of Radosavovic et al.
# 2020: "acts (M)" at 224x224. ResNet-50's shows that the stem's max pooling is not counted
# (11.3M with it).
PUBLISHED_ACTS_M = {"regnetx_002": 2.2, "regnetx_004": 3.1, "regnety_002": 2.2,
                    "regnety_004": 3.9, "resnet50": 11.1}


@pytest.mark.parametrize("name", PUBLISHED_ACTS_M)
def test_activations_match_pycls_published_counts(name):
    assert round(stats.count_activations(registry.create_model(name)) / 1e6, 1) == \
        PUBLISHED_ACTS_M[name]


def test_every_layer_that_counts_its_macs_counts_its_activations():
    modules = [importlib.import_module(f"keras_backbones.layers.{m.name}")
               for m in pkgutil.iter_modules(layers.__path__)]
    counting = {cls for module in modules for _, cls in inspect.getmembers(module, inspect.isclass)
                if hasattr(cls, "macs")}
    assert len(counting) >= 8
    assert sorted(cls.__name__ for cls in counting if not hasattr(cls, "activations")) == []
