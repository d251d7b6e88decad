"""DPN specifics: the dual path bookkeeping (bw residual channels added, inc dense channels
appended per block, bw + 2 inc from each stage's projection), pre-activation ordering
(BatchNorm -> ReLU -> conv), dpn68's small stem and widths, timm's final norm and its 1x1-conv
classifier imported into the Dense logits, argument errors. One registered build at 64x64; the
registry-wide contract covers every variant's count, parity tests/parity."""

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import clear_session, keras
from keras_backbones.layers.dual_path import DualPathMerge
from keras_backbones.models import dpn

SMALL = dict(input_shape=(64, 64, 3), classes=10)


@pytest.fixture(scope="module")
def model():
    clear_session()
    yield registry.create_model("dpn68", **SMALL)
    clear_session()


def inbound(model, name):
    producers = {id(other.output): other.name for other in model.layers}
    return producers[id(model.get_layer(name).input)]


@pytest.mark.parametrize("name", list(dpn.CONFIGS))
def test_stage_widths_follow_the_dual_path_rule(name):
    """A stage of k blocks ends with bw + (k + 2) inc channels (table 1's widths)."""
    cfg = dpn.CONFIGS[name]
    factor = 1 if cfg["small"] else 4
    widths = [base * factor + (k + 2) * inc
              for base, k, inc in zip(dpn.STAGE_BASE, cfg["k_sec"], cfg["inc_sec"])]
    expected = {"dpn68": [144, 320, 704, 832], "dpn92": [336, 704, 1552, 2688],
                "dpn98": [336, 768, 1728, 2688], "dpn107": [376, 1152, 2432, 2688],
                "dpn131": [352, 832, 1984, 2688]}[name]
    assert widths == expected


def test_dpn68_blocks(model):
    assert model.get_layer("stem_conv").kernel_size == (3, 3)  # the small stem
    assert model.get_layer("stem_conv").filters == 10
    widths = [model.get_layer(f"stage{s}_block{k}_merge").output.shape[-1]
              for s, k in zip((1, 2, 3, 4), dpn.CONFIGS["dpn68"]["k_sec"])]
    assert widths == [144, 320, 704, 832]
    # stage 1: the projection is not strided; stages 2-4: projection and 3x3 both strided
    assert model.get_layer("stage1_block1_proj_conv").strides == (1, 1)
    assert model.get_layer("stage2_block1_proj_conv").strides == (2, 2)
    assert model.get_layer("stage2_block1_grouped_conv").strides == (2, 2)
    grouped = model.get_layer("stage3_block2_grouped_conv")
    assert (grouped.filters, grouped.groups) == (128 * 4, 32)
    assert model.get_layer("stage3_block2_merge").residual_channels == 256
    names = {layer.name for layer in model.layers}
    assert "stage3_block2_proj_conv" not in names  # the block input is the shortcut
    # pre-activation: BN -> ReLU -> conv, the BN fed by the block input
    assert inbound(model, "stage3_block2_reduce_conv") == "stage3_block2_reduce_relu"
    assert inbound(model, "stage3_block2_reduce_relu") == "stage3_block2_reduce_bn"
    assert inbound(model, "stage3_block2_reduce_bn") == "stage3_block1_merge"
    assert model.get_layer("stage3_block2_reduce_bn").epsilon == pytest.approx(1e-3)
    assert inbound(model, "final_act") == "final_bn"
    assert len([l for l in model.layers if isinstance(l, DualPathMerge)]) == 22


def test_merge_adds_residual_and_appends_dense(model):
    """The block output is [shortcut[:bw] + branch[:bw], shortcut[bw:], branch[bw:]]."""
    merge = model.get_layer("stage1_block2_merge")
    s = np.random.default_rng(0).normal(size=(1, 2, 2, 112)).astype(np.float32)
    b = np.random.default_rng(1).normal(size=(1, 2, 2, 80)).astype(np.float32)
    out = np.asarray(merge([s, b]))
    np.testing.assert_allclose(out[..., :64], s[..., :64] + b[..., :64], rtol=1e-6)
    np.testing.assert_array_equal(out[..., 64:112], s[..., 64:])
    np.testing.assert_array_equal(out[..., 112:], b[..., 64:])


