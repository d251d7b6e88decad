"""ShuffleNet specifics: ShuffleNetV2's units (channel split, the two branches, the shuffle in
two groups) and Table 5's widths; ShuffleNetV1's Table 1 (widths per number of groups, the
~140 MFLOPs every group count was sized to), the official code's details (the ungrouped first
1x1 convolution, the stride-2 unit's average pool and concatenation, its shuffle order), the
groups the official code lacks (1, 2, 4), and argument errors. The registry-wide contract
covers the listed counts, tests/models/test_mobilenet.py the int8 conversions."""

import numpy as np
import pytest

from keras_backbones import registry, stats
from keras_backbones.backend import keras
from keras_backbones.layers import ChannelShuffle
from keras_backbones.layers.shuffle import ChannelSplit
from keras_backbones.models import shufflenet_v1 as V1
from keras_backbones.models import shufflenet_v2 as V2
from tests import support

SMALL = dict(input_shape=(64, 64, 3), classes=10)


@pytest.mark.parametrize("constructor, name", [(V1.ShuffleNetV1g8x0_5, "shufflenet_v1_g8_x0_5"),
                                               (V2.ShuffleNetV2x0_5, "shufflenet_v2_x0_5")])
def test_a_constructor_called_directly_builds_its_variant(constructor, name):
    direct, registered = constructor(**SMALL), registry.create_model(name, **SMALL)
    assert direct.name == name and direct.variant == name
    assert stats.trainable_params(direct) == stats.trainable_params(registered)
    assert [layer.name for layer in direct.layers] == [layer.name for layer in registered.layers]


# --- ShuffleNetV2 ---------------------------------------------------------------------------

def test_shufflenet_v2_units():
    model = registry.create_model("shufflenet_v2_x1_0", **SMALL)
    names = {layer.name for layer in model.layers}
    # 16 units, each ending in a shuffle of two groups; 13 of them split their input.
    assert {layer.groups for layer in support.layers_of(model, ChannelShuffle)} == {2}
    assert len(support.layers_of(model, ChannelShuffle)) == 16
    assert len(support.layers_of(model, ChannelSplit)) == 13
    # The first unit of a stage: both branches see the whole input, at stride 2.
    assert "stage2_block1_split" not in names and "stage2_block2_branch1_dw_conv" not in names
    assert model.get_layer("stage2_block1_branch1_dw_conv").strides == (2, 2)
    assert model.get_layer("stage2_block1_branch2_dw_conv").strides == (2, 2)
    # Each branch carries half of the unit's width; the right one alone at stride 1.
    assert model.get_layer("stage3_block2_branch2_pw1_conv").filters == 116
    assert model.get_layer("stage3_block2_split").output[1].shape[-1] == 116
    assert not support.layers_of(model, keras.layers.Add)  # no residual additions in ShuffleNetV2
    assert "stage3_block2_branch2_dw_relu" not in names  # no ReLU after the depthwise conv


@pytest.mark.parametrize("multiplier", sorted(V2.WIDTHS))
def test_shufflenet_v2_widths_are_table_5(multiplier):
    stem, *stages, head = V2.WIDTHS[multiplier]
    model = V2.ShuffleNetV2(multiplier, features_only=True, input_shape=(64, 64, 3))
    widths = [out.shape[-1] for out in model.outputs]  # strides 2, 4, 8, 16, 32
    assert widths == [stem, stem, *stages[:2], head]
    assert stages[1:] == [2 * stages[0], 4 * stages[0]]


def test_shufflenet_v2_argument_errors():
    with pytest.raises(ValueError, match="width_multiplier.*0.5, 1.0, 1.5, 2.0.*0.75"):
        V2.ShuffleNetV2(0.75)
    with pytest.raises(ValueError, match="pooling"):
        V2.ShuffleNetV2(include_top=False, pooling="mean")


# --- ShuffleNetV1 ---------------------------------------------------------------------------

# Table 1 of the paper: complexity (MFLOPs, i.e. multiply-adds, classifier excluded) at 1x.
TABLE_1_MFLOPS = {1: 143, 2: 140, 3: 137, 4: 133, 8: 137}


