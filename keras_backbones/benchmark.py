"""`keras-backbones benchmark`: how fast a model runs on this machine, beside keras.applications,
beside what else a user could run it in (PyTorch, torch.compile, onnxruntime), and beside the
machine's own arithmetic limit.

    keras-backbones benchmark NAME [--mode infer|train|tflite|serve] [--batch 16] [--size S]
        [--against keras.applications.X] [--jit] [--repeats 10] [--warmup 2]
        [--precision float32|mixed_float16|mixed_bfloat16] [--nofuse] [--unfused]
        [--peers torch,torch.compile,onnxruntime] [--compile_budget 600]

NAME is a registered variant, or one built with other constructor arguments:
`"resnet50(variant='v1')"`.

Method. Everything measured is a *contender* whose one call is one step: our model (fused,
and unfused with --unfused), the --against model, the --peers, and a float32 matmul probe (a
few large `tf.matmul`s in a `tf.function`, the machine's practical peak). Each contender runs
once untimed (tracing, compilation, delegate set-up) and `--warmup` more times, then the timed
repetitions run in rounds, each contender once per round, the order reversed every other round:
on a shared, noisy machine a slow spell slows every contender of its round alike, so the figure
is the ratio within each round (ours / theirs images/s) and the median of those ratios, not an
absolute time. Ours is compared with every other contender (the fused model, and the unfused
one, with each); a PyTorch contender runs in a child process and reports the seconds of its
forward pass itself, the message passing left out (keras_backbones/peers.py).

Achieved GFLOP/s is the counted FLOPs per image (2 x the multiply-accumulates that
`keras_backbones.stats` counts on the model's graph at the measured size) times images/s; a
training step counts as 3 forward passes (forward, and backward to activations and weights).
Utilization is that over the matmul probe's GFLOP/s measured in the same rounds.

Modes: `infer` is model(x, training=False) in a tf.function (XLA with --jit); `train` is one
SGD step (momentum 0.9, sparse categorical cross-entropy on the logits, in a tf.function),
the --against model trained the same way; `tflite` converts to float32 and to full-int8 TFLite
(`keras_backbones.export.tflite`) and times `invoke()` at batch 1 in the LiteRT interpreter
(XNNPACK, its default delegate, on every core); `serve` exports our model as a TF Serving
SavedModel (`keras_backbones.export.savedmodel`), loads it with `tf.saved_model.load` and times
one request (a call of serving_default with --batch images), fused against unfused. Models are
built with random weights and return logits (classifier_activation=None; serve: probabilities,
as export writes them).

Fused: for inference (infer, serve) ours is by default `keras_backbones.fusion.fuse(model)`,
BatchNormalization folded into the convolution before it, the model export writes; --nofuse
measures it as built. Training trains the model as built (a fused one has no normalization to
train), and the TFLite converter folds BatchNormalization itself. Peers (--mode infer, float32):
`torch` is the variant's reference network (the one the parity tests build) in eager PyTorch,
`torch.compile` the same compiled by inductor (dropped with a note where compiling fails or
takes past --compile_budget seconds), `onnxruntime` ours converted to ONNX as `export --format
onnx` converts it; each on TensorFlow's number of threads.

TensorFlow is imported only when a benchmark runs: `add_arguments` defines the command's flags
for the command line, which parses them first.
"""

import ast
import contextlib
import dataclasses
import difflib
import gc
import io
import os
import statistics
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

from keras_backbones import peers as peer_lib  # no TensorFlow at import: the flags need its names

MODES = ("infer", "train", "tflite", "serve")
INFERENCE_MODES = ("infer", "serve")  # where ours is fused
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
APPLICATIONS_PREFIXES = ("keras.applications.", "tf.keras.applications.")
TRAIN_FLOPS_FACTOR = 3  # forward + backward (activation and weight gradients): 3 forward passes
PEAK_PROBE = (1024, 8)  # the probe: a chain of 8 products of 1024 x 1024 matrices
TFLITE_CALIBRATION_SAMPLES = 4  # int8 calibration: enough to set scales for a timing


# --- what is measured -------------------------------------------------------------------------

