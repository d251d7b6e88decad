"""ONNX (tf2onnx, checked in onnxruntime): one variant per family gives the Keras model's
outputs to 1e-4 x max(1, |output|).

tf2onnx holds ~50x a model's weights while it converts (12-14 GB for AlexNet, Inception-v4
and Inception-ResNet-v2 at 10 classes, measured): the conversions run one at a time on one
pytest-xdist worker, so that two of them never meet on CI's 24 GiB."""

import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session
from keras_backbones.export import artifacts
from tests import support


@pytest.mark.xdist_group("onnx")
@pytest.mark.parametrize("name", support.representatives())
def test_onnx_matches_keras(name):
    clear_session()
    shape = support.small_shape(name)
    model = registry.create_model(name, input_shape=shape, classes=10, classifier_activation=None)
    support.redraw_kernels(model)
    content = artifacts.onnx_bytes(model)
    difference, tolerance = artifacts.onnx_difference(model, content,
                                                      support.random_images(shape, batch=2))
    assert difference <= tolerance, (name, difference, tolerance)
