"""ONNX (tf2onnx, checked in onnxruntime): one variant per builder module, and each family
with layers of its own, gives the Keras model's outputs to 1e-4 x max(1, |output|) (the
conversion is op by op: families that share a module share their ops).

tf2onnx holds many copies of a model's weights while it converts (10-14 GB for AlexNet,
Inception-v4 and Inception-ResNet-v2, 24 GB for VGG-11: measured): the conversions run one
at a time on one pytest-xdist worker, and AlexNet and VGG convert without their 4096-wide
hidden classifier layers (support.conversion_options), so that CI's 24 GiB hold them beside
the other worker."""

import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session
from keras_backbones.export import artifacts
from tests import support


@support.LARGE_MEMORY  # tf2onnx holds up to 13 GB
@pytest.mark.parametrize("name", support.module_representatives())
def test_onnx_matches_keras(name):
    clear_session()
    shape = support.small_shape(name)
    model = registry.create_model(name, input_shape=shape, **support.conversion_options(name))
    support.redraw_kernels(model)
    content = artifacts.onnx_bytes(model)
    difference, tolerance = artifacts.onnx_difference(model, content,
                                                      support.random_images(shape, batch=2))
    assert difference <= tolerance, (name, difference, tolerance)