@dataclasses.dataclass
class Contender:
    """One thing to time: `step()` runs one repetition and returns when it is done. A
    self-timed contender's step returns the seconds it measured itself (one running in another
    process, which times its own work and leaves the message passing out). kind: "fused" or
    "ours" (our model as built), "against" (keras.applications'), or the peer's name; detail:
    how it ran, in a few words (a peer's memory format, its compilation time)."""

    label: str
    step: Callable[[], object]
    images: int  # images per step
    flops: float  # floating-point (or, int8, integer) operations per step
    image_flops: float = float("nan")  # of one forward pass of one image
    flops_note: str = ""
    kind: str = "ours"
    detail: str = ""
    self_timed: bool = False
    seconds: List[float] = dataclasses.field(default_factory=list)

    @property
    def rates(self):
        return [self.images / s for s in self.seconds]

    @property
    def images_per_s(self):
        return statistics.median(self.rates)

    @property
    def latency_ms(self):
        return 1000 * statistics.median(self.seconds) / self.images

    @property
    def gflops(self):
        """Achieved GFLOP/s: the median repetition's."""
        return self.flops / statistics.median(self.seconds) / 1e9


@dataclasses.dataclass
class Ratio:
    """a / b within each round (the two timed side by side): of images/s ("throughput": above
    1 when a is faster) or of latency (below 1 when a is faster)."""

    label: str
    a: Contender
    b: Contender
    of: str = "throughput"

    def _of(self, a_seconds, b_seconds):
        return b_seconds / a_seconds if self.of == "throughput" else a_seconds / b_seconds

    @property
    def values(self):
        """One per round."""
        return [self._of(ta, tb) for ta, tb in zip(self.a.seconds, self.b.seconds)]

    @property
    def median(self):
        """The figure."""
        return statistics.median(self.values)

    @property
    def best(self):
        """The same ratio of the two fastest repetitions: other work on the machine only ever
        slows a repetition, so each contender's fastest is its least disturbed."""
        return self._of(min(self.a.seconds), min(self.b.seconds))


@dataclasses.dataclass
class Result:
    name: str  # our model's label
    mode: str
    batch: int
    shape: Tuple[int, int, int]
    jit: bool
    precision: str
    repeats: int
    warmup: int
    contenders: List[Contender]
    ratios: List[Ratio]
    peak: Optional[Contender]
    notes: List[str]
    dropped: Dict[str, str] = dataclasses.field(default_factory=dict)  # peer -> why

    def ratio(self, a, b):
        """The Ratio of the contender of kind `a` to that of kind `b` (None if not measured)."""
        return next((r for r in self.ratios if (r.a.kind, r.b.kind) == (a, b)), None)

    def utilization(self, contender):
        """Achieved GFLOP/s over the matmul probe's, both medians of the same rounds."""
        return contender.gflops / self.peak.gflops if self.peak else float("nan")


def measure(contenders, repeats, warmup):
    """Times each contender `repeats` times, round-robin (see the module docstring)."""
    for contender in contenders:
        for _ in range(1 + warmup):
            contender.step()
        contender.seconds = []
    for round_index in range(repeats):
        order = contenders if round_index % 2 == 0 else contenders[::-1]
        for contender in order:
            start = time.perf_counter()
            reported = contender.step()
            elapsed = time.perf_counter() - start
            contender.seconds.append(float(reported) if contender.self_timed else elapsed)
    return contenders


def matmul_peak(size=PEAK_PROBE[0], chain=PEAK_PROBE[1], dtype="float32"):
    """The probe of the machine's peak: a chain of square matmuls in one tf.function."""
    import tensorflow as tf

    a = tf.cast(tf.random.uniform((size, size)) / size, dtype)  # entries stay O(1) along the chain

    @tf.function
    def probe():
        x = a
        for _ in range(chain):
            x = tf.matmul(x, a)
        return tf.reduce_sum(x)

    return Contender(label=f"{dtype} matmul peak ({chain} x {size}^3 matmuls)",
                     step=lambda: probe().numpy(), images=1, flops=2.0 * chain * size ** 3)


