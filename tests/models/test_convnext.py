"""ConvNeXt: the block, the options and the errors. Parameter counts, forward passes, saving
and conversion are the registry-wide tests' job; these build tiny networks and read the graph."""

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import keras
from keras_backbones.layers import LayerScale, StochasticDepth
from keras_backbones.models import convnext

TINY = dict(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32), input_shape=(32, 32, 3))


def producer(model, layer_name):
    return model.get_layer(layer_name).input._keras_history[0].name


@pytest.fixture(scope="module")
def model():
    return convnext.ConvNeXt(**TINY, classes=5, drop_path_rate=0.3)


def test_block_is_dwconv_norm_mlp_scale_drop_path_residual(model):
    chain = ["dwconv", "norm", "mlp_fc1", "mlp_act", "mlp_fc2", "layer_scale", "drop_path"]
    prefix = "stage3_block2"
    for before, after in zip(chain, chain[1:]):
        assert producer(model, f"{prefix}_{after}") == f"{prefix}_{before}"
    add = model.get_layer(f"{prefix}_add")
    assert sorted(t._keras_history[0].name for t in add.input) == [
        "stage3_block1_add", f"{prefix}_drop_path"]
    dw = model.get_layer(f"{prefix}_dwconv")
    assert isinstance(dw, keras.layers.DepthwiseConv2D) and dw.kernel_size == (7, 7)
    assert model.get_layer(f"{prefix}_mlp_fc1").units == 4 * 24
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.LayerNormalization)]
    assert len(norms) == 1 + 3 + 5 + 1  # stem, downsamplers, blocks, head
    assert all(n.epsilon == pytest.approx(1e-6) for n in norms)


def test_stem_downsampling_and_head(model):
    stem = model.get_layer("stem_conv")
    assert stem.kernel_size == (4, 4) and stem.strides == (4, 4) and stem.use_bias
    assert "stage1_downsample_conv" not in {layer.name for layer in model.layers}
    down = model.get_layer("stage2_downsample_conv")
    assert down.kernel_size == (2, 2) and down.strides == (2, 2)
    assert producer(model, "stage2_downsample_norm") == "stage1_block1_add"
    assert producer(model, "head_norm") == "avg_pool"
    assert producer(model, "logits") == "head_norm"
    assert tuple(model.output.shape) == (None, 5)


def test_drop_path_rises_linearly_to_the_last_block(model):
    rates = [layer.rate for layer in model.layers if isinstance(layer, StochasticDepth)]
    assert rates == pytest.approx([0.3 * i / 4 for i in range(1, 5)])  # the first block: none


def test_layer_scale_option():
    scaled = convnext.ConvNeXt(**TINY, layer_scale_init_value=0.5)
    gammas = [layer for layer in scaled.layers if isinstance(layer, LayerScale)]
    assert len(gammas) == 5 and np.allclose(np.asarray(gammas[0].gamma), 0.5)
    plain = convnext.ConvNeXt(**TINY, layer_scale_init_value=None)
    assert not any(isinstance(layer, LayerScale) for layer in plain.layers)
    assert plain.count_params() == scaled.count_params() - sum(TINY["dims"][s] * d for s, d in
                                                               enumerate(TINY["depths"]))


def test_features_only_strides_and_headless_pooling():
    features = convnext.ConvNeXt(**TINY, features_only=True)
    assert [n.split("/")[0] for n in features.output_names] == [
        "stride4", "stride8", "stride16", "stride32"]
    assert [tuple(o.shape[1:]) for o in features.outputs] == [
        (8, 8, 8), (4, 4, 16), (2, 2, 24), (1, 1, 32)]
    pooled = convnext.ConvNeXt(**TINY, include_top=False, pooling="avg")
    assert tuple(pooled.output.shape) == (None, 32)
    assert "head_norm" not in {layer.name for layer in pooled.layers}


def test_registered_variants_and_preprocessing():
    # convnext_roadmap (models/convnext_roadmap.py) is the paper's design study, not a size.
    assert [n for n in registry.list_models("convnext_*") if n != "convnext_roadmap"] == [
        f"convnext_{size}" for size in convnext.CONFIGS]
    spec = registry.get_spec("convnext_tiny")
    assert spec.family == "ConvNeXt" and spec.reference == ("timm", "convnext_tiny")
    assert spec.preprocessing.interpolation == "bicubic"


def test_checkpoint_names_are_timms():
    name = convnext.reference_name
    assert name("stem_conv") == "stem.0" and name("stem_norm") == "stem.1"
    assert name("stage2_downsample_norm") == "stages.1.downsample.0"
    assert name("stage4_downsample_conv") == "stages.3.downsample.1"
    assert name("stage3_block10_dwconv") == "stages.2.blocks.9.conv_dw"
    assert name("stage1_block1_mlp_fc2") == "stages.0.blocks.0.mlp.fc2"
    assert name("stage1_block2_layer_scale") == "stages.0.blocks.1"  # its `gamma`
    assert name("logits") == "head.fc" and name("head_norm") == "head.norm"
    assert name("stage1_block1_add") is None


@pytest.mark.parametrize("kwargs, match", [
    (dict(depths=(1, 1, 1)), "depths"),
    (dict(dims=(8, 16, 0, 32)), "dims"),
    (dict(drop_path_rate=1.0), "drop_path_rate"),
    (dict(layer_scale_init_value=0.0), "layer_scale_init_value"),
    (dict(input_shape=(16, 16, 3)), "minimum"),
])
def test_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        convnext.ConvNeXt(**{**TINY, **kwargs})
