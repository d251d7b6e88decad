"""`keras-backbones benchmark`: how fast a model runs on this machine, beside keras.applications
and beside the machine's own arithmetic limit.

    keras-backbones benchmark NAME [--mode infer|train|tflite] [--batch 16] [--size S]
        [--against keras.applications.X] [--jit] [--repeats 10] [--warmup 2]
        [--precision float32|mixed_float16|mixed_bfloat16]

NAME is a registered variant, or one built with other constructor arguments:
`"resnet50(variant='v1')"`.

Method. Everything measured is a *contender* whose one call is one step: our model, the
--against model, and a float32 matmul probe (a few large `tf.matmul`s in a `tf.function`, the
machine's practical peak). Each contender runs once untimed (tracing, compilation, delegate
set-up) and `--warmup` more times, then the timed repetitions run in rounds, each contender
once per round, the order reversed every other round: on a shared, noisy machine a slow spell
slows every contender of its round alike, so the figure is the ratio within each round (ours /
theirs images/s) and the median of those ratios, not an absolute time.

Achieved GFLOP/s is the counted FLOPs per image (2 x the multiply-accumulates that
`keras_backbones.stats` counts on the model's graph at the measured size) times images/s; a
training step counts as 3 forward passes (forward, and backward to activations and weights).
Utilization is that over the matmul probe's GFLOP/s measured in the same rounds.

Modes: `infer` is model(x, training=False) in a tf.function (XLA with --jit); `train` is one
SGD step (momentum 0.9, sparse categorical cross-entropy on the logits, in a tf.function),
the --against model trained the same way; `tflite` converts to float32 and to full-int8 TFLite
(`keras_backbones.export.tflite`) and times `invoke()` at batch 1 in the LiteRT interpreter
(XNNPACK, its default delegate, on every core). Models are built with random weights and
return logits (classifier_activation=None).

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
import time
import warnings
from typing import Callable, List, Optional, Tuple

MODES = ("infer", "train", "tflite")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
APPLICATIONS_PREFIXES = ("keras.applications.", "tf.keras.applications.")
TRAIN_FLOPS_FACTOR = 3  # forward + backward (activation and weight gradients): 3 forward passes
PEAK_PROBE = (1024, 8)  # the probe: a chain of 8 products of 1024 x 1024 matrices
TFLITE_CALIBRATION_SAMPLES = 4  # int8 calibration: enough to set scales for a timing


# --- what is measured -------------------------------------------------------------------------

@dataclasses.dataclass
class Contender:
    """One thing to time: `step()` runs one repetition and returns when it is done."""

    label: str
    step: Callable[[], object]
    images: int  # images per step
    flops: float  # floating-point (or, int8, integer) operations per step
    image_flops: float = float("nan")  # of one forward pass of one image
    flops_note: str = ""
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
            contender.step()
            contender.seconds.append(time.perf_counter() - start)
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


def build_ours(name, shape, overrides=None):
    from keras_backbones import registry

    return registry.create_model(name, input_shape=shape, classifier_activation=None,
                                 **(overrides or {}))


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


def infer_contender(label, model, batch, jit, flops_per_image, flops_note):
    import tensorflow as tf

    x = random_batch(model.input_shape[1:], batch)

    @tf.function(jit_compile=jit)
    def infer(images):
        return model(images, training=False)

    return Contender(label=label, step=lambda: infer(x).numpy(), images=batch,
                     flops=batch * flops_per_image, image_flops=flops_per_image,
                     flops_note=flops_note)


def train_contender(label, model, batch, jit, flops_per_image, flops_note):
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
                     image_flops=flops_per_image, flops_note=flops_note)


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


def tflite_contenders(label, model, flops_per_image, flops_note):
    """float32 and full-int8 TFLite versions of `model`, each invoked at batch 1."""
    import numpy as np

    from keras_backbones.export import tflite

    shape = model.input_shape[1:]
    calibration = np.random.default_rng(0).uniform(size=(TFLITE_CALIBRATION_SAMPLES, *shape))
    contenders, notes = [], []
    for kind, quantize in (("float32", "none"), ("int8", "int8")):
        with quiet():  # the converter prints the SavedModel it writes on the way
            content = tflite.convert(model, quantize=quantize, representative_data=calibration)
        runner, delegated = tflite_interpreter(content)
        (detail,) = runner.get_input_details()
        sample = np.random.default_rng(1).uniform(size=(1, *shape))
        if detail["dtype"] == np.int8:
            sample = np.random.default_rng(1).integers(-128, 128, size=(1, *shape))
        runner.set_tensor(detail["index"], sample.astype(detail["dtype"]))
        contenders.append(Contender(label=f"{label} TFLite {kind}", step=runner.invoke, images=1,
                                    flops=flops_per_image, image_flops=flops_per_image,
                                    flops_note=flops_note))
        notes.append(f"{label} TFLite {kind}: {len(content) / 2 ** 20:.1f} MiB, {delegated}")
    return contenders, notes


@contextlib.contextmanager
def quiet():
    """Python-level stdout, warnings and absl INFO logging off for the duration."""
    from absl import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.set_verbosity(verbosity)


# --- the benchmark ------------------------------------------------------------------------------

def check_options(name, mode="infer", batch=16, size=None, against=None, jit=False,
                  repeats=10, warmup=2, precision="float32"):
    """ValueError for bad options, before anything is built; returns the keras.applications
    name of `against` (None without one)."""
    from keras_backbones import registry

    registry.get_spec(name)  # an unknown name: the registry lists the closest
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}; got {mode!r}.")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}; got {precision!r}.")
    if mode == "tflite" and (jit or precision != "float32"):
        raise ValueError("--mode tflite converts a float32 model and runs it in the LiteRT "
                         "interpreter: --jit and --precision do not apply.")
    if batch < 1:
        raise ValueError(f"--batch must be at least 1; got {batch}.")
    if size is not None and size < 1:
        raise ValueError(f"--size must be a positive number of pixels; got {size}.")
    if repeats < 1:
        raise ValueError(f"--repeats must be at least 1; got {repeats}.")
    if warmup < 0:
        raise ValueError(f"--warmup must be 0 or more; got {warmup}.")
    return resolve_against(against) if against else None


def benchmark(model, mode="infer", batch=16, size=None, against=None, jit=False, repeats=10,
              warmup=2, precision="float32", peak=True):
    """Builds and times `model` (and the keras.applications model `against`); a `Result`.

    model: a registered name, or one called with constructor arguments
    ("resnet50(variant='v1')"). A size below the network's minimum is its builder's ValueError,
    which names the minimum. Mode "tflite" runs batch 1. peak=False leaves the matmul probe out
    (and with it the utilization)."""
    from keras_backbones.backend import clear_session, dtype_policy_name, set_dtype_policy

    name, overrides = parse_model(model)
    application = check_options(name, mode, batch, size, against, jit, repeats, warmup, precision)
    label = label_of(name, overrides)
    batch = 1 if mode == "tflite" else batch
    shape = input_shape(name, size)
    previous_policy = dtype_policy_name()
    clear_session()
    set_dtype_policy(precision)
    try:
        models = [(label, build_ours(name, shape, overrides))]
        if application:
            models.append((f"keras.applications.{application}", build_theirs(application, shape)))
        contenders, notes = _contenders(models, mode, batch, jit)
        probe = None
        if peak:
            compute = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}
            probe = matmul_peak(dtype=compute.get(precision, "float32"))
        measure(contenders + ([probe] if probe else []), repeats, warmup)
    finally:
        set_dtype_policy(previous_policy)
    del models
    for contender in contenders:  # release the models and their compiled steps
        contender.step = None
    gc.collect()
    clear_session()
    return Result(name=label, mode=mode, batch=batch, shape=shape, jit=jit, precision=precision,
                  repeats=repeats, warmup=warmup, contenders=contenders,
                  ratios=_ratios(contenders, mode), peak=probe, notes=notes)


def _contenders(models, mode, batch, jit):
    """The contenders of (label, model) pairs, ours first, in their order; and notes on them.
    A model the counter finds nothing in is assumed to do ours' FLOPs (and says so)."""
    contenders, notes = [], []
    ours_flops = None
    for label, model in models:
        flops, note = counted_flops(model)
        if ours_flops is None:
            ours_flops = flops
        elif not flops > 0:
            flops, note = ours_flops, f"not countable: assumed equal to {models[0][0]}'s"
        if mode == "tflite":
            converted, conversion_notes = tflite_contenders(label, model, flops, note)
            contenders += converted
            notes += conversion_notes
        else:
            make = infer_contender if mode == "infer" else train_contender
            contenders.append(make(label, model, batch, jit, flops, note))
    return contenders, notes