# --- models -------------------------------------------------------------------------------------

def resolve_against(target):
    """The keras.applications constructor name of `target` ("keras.applications.ResNet50",
    or just "ResNet50"); a ValueError listing the closest names if there is none."""
    from keras_backbones.backend import keras

    name = target
    for prefix in APPLICATIONS_PREFIXES:
        if target.startswith(prefix):
            name = target[len(prefix):]
    available = sorted(n for n in dir(keras.applications)
                       if n[:1].isupper() and callable(getattr(keras.applications, n)))
    if name not in available:
        close = difflib.get_close_matches(name, available, n=5, cutoff=0.5)
        hint = (f" Closest: {', '.join('keras.applications.' + c for c in close)}." if close
                else f" Available: {', '.join(available)}.")
        raise ValueError(f"--against must name a keras.applications model; got {target!r}.{hint}")
    return name


def input_shape(name, size):
    """(height, width, channels) of `name` at `size` (default: its registered input size)."""
    from keras_backbones import registry

    height, width, channels = registry.get_spec(name).preprocessing.input_size
    return (size, size, channels) if size else (height, width, channels)


def build_ours(name, shape, overrides=None, classifier_activation=None):
    from keras_backbones import registry

    return trained_batch_norms(registry.create_model(
        name, input_shape=shape, classifier_activation=classifier_activation,
        **(overrides or {})))


def trained_batch_norms(model, seed=0, calibration=None):
    """Every BatchNormalization of `model` as training leaves it: random affine parameters
    (`randomize_batch_norms`), and moving statistics equal to those of the inputs it sees on
    the `calibration` images (default: 4 random ones), by one forward pass in training mode
    at momentum 0 (tf-keras keeps the unbiased variance, n/(n-1) times the batch's).
    Random statistics that do not match the activations let them grow block by block: at
    the end of RegNetY-6.4GF's third stage they reach thousands, where a squeeze-and-excitation
    gate turns float32 rounding into output differences of 1e-2 of their range (TFLite
    against TensorFlow, fused against not). With matching statistics they stay near unit
    scale, as in a trained network, and the two agree to 1e-4."""
    norms = batch_norms(randomize_batch_norms(model, seed))
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.momentum = 0.0
    try:
        if norms:
            if calibration is None:
                calibration = random_batch(model.input_shape[1:], 4, seed=seed + 1)
            model(calibration, training=True)
    finally:
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
    return model


def randomize_batch_norms(model, seed=0):
    """Every BatchNormalization of `model` (those inside block layers too) given random
    statistics and affine parameters, for the initial mean 0, variance 1, gamma 1, beta 0.
    Folded (`fuse`), those leave biases of zero, which a graph frozen with its weights (ONNX,
    benchmarks/profile.py) drops, with the additions: a trained model keeps them. Tests use it:
    at the initial values a dropped BatchNormalization changes nothing."""
    import numpy as np

    rng = np.random.default_rng(seed)
    for norm in batch_norms(model):
        channels = int(norm.moving_mean.shape[0])
        values = {"gamma": rng.uniform(0.5, 1.5, channels), "beta": rng.normal(0.0, 0.2, channels),
                  "moving_mean": rng.normal(0.0, 0.2, channels),
                  "moving_variance": rng.uniform(0.5, 1.5, channels)}
        for attribute, value in values.items():
            if getattr(norm, attribute, None) is not None:
                getattr(norm, attribute).assign(value.astype(np.float32))
    return model


def batch_norms(layer):
    """The built BatchNormalization layers in `layer` (a model, or a block layer holding its
    own), depth first."""
    from keras_backbones.backend import keras

    found = []
    for part in [*getattr(layer, "layers", []), *vars(layer).values()]:
        if isinstance(part, keras.layers.BatchNormalization):
            found += [part] if part.built and part not in found else []
        elif isinstance(part, keras.layers.Layer) and part is not layer:
            found += [norm for norm in batch_norms(part) if norm not in found]
    return found


