"""RegNet specifics: the quantized linear rule generates the published stages, grouped
convolutions of the stage's group width, squeeze-and-excitation in RegNetY only (reduced from
the block's input width, after the 3x3), timm's initialization, argument errors. Two builds
at 64x64; the registry-wide contract covers every variant's count."""

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session
from keras_backbones.layers import SqueezeExcite
from keras_backbones.models import regnet
from tests import support

SMALL = dict(input_shape=(64, 64, 3), classes=10)
TABLES = {"x": regnet.REGNETX, "y": regnet.REGNETY}


@pytest.fixture(scope="module")
def models():
    clear_session()
    built = {name: registry.create_model(name, **SMALL) for name in ("regnetx_002", "regnety_002")}
    yield built
    clear_session()


def inbound(model, name):
    producers = {id(other.output): other.name for other in model.layers}
    return producers[id(model.get_layer(name).input)]


# (stage width, blocks, groups of the 3x3) per stage, read off timm's built models.
@pytest.mark.parametrize("name, expected", [
    ("regnetx_002", [(24, 1, 3), (56, 1, 7), (152, 4, 19), (368, 7, 46)]),
    # Group compatibility: 96 at g = 64 rounds (half to even) to 2 groups, 128 channels.
    ("regnety_040", [(128, 2, 2), (192, 6, 3), (512, 12, 8), (1088, 2, 17)]),
    ("regnety_032", [(72, 2, 3), (216, 5, 9), (576, 13, 24), (1512, 1, 63)]),
    ("regnetx_320", [(336, 2, 2), (672, 7, 4), (1344, 13, 8), (2520, 1, 15)]),
])
def test_quantized_linear_rule_gives_the_published_stages(name, expected):
    kind, code = name[6], name[8:]
    _, depth, w0, wa, wm, g = TABLES[kind][code]
    stages = regnet.stages(depth, w0, wa, wm, g)
    assert [(s.width, s.depth, s.width // s.group_width) for s in stages] == expected


@pytest.mark.parametrize("kind, code", [(k, c) for k, table in TABLES.items() for c in table])
def test_every_design_is_four_stages_of_whole_groups(kind, code):
    _, depth, w0, wa, wm, g = TABLES[kind][code]
    stages = regnet.stages(depth, w0, wa, wm, g)
    assert sum(s.depth for s in stages) == depth
    widths = [s.width for s in stages]
    assert widths == sorted(set(widths)) and len(widths) == 4
    assert all(s.width % s.group_width == 0 and s.group_width <= g for s in stages)


def test_unquantized_widths_follow_the_line():
    """Eq. 2-4 by hand for RegNetX-200MF: u_j = 24 + 36.44 j, snapped to 24 * 2.49^k."""
    u = 24 + 36.44 * np.arange(13)
    k = np.round(np.log(u / 24) / np.log(2.49))
    assert k.tolist() == [0] + [1] + [2] * 4 + [3] * 7
    assert [round(24 * 2.49 ** e / 8) * 8 for e in (0, 1, 2, 3)] == [24, 56, 152, 368]


def test_grouped_convolutions_and_strides(models):
    model = models["regnetx_002"]
    for s, groups in zip((1, 2, 3, 4), (3, 7, 19, 46)):
        conv = model.get_layer(f"stage{s}_block1_conv2")
        assert conv.groups == groups and conv.strides == (2, 2)
        assert model.get_layer(f"stage{s}_block1_downsample_conv").strides == (2, 2)
    assert model.get_layer("stage4_block2_conv2").strides == (1, 1)
    names = {layer.name for layer in model.layers}
    assert "stage4_block2_downsample_conv" not in names  # identity within a stage
    assert model.get_layer("stem_conv").filters == 32


def test_squeeze_excite_in_regnety_only(models):
    assert not support.layers_of(models["regnetx_002"], SqueezeExcite)
    model = models["regnety_002"]
    se = {layer.name: layer for layer in support.layers_of(model, SqueezeExcite)}
    assert len(se) == 13  # every block
    # a quarter of the block's input width: 32 (stem), 152, 152 (not of the bottleneck: 24, 368)
    assert se["stage1_block1_se"].reduce.filters == 8
    assert se["stage4_block1_se"].reduce.filters == 38
    assert se["stage4_block2_se"].reduce.filters == 92
    assert inbound(model, "stage3_block2_se") == "stage3_block2_relu2"
    assert inbound(model, "stage3_block2_conv3") == "stage3_block2_se"


def test_timm_initialization(models):
    model = models["regnetx_002"]
    # N(0, 2 / fan_out), fan_out = 3 * 3 * 368 / 46 groups: std 1/6 (Keras alone: 0.025)
    kernel = np.asarray(model.get_layer("stage4_block1_conv2").kernel)
    assert kernel.shape == (3, 3, 8, 368)
    assert np.std(kernel) == pytest.approx(np.sqrt(2 / (9 * 368 / 46)), rel=0.05)
    assert not np.asarray(model.get_layer("stage4_block1_bn3").gamma).any()  # zero_init_last
    assert np.asarray(model.get_layer("stage4_block1_downsample_bn").gamma).min() == 1.0
    logits = model.get_layer("logits")
    assert np.std(np.asarray(logits.kernel)) == pytest.approx(0.01, rel=0.1)
    assert not np.asarray(logits.bias).any()


def test_feature_maps_at_strides_2_to_32():
    model = regnet.RegNet(13, 24, 36.44, 2.49, 8, features_only=True, zero_init_last=False,
                          input_shape=(64, 64, 3))
    assert [tuple(o.shape[1:]) for o in model.outputs] == [
        (32, 32, 32), (16, 16, 24), (8, 8, 56), (4, 4, 152), (2, 2, 368)]
    assert np.asarray(model.get_layer("stage1_block1_bn3").gamma).min() == 1.0


@pytest.mark.parametrize("args, options, message", [
    ((13, 24, 36.44, 1.0, 8), {}, "`wm` must be a number above 1"),
    ((13, 20, 36.44, 2.49, 8), {}, "`w0` must be a positive multiple of 8"),
    ((13, 24, 36.44, 2.49, 0), {}, "`group_width`"),
    ((13, 24, 0.0, 2.49, 8), {}, "`wa`"),
    ((13, 24, 36.44, 2.49, 8), {"bottle_ratio": 0}, "`bottle_ratio`"),
    ((6, 24, 36.44, 2.49, 8), {}, "gives 3 stages"),
    ((13, 24, 36.44, 2.49, 8), {"se_ratio": -0.25}, "`se_ratio`"),
    ((13, 24, 36.44, 2.49, 8), {"input_shape": (16, 16, 3)}, "minimum"),
])
def test_bad_arguments_are_named(args, options, message):
    with pytest.raises(ValueError, match=message):
        regnet.RegNet(*args, **options)
