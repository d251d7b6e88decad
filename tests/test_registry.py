"""The registry, its metadata, the top-level constructors and the `keras-backbones` command."""

import json
import os
import subprocess
import sys

import pytest

import keras_backbones
from keras_backbones import registry, stats
from tests import support


def test_list_models_by_pattern():
    assert registry.list_models("vgg1[13]") == ["vgg11", "vgg13"]
    assert "vgg16_bn" in registry.list_models("vgg*")
    assert registry.list_models("nothing*") == []


def test_public_constructors_are_top_level():
    assert keras_backbones.VGG16 is registry.get_spec("vgg16").builder
    assert keras_backbones.LeNet5 is registry.get_spec("lenet5").builder
    assert "Simonyan" in keras_backbones.VGG16.__doc__


def test_model_info_metadata_is_complete_and_counted(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKBONES_CACHE", str(tmp_path))
    info = registry.model_info("lenet5")
    assert info["family"] == "LeNet-5"
    assert info["paper"]["year"] == 1998
    assert info["input_size"] == [32, 32, 1]
    assert set(info["preprocessing"]) == {"mean", "std", "interpolation", "crop_pct"}
    assert info["params"] == 61706
    # MACs counted by walking the layers: C1 28*28*6*25, C3 10*10*16*150, C5 120*400, F6, output.
    assert info["macs"] == 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 120 * 400 + 120 * 84 + 84 * 10
    assert info["flops"] == 2 * info["macs"]
    # Activations, the outputs of those layers: C1 6 maps of 28x28, C3 16 of 10x10, C5, F6,
    # output (the S2/S4 pooling counts nothing).
    assert info["activations"] == 28 * 28 * 6 + 10 * 10 * 16 + 120 + 84 + 10 == 6518
    assert list(tmp_path.glob("model_stats-*.json")), "counts are cached"
    assert registry.model_info("lenet5") == info


def test_vgg16_macs_match_torchvision():
    # torchvision's model card: vgg16 15.47 GFLOPS (multiply-accumulates), 224x224.
    assert round(stats.count_macs(registry.create_model("vgg16")) / 1e9, 2) == 15.47


def test_every_variant_has_metadata():
    for name in registry.list_models():
        spec = registry.get_spec(name)
        assert spec.family and spec.paper.title and spec.paper.year
        assert spec.reference[0] and spec.reference[1]
        assert len(spec.preprocessing.input_size) == 3


def run_cli(*args, tmp_path):
    env = {**os.environ, "KERAS_BACKBONES_CACHE": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "keras_backbones.cli", *args], env=env,
                          capture_output=True, text=True, cwd=support.ROOT, timeout=600)


def test_cli_list_prints_params_flops_and_activations(tmp_path, monkeypatch):
    # Small networks: the listing builds each at its default size in a child process.
    result = run_cli("list", "squeezenet1_[01]", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "family", "params", "GMACs", "GFLOPs", "acts", "(M)"]
    assert len(lines) == 5 and lines[-1].startswith("2 variants"), lines
    assert "acts = elements of their outputs" in lines[-1]
    row = next(l for l in lines if l.startswith("squeezenet1_0 ")).split()
    # torchvision's table: 1,248,424 parameters, 0.82 GFLOPS (multiply-accumulates) at 224
    assert row[:3] == ["squeezenet1_0", "SqueezeNet", "1,248,424"]
    assert float(row[3]) == pytest.approx(0.8189, abs=1e-3)
    monkeypatch.setenv("KERAS_BACKBONES_CACHE", str(tmp_path))  # the counts the listing cached
    acts = registry.model_stats(["squeezenet1_0"])["squeezenet1_0"]["activations"]
    assert float(row[5]) == pytest.approx(acts / 1e6, rel=1e-3)


def test_cli_info_and_errors(tmp_path):
    result = run_cli("info", "lenet5", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "61,706 trainable" in result.stdout and "Gradient-Based Learning" in result.stdout
    assert "activations    6,518 (" in result.stdout
    assert "Total params" in result.stdout  # the model summary
    result = run_cli("info", "lenet6", tmp_path=tmp_path)
    assert result.returncode == 2 and "Closest names: lenet5" in result.stderr
    result = run_cli("frobnicate", tmp_path=tmp_path)
    assert result.returncode != 0 and "Unknown command" in result.stderr


def test_the_sites_model_table_counts_every_variant_as_its_reference():
    """docs/models.json (the counts the documentation site shows, written by
    tools/update_model_table.py): every registered variant, none else, each with its
    reference's parameter count."""
    counts = json.loads((support.ROOT / "docs" / "models.json").read_text())
    assert list(counts) == registry.list_models(), \
        "docs/models.json is stale: run python tools/update_model_table.py"
    for name, row in counts.items():
        reference = support.registered_variant_row(name)
        if reference and reference["params"]:
            assert row["params"] == reference["params"], name
        else:  # no code reference: the paper's rounded figure
            assert row["params"] == pytest.approx(registry.get_spec(name).paper_params,
                                                  rel=0.005), name
        assert row["macs"] > 0, name
        assert row["activations"] > 0, name


def test_a_direct_call_builds_the_registered_variant(monkeypatch):
    """A registered constructor applies its variant's defaults when called directly, as
    create_model does (the variant is what the user named, whichever way)."""
    registry.list_models()  # every family registered first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    calls = []

    @registry.register_model("fake_net", family="Fake", paper=registry.Paper("Fake", 2000),
                             reference=("paper", "fake"), width=2)
    def FakeNet(depth=1, **kwargs):
        calls.append((depth, kwargs, registry.building().name))
        return "model"

    FakeNet()
    FakeNet(3, width=5)
    registry.create_model("fake_net", depth=4)
    assert calls == [(1, {"width": 2}, "fake_net"), (3, {"width": 5}, "fake_net"),
                     (4, {"width": 2, "weights": None}, "fake_net")]
    assert registry.building() is None