def label_of(name, overrides=None):
    """`resnet50`, or `resnet50(variant='v1')` for a variant built with other arguments."""
    arguments = ", ".join(f"{k}={v!r}" for k, v in sorted((overrides or {}).items()))
    return f"{name}({arguments})" if arguments else name


def parse_model(text):
    """(name, constructor arguments) of "resnet50" or "resnet50(variant='v1')"; label_of's
    inverse. The name is checked by the registry, later."""
    if "(" not in text:
        return text, {}
    try:
        call = ast.parse(text.strip(), mode="eval").body
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and not call.args \
                and all(k.arg for k in call.keywords):
            return call.func.id, {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError):
        pass
    raise ValueError(f"{text!r} is not a model: expected a registered name, optionally with "
                     "keyword arguments of literals, as in \"resnet50(variant='v1')\".")


def build_theirs(application, shape):
    from keras_backbones.backend import keras

    constructor = getattr(keras.applications, application)
    return constructor(weights=None, input_shape=(*shape[:2], 3), classifier_activation=None)


def counted_flops(model):
    """(FLOPs per image, how they were counted): 2 x the multiply-accumulates counted on the
    model's graph; nan where the counter finds nothing it knows."""
    from keras_backbones import stats

    macs = stats.count_macs(model)
    if macs > 0:
        return 2.0 * macs, "counted on its graph (keras_backbones.stats.layer_macs)"
    return float("nan"), "not countable"


def random_batch(shape, batch, seed=0):
    import tensorflow as tf

    return tf.random.stateless_uniform((batch, *shape), seed=(seed, 0))


def infer_contender(label, model, batch, jit, flops_per_image, flops_note, kind="ours"):
    import tensorflow as tf

    x = random_batch(model.input_shape[1:], batch)

    @tf.function(jit_compile=jit)
    def infer(images):
        return model(images, training=False)

    return Contender(label=label, step=lambda: infer(x).numpy(), images=batch,
                     flops=batch * flops_per_image, image_flops=flops_per_image,
                     flops_note=flops_note, kind=kind)


def train_contender(label, model, batch, jit, flops_per_image, flops_note, kind="ours"):
    import tensorflow as tf

    from keras_backbones.backend import keras

    x = random_batch(model.input_shape[1:], batch)
    classes = model.output_shape[-1]
    y = tf.random.stateless_uniform((batch,), seed=(1, 0), maxval=classes, dtype=tf.int32)
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    optimizer.build(model.trainable_variables)  # its slots exist before tracing
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(jit_compile=jit)
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return Contender(label=label, step=lambda: train_step(x, y).numpy(), images=batch,
                     flops=TRAIN_FLOPS_FACTOR * batch * flops_per_image,
                     image_flops=flops_per_image, flops_note=flops_note, kind=kind)


