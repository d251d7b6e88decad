"""What else a user could run for the same images, as `keras_backbones.benchmark` contenders:
the reference network in PyTorch (eager, and `torch.compile`d), our model converted to ONNX and
run in onnxruntime, and our model as a TF Serving SavedModel, fused and unfused.

PyTorch runs in a child process that never imports TensorFlow (in one process, running torch
after TensorFlow crashes it: keras_backbones/parity.py), one child per contender:

    python -m keras_backbones.peers --serve    # one JSON request a line in, one answer a line out

"load" builds the reference of a registered variant (`parity.build_reference`: the source and
name of its registration, as the parity tests build it) at random init, in eval mode, on the
threads TensorFlow uses, with a fixed random batch; it times the eager forward pass in both
memory formats (NCHW contiguous and channels_last, alternately) and keeps the faster; with
"compile" it then `torch.compile`s the model (inductor) and runs it once, which compiles it.
"step" runs one forward pass under `torch.inference_mode` and answers the seconds it took,
measured in the child: the contender is self-timed, the pipe is left out.

onnxruntime runs in this process (it coexists with TensorFlow), the ONNX file converted as
`keras-backbones export --format onnx` converts (`export.artifacts.onnx_bytes`), on as many
intra-op threads as TensorFlow. The served model is written by `export.savedmodel.export`,
loaded with `tf.saved_model.load`, and a request is one call of its serving_default signature.

A peer that cannot be had here (a reference that does not build, a compilation that fails or
runs past its budget, an ONNX conversion that fails) is dropped with a note that says why: the
benchmark goes on without it.
"""

import contextlib
import copy
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Callable

from keras_backbones import parity

PEERS = ("torch", "torch.compile", "onnxruntime")
TORCH_PEERS = ("torch", "torch.compile")
COMPILE_BUDGET = 600  # seconds for building and compiling the torch.compile contender
LOAD_TIMEOUT = 600  # seconds for building the eager one (importing torch is most of it)
STEP_TIMEOUT = 600  # seconds for one forward pass
MEMORY_FORMATS = ("contiguous_format", "channels_last")
FORMAT_TRIALS = 5  # timed eager passes per memory format, after one untimed


class Unavailable(Exception):
    """A peer that cannot run here; its message says why (the note of the dropped contender)."""


def parse(peers):
    """The peer names of "torch,onnxruntime" (or of a list of names), in order, each once; a
    ValueError naming the allowed ones for anything else."""
    names = ([n.strip() for n in peers.split(",")] if peers.strip() else []) \
        if isinstance(peers, str) else list(peers)
    if any(n not in PEERS for n in names):
        given = peers if isinstance(peers, str) else ",".join(map(str, peers))
        raise ValueError(f"--peers must be a comma-separated subset of {', '.join(PEERS)}; "
                         f"got {given!r}.")
    return list(dict.fromkeys(names))


# --- the PyTorch side (child process: torch only) -----------------------------------------------

def _forward(model, images):
    import torch

    with torch.inference_mode():
        start = time.perf_counter()
        model(images)
        return time.perf_counter() - start


