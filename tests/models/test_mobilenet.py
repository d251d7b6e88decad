"""Mobile-family specifics (MobileNetV1/V2/V3, MNASNet, ECA-MobileNetV2): the counts of the
options params.tsv does not list, block structure, the dilated and minimalistic MobileNetV3,
the LR-ASPP head, argument errors, and full-int8 TFLite of every registered mobile variant
(issue 7: each must run on a phone's stock runtime; in CI those whose ops differ from their
family's representative, the others with `-m extended`). Small inputs keep it fast; the
registry-wide contract covers the listed counts."""

import numpy as np
import pytest

from keras_backbones import registry, stats
from keras_backbones.backend import keras
from keras_backbones.export import tflite
from keras_backbones.layers import ECA, HardSwish, SqueezeExcite
from keras_backbones.models import mobilenet_v3
from tests import support

MOBILE = [name for name in registry.list_models() if support.is_mobile(name)]
# The contract's TFLite test converts each family's representative (float32 and int8); this
# file converts the other mobile variants to int8, with the width multipliers params.tsv lists.
INT8_CASES = ([(name, {}) for name in MOBILE if name not in support.representatives()]
              + [(row["name"], row["kwargs"]) for row in support.reference_rows()
                 if row["name"] in MOBILE and row["kwargs"].get("alpha", 1.0) != 1.0]
              + [("mobilenet_v1", {"alpha": alpha}) for alpha in (0.25, 0.5, 0.75)])  # the paper's
SMALL = dict(input_shape=(64, 64, 3), classes=10)


# Counts of options params.tsv does not list, from the references' own builders:
# timm _gen_mobilenet_v1(channel_multiplier=alpha), timm tf_mobilenetv3_*_minimal_100 (the
# paper's minimalistic models), torchvision mobilenet_v3_*(reduced_tail=True).
@pytest.mark.parametrize("name, options, count", [
    ("mobilenet_v1", {"alpha": 0.25}, 470_072),
    ("mobilenet_v1", {"alpha": 0.5}, 1_331_592),
    ("mobilenet_v1", {"alpha": 0.75}, 2_585_560),
    ("mobilenet_v3_large", {"minimalistic": True}, 3_924_288),
    ("mobilenet_v3_small", {"minimalistic": True}, 2_044_736),
    ("mobilenet_v3_large", {"reduced_tail": True}, 2_569_352),
    ("mobilenet_v3_small", {"reduced_tail": True}, 1_099_672),
])
def test_parameter_count_of_unlisted_options(name, options, count):
    model = registry.create_model(name, input_shape=(32, 32, 3), **options)
    assert stats.trainable_params(model) == count


def test_mobilenet_v1_is_a_chain_of_separable_blocks():
    model = registry.create_model("mobilenet_v1", activation="relu", **SMALL)
    assert not support.layers_of(model, keras.layers.Add)
    assert len(support.layers_of(model, keras.layers.DepthwiseConv2D)) == 13
    # Table 1 lists the last depthwise convolution at stride 2; it runs at stride 1 (7x7 in, out).
    assert model.get_layer("stage5_block2_dw_conv").strides == (1, 1)
    assert all(layer.max_value is None for layer in support.layers_of(model, keras.layers.ReLU))


def test_inverted_residual_structure_of_mobilenet_v2():
    model = registry.create_model("mobilenet_v2", **SMALL)
    names = {layer.name for layer in model.layers}
    assert "stage1_block1_expand_conv" not in names  # t = 1: no expansion
    assert model.get_layer("stage2_block1_expand_conv").filters == 96  # 16 x 6
    assert "stage2_block1_add" not in names and "stage2_block2_add" in names
    assert "stage2_block1_project_act" not in names  # the linear bottleneck
    assert model.get_layer("head_conv").filters == 1280


def test_eca_kernel_is_1_below_96_channels_and_3_from_there():
    model = registry.create_model("eca_mobilenet_v2", **SMALL)
    kernels = {layer.name: layer.conv.kernel_size[0] for layer in support.layers_of(model, ECA)}
    assert len(kernels) == 17
    assert kernels["stage4_block4_eca"] == 1 and kernels["stage5_block1_eca"] == 3


def test_mobilenet_v3_squeeze_excite_and_activations():
    model = registry.create_model("mobilenet_v3_large", **SMALL)
    se = {layer.name: layer for layer in support.layers_of(model, SqueezeExcite)}
    assert len(se) == 8
    first = se["stage3_block1_se"]  # 72 expanded channels -> 72 / 4 = 18 -> 24 (multiple of 8)
    assert first.reduced_channels(72) == 24
    assert (first.gate, first.activation) == ("hard_sigmoid", "relu")
    assert "stage1_block1_expand_conv" not in {layer.name for layer in model.layers}
    assert model.get_layer("stage3_block1_dw_conv").kernel_size == (5, 5)
    assert isinstance(model.get_layer("stage4_block1_dw_act"), HardSwish)
    assert isinstance(model.get_layer("stage3_block1_dw_act"), keras.layers.ReLU)
    assert model.get_layer("pre_logits").units == 1280