def tflite_interpreter(content):
    """A LiteRT interpreter on every core, with its default delegate (XNNPACK); and how many
    partitions XNNPACK made of the graph."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as error:
        raise ValueError("--mode tflite needs the LiteRT interpreter: pip install ai-edge-litert") \
            from error
    from keras_backbones.export import tflite

    runner = Interpreter(model_content=content, num_threads=os.cpu_count())
    runner.allocate_tensors()
    return runner, f"{tflite.xnnpack_partitions(runner)} XNNPACK partition(s)"


def tflite_contenders(label, model, flops_per_image, flops_note, kind="ours"):
    """float32 and full-int8 TFLite versions of `model`, each invoked at batch 1."""
    import numpy as np

    from keras_backbones.export import tflite

    shape = model.input_shape[1:]
    calibration = np.random.default_rng(0).uniform(size=(TFLITE_CALIBRATION_SAMPLES, *shape))
    contenders, notes = [], []
    for number, quantize in (("float32", "none"), ("int8", "int8")):
        with quiet():  # the converter prints the SavedModel it writes on the way
            content = tflite.convert(model, quantize=quantize, representative_data=calibration)
        runner, delegated = tflite_interpreter(content)
        (detail,) = runner.get_input_details()
        sample = np.random.default_rng(1).uniform(size=(1, *shape))
        if detail["dtype"] == np.int8:
            sample = np.random.default_rng(1).integers(-128, 128, size=(1, *shape))
        runner.set_tensor(detail["index"], sample.astype(detail["dtype"]))
        contenders.append(Contender(label=f"{label} TFLite {number}", step=runner.invoke,
                                    images=1, flops=flops_per_image, image_flops=flops_per_image,
                                    flops_note=flops_note, kind=kind))
        notes.append(f"{label} TFLite {number}: {len(content) / 2 ** 20:.1f} MiB, {delegated}")
    return contenders, notes


@contextlib.contextmanager
def quiet():
    """Python-level stdout, warnings and absl INFO and WARNING logging (the converters'
    deprecation notices) off for the duration."""
    import logging as python_logging

    from absl import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.ERROR)
    tensorflow_logger = python_logging.getLogger("tensorflow")  # its deprecation notices
    tensorflow_level = tensorflow_logger.level
    tensorflow_logger.setLevel(python_logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.set_verbosity(verbosity)
        tensorflow_logger.setLevel(tensorflow_level)


# --- the benchmark ------------------------------------------------------------------------------

def check_options(name, mode="infer", batch=16, size=None, against=None, jit=False,
                  repeats=10, warmup=2, precision="float32", unfused=None, peers=(),
                  compile_budget=peer_lib.COMPILE_BUDGET):
    """ValueError for bad options, before anything is built; returns the keras.applications
    name of `against` (None without one)."""
    import importlib.util

    from keras_backbones import registry

    spec = registry.get_spec(name)  # an unknown name: the registry lists the closest
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}; got {mode!r}.")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    if mode == "tflite" and (jit or precision != "float32"):
        raise ValueError("--mode tflite converts a float32 model and runs it in the LiteRT "
                         "interpreter: --jit and --precision do not apply.")
    if mode == "serve" and (jit or precision != "float32" or against):
        raise ValueError("--mode serve exports our float32 model as a SavedModel and calls its "
                         "serving_default signature, fused against unfused: --jit, --precision "
                         "and --against do not apply.")
    if unfused and mode not in INFERENCE_MODES:
        raise ValueError(f"--unfused compares the fused and unfused model's inference (--mode "
                         f"{' or '.join(INFERENCE_MODES)}); --mode {mode} runs the model as built.")
    if batch < 1:
        raise ValueError(f"--batch must be at least 1; got {batch}.")
    if size is not None and size < 1:
        raise ValueError(f"--size must be a positive number of pixels; got {size}.")
    if repeats < 1:
        raise ValueError(f"--repeats must be at least 1; got {repeats}.")
    if warmup < 0:
        raise ValueError(f"--warmup must be 0 or more; got {warmup}.")
    peers = peer_lib.parse(peers)
    if peers and (mode != "infer" or precision != "float32"):
        raise ValueError(f"--peers compare float32 inference (--mode infer); got --mode {mode}, "
                         f"--precision {precision}.")
    torch_peers = [p for p in peers if p in peer_lib.TORCH_PEERS]
    if torch_peers and importlib.util.find_spec("torch") is None:
        raise ValueError(f"--peers {','.join(torch_peers)} needs PyTorch, torchvision and timm: "
                         "pip install -e \".[parity]\"")
    if torch_peers and spec.reference[0] == "paper":
        raise ValueError(f"--peers {','.join(torch_peers)}: {name} has no code reference (it "
                         f"follows the paper: {spec.reference[1]}), so PyTorch has nothing to run.")
    if not compile_budget > 0:
        raise ValueError(f"--compile_budget must be a positive number of seconds; "
                         f"got {compile_budget}.")
    return resolve_against(against) if against else None


def benchmark(model, mode="infer", batch=16, size=None, against=None, jit=False, repeats=10,
              warmup=2, precision="float32", peak=True, fused=True, unfused=None, peers=(),
              compile_budget=peer_lib.COMPILE_BUDGET):
    """Builds and times `model` (and the keras.applications model `against`, and the `peers`);
    a `Result`.

    model: a registered name, or one called with constructor arguments
    ("resnet50(variant='v1')"). A size below the network's minimum is its builder's ValueError,
    which names the minimum. Mode "tflite" runs batch 1. peak=False leaves the matmul probe out
    (and with it the utilization). fused: infer and serve time ours fused (the module docstring);
    unfused: the model as built too (default: in mode serve). peers: a subset of
    `peers.PEERS` ("torch,onnxruntime" or a list); one that cannot run here is left out, its
    reason in `Result.dropped` and the notes. Every PyTorch child process is closed on return,
    or on an error."""
    from keras_backbones.backend import clear_session, dtype_policy_name, set_dtype_policy

    name, overrides = parse_model(model)
    application = check_options(name, mode, batch, size, against, jit, repeats, warmup, precision,
                                unfused, peers, compile_budget)
    label = label_of(name, overrides)
    batch = 1 if mode == "tflite" else batch
    shape = input_shape(name, size)
    previous_policy = dtype_policy_name()
    clear_session()
    set_dtype_policy(precision)
    try:
        with contextlib.ExitStack() as cleanup:
            unfused = (mode == "serve") if unfused is None else unfused
            if mode == "serve":
                directory = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="served_"))
                models = []
                contenders, notes = _served(name, label, overrides, shape, batch, fused,
                                            unfused, directory)
            else:
                models = _models(name, label, overrides, shape, mode, application, fused,
                                 unfused)
                contenders, notes = _contenders(models, mode, batch, jit)
            dropped = {}
            for peer in peer_lib.parse(peers):
                try:
                    contender, note = _peer(peer, name, overrides, shape, batch, contenders[0],
                                            models[0][2], compile_budget, cleanup)
                    contenders.append(contender)
                except peer_lib.Unavailable as why:
                    dropped[peer] = str(why)
                    note = f"{peer} dropped: {why}"
                notes.append(note)
            probe = None
            if peak:
                compute = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
                probe = matmul_peak(dtype=compute.get(precision, "float32"))
            measure(contenders + ([probe] if probe else []), repeats, warmup)
            for contender in contenders:  # release the models and their compiled steps
                contender.step = None
    finally:
        set_dtype_policy(previous_policy)
    del models
    gc.collect()
    clear_session()
    return Result(name=label, mode=mode, batch=batch, shape=shape, jit=jit, precision=precision,
                  repeats=repeats, warmup=warmup, contenders=contenders,
                  ratios=_ratios(contenders, mode), peak=probe, notes=notes, dropped=dropped)


def _models(name, label, overrides, shape, mode, application, fused, unfused):
    """(kind, label, Keras model) of everything built here, ours first: fused (infer, unless
    fused=False), as built (where not fused, or unfused), keras.applications'."""
    from keras_backbones import fusion

    built = build_ours(name, shape, overrides)
    fuses = fused and mode == "infer"
    models = [("fused", f"{label} fused", fusion.fuse(built))] if fuses else []
    if unfused or not fuses:
        models.append(("ours", label, built))
    if application:
        models.append(("against", f"keras.applications.{application}",
                       build_theirs(application, shape)))
    return models


