"""Numerical parity with the reference implementations (needs the `parity` extra: torch,
torchvision, timm).

The reference runs in a child process, which never imports TensorFlow (here, running a torch
model after TensorFlow was imported crashes the process). It builds the reference
(`keras_backbones.parity_references` where torchvision and timm lack it, else theirs by
name) at random init, randomizes every normalization's statistics and affine parameters
(with the defaults, a missing or misplaced BatchNorm goes unnoticed), saves the state dict
as `.safetensors` and records eval-mode logits for random images. This process loads that
checkpoint through the package's own import (`create_model(name, weights=...)`) and compares
the logits: max |Keras - reference| <= 1e-4 * max(1, max |reference|).

    python -m keras_backbones.parity --source timm --name seresnet18 --sizes 224x224 --out DIR
runs the reference side alone; `compare` runs both. Importing torch, torchvision and timm is
most of a small case's time (about 5 of 8 seconds on a 2-core machine), so the child that
`compare` starts stays, and serves every later comparison of the process
(`python -m keras_backbones.parity --serve`: one JSON request a line).
"""

import argparse
import atexit
import dataclasses
import gc
import importlib.util
import json
import os
import select
import subprocess
import sys
import tempfile
import traceback

import numpy as np

from keras_backbones import parity_references

RELATIVE_TOLERANCE = 1e-4
CHECKPOINT = "reference.safetensors"
OUTPUTS = "reference_outputs.npz"


def tolerance(reference_logits):
    return RELATIVE_TOLERANCE * max(1.0, float(np.max(np.abs(reference_logits))))


@dataclasses.dataclass
class Result:
    size: tuple
    max_abs_diff: float
    tolerance: float
    max_abs_reference: float

    @property
    def ok(self):
        return self.max_abs_diff <= self.tolerance


# --- The reference side (child process: torch only) --------------------------------------------

def build_reference(source, name, options=None, references=None):
    """The reference torch module at random init: built by `references` (the path of a module
    with `build(source, name, options)`, asked first) or by the package's own
    (`keras_backbones.parity_references`: official repositories not on PyPI, the ResNet
    paper's options), else torchvision's or timm's by name."""
    options = options or {}
    builders = [parity_references.build]
    if references:
        spec = importlib.util.spec_from_file_location("user_parity_references", references)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        builders.insert(0, module.build)
    for build in builders:
        built = build(source, name, options)
        if built is not None:
            return built
    if options or source not in ("torchvision", "timm"):
        raise ValueError(f"No reference for {source} {name!r} with options {options}: "
                         "torchvision and timm models are built by name, anything else needs "
                         "a references module (keras_backbones/parity_references/, or "
                         "--references FILE).")
    if source == "torchvision":
        import torchvision
        return torchvision.models.get_model(name, weights=None)
    import timm
    return timm.create_model(name, pretrained=False)


def randomize_norms(module, seed):
    """Running statistics and affine parameters of every norm layer drawn at random."""
    import torch

    generator = torch.Generator().manual_seed(seed)

    def uniform(tensor, low, high):
        with torch.no_grad():
            tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)

    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._NormBase):  # BatchNorm*, InstanceNorm*
            if layer.track_running_stats:
                uniform(layer.running_mean, -0.5, 0.5)
                uniform(layer.running_var, 0.5, 2.0)
        if isinstance(layer, (torch.nn.modules.batchnorm._NormBase, torch.nn.GroupNorm,
                              torch.nn.LayerNorm)):
            if getattr(layer, "weight", None) is not None:
                uniform(layer.weight, 0.5, 1.5)
            if getattr(layer, "bias", None) is not None:
                uniform(layer.bias, -0.5, 0.5)


