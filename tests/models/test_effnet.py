"""EffNet specifics: the parameter count re-derived from the paper's table by hand (there is no
code reference to compare with), the block's layer sequence, the optimized first layer, the
halving of both sides per block, and argument errors."""

import pytest

from keras_backbones import registry, stats
from keras_backbones.backend import keras
from keras_backbones.models import effnet


def block_params(channels_in, channels_out):
    """One EffNet block: 1x1 to out/2, 1x3 and 3x1 depthwise, 2x1 to out; after each layer a
    batch normalization with 2 trainable weights per map; no biases."""
    mid = channels_out // 2
    convs = channels_in * mid + 3 * mid + 3 * mid + 2 * mid * channels_out
    norms = 2 * (mid + mid + mid + channels_out)
    return convs + norms


def test_parameter_count_follows_the_table():
    widths, side, classes = (64, 128, 256), 32, 10
    count = sum(block_params(c_in, c_out) for c_in, c_out in zip((3, *widths), widths))
    flattened = (side // 8) * (side // 8) * widths[-1]
    count += flattened * classes + classes
    assert count == effnet.EFFNET_PARAMS
    assert stats.trainable_params(registry.create_model("effnet")) == count


def test_first_layer_is_an_effnet_block_and_the_block_is_spatially_separable():
    model = registry.create_model("effnet")
    kernels = [(layer.name, tuple(layer.kernel_size)) for layer in model.layers
               if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    # No plain 3x3 convolution anywhere, the image's first one included.
    assert kernels[:4] == [("block1_pw", (1, 1)), ("block1_dw1x3", (1, 3)),
                           ("block1_dw3x1", (3, 1)), ("block1_conv2x1", (2, 1))]
    assert len(kernels) == 12
    assert sum(isinstance(layer, keras.layers.LeakyReLU) for layer in model.layers) == 12
    pools = [layer for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert [tuple(p.pool_size) for p in pools] == [(2, 1)] * 3


def test_each_block_halves_height_and_width():
    model = registry.create_model("effnet", input_shape=(40, 24, 3), features_only=True)
    assert [tuple(out.shape[1:]) for out in model.outputs] == [(20, 12, 64), (10, 6, 128),
                                                               (5, 3, 256)]


@pytest.mark.parametrize("options, message", [
    (dict(widths=(64, 127)), "`widths` must be even"),
    (dict(input_shape=(4, 32, 3), include_top=False), "minimum of 8x8"),
    (dict(input_shape=(None, None, 3)), "needs a fixed input size"),
])
def test_bad_arguments_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        registry.create_model("effnet", **options)