def _contenders(models, mode, batch, jit):
    """The contenders of (kind, label, model), ours first, in their order; and notes on them.
    A model the counter finds nothing in is assumed to do ours' FLOPs (and says so)."""
    contenders, notes = [], []
    ours_flops = None
    for kind, label, model in models:
        flops, note = counted_flops(model)
        if ours_flops is None:
            ours_flops = flops
        elif not flops > 0:
            flops, note = ours_flops, f"not countable: assumed equal to {models[0][1]}'s"
        if mode == "tflite":
            converted, conversion_notes = tflite_contenders(label, model, flops, note, kind)
            contenders += converted
            notes += conversion_notes
        else:
            make = infer_contender if mode == "infer" else train_contender
            contenders.append(make(label, model, batch, jit, flops, note, kind))
    return contenders, notes


def _served(name, label, overrides, shape, batch, fused, unfused, directory):
    """The contenders of our model exported as a SavedModel under `directory`, fused (unless
    fused=False) and unfused (where not fused, or unfused); and notes on them."""
    model = build_ours(name, shape, overrides, "softmax")  # as export writes it: probabilities
    flops, flops_note = counted_flops(model)
    contenders, notes = [], []
    for fuse in [True] * fused + [False] * (unfused or not fused):
        with quiet():  # the SavedModel writer's INFO lines
            runner = peer_lib.served_runner(f"{label} fused" if fuse else label, name, model,
                                            batch, overrides, directory, fuse)
        contenders.append(Contender(
            label=runner.label, step=runner.step, images=batch, flops=batch * flops,
            image_flops=flops, flops_note=flops_note, kind="fused" if fuse else "ours",
            detail=runner.detail))
        notes.append(runner.note)
    return contenders, notes


