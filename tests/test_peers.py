"""The peers of `keras-backbones benchmark --peers`: onnxruntime in this process, PyTorch eager
and torch.compile in child processes that never import TensorFlow. One repetition of small
inputs (resnet18 at 32x32, LeNet-5): what is checked is that each really runs, reports positive
seconds, is dropped with a note where it cannot run, and leaves no child process behind."""

import subprocess
import sys

import pytest

from keras_backbones import benchmark, peers
from tests import support

TINY = dict(size=32, batch=1, repeats=1, warmup=0, peak=False)
TORCH = support.needs_torch("the PyTorch peers run the reference network")


@pytest.fixture
def children(monkeypatch):
    """Every TorchPeer the benchmark starts, to check that each is closed."""
    started = []

    class Recorded(peers.TorchPeer):
        def __init__(self):
            super().__init__()
            started.append(self)

    monkeypatch.setattr(peers, "TorchPeer", Recorded)
    return started


def test_the_child_side_imports_no_tensorflow():
    """Importing torch after TensorFlow crashes a process: the child must not import it."""
    code = ("import sys, keras_backbones.peers, keras_backbones.parity; "
            "sys.exit('tensorflow' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_onnxruntime_runs_ours_fused_as_export_converts_it():
    measured = benchmark.benchmark("lenet5", peers="onnxruntime", batch=2, repeats=1, warmup=0,
                                   peak=False)
    fused, onnx = measured.contenders
    assert (onnx.label, onnx.kind, onnx.self_timed) == ("lenet5 fused onnxruntime",
                                                        "onnxruntime", False)
    assert onnx.seconds[0] > 0 and onnx.image_flops == fused.image_flops
    assert measured.ratio("fused", "onnxruntime").values == [onnx.seconds[0] / fused.seconds[0]]
    (note,) = measured.notes
    assert f"{peers.threads()} intra-op threads, agrees with Keras to " in note


@TORCH
def test_torch_runs_the_reference_in_a_child_that_times_itself_and_is_closed(children):
    measured = benchmark.benchmark("resnet18", peers="torch", **TINY)
    fused, torch = measured.contenders
    assert (torch.label, torch.kind, torch.self_timed) == ("torch torchvision.resnet18", "torch",
                                                           True)
    assert torch.seconds[0] > 0 and torch.detail in peers.MEMORY_FORMATS
    assert "ratio resnet18 fused / torch torchvision.resnet18 images/s" in \
        "\n".join(benchmark.describe(measured))
    (note,) = measured.notes
    assert f"{peers.threads()} threads" in note and "the faster eager batch" in note
    assert len(children) == 1 and children[0].child.poll() is not None


@TORCH
def test_a_failing_compilation_drops_torch_compile_with_its_error(children, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")  # inductor finds no C++ compiler
    monkeypatch.setenv("TORCHINDUCTOR_FORCE_DISABLE_CACHES", "1")  # nor a cached kernel
    measured = benchmark.benchmark("resnet18", peers="torch.compile", **TINY)
    assert [c.kind for c in measured.contenders] == ["fused"]
    assert "C++ compiler" in measured.dropped["torch.compile"]
    assert measured.notes == [f"torch.compile dropped: {measured.dropped['torch.compile']}"]
    assert children[0].child.poll() is not None


@TORCH
def test_a_compilation_past_its_budget_is_dropped_and_its_child_killed(children):
    measured = benchmark.benchmark("resnet18", peers="torch,torch.compile",
                                   compile_budget=0.01, **TINY)
    assert [c.kind for c in measured.contenders] == ["fused", "torch"]
    assert measured.dropped == {
        "torch.compile": "no compiled model (the compile budget) within 0.01 s"}
    assert [c.child.poll() is not None for c in children] == [True, True]


@TORCH
def test_the_children_are_closed_when_the_benchmark_fails(children, monkeypatch):
    def fail(*args):
        raise RuntimeError("measuring failed")

    monkeypatch.setattr(benchmark, "measure", fail)
    with pytest.raises(RuntimeError, match="measuring failed"):
        benchmark.benchmark("resnet18", peers="torch", **TINY)
    assert len(children) == 1 and children[0].child.poll() is not None


def test_a_child_that_died_is_unavailable_and_closed():
    child = peers.TorchPeer()
    child.child.kill()
    child.child.wait()
    with pytest.raises(peers.Unavailable, match="the process ended"):
        child.request({"op": "step"}, timeout=60)
    assert child.child.stdin.closed and child.log.closed
