"""DenseNet: the dense connectivity, the transitions, DenseNet-264's count and the input
checks. Parameter counts against params.tsv, forward passes, saving and conversion are the
registry-wide tests' job."""

import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session, keras
from keras_backbones.models import densenet
from tests import support


def densenet_params(growth, blocks, stem, classes=1000):
    """The trainable parameters of a DenseNet-BC, counted by hand from the paper's definition:
    a 7x7 stem, BN-ReLU-1x1 (4k)-BN-ReLU-3x3 (k) layers, transitions BN-ReLU-1x1 to half,
    a final BN and the classifier (a BN has 2 parameters per channel)."""
    count, channels = 7 * 7 * 3 * stem + 2 * stem, stem
    for b, layers in enumerate(blocks):
        for _ in range(layers):
            count += 2 * channels + channels * 4 * growth + 2 * 4 * growth + 4 * growth * 9 * growth
            channels += growth
        if b < len(blocks) - 1:
            count += 2 * channels + channels * (channels // 2)
            channels //= 2
    return count + 2 * channels + channels * classes + classes


@pytest.mark.parametrize("depth", sorted(densenet.CONFIGS))
def test_the_table_gives_the_reference_counts(depth):
    name = f"densenet{depth}"
    expected = support.reference_params(name)["params"] or registry.get_spec(name).paper_params
    assert densenet_params(*densenet.CONFIGS[depth]) == expected


@pytest.fixture(scope="module")
def model():
    clear_session()
    # The smallest input, with dropout in every dense layer.
    return registry.create_model("densenet121", input_shape=(29, 29, 3), include_top=False,
                                 layer_dropout_rate=0.2)


def producers(model, name):
    inputs = model.get_layer(name).input
    return [t._keras_history[0].name for t in (inputs if isinstance(inputs, list) else [inputs])]


def test_each_layer_appends_growth_rate_channels_to_its_input(model):
    assert producers(model, "block1_layer1_concat") == ["stem_pool", "block1_layer1_dropout"]
    assert producers(model, "block1_layer2_bn1") == ["block1_layer1_concat"]
    assert producers(model, "block1_layer1_dropout") == ["block1_layer1_conv2"]
    widths = [model.get_layer(f"block1_layer{i}_concat").output.shape[-1] for i in range(1, 7)]
    assert widths == [96, 128, 160, 192, 224, 256]
    assert model.get_layer("block1_layer3_conv1").filters == 128  # 4k
    assert model.get_layer("block1_layer3_conv2").kernel_size == (3, 3)


def test_transitions_halve_the_channels_then_average_pool(model):
    assert producers(model, "transition1_bn") == ["block1_layer6_concat"]
    assert model.get_layer("transition1_conv").filters == 128
    pool = model.get_layer("transition1_pool")
    assert isinstance(pool, keras.layers.AveragePooling2D) and pool.pool_size == (2, 2)
    assert model.output.shape[1:] == (1, 1, 1024)  # 29x29 leaves a 1x1 map
    assert producers(model, "final_relu") == ["final_bn"]


def test_minimum_input_size_and_depth_choices():
    with pytest.raises(ValueError, match="minimum of 29x29"):
        registry.create_model("densenet121", input_shape=(28, 28, 3))
    with pytest.raises(ValueError, match="`depth` must be one of 121, 161, 169, 201, 264"):
        densenet.DenseNet(100)


def test_checkpoint_names():
    names = densenet.CHECKPOINTS["torchvision"].names
    assert names("block2_layer7_bn1", None) == "features.denseblock2.denselayer7.norm1"
    assert names("block4_layer16_conv2", None) == "features.denseblock4.denselayer16.conv2"
    assert names("transition3_conv", None) == "features.transition3.conv"
    assert names("final_bn", None) == "features.norm5"
    published = densenet.CHECKPOINTS["torchvision:published"].names
    assert published("block1_layer1_bn2", None) == "features.denseblock1.denselayer1.norm.2"
    assert published("transition1_bn", None) == "features.transition1.norm"