def _peer(peer, name, overrides, shape, batch, ours, ours_model, compile_budget, cleanup):
    """(the peer's Contender, a note on it); peers.Unavailable where it cannot run here."""
    if peer == "onnxruntime":
        with quiet():  # the converter's log
            runner = peer_lib.onnxruntime_runner(ours.label, ours_model,
                                                 random_batch(shape, batch))
        flops_note = "ours, converted"
    else:
        runner = peer_lib.torch_runner(peer, name, overrides, shape, batch,
                                       compile_budget=compile_budget, cleanup=cleanup.callback)
        flops_note = "the reference network: assumed equal to ours"
    contender = Contender(label=runner.label, step=runner.step, images=batch,
                          flops=batch * ours.image_flops, image_flops=ours.image_flops,
                          flops_note=flops_note, kind=peer, detail=runner.detail,
                          self_timed=runner.self_timed)
    return contender, runner.note


OURS = ("fused", "ours")


def _ratios(contenders, mode):
    """infer, train, serve: ours fused / unfused images/s, then each of ours / every other
    contender. tflite (contenders: float32 and int8 of ours, then of theirs): each model's int8
    / float32 latency, then ours / theirs images/s of each."""
    if mode != "tflite":
        ours = [c for c in contenders if c.kind in OURS]
        others = [c for c in contenders if c.kind not in OURS]
        pairs = [ours] if len(ours) == 2 else []
        pairs += [(a, b) for a in ours for b in others]
        return [Ratio(f"{a.label} / {b.label} images/s", a=a, b=b) for a, b in pairs]
    pairs = [contenders[i:i + 2] for i in range(0, len(contenders), 2)]
    ratios = [Ratio(f"{f32.label.rsplit(' TFLite', 1)[0]}: TFLite int8 / float32 latency",
                    a=i8, b=f32, of="latency") for f32, i8 in pairs]
    if len(pairs) == 2:
        ratios += [Ratio(f"{a.label} / {b.label} images/s", a=a, b=b) for a, b in zip(*pairs)]
    return ratios


def describe(result):
    """The report of a `Result`, as lines of text."""
    height, width, channels = result.shape
    lines = [f"{result.name}: {result.mode}, batch {result.batch}, {height}x{width}x{channels}, "
             f"{result.precision}, XLA {'on' if result.jit else 'off'}; {result.repeats} timed "
             f"round(s) after {1 + result.warmup} untimed repetition(s), contenders alternating."]
    everything = result.contenders + ([result.peak] if result.peak else [])
    column = max(len(c.label) for c in everything)
    for c in result.contenders:
        rates = c.rates
        utilization = f", {result.utilization(c):.0%} of the matmul peak" if result.peak else ""
        requests = (f"; {c.images_per_s / c.images:.2f} requests/s" if result.mode == "serve"
                    else "")
        lines.append(f"  {c.label.ljust(column)}  {c.images_per_s:8.2f} images/s median "
                     f"(min {min(rates):.2f}, max {max(rates):.2f}; {c.latency_ms:.1f} ms/image"
                     f"{requests})  {c.gflops:7.1f} GFLOP/s{utilization}")
    if result.peak:
        p = result.peak
        gflops = [p.flops / s / 1e9 for s in p.seconds]
        lines.append(f"  {p.label.ljust(column)}  {p.gflops:8.1f} GFLOP/s median "
                     f"(min {min(gflops):.1f}, max {max(gflops):.1f})")
    for r in result.ratios:
        values = " ".join(f"{v:.3f}" for v in r.values)
        lines.append(f"  ratio {r.label}: median {r.median:.3f} (per round: {values}); "
                     f"fastest against fastest {r.best:.3f}")
    per = f" (x {TRAIN_FLOPS_FACTOR} per trained image)" if result.mode == "train" else ""
    for c in result.contenders:
        if c.kind in (*OURS, "against") and not c.label.endswith("int8"):
            lines.append(f"  FLOPs of {c.label}: {c.image_flops / 1e9:.4g} G/image{per}, "
                         f"{c.flops_note}")
    lines += [f"  {note}" for note in result.notes]
    return lines