def _load(request):
    """(model, images, answer) of a "load" request: the reference in the faster memory format,
    compiled if asked; the answer says which format, both timings and the compilation's time."""
    import torch


    torch.set_num_threads(request["threads"])
    torch.manual_seed(0)
    model = parity.build_reference(request["source"], request["name"], request["options"]).eval()
    batch = torch.randn(request["batch"], *request["shape"],
                        generator=torch.Generator().manual_seed(0))
    candidates = {}  # memory format -> (the model in it, the batch in it)
    for memory_format in MEMORY_FORMATS:
        layout = getattr(torch, memory_format)
        candidates[memory_format] = (copy.deepcopy(model).to(memory_format=layout),
                                     batch.contiguous(memory_format=layout))
    for pair in candidates.values():  # warm both before either is timed
        _forward(*pair)
    seconds = {memory_format: [] for memory_format in candidates}
    for _ in range(FORMAT_TRIALS):  # alternating, as the benchmark's rounds
        for memory_format, pair in candidates.items():
            seconds[memory_format].append(_forward(*pair))
    format_ms = {f: 1000 * statistics.median(s) for f, s in seconds.items()}
    memory_format = min(format_ms, key=format_ms.get)
    model, images = candidates.pop(memory_format)
    del candidates
    answer = {"memory_format": memory_format, "format_ms": format_ms,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    if request["compile"]:
        model = torch.compile(model)
        answer["compile_s"] = _forward(model, images)  # the first call compiles
    return model, images, answer


def serve():
    """The child's loop: one request a line until its standard input closes. Anything the
    libraries print goes to standard error, so that standard output carries answers only."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    model = images = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "load":
                model, images, answer = _load(request)
            else:
                answer = {"seconds": _forward(model, images)}
        except Exception as error:  # noqa: BLE001  (the parent drops the peer, saying why)
            traceback.print_exc()
            answer = {"error": _first_line(error)}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


# --- this side ----------------------------------------------------------------------------------

def threads():
    """The intra-op threads TensorFlow runs on: what it was configured with, else every core."""
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()


class TorchPeer:
    """A child process holding one PyTorch model (`python -m keras_backbones.peers --serve`);
    `close` ends it, and a `load` that fails or times out ends it too."""

    def __init__(self):
        self.log = tempfile.TemporaryFile(mode="w+", prefix="keras_backbones_peer_")
        self.child = subprocess.Popen(
            [sys.executable, "-m", "keras_backbones.peers", "--serve"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True)

    def request(self, message, timeout, awaited="an answer"):
        """The child's answer to `message`; Unavailable where it fails, dies or is late (no
        `awaited` within `timeout` seconds)."""
        line = parity.exchange(self.child, message, timeout)
        if not line:
            why = (f"no {awaited} within {timeout:g} s" if line is None else
                   f"the process ended: {self._log_tail()}")
            self.close()
            raise Unavailable(why)
        answer = json.loads(line)
        if "error" in answer:
            raise Unavailable(answer["error"])
        return answer

    def step(self):
        return self.request({"op": "step"}, STEP_TIMEOUT)["seconds"]

    def _log_tail(self):
        self.log.seek(0)
        lines = self.log.read().strip().splitlines()
        return lines[-1] if lines else "(nothing on its standard error)"

    def close(self):
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        for stream in (self.child.stdin, self.child.stdout, self.log):
            with contextlib.suppress(BrokenPipeError):  # a request unsent to a child that died
                stream.close()


@dataclasses.dataclass
class Runner:
    """A way to run the network, for a benchmark contender: `step()` runs one repetition (and,
    self-timed, returns the seconds it measured itself); detail: how it runs, in a few words;
    note: the same at length."""

    label: str
    step: Callable[[], object]
    detail: str
    note: str
    self_timed: bool = False


def torch_runner(peer, variant, options, shape, batch, *, compile_budget, cleanup):
    """The Runner of PyTorch running `variant`'s reference in a child process, eager ("torch")
    or compiled ("torch.compile"); Unavailable (its child closed) where it cannot run.
    shape: (height, width, channels); cleanup(close): how the caller closes the child when its
    benchmark ends."""
    from keras_backbones import registry

    source, name = registry.get_spec(variant).reference
    compiled = peer == "torch.compile"
    child = TorchPeer()
    cleanup(child.close)
    height, width, channels = shape
    answer = child.request({"op": "load", "source": source, "name": name, "options": options,
                            "shape": [channels, height, width], "batch": batch,
                            "threads": threads(), "compile": compiled},
                           *((compile_budget, "compiled model (the compile budget)") if compiled
                             else (LOAD_TIMEOUT, "model")))
    label = f"{peer} {source}.{name}"
    timings = ", ".join(f"{f} {ms:.1f} ms" for f, ms in answer["format_ms"].items())
    detail = answer["memory_format"]
    if compiled:
        detail += f", compiled in {answer['compile_s']:.0f} s"
    note = (f"{label}: torch {answer['torch']}, {answer['threads']} threads, {detail} (the "
            f"faster eager batch: {timings})")
    return Runner(label, child.step, detail, note, self_timed=True)


def onnxruntime_runner(label, model, images):
    """The Runner of the Keras `model` converted to ONNX as the export command converts it,
    in an onnxruntime session on TensorFlow's thread count, on `images`; Unavailable where
    the conversion fails."""
    import numpy as np
    import onnxruntime

    from keras_backbones.export import artifacts

    try:
        content = artifacts.onnx_bytes(model)
    except Exception as error:  # noqa: BLE001  (dropped, saying why)
        raise Unavailable(f"the ONNX conversion failed: {_first_line(error)}") from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads()
    session = onnxruntime.InferenceSession(content, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    images = np.asarray(images, np.float32)
    expected = np.asarray(model(images[:2], training=False))
    (got,) = session.run(None, {name: images[:2]})
    detail = f"agrees with Keras to {float(np.abs(got - expected).max()):.1g}"
    note = (f"{label} in onnxruntime {onnxruntime.__version__}: opset {artifacts.ONNX_OPSET}, "
            f"{len(content) / 2 ** 20:.1f} MiB, {options.intra_op_num_threads} intra-op "
            f"threads, {detail}")
    feed = {name: images}
    return Runner(f"{label} onnxruntime", lambda: session.run(None, feed), detail, note)


def served_runner(label, variant, model, batch, overrides, directory, fuse):
    """The Runner of `model` (its outputs probabilities) exported by `export.savedmodel.export`
    (`fuse`: folded, as export does by default) under `directory` and loaded back: one step is
    one request to serving_default of `batch` images at the model's input size (RGB on
    0..255, resized and cropped in the graph)."""
    import tensorflow as tf

    from keras_backbones.export import savedmodel

    item = _deployable(variant, model, overrides)
    path = savedmodel.export(item, directory, name="fused" if fuse else "unfused", fuse=fuse,
                             max_batch_size=max(batch, savedmodel.MAX_BATCH_SIZE))
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures[savedmodel.IMAGES_SIGNATURE]
    height, width = item.image_size
    images = tf.random.stateless_uniform((batch, height, width, 3), seed=(0, 0), maxval=255)

    def step():
        return signature(images=images)["probabilities"].numpy()

    step.loaded = loaded  # the signature's variables live as long as the object loaded
    detail = f"serving_default on {batch} x {height}x{width}x3"
    note = (f"{label} SavedModel: one request = serving_default on {batch} x {height}x{width}x3 "
            "float32 RGB (resized and cropped in the graph)")
    return Runner(f"{label} SavedModel", step, detail, note)


def _deployable(variant, model, overrides):
    """What export.savedmodel.export takes: `model` with the registration's preprocessing and
    placeholder labels, as export reads them from a sidecar."""
    from keras_backbones import registry
    from keras_backbones.export import deployable

    preprocessing = registry.get_spec(variant).preprocessing
    meta = {"model": variant, "input_shape": list(model.input_shape[1:]),
            "mean": list(preprocessing.mean), "std": list(preprocessing.std),
            "interpolation": preprocessing.interpolation, "crop_pct": preprocessing.crop_pct,
            "labels": [f"class_{i}" for i in range(model.output_shape[-1])],
            "model_kwargs": overrides}
    return dataclasses.replace(deployable.Deployable.from_metadata(meta), model=model)


def _first_line(error):
    """"TypeName: the first line of its message", what a dropped peer's note says."""
    message = str(error).strip()
    return f"{type(error).__name__}: {message.splitlines()[0]}" if message else \
        type(error).__name__


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        sys.exit("usage: python -m keras_backbones.peers --serve  (keras_backbones.benchmark "
                 "starts it)")
    serve()