def _ratios(contenders, mode):
    """infer, train: ours / theirs images/s. tflite (contenders: float32 and int8 of ours, then
    of theirs): each model's int8 / float32 latency, then ours / theirs images/s of each."""
    if mode != "tflite":
        if len(contenders) < 2:
            return []
        ours, theirs = contenders
        return [Ratio(f"{ours.label} / {theirs.label} images/s", a=ours, b=theirs)]
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
        lines.append(f"  {c.label.ljust(column)}  {c.images_per_s:8.2f} images/s median "
                     f"(min {min(rates):.2f}, max {max(rates):.2f}; {c.latency_ms:.1f} ms/image)"
                     f"  {c.gflops:7.1f} GFLOP/s{utilization}")
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
        if not c.label.endswith("int8"):
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
                        help="model(x) in a tf.function, one SGD step, or TFLite float32 and "
                        "int8 in the LiteRT interpreter")
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


def main(args):
    """Images/s of a model, against keras.applications.

    Ours and the --against model run alternately in rounds; the figure is the median of the
    per-round ratios, so a noisy machine slows both sides alike. Achieved GFLOP/s and its share
    of the machine's matmul peak are printed too (keras_backbones/benchmark.py: the method).
    Example: keras-backbones benchmark resnet50 --against keras.applications.ResNet50"""
    if args.mode == "tflite" and args.batch not in (None, 1):
        raise ValueError(f"--mode tflite runs batch 1 (a phone's latency); "
                         f"got --batch {args.batch}.")
    result = benchmark(args.model, mode=args.mode, batch=16 if args.batch is None else args.batch,
                       size=args.size, against=args.against, jit=args.jit,
                       repeats=args.repeats, warmup=args.warmup, precision=args.precision)
    print("\n".join(describe(result)))