def test_final_activation_option():
    clear_session()
    m = dpn.DPN((1, 1, 1, 1), (8, 8, 8, 8), k_r=32, groups=4, num_init_features=16, small=True,
                final_activation="elu", input_shape=(64, 48, 3), classes=10)
    assert m.get_layer("final_act").get_config()["activation"] == "elu"
    assert m.output.shape[-1] == 10


@pytest.mark.parametrize("path, expected", [
    ("stem_conv", "features.conv1_1.conv"), ("stem_bn", "features.conv1_1.bn"),
    ("stage1_block1_proj_bn", "features.conv2_1.c1x1_w_s1.bn"),
    ("stage2_block1_proj_conv", "features.conv3_1.c1x1_w_s2.conv"),
    ("stage3_block12_reduce_conv", "features.conv4_12.c1x1_a.conv"),
    ("stage4_block3_grouped_bn", "features.conv5_3.c3x3_b.bn"),
    ("stage1_block2_expand_conv", "features.conv2_2.c1x1_c.conv"),
    ("final_bn", "features.conv5_bn_ac.bn"), ("logits", "classifier"),
    ("stage1_block2_merge", None),
])
def test_timm_checkpoint_names(path, expected):
    assert dpn.reference_name(path) == expected


def test_classifier_conv_imports_as_dense(tmp_path):
    """timm's classifier is a 1x1 nn.Conv2d with bias: (classes, C, 1, 1) -> Dense (C, classes)."""
    from safetensors.numpy import save_file

    from keras_backbones import weights

    clear_session()
    m = dpn.DPN((1, 1, 1, 1), (8, 8, 8, 8), k_r=32, groups=4, num_init_features=16, small=True,
                name="dpn68", input_shape=(32, 32, 3), classes=10)
    rng = np.random.default_rng(0)
    tensors = {}
    for layer in m.layers:
        for path, module in weights._modules(layer):
            reference = dpn.reference_name(path)
            for w in module.weights:
                key = w.name.split("/")[-1].split(":")[0]
                if reference is None:
                    continue
                if isinstance(module, keras.layers.BatchNormalization):
                    torch_name = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean",
                                  "moving_variance": "running_var"}[key]
                    tensors[f"{reference}.{torch_name}"] = rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                elif key == "kernel":
                    shape = tuple(w.shape)
                    oihw = (shape[-1], shape[0], 1, 1) if len(shape) == 2 else \
                        (shape[3], shape[2], shape[0], shape[1])
                    tensors[f"{reference}.weight"] = rng.normal(size=oihw).astype(np.float32)
                else:
                    tensors[f"{reference}.bias"] = rng.normal(size=w.shape).astype(np.float32)
    path = str(tmp_path / "dpn.safetensors")
    save_file(tensors, path)
    weights.load_weights(m, path, variant="dpn68")
    np.testing.assert_array_equal(m.get_layer("logits").kernel.numpy(),
                                  tensors["classifier.weight"][:, :, 0, 0].T)


@pytest.mark.parametrize("kwargs, message", [
    (dict(k_sec=(1, 1, 1), inc_sec=(8, 8, 8, 8)), "`k_sec` must be four positive integers"),
    (dict(k_sec=(1, 1, 1, 1), inc_sec=(8, 0, 8, 8)), "`inc_sec` must be four"),
    (dict(k_sec=(1, 1, 1, 1), inc_sec=(8, 8, 8, 8), groups=3), "do not split into groups=3"),
    (dict(k_sec=(1, 1, 1, 1), inc_sec=(8, 8, 8, 8), final_activation="gelu"), "final_activation"),
])
def test_argument_errors(kwargs, message):
    kwargs = {"k_r": 32, "groups": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        dpn.DPN(**kwargs)
