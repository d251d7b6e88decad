"""Import of reference checkpoints: every file form loads, every failure is a clear error.

The checkpoints are torchvision's resnet18 at random init, written by a child process with
torch (never in this process, which has imported TensorFlow)."""

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_backbones import registry
from keras_backbones.backend import keras
from keras_backbones.models.resnet import ResNet
from keras_backbones.weights import WeightsError, import_checkpoint, read_weights
from tests import support

pytestmark = support.needs_torch("the reference checkpoints are written with torch")

WRITE_CHECKPOINTS = textwrap.dedent("""
    import sys, torch, torchvision
    from safetensors.torch import save_file
    out = sys.argv[1]
    torch.manual_seed(0)
    state = torchvision.models.resnet18().state_dict()
    save_file(state, f"{out}/resnet18.safetensors")
    torch.save(state, f"{out}/resnet18.pth")
    # A training checkpoint of a DataParallel model, as the official repositories publish.
    torch.save({"epoch": 90, "state_dict": {"module." + k: v for k, v in state.items()}},
               f"{out}/resnet18_training.pth.tar")
    save_file({**state, "extra.weight": torch.zeros(3)}, f"{out}/extra.safetensors")
    save_file({k: v for k, v in state.items() if k != "layer1.0.conv1.weight"},
              f"{out}/missing.safetensors")
    torch.save([1, 2, 3], f"{out}/not_a_state_dict.pth")
""")

IMAGES = support.random_images((64, 64, 3), batch=2)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    out = tmp_path_factory.mktemp("checkpoints")
    result = subprocess.run([sys.executable, "-c", WRITE_CHECKPOINTS, str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (out / "garbage.safetensors").write_bytes(b"\x00not a safetensors file" * 10)
    (out / "garbage.pth").write_bytes(b"not a torch file")
    return out


def logits(weights, **kwargs):
    model = registry.create_model("resnet18", weights=os.fspath(weights), input_shape=(64, 64, 3),
                                  classifier_activation=None, **kwargs)
    return np.asarray(model(IMAGES, training=False))


def test_every_file_form_gives_the_same_model(checkpoints):
    expected = logits(checkpoints / "resnet18.safetensors")
    for name in ("resnet18.pth", "resnet18_training.pth.tar"):
        np.testing.assert_array_equal(logits(checkpoints / name), expected)


def test_convert_writes_the_portable_format(checkpoints, tmp_path):
    out = tmp_path / "resnet18.npz"
    result = subprocess.run(
        [sys.executable, "-m", "keras_backbones.cli", "convert", "--name", "resnet18",
         "--source", "torchvision", str(checkpoints / "resnet18.pth"), str(out)],
        capture_output=True, text=True, timeout=300, cwd=support.ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    meta, _ = read_weights(out)
    assert meta["model"] == "resnet18"
    np.testing.assert_array_equal(logits(out), logits(checkpoints / "resnet18.safetensors"))


def test_models_without_their_top_leave_the_classifier_out(checkpoints):
    path = os.fspath(checkpoints / "resnet18.safetensors")
    full = registry.create_model("resnet18", weights=path, input_shape=(64, 64, 3))
    pooled = keras.Model(full.input, full.get_layer("avg_pool").output)
    headless = registry.create_model("resnet18", include_top=False, pooling="avg", weights=path,
                                     input_shape=(64, 64, 3))
    np.testing.assert_array_equal(headless(IMAGES), pooled(IMAGES))
    features = registry.create_model("resnet18", features_only=True, weights=path,
                                     input_shape=(64, 64, 3))
    assert len(features(IMAGES)) == 5


@pytest.mark.parametrize("file, expected", [
    ("extra.safetensors", "1 checkpoint tensors not used: extra.weight"),
    ("missing.safetensors", "stage1_block1_conv1/0 (stage1_block1_conv1/kernel <- "
                            "layer1.0.conv1.weight)"),
    ("garbage.safetensors", "is not a readable .safetensors file"),
    ("garbage.pth", "is not a readable PyTorch checkpoint"),
    ("not_a_state_dict.pth", "holds no state dict of tensors"),
])
def test_bad_checkpoints_are_refused_with_the_reason(checkpoints, file, expected):
    with pytest.raises(WeightsError) as error:
        logits(checkpoints / file)
    assert expected in str(error.value)


def test_a_checkpoint_of_another_depth_lists_what_does_not_fit(checkpoints):
    with pytest.raises(WeightsError) as error:
        registry.create_model("resnet34", weights=os.fspath(checkpoints / "resnet18.pth"))
    message = str(error.value)
    assert "model weights not filled" in message and "stage1_block3_conv1" in message


def test_another_number_of_classes_keeps_all_but_the_classifier(checkpoints, caplog):
    path = os.fspath(checkpoints / "resnet18.pth")
    full = registry.create_model("resnet18", weights=path)
    with caplog.at_level("WARNING", logger="keras_backbones"):
        model = registry.create_model("resnet18", weights=path, classes=10)
    assert "loaded all but the classifier (logits): 1000 classes in the weights, 10" in caplog.text
    for layer in model.layers:
        for ours, theirs in zip(layer.weights, full.get_layer(layer.name).weights):
            if layer.name != "logits":
                np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    # The classifier keeps its initialization (not, say, the checkpoint's first 10 classes).
    kernel = model.get_layer("logits").weights[0].numpy()
    assert kernel.shape == (512, 10)
    assert not np.allclose(kernel, full.get_layer("logits").weights[0].numpy()[:, :10])


def test_unknown_source_and_variants_without_checkpoints(checkpoints):
    model = registry.create_model("resnet18")
    with pytest.raises(WeightsError, match="its family reads torchvision, timm"):
        import_checkpoint(model, checkpoints / "resnet18.pth", source="caffe")
    with pytest.raises(WeightsError, match="publishes no checkpoint to import"):
        registry.create_model("lenet5", weights=os.fspath(checkpoints / "resnet18.pth"))


def test_an_unregistered_model_must_name_its_variant(checkpoints):
    path = os.fspath(checkpoints / "resnet18.pth")
    with pytest.raises(WeightsError, match="pass variant=NAME"):
        ResNet(18, name="my_resnet", weights=path)
    model = ResNet(18, name="my_resnet")
    assert len(import_checkpoint(model, path, variant="resnet18")) == len(
        [w for layer in model.layers for w in layer.weights])


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="Checkpoint not found: nowhere.pth"):
        registry.create_model("resnet18", weights="nowhere.pth")


def test_a_reference_with_another_norm_epsilon_is_refused(checkpoints, monkeypatch):
    from keras_backbones.models import resnet

    other = dataclasses.replace(resnet.CHECKPOINTS["torchvision"], norm_epsilon=1e-3)
    monkeypatch.setitem(resnet.CHECKPOINTS, "torchvision", other)
    with pytest.raises(WeightsError, match="20 mismatches: stage1_block1_bn1: epsilon 1e-05, the "
                                           "reference.s is 0.001"):
        logits(checkpoints / "resnet18.pth")