def test_shufflenet_v1_official_widths():
    # network.py's stage_out_channels (stem, stage 2, 3, 4) for groups 3 and 8.
    official = {(3, 0.5): (12, 120), (3, 1.0): (24, 240), (3, 1.5): (24, 360), (3, 2.0): (48, 480),
                (8, 0.5): (16, 192), (8, 1.0): (24, 384), (8, 1.5): (24, 576), (8, 2.0): (48, 768)}
    for (groups, multiplier), (stem, stage2) in official.items():
        assert V1.stem_width(groups, multiplier) == stem
        assert V1.stage_widths(groups, multiplier) == (stage2, 2 * stage2, 4 * stage2)


@pytest.mark.parametrize("groups", sorted(V1.STAGE2_WIDTHS))
def test_shufflenet_v1_table_1_complexity(groups):
    model = V1.ShuffleNetV1(groups, 1.0, input_shape=(224, 224, 3))
    assert V1.stage_widths(groups, 1.0)[0] == V1.STAGE2_WIDTHS[groups]
    assert model.get_layer("stem_conv").filters == 24
    macs = stats.count_macs(model) - stats.layer_macs(model.get_layer("logits"))
    assert abs(macs / 1e6 - TABLE_1_MFLOPS[groups]) < 1.0


@pytest.mark.parametrize("groups, multiplier", [(1, 0.5), (2, 0.5), (4, 1.5), (3, 1.0)])
def test_shufflenet_v1_unit_structure(groups, multiplier):
    """The unlisted group counts (1, 2, 4) build the official unit with Table 1's widths."""
    model = V1.ShuffleNetV1(groups, multiplier, **SMALL)
    stem = V1.stem_width(groups, multiplier)
    stage2, stage3, stage4 = V1.stage_widths(groups, multiplier)
    assert stage2 % (4 * groups) == 0 and (stage2 - stem) % groups == 0
    # The first 1x1 convolution of stage 2 is not grouped; every other one is.
    assert model.get_layer("stage2_block1_pw1_conv").groups == 1
    assert model.get_layer("stage2_block1_pw2_conv").groups == groups
    assert model.get_layer("stage2_block2_pw1_conv").groups == groups
    assert model.get_layer("stage2_block1_pw1_conv").filters == stage2 // 4
    # A stride-2 unit: its branch adds what the average-pooled input lacks.
    assert model.get_layer("stage2_block1_pw2_conv").filters == stage2 - stem
    assert model.get_layer("stage3_block1_pw2_conv").filters == stage3 - stage2
    pool = model.get_layer("stage3_block1_proj_pool")
    assert (pool.pool_size, pool.strides) == ((3, 3), (2, 2))
    assert model.get_layer("stage3_block1_concat").output.shape[-1] == stage3
    assert model.get_layer("stage4_block4_add").output.shape[-1] == stage4
    shuffles = support.layers_of(model, ChannelShuffle)
    assert len(shuffles) == (0 if groups == 1 else 16)
    if groups > 1:  # the official order: ChannelShuffle of bottleneck / groups
        assert model.get_layer("stage3_block2_shuffle").groups == stage3 // 4 // groups
    assert model.get_layer("logits").use_bias is False
    assert np.isfinite(np.asarray(model(np.ones((1, 64, 64, 3), np.float32)))).all()


def test_shufflenet_v1_shuffle_is_the_official_permutation():
    """blocks.py's channel_shuffle reshapes to (C / g, g) and transposes."""
    groups, channels = 3, 12
    x = np.arange(channels, dtype=np.float32).reshape(1, 1, 1, channels)
    official = x.reshape(1, 1, 1, channels // groups, groups).transpose(0, 1, 2, 4, 3)
    got = ChannelShuffle(groups=channels // groups)(x)
    np.testing.assert_array_equal(np.asarray(got), official.reshape(1, 1, 1, channels))


def test_shufflenet_v1_argument_errors():
    with pytest.raises(ValueError, match="groups.*1, 2, 3, 4, 8.*got 6"):
        V1.ShuffleNetV1(6)
    with pytest.raises(ValueError, match="width_multiplier.*0.5, 1.0, 1.5, 2.0.*0.25"):
        V1.ShuffleNetV1(3, 0.25)
    with pytest.raises(ValueError, match="smaller than the network's minimum"):
        V1.ShuffleNetV1(3, 0.5, input_shape=(16, 16, 3))