def run_reference(source, name, sizes, out, *, channels=3, options=None, seed=0, references=None):
    """Writes the reference's checkpoint and its logits for random images at each size."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = build_reference(source, name, options, references)
    randomize_norms(model, seed)
    model.eval()
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
              os.path.join(out, CHECKPOINT))
    rng = np.random.default_rng(seed)
    arrays = {}
    for i, (height, width) in enumerate(sizes):
        images = rng.standard_normal((2, height, width, channels)).astype(np.float32)
        with torch.no_grad():
            logits = model(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous())
        arrays[f"images{i}"] = images
        arrays[f"logits{i}"] = logits.numpy()
    np.savez(os.path.join(out, OUTPUTS), **arrays)


# --- The Keras side ----------------------------------------------------------------------------

def compare(variant, sizes=None, *, options=None, reference_options=None, seed=0,
            references=None, timeout=900):
    """[Result per size] of the registered `variant` (with `options`, its graph-changing
    keyword arguments) against its reference (built with `reference_options`, by default the
    same); sizes default to the variant's input size."""
    from keras_backbones import registry

    spec = registry.get_spec(variant)
    if spec.reference[0] == "paper":
        raise ValueError(f"{variant} has no code reference (it follows the paper: "
                         f"{spec.reference[1]}), so there is nothing to compare it with.")
    height, width, channels = spec.preprocessing.input_size
    sizes = [tuple(size) for size in (sizes or [(height, width)])]
    options = dict(options or {})
    reference_options = options if reference_options is None else reference_options
    with tempfile.TemporaryDirectory(prefix="parity_") as out:
        request = dict(source=spec.reference[0], name=spec.reference[1], sizes=sizes,
                       channels=channels, options=reference_options, seed=seed,
                       references=os.fspath(references) if references else None, out=out)
        try:
            _reference_process.run(request, timeout)
        except RuntimeError as error:
            raise RuntimeError(f"The reference side of {variant} failed: {error}") from None
        outputs = np.load(os.path.join(out, OUTPUTS))
        results = []
        for i, (h, w) in enumerate(sizes):
            model = registry.create_model(variant, weights=os.path.join(out, CHECKPOINT),
                                          input_shape=(h, w, channels),
                                          classifier_activation=None, **options)
            reference = outputs[f"logits{i}"]
            ours = np.asarray(model(outputs[f"images{i}"], training=False))
            results.append(Result((h, w), float(np.max(np.abs(ours - reference))),
                                  tolerance(reference), float(np.max(np.abs(reference)))))
        return results



def exchange(child, message, timeout):
    """Sends `message` to a child process that answers one JSON line per line it reads: its
    answer line; "" where the child has ended, None where no answer came within `timeout`
    seconds."""
    try:
        child.stdin.write(json.dumps(message) + "\n")
        child.stdin.flush()
        ready, _, _ = select.select([child.stdout], [], [], timeout)
        return child.stdout.readline() if ready else None
    except BrokenPipeError:
        return ""

class ReferenceProcess:
    """The reference side in one child process, started on first use and kept: requests are
    JSON lines on its standard input (run_reference's arguments), answers JSON lines on its
    standard output. A request that fails is answered with the child's traceback; a child that
    dies or runs past the timeout is killed, and the next request starts a new one."""

    def __init__(self):
        self.child = None
        self.log = None  # the child's standard error, read back when it fails

    def run(self, request, timeout):
        if self.child is None or self.child.poll() is not None:
            self._start()
        line = exchange(self.child, request, timeout)
        if not line:
            why = (f"no answer within {timeout} s" if line is None
                   else f"the process ended (exit {self._exit_status()})")
            self.close()
            raise RuntimeError(f"{why}:\n{self._log_tail()}")
        answer = json.loads(line)
        if answer.get("error"):
            raise RuntimeError(answer["error"][-4000:])

    def _start(self):
        self.close()
        self.log = tempfile.TemporaryFile(mode="w+", prefix="parity_reference_")
        self.child = subprocess.Popen(
            [sys.executable, "-m", "keras_backbones.parity", "--serve"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})

    def _exit_status(self):
        """The exit status of a child whose output has closed (it may still be exiting)."""
        try:
            return self.child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            return None

    def _log_tail(self):
        self.log.seek(0)
        return self.log.read()[-4000:]

    def close(self):
        if self.child is not None:
            if self.child.poll() is None:
                self.child.kill()
            self.child.wait()
            for stream in (self.child.stdin, self.child.stdout):
                stream.close()
            self.child = None


_reference_process = ReferenceProcess()
atexit.register(_reference_process.close)


def serve():
    """The child's loop: one request a line until its standard input closes. Anything the
    libraries print goes to standard error, so that standard output carries answers only."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        request = json.loads(line)
        try:
            run_reference(request["source"], request["name"], request["sizes"], request["out"],
                          channels=request["channels"], options=request["options"],
                          seed=request["seed"], references=request["references"])
            answer = {}
        except Exception:  # noqa: BLE001  (the parent reports it with the case it ran)
            answer = {"error": traceback.format_exc()}
        gc.collect()  # the reference model, before the next one is built
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def parse_sizes(text):
    """"224x224,160x192" -> [(224, 224), (160, 192)]."""
    try:
        sizes = [tuple(int(n) for n in item.lower().split("x")) for item in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(len(size) != 2 or min(size) < 1 for size in sizes):
        raise ValueError(f"Sizes are HEIGHTxWIDTH, comma separated (224x224,160x192); got {text!r}.")
    return sizes


def main(argv=None):
    if (sys.argv[1:] if argv is None else argv) == ["--serve"]:
        return serve()
    parser = argparse.ArgumentParser(description="The reference side of a parity check.")
    parser.add_argument("--source", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--sizes", required=True, type=parse_sizes)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--options", type=json.loads, default={})
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--references")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    run_reference(args.source, args.name, args.sizes, args.out, channels=args.channels,
                  options=args.options, seed=args.seed, references=args.references)


if __name__ == "__main__":
    main()