# --- the command ---------------------------------------------------------------------------------

def add_arguments(parser):
    """The flags of `keras-backbones benchmark` (keras_backbones.cli parses them)."""
    parser.add_argument("model", metavar="NAME", help="a registered variant, or one called with "
                        "constructor arguments: \"resnet50(variant='v1')\"")
    parser.add_argument("--mode", default="infer", choices=MODES,
                        help="model(x) in a tf.function, one SGD step, TFLite float32 and int8 in "
                        "the LiteRT interpreter, or requests to our exported SavedModel")
    parser.add_argument("--batch", type=int, help="images per step (default 16; tflite runs 1)")
    parser.add_argument("--size", type=int, help="input height and width in pixels (default: "
                        "the model's input size)")
    parser.add_argument("--against", metavar="APPLICATION", help="a keras.applications model "
                        "measured alternately with ours, e.g. keras.applications.ResNet50")
    parser.add_argument("--jit", action="boolean", default=False,
                        help="XLA-compile the steps (infer, train)")
    parser.add_argument("--repeats", type=int, default=10,
                        help="timed repetitions of each contender")
    parser.add_argument("--warmup", type=int, default=2,
                        help="untimed repetitions after the first call")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS,
                        help="the Keras dtype policy of infer and train (the probe matmuls in "
                        "its compute dtype)")
    parser.add_argument("--fuse", action="boolean", default=True,
                        help="infer, serve: ours with BatchNormalization folded into the "
                        "convolutions (keras_backbones.fuse), as export writes it; --nofuse: as "
                        "built")
    parser.add_argument("--unfused", action="boolean", default=None,
                        help="infer, serve: the unfused model too, fused / unfused in each round "
                        "(default: in --mode serve)")
    parser.add_argument("--peers", default="", metavar="PEER,...",
                        help=f"--mode infer: also what else runs the network, any of "
                        f"{', '.join(peer_lib.PEERS)}: its reference in PyTorch (the parity "
                        "extra), compiled by inductor, ours in onnxruntime")
    parser.add_argument("--compile_budget", type=float, default=peer_lib.COMPILE_BUDGET,
                        metavar="SECONDS", help="--peers torch.compile: how long building and "
                        "compiling may take before the contender is dropped")


def main(args):
    """Images/s against keras.applications, PyTorch, onnxruntime.

    Ours and the other contenders run alternately in rounds; the figure is the median of the
    per-round ratios, so a noisy machine slows both sides alike. Achieved GFLOP/s and its share
    of the machine's matmul peak are printed too (keras_backbones/benchmark.py: the method).
    Example: keras-backbones benchmark resnet50 --against keras.applications.ResNet50 --unfused
    --peers torch,torch.compile,onnxruntime"""
    if args.mode == "tflite" and args.batch not in (None, 1):
        raise ValueError(f"--mode tflite runs batch 1 (a phone's latency); "
                         f"got --batch {args.batch}.")
    if args.jit:
        from keras_backbones.backend import warn_if_xla_on_cpu

        warn_if_xla_on_cpu("--jit")
    result = benchmark(args.model, mode=args.mode, batch=16 if args.batch is None else args.batch,
                       size=args.size, against=args.against, jit=args.jit,
                       repeats=args.repeats, warmup=args.warmup, precision=args.precision,
                       fused=args.fuse, unfused=args.unfused, peers=args.peers,
                       compile_budget=args.compile_budget)
    print("\n".join(describe(result)))