def test_minimalistic_has_no_se_no_hard_swish_and_3x3_kernels_only():
    model = registry.create_model("mobilenet_v3_small", minimalistic=True, **SMALL)
    assert not support.layers_of(model, SqueezeExcite) and not support.layers_of(model, HardSwish)
    kernels = {layer.kernel_size for layer in support.layers_of(model, keras.layers.DepthwiseConv2D)}
    assert kernels == {(3, 3)}


def test_dilated_mobilenet_v3_keeps_stride_16():
    model = registry.create_model("mobilenet_v3_small", dilated=True, features_only=True,
                                  input_shape=(64, 64, 3))
    assert [o.shape[1] for o in model.outputs] == [32, 16, 8, 4]
    assert model.get_layer("stage5_block2_dw_conv").dilation_rate == (2, 2)
    # The block that would have strided keeps no residual (torchvision), even at equal widths.
    reduced = registry.create_model("mobilenet_v3_small", dilated=True, reduced_tail=True, **SMALL)
    assert "stage5_block1_add" not in {layer.name for layer in reduced.layers}


def test_mnasnet_separable_block_skips_only_in_mnasnet_small():
    names_b1 = {layer.name for layer in registry.create_model("mnasnet0_5", **SMALL).layers}
    names_small = {layer.name for layer in registry.create_model("mnasnet_small", **SMALL).layers}
    assert "stage1_block1_add" not in names_b1 and "stage1_block1_add" in names_small
    assert not any(name.endswith("_se") for name in names_b1)


@pytest.mark.parametrize("size", [(64, 64), (72, 88)])
def test_lraspp_predicts_every_pixel(size):
    backbone = registry.create_model("mobilenet_v3_small", features_only=True, dilated=True,
                                     input_shape=(*size, 3))
    model = mobilenet_v3.lraspp(backbone, num_classes=5)
    out = model(support.random_images((*size, 3)), training=False)
    assert tuple(out.shape) == (2, *size, 5)
    assert np.isfinite(np.asarray(out)).all()
    # The logits are formed at stride 8, then upsampled.
    assert tuple(model.get_layer("lraspp_add").output.shape[1:3]) == tuple(-(-s // 8) for s in size)


def test_lraspp_needs_a_fixed_input_size():
    backbone = registry.create_model("mobilenet_v3_small", features_only=True,
                                     input_shape=(None, None, 3))
    with pytest.raises(ValueError, match="fixed input size"):
        mobilenet_v3.lraspp(backbone, num_classes=5)


@pytest.mark.parametrize("name, options, message", [
    ("mobilenet_v2", {"alpha": 0}, "alpha"),
    ("mobilenet_v3_large", {"alpha": -1.0}, "alpha"),
    ("mobilenet_v1", {"activation": "gelu"}, "activation"),
    ("mobilenet_v2", {"input_shape": (16, 16, 3)}, "minimum"),
])
def test_bad_arguments_are_named(name, options, message):
    with pytest.raises(ValueError, match=message):
        registry.create_model(name, **options)


# In CI, beside each family's representative (converted by the contract's TFLite test): the
# variants whose blocks or ops differ from it. The width and depth multiples (the same ops, more
# or wider) convert with `pytest -m extended`, outside CI's budget; those over
# support.LARGE_PARAMS weights take one to two minutes and up to 12 GB each.
INT8_IN_CI = {
    "mobilenet_v3_large": "its own block table (ReLU and h-swish stages, where SE sits)",
    "mobilenetv4_conv_medium": "ExtraDW and FFN blocks",
    "mobilenetv4_hybrid_medium": "Mobile MQA attention",
    "shufflenet_v1_g8_x1_0": "8 groups in the pointwise convolutions",
    "mnasnet1_0": "torchvision's MNASNet (the representative is timm's mnasnet_small)",
    "eca_mobilenet_v2": "ECA attention",
}


def _int8_case(name, options):
    marks = [] if (name in INT8_IN_CI and not options) else [pytest.mark.extended]
    return pytest.param(name, options, marks=[*marks, *support.memory_marks(name, options)],
                        id=support.parity_case_id((name, options, False)))


@pytest.mark.parametrize("name, options", [_int8_case(n, o) for n, o in INT8_CASES])
def test_full_int8_tflite_runs_in_litert(name, options):
    """Every mobile variant converts to int8 with builtin ops only, every op computing in int8,
    and the quantized logits follow the float ones (the references' own initialization keeps
    the activations at a usable scale, once MobileNetV4's layer scales let the signal through)."""
    shape = support.small_shape(name)
    model = registry.create_model(name, input_shape=shape, classes=10, classifier_activation=None,
                                  **options)
    calibration = support.random_images(shape, batch=8, seed=2)
    support.ready_to_quantize(model, name)
    images = support.random_images(shape, batch=2, seed=1)
    expected = np.asarray(model(images, training=False))
    content = tflite.convert(model, quantize="int8", representative_data=calibration)
    assert not [op for op in tflite.op_names(content) if op.startswith("Flex") or op == "CUSTOM"]
    assert not tflite.float_ops(content)
    (quantized,) = tflite.run(content, images)
    assert np.corrcoef(quantized.ravel(), expected.ravel())[0, 1] > 0.9
