"""The standard benchmark table: rewrites the measured part of benchmarks/RESULTS.md.

    PYTHONPATH=. python benchmarks/run.py [--estimate] [--only PATTERN] [--tables T,...]
        [--repeats 10] [--train-repeats 5] [--warmup 2] [--compile-budget 600]
        [--out benchmarks/RESULTS.md]

Every row is one `keras-backbones benchmark` measurement (keras_backbones/benchmark.py):
- ours fused (BatchNormalization folded, as export writes it) and unfused against
  keras.applications, inference at batch 16 and 1, for the networks that are the same layer
  for layer (FUSED);
- ours fused against the same network in PyTorch (eager and torch.compile) and ours in
  onnxruntime, at batch 1 and 16 (PEERS);
- our SavedModel's requests/s, fused against unfused, at batch 1 and 16 (SERVED);
- ours (as built) against keras.applications (COUNTERPARTS), inference and a training step at
  batch 16 and the model's input size, the two measured alternately;
- the utilization of the grouped and depthwise families (GROUPED) beside resnet50's;
- float32 and full-int8 TFLite at batch 1 (TFLITE);
- on a machine with a GPU, mixed-precision XLA training throughput (GPU_TRAINING).
An entry whose model is not registered yet, or whose counterpart this Keras lacks, is skipped
with a note: the table fills in as families land (so are the PyTorch peers where torch is not
installed). `--tables` measures only some of the tables (TABLES); the others are carried
over from RESULTS.md as they were, each saying which run measured it. The text between
RESULTS.md's two markers is generated; everything outside them (the findings) is kept as
written.

Measure on a quiet machine. `--estimate` prints the rows and roughly how long they take, and
measures nothing; the load average is recorded with the results.
"""

import argparse
import dataclasses
import datetime
import fnmatch
import importlib.metadata
import importlib.util
import os
import pathlib
import platform
import re
import shlex
import statistics
import sys
from typing import Optional, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_backbones import benchmark, peers, registry  # noqa: E402

BEGIN = "<!-- BEGIN MEASURED: written by benchmarks/run.py; edit outside these markers -->"
END = "<!-- END MEASURED -->"
# The run a RESULTS.md was measured by, from its first line; a table this run does not measure is
# carried over under a line that names it (KEPT_FROM starts that line).
MEASURED_BY = re.compile(r"Measured (?P<when>.+? UTC) \(\d+ min\) by (?P<command>`[^`]*`)")
KEPT_FROM = "*Kept from "
BATCH = 16

# ours -> (its keras.applications counterpart, how the two networks differ, written beside every
# number of the row; None: nobody has compared them yet). resnet50(variant='v1') is the
# layer-for-layer counterpart of keras.applications.ResNet50: the like-for-like test of the port.
COUNTERPARTS = {
    "vgg16": ("VGG16", "same layers, parameters and MACs; ours adds torchvision's "
              "AdaptiveAvgPool2d(7) (identity at 224) and dropout (training only)"),
    "resnet50": ("ResNet50", "theirs is ResNet v1 (stride on the first 1x1: 6% fewer MACs) with "
                 "biases on all 53 convs; ours is torchvision's v1.5 (stride on the 3x3, no conv "
                 "biases)"),
    "resnet50(variant='v1')": ("ResNet50", "same layers and MACs, but theirs adds biases to all "
                               "53 convs (ours have none before BatchNormalization, as "
                               "torchvision)"),
    "resnetv2_50": ("ResNet50V2", "theirs strides in the last block of stages 1-3 (1x1 max-pool "
                    "shortcut: 15% fewer MACs) and biases 21 convs; ours is timm's (stride in "
                    "the first block of stages 2-4, no conv biases)"),
    "inception_v3": ("InceptionV3", "same main network and MACs; ours also holds torchvision's "
                     "auxiliary classifier (3.3M parameters, its output unused), and theirs' "
                     "BatchNormalization has no scale"),
    "inception_resnet_v2": ("InceptionResNetV2", "same layers and MACs; theirs' "
                            "BatchNormalization has no scale"),
    "xception": ("Xception", "same layers, parameters and MACs; ours runs each separable conv "
                 "as DepthwiseConv2D + 1x1 Conv2D, theirs as SeparableConv2D"),
    "densenet121": ("DenseNet121", "same layers, parameters and MACs"),
    "mobilenet_v1": ("MobileNet", "same layers, parameters and MACs; theirs' classifier is a "
                     "biased 1x1 conv (ours: Dense)"),
    "mobilenet_v2": ("MobileNetV2", "same layers, parameters and MACs; ours adds torchvision's "
                     "classifier dropout (training only)"),
    "mobilenet_v3_large": ("MobileNetV3Large", "same parameters and MACs; theirs includes its "
                           "Rescaling preprocessing and runs the squeeze-excitations and the "
                           "head as biased 1x1 convs (ours: Dense)"),
    "efficientnet_b0": ("EfficientNetB0", "same parameters and MACs; theirs includes its "
                        "Rescaling and Normalization preprocessing and pads the stride-2 convs "
                        "as TensorFlow does (the odd pixel after; ours: torchvision's symmetric "
                        "padding)"),
    "efficientnet_v2_s": ("EfficientNetV2S", "same parameters and MACs; theirs includes its "
                          "Rescaling preprocessing and pads the stride-2 convs as TensorFlow "
                          "does (the odd pixel after; ours: torchvision's symmetric padding)"),
    "regnetx_016": ("RegNetX016", None),  # tf-keras only: Keras 3 has no RegNet
    "regnety_016": ("RegNetY016", None),
    "convnext_tiny": ("ConvNeXtTiny", "same parameters and MACs; theirs includes its "
                      "Normalization preprocessing and runs the depthwise 7x7 convs as grouped "
                      "Conv2D (ours: DepthwiseConv2D)"),
}
# Fused against keras.applications: the networks that are the same layer for layer (their
# COUNTERPARTS entry), at these batches; the goal of the median fused / theirs ratio over the
# depthwise (mobile) rows and over the others.
FUSED = ["vgg16", "resnet50(variant='v1')", "inception_v3", "inception_resnet_v2", "xception",
         "densenet121", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
         "efficientnet_v2_s", "convnext_tiny"]
FUSED_BATCHES = (16, 1)
DEPTHWISE = ("mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0")
DEPTHWISE_GOAL, OTHERS_GOAL = 1.25, 1.08
# Ours fused against what else a user could run: every peer (keras_backbones.peers), goal >= 1.
PEERS = ["resnet50", "mobilenet_v2", "efficientnet_b0", "convnext_tiny", "vit_small_patch16_224"]
PEER_BATCHES = (1, 16)
SERVED = ["resnet50", "mobilenet_v2"]
SERVED_BATCHES = (1, 16)
TABLES = ("fused", "peers", "served", "comparison", "grouped", "tflite", "gpu")
PEAK_TABLES = ("comparison", "grouped", "tflite", "gpu")  # the tables that show utilization

REFERENCE = "resnet50"  # a grouped/depthwise row under half its utilization is investigated
GROUPED = ["resnext50_32x4d", "shufflenet_v2_x1_0", "ghostnet_100", "mobilenet_v1",
           "mobilenet_v2", "mobilenet_v3_large", "mnasnet1_0", "regnetx_016", "regnety_016"]
TFLITE = ["resnet18", "mobilenet_v1", "mobilenet_v2", "mobilenet_v3_large",
          "mobilenetv4_conv_small", "mnasnet1_0", "efficientnet_b0", "eca_mobilenet_v2",
          "shufflenet_v1_g3_x1_0", "shufflenet_v2_x1_0", "ghostnet_100",
          "effnet"]  # resnet18: a dense-conv reference
TFLITE_BAR = 0.5  # int8 / float32 latency of the mobile families
GPU_TRAINING = ["resnet50", "convnext_tiny"]
GPU_BATCH = 128

# For --estimate: every step at this share of the matmul peak (resnet50 and VGG16 reach it,
# depthwise-heavy models less), plus building and tracing each contender (tflite: two
# conversions; serve: an export and a load; torch: starting its process and timing both memory
# formats; torch.compile: that and inductor's compilation; onnxruntime: the conversion).
ASSUMED_UTILIZATION = 0.7
SETUP_SECONDS = {"infer": 10, "train": 30, "tflite": 45, "serve": 15, "torch": 15,
                 "torch.compile": 45, "onnxruntime": 20}


@dataclasses.dataclass(frozen=True)
class Row:
    table: str  # one of TABLES
    model: str  # as `keras-backbones benchmark` takes it
    mode: str = "infer"
    against: Optional[str] = None  # keras.applications name
    difference: Optional[str] = None  # how ours and theirs differ
    batch: int = BATCH
    jit: bool = False
    precision: str = "float32"
    fused: bool = False  # infer, serve: ours fused (the older tables: as built, as before)
    unfused: bool = False  # and the unfused model beside it
    peers: Tuple[str, ...] = ()

    def repeats(self, options):
        return options.train_repeats if self.mode == "train" else options.repeats

    def setups(self):
        """The SETUP_SECONDS key of each contender, ours first."""
        ours = [self.mode] * (1 + (self.fused and self.unfused))
        return ours + [self.mode] * bool(self.against) + list(self.peers)

    def command(self):
        """The `keras-backbones benchmark` command that measures the row."""
        model = f'"{self.model}"' if "(" in self.model else self.model
        flags = [f"--mode {self.mode}", f"--batch {self.batch}"]
        flags += [f"--against keras.applications.{self.against}"] * bool(self.against)
        flags += ["--nofuse"] * (self.mode in benchmark.INFERENCE_MODES and not self.fused)
        flags += ["--unfused"] * self.unfused
        flags += [f"--peers {','.join(self.peers)}"] * bool(self.peers)
        flags += [f"--jit --precision {self.precision}"] * (self.table == "gpu")
        return " ".join(["keras-backbones benchmark", model, *flags])


def plan(only="*", gpu=False, tables=TABLES):
    """The rows to measure, and {model: why it is not measured} for the entries skipped."""
    registered = set(registry.list_models())
    skipped = {}
    available = peers.PEERS
    if "peers" in tables and importlib.util.find_spec("torch") is None:
        available = tuple(p for p in available if p not in peers.TORCH_PEERS)
        skipped[", ".join(peers.TORCH_PEERS)] = \
            'PyTorch is not installed here: pip install -e ".[parity]"'

    def wanted(model, application=None):
        if not fnmatch.fnmatch(model, only):
            return False
        if benchmark.parse_model(model)[0] not in registered:
            skipped[model] = "not registered yet"
            return False
        if application:
            try:
                benchmark.resolve_against(application)
            except ValueError:
                skipped[model] = f"not compared: this Keras has no keras.applications.{application}"
                return False
        return True

    rows = []
    if "fused" in tables:
        rows += [Row("fused", model, against=COUNTERPARTS[model][0],
                     difference=COUNTERPARTS[model][1], batch=batch, fused=True, unfused=True)
                 for model in FUSED if wanted(model, COUNTERPARTS[model][0])
                 for batch in FUSED_BATCHES]
    if "peers" in tables:
        rows += [Row("peers", model, batch=batch, fused=True, peers=available)
                 for model in PEERS if wanted(model) for batch in PEER_BATCHES]
    if "served" in tables:
        rows += [Row("served", model, "serve", batch=batch, fused=True, unfused=True)
                 for model in SERVED if wanted(model) for batch in SERVED_BATCHES]
    if "comparison" in tables:
        rows += [Row("comparison", model, mode, application, difference)
                 for model, (application, difference) in COUNTERPARTS.items()
                 if wanted(model, application) for mode in ("infer", "train")]
    compared = {row.model for row in rows if row.table == "comparison"}
    if "grouped" in tables:
        rows += [Row("grouped", model) for model in [REFERENCE, *GROUPED]
                 if model not in compared and wanted(model)]
    if "tflite" in tables:
        rows += [Row("tflite", model, "tflite", batch=1) for model in TFLITE if wanted(model)]
    if gpu and "gpu" in tables:
        rows += [Row("gpu", model, "train", batch=GPU_BATCH, jit=True, precision="mixed_float16")
                 for model in GPU_TRAINING if wanted(model)]
    return rows, skipped


def estimate_seconds(rows, options, macs, probe):
    """Roughly how long measuring the CPU `rows` takes (see ASSUMED_UTILIZATION).
    macs: {registered name: multiply-accumulates per image at its input size}; probe: a measured
    `benchmark.matmul_peak()`, whose fastest repetition is the machine's peak."""
    probe_seconds = min(probe.seconds)
    achieved = ASSUMED_UTILIZATION * probe.flops / probe_seconds
    total = 0.0
    for row in rows:
        if row.table == "gpu":
            continue
        rounds = 1 + options.warmup + row.repeats(options)
        passes = benchmark.TRAIN_FLOPS_FACTOR if row.mode == "train" else 1
        steps = 2 if row.mode == "tflite" else 1  # float32 and int8
        step_flops = 2 * macs[benchmark.parse_model(row.model)[0]] * row.batch * passes
        total += sum(SETUP_SECONDS[setup] + steps * rounds * step_flops / achieved
                     for setup in row.setups())
        if row.table in PEAK_TABLES:
            total += rounds * probe_seconds
    return total


def run_row(row, options):
    import tensorflow as tf

    with tf.device("/GPU:0" if row.table == "gpu" else "/CPU:0"):
        return benchmark.benchmark(row.model, mode=row.mode, batch=row.batch,
                                   against=row.against, jit=row.jit, precision=row.precision,
                                   repeats=row.repeats(options), warmup=options.warmup,
                                   peak=row.table in PEAK_TABLES, fused=row.fused,
                                   unfused=row.unfused, peers=row.peers,
                                   compile_budget=options.compile_budget)


# --- RESULTS.md ---------------------------------------------------------------------------------

def environment():
    """The machine and the software, as (key, value) rows."""
    import tensorflow as tf

    from keras_backbones.backend import KERAS_VERSION, LEGACY_KERAS

    first_cpu = open("/proc/cpuinfo").read().split("\n\n")[0]
    info = {key.strip(): value.strip() for key, value in
            (line.split(":", 1) for line in first_cpu.splitlines() if ":" in line)}
    cpu = (f"{info.get('model name', platform.processor())} (family {info.get('cpu family')}, "
           f"model {info.get('model')})")
    flags = info.get("flags", "").split()
    vector = ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "amx_tile")
                       if f in flags)
    memory = next((int(line.split()[1]) / 2 ** 20 for line in open("/proc/meminfo")
                   if line.startswith("MemTotal")), float("nan"))
    gpus = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
            for gpu in tf.config.list_physical_devices("GPU")]
    versions = [f"TensorFlow {tf.__version__}",
                f"{'tf-keras' if LEGACY_KERAS else 'Keras'} {KERAS_VERSION}"]
    try:
        versions.append(f"ai-edge-litert {importlib.metadata.version('ai-edge-litert')}")
    except importlib.metadata.PackageNotFoundError:
        pass
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1 (default)")
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores ({vector or 'no AVX2'}), {memory:.0f} GiB memory"),
        ("GPU", ", ".join(gpus) or "none"),
        ("OS", platform.platform()),
        ("Software", f"Python {platform.python_version()}, {', '.join(versions)}; "
                     f"TF_ENABLE_ONEDNN_OPTS={onednn}"),
    ]


def spread(values, digits):
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def escaped(text):
    """`text` in a Markdown table's cell: its pipes escaped (an error message may hold one)."""
    return text.replace("|", "\\|")


def ratio_cell(ratio, bold=False):
    """"1.234 (1.100-1.300)": the median of the per-round ratios and their range."""
    if ratio is None:
        return "-"
    median = f"**{ratio.median:.3f}**" if bold else f"{ratio.median:.3f}"
    return f"{median} ({spread(ratio.values, 3)})"


def goal_of(row):
    return DEPTHWISE_GOAL if row.model in DEPTHWISE else OTHERS_GOAL


def fused_table(results):
    """results: (row, result) of the fused rows: ours fused and unfused against theirs."""
    lines = ["| ours | keras.applications | batch | images/s fused / unfused / theirs | fused / "
             "theirs: median (range over rounds) | unfused / theirs | fused / unfused | goal "
             "(fused / theirs) | how the networks differ |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row, result in results:
        fused, unfused, theirs = result.contenders
        ratio = result.ratio("fused", "against")
        goal = goal_of(row)
        lines.append(
            f"| {row.model} | {row.against} | {row.batch} | {fused.images_per_s:.2f} / "
            f"{unfused.images_per_s:.2f} / {theirs.images_per_s:.2f} | "
            f"{ratio_cell(ratio, bold=True)} | {ratio_cell(result.ratio('ours', 'against'))} | "
            f"{ratio_cell(result.ratio('fused', 'ours'))} | >= {goal}: "
            f"{'met' if ratio.median >= goal else 'NOT MET'} | "
            f"{row.difference or 'not reviewed yet'} |")
    return lines + ["", *fused_summary(results)]


def fused_summary(results):
    """The goal: the median fused / theirs ratio over the depthwise rows, and over the others
    (both batches), each with its per-batch medians."""
    lines = []
    for kind, goal, in_group in (("depthwise", DEPTHWISE_GOAL, True),
                                 ("other", OTHERS_GOAL, False)):
        group = [(row, result.ratio("fused", "against").median) for row, result in results
                 if (row.model in DEPTHWISE) == in_group]
        if not group:
            continue
        median = statistics.median(value for _, value in group)
        batches = ", ".join(
            f"batch {batch} {statistics.median(v for row, v in group if row.batch == batch):.3f}"
            for batch in sorted({row.batch for row, _ in group}, reverse=True))
        names = ", ".join(dict.fromkeys(row.model for row, _ in group))
        lines.append(f"- Median fused / keras.applications over the {len(group)} {kind} rows "
                     f"({names}): **{median:.3f}** ({batches}); goal >= {goal}: "
                     f"**{'met' if median >= goal else 'NOT MET'}**.")
    return lines


def peers_table(results):
    """results: (row, result) of the peers rows: ours fused against each peer."""
    names = peers.PEERS
    lines = [f"| model | batch | images/s ours fused / {' / '.join(names)} | ours / {names[0]}: "
             f"median (range over rounds) | "
             + " | ".join(f"ours / {peer}" for peer in names[1:])
             + " | goal: every ratio >= 1 | how the peers ran |",
             "|---|---|---|" + "---|" * len(names) + "---|---|"]
    for row, result in results:
        ours = result.contenders[0]
        by_kind = {c.kind: c for c in result.contenders}
        rates = " / ".join(f"{by_kind[p].images_per_s:.2f}" if p in by_kind else "-"
                           for p in names)
        cells, short = [], []
        for peer in names:
            ratio = result.ratio("fused", peer)
            if ratio is None:
                cells.append(f"dropped: {escaped(result.dropped[peer])}"
                             if peer in result.dropped else "not measured")
            else:
                cells.append(ratio_cell(ratio, bold=True))
                if ratio.median < 1:
                    short.append(peer)
        measured = [p for p in names if p in by_kind]
        goal = f"NOT MET ({', '.join(short)})" if short else "met" if measured else "-"
        details = "; ".join(f"{c.kind}: {escaped(c.detail)}" for c in result.contenders
                            if c.detail)
        lines.append(f"| {row.model} | {row.batch} | {ours.images_per_s:.2f} / {rates} | "
                     f"{' | '.join(cells)} | {goal} | {details} |")
    return lines


def served_table(results):
    """results: (row, result) of the served rows: our SavedModel fused and unfused."""
    lines = ["| model | batch | requests/s fused (range) | requests/s unfused (range) | "
             "fused / unfused: median (range over rounds) |",
             "|---|---|---|---|---|"]
    for row, result in results:
        fused, unfused = result.contenders
        requests = [[rate / c.images for rate in c.rates] for c in (fused, unfused)]
        cells = [f"{statistics.median(r):.2f} ({spread(r, 2)})" for r in requests]
        lines.append(f"| {row.model} | {row.batch} | {' | '.join(cells)} | "
                     f"{ratio_cell(result.ratio('fused', 'ours'), bold=True)} |")
    return lines


def comparison_table(results):
    """results: (row, result) of the comparisons."""
    lines = ["| ours | keras.applications | mode | images/s ours / theirs | ratio ours / theirs: "
             "median (range over rounds) | bar >= 1 | GFLOP/s ours / theirs (of matmul peak) | "
             "GFLOPs/image ours / theirs | how the networks differ |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row, result in results:
        ours, theirs = result.contenders
        (ratio,) = result.ratios
        lines.append(
            f"| {row.model} | {row.against} | {row.mode} | {ours.images_per_s:.2f} / "
            f"{theirs.images_per_s:.2f} | **{ratio.median:.3f}** ({spread(ratio.values, 3)}) | "
            f"{'met' if ratio.median >= 1 else 'NOT MET'} | "
            f"{ours.gflops:.0f} ({result.utilization(ours):.0%}) / "
            f"{theirs.gflops:.0f} ({result.utilization(theirs):.0%}) | "
            f"{ours.image_flops / 1e9:.3g} / {theirs.image_flops / 1e9:.3g} | "
            f"{row.difference or 'not reviewed yet'} |")
    return lines


def utilization_table(results):
    """results: (row, result) of inference runs, ours first among each result's contenders."""
    reference = next((result.utilization(result.contenders[0]) for row, result in results
                      if row.model == REFERENCE), float("nan"))
    lines = [f"| model | family | input | GFLOPs/image | images/s (range) | GFLOP/s | of matmul "
             f"peak | relative to {REFERENCE}'s | bar >= 0.5 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row, result in results:
        ours = result.contenders[0]
        relative = result.utilization(ours) / reference
        bar = "met" if relative >= 0.5 else "NOT MET: see findings" if relative < 0.5 else \
            f"{REFERENCE} not measured"  # nan
        height, width, channels = result.shape
        family = registry.get_spec(benchmark.parse_model(row.model)[0]).family
        lines.append(f"| {row.model} | {family} | {height}x{width}x{channels} | "
                     f"{ours.image_flops / 1e9:.3g} | {ours.images_per_s:.1f} "
                     f"({spread(ours.rates, 1)}) | {ours.gflops:.0f} | "
                     f"{result.utilization(ours):.0%} | {relative:.2f} | {bar} |")
    return lines


def tflite_table(results):
    """results: (row, result) of tflite runs of ours alone."""
    lines = [f"| model | float32 ms | int8 ms | int8 / float32 latency: median (range over "
             f"rounds) | bar <= {TFLITE_BAR} | files and XNNPACK partitions |",
             "|---|---|---|---|---|---|"]
    for row, result in results:
        f32, i8 = result.contenders
        ratio = result.ratios[0]
        files = "; ".join(note.split(": ", 1)[1] for note in result.notes)
        lines.append(f"| {row.model} | {f32.latency_ms:.1f} | {i8.latency_ms:.1f} | "
                     f"**{ratio.median:.3f}** ({spread(ratio.values, 3)}) | "
                     f"{'met' if ratio.median <= TFLITE_BAR else 'NOT MET'} | {files} |")
    return lines


def gpu_table(results):
    lines = [f"Training step, batch {GPU_BATCH}, mixed_float16, XLA (`--jit`).", "",
             "| model | batch | images/s (range) | GFLOP/s | of float16 matmul peak |",
             "|---|---|---|---|---|"]
    for row, result in results:
        ours = result.contenders[0]
        lines.append(f"| {row.model} | {row.batch} | {ours.images_per_s:.1f} "
                     f"({spread(ours.rates, 1)}) | {ours.gflops:.0f} | "
                     f"{result.utilization(ours):.0%} |")
    return lines


def earlier_sections(text):
    """The line that a table carried over from `text` (an earlier RESULTS.md) goes under, and
    {title: its section's lines, from its "## " heading to the next one} of `text`'s measured
    part."""
    measured = text.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in text and END in text else ""
    run = MEASURED_BY.search(measured)
    which = f"the run of {run['when']} ({run['command']})" if run else "an earlier run"
    sections, title = {}, None
    for line in measured.split("\n"):
        if line.startswith("## "):
            title = line[3:]
        if title:
            sections.setdefault(title, []).append(line)
    return f"{KEPT_FROM}{which}; this run did not measure it.*", sections


def kept_section(title, earlier):
    """The section `title` as the earlier RESULTS.md has it (see earlier_sections), under a line
    naming the run that measured it (the line already there, if it was carried before), or "Not
    measured." where that file has no table under it."""
    kept_from, sections = earlier
    lines = sections.get(title, [])
    if not any(line.startswith("|") for line in lines):  # not measured then either
        return [f"## {title}", "", "Not measured.", ""]
    if any(line.startswith(KEPT_FROM) for line in lines):
        return lines
    return [*lines[:2], kept_from, "", *lines[2:]]


def measured_section(results, skipped, started, finished, loads, command, planned=None,
                     tables=TABLES, earlier=""):
    """The generated part of RESULTS.md. results: (row, result) in plan order; planned: how many
    rows the run has in all, when it has not measured them all yet; tables: those the run
    measures; the others are carried over from `earlier`, the RESULTS.md before the run."""
    def of(table):
        return [(row, result) for row, result in results if row.table == table]

    comparisons = of("comparison")
    inference = [(row, result) for row, result in comparisons if row.mode == "infer"]
    order = [REFERENCE, *GROUPED]
    grouped = sorted(((row, result) for row, result in inference + of("grouped")
                      if row.model in order), key=lambda item: order.index(item[0].model))
    peaks = [result.peak.gflops for row, result in results if result.peak and row.table != "gpu"]
    minutes = (finished - started).total_seconds() / 60
    subset = [table for table in TABLES if table in tables]
    only = (f": only the tables {', '.join(subset)}; each other table says which earlier run it "
            f"is kept from, or that it was not measured" if len(subset) < len(TABLES) else "")
    lines = [BEGIN, "", f"Measured {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC "
             f"({minutes:.0f} min) by `{command}`{only}.", ""]
    if planned is not None and len(results) < planned:
        lines += [f"**Partial: {len(results)} of the run's {planned} rows measured** (the run "
                  f"writes this file after every row; it was stopped, or is still running).", ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in environment()]
    lines += [f"| Load average (1 min) | {loads[0]:.2f} at the start, {loads[1]:.2f} at the end "
              f"({os.cpu_count()} cores) |"]
    if peaks:
        lines.append(f"| float32 matmul peak | {statistics.median(peaks):.0f} GFLOP/s, median over "
                     f"the rows (range {spread(peaks, 0)}) |")
    lines += ["", "## Method", "",
              "Each row is one `keras-backbones benchmark NAME [--mode train|tflite] "
              "[--against keras.applications.X]` (`keras_backbones/benchmark.py`): random "
              "weights and inputs, logits out, float32, no XLA. Every contender (our model, "
              "keras.applications', and a float32 matmul probe: 8 chained 1024x1024 "
              "`tf.matmul`s in a `tf.function`) runs once untimed (tracing) and the warm-up "
              "repetitions, then the timed repetitions in rounds, each contender once per round, "
              "the order reversed every other round. A ratio is taken within each round (the "
              "machine's noise slows both sides of a round alike); the figure is the median over "
              "rounds. Inference is `model(x, training=False)` in a `tf.function`; a training "
              "step is forward, backward and an SGD (momentum 0.9) update on sparse categorical "
              "cross-entropy in a `tf.function`, both models trained the same way. Achieved "
              "GFLOP/s = 2 x the multiply-accumulates that `keras_backbones.stats` counts on "
              "each model's own graph, x images/s (a training step counts 3 "
              "forward passes); \"of matmul peak\" divides it by the probe's GFLOP/s in the same "
              "rounds. TFLite: `keras_backbones.export.tflite` float32 and full int8 (calibrated "
              f"on {benchmark.TFLITE_CALIBRATION_SAMPLES} random images), `invoke()` at batch 1 "
              f"in the LiteRT interpreter with XNNPACK on {os.cpu_count()} threads.", "",
              "*Fused* is `keras_backbones.fuse(model)`: every BatchNormalization folded into the "
              "convolution before it (or made one scale-and-shift), the model `export` writes; "
              "*unfused* is the model as built, which the older tables, from \"Ours against "
              "keras.applications\" on, measure. "
              "The peers run the same random-weight network in the same rounds, each on "
              f"TensorFlow's {os.cpu_count()} threads: PyTorch eager is the variant's reference "
              "(the network the parity tests build, torchvision's or timm's) in a child process "
              "that reports the seconds of its forward pass itself (under "
              "`torch.inference_mode`, in the memory format, NCHW or channels_last, that was "
              "faster when the child started), `torch.compile` the same compiled by inductor "
              "(dropped with a note where compiling fails or runs past the budget), onnxruntime "
              "our fused model converted as `export --format onnx` converts it. Served: our "
              "model exported by `keras_backbones.export.savedmodel`, loaded with "
              "`tf.saved_model.load`; one request is one call of `serving_default` with the "
              "batch's images at the model's input size (RGB on 0..255, resized, cropped and "
              "normalized in the graph).", ""]
    earlier = earlier_sections(earlier)
    for table, title, write_table, rows in [
            ("fused", "Fused against keras.applications (inference, float32, CPU)", fused_table,
             of("fused")),
            ("peers", "Against PyTorch and onnxruntime (inference, float32, CPU)", peers_table,
             of("peers")),
            ("served", "Served: our SavedModel, fused against unfused (CPU)", served_table,
             of("served")),
            ("comparison", f"Ours against keras.applications (batch {BATCH}, float32, CPU)",
             comparison_table, comparisons),
            ("grouped",
             f"Grouped and depthwise convolutions: utilization (inference, batch {BATCH})",
             utilization_table, grouped),
            ("tflite", "TFLite (batch 1, XNNPACK)", tflite_table, of("tflite")),
            ("gpu", "GPU", gpu_table, of("gpu"))]:
        if table not in tables:
            lines += kept_section(title, earlier)
        elif rows:
            lines += [f"## {title}", "", *write_table(rows), ""]
        else:
            lines += [f"## {title}", "", "No GPU was available to this run: not measured."
                      if table == "gpu" else "Not measured.", ""]
    if skipped:
        lines += ["## Not measured", ""]
        lines += [f"- {model}: {why}" for model, why in skipped.items()] + [""]
    lines.append(END)
    return "\n".join(lines)


def write(path, section):
    """Replaces the text between the markers of `path` (or writes a new file), through a
    temporary file renamed into place: a run stopped mid-write leaves the old file whole."""
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
    else:
        before, after = "# Benchmarks\n\n", "\n\n## Findings\n\n(none written yet)\n"
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(before + section + after)
    os.replace(temporary, path)


# --- the command --------------------------------------------------------------------------------

def at_least(minimum):
    """An argparse type: an integer of at least `minimum`."""
    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}; got {value}")
        return value
    return parse


def parse_args(argv=None):
    def tables(text):
        names = [name.strip() for name in text.split(",")]
        if not all(name in TABLES for name in names):
            raise argparse.ArgumentTypeError(f"must be a comma-separated subset of "
                                             f"{', '.join(TABLES)}; got {text!r}")
        return tuple(names)

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="*", help="only the models matching this shell "
                        "pattern (RESULTS.md then holds only those)")
    parser.add_argument("--repeats", type=at_least(1), default=10,
                        help="timed rounds of the inference and TFLite rows")
    parser.add_argument("--train-repeats", type=at_least(1), default=5,
                        help="timed rounds of the training rows")
    parser.add_argument("--warmup", type=at_least(0), default=2,
                        help="untimed repetitions after the first call of each contender")
    parser.add_argument("--tables", type=tables, default=TABLES, metavar="T,...",
                        help=f"only these tables, comma separated: {', '.join(TABLES)} (default: "
                        "all; RESULTS.md keeps the others as they were)")
    parser.add_argument("--compile-budget", type=at_least(1),
                        default=peers.COMPILE_BUDGET, metavar="SECONDS",
                        help="how long torch.compile may take to build and compile a network "
                        "before its contender is dropped (a note says so)")
    parser.add_argument("--estimate", action="store_true",
                        help="print the rows and roughly how long they take; measure nothing")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "benchmarks" / "RESULTS.md")
    return parser.parse_args(argv)


def main(argv=None):
    options = parse_args(argv)
    import tensorflow as tf

    rows, skipped = plan(options.only, gpu=bool(tf.config.list_physical_devices("GPU")),
                         tables=options.tables)
    for model, why in skipped.items():
        print(f"skipped {model}: {why}")
    for row in rows:
        print(f"row: {row.command()}")
    (probe,) = benchmark.measure([benchmark.matmul_peak()], repeats=3, warmup=1)
    macs = {name: stats["macs"] for name, stats in registry.model_stats(
        sorted({benchmark.parse_model(row.model)[0] for row in rows})).items()}
    seconds = estimate_seconds(rows, options, macs, probe)
    print(f"{len(rows)} rows: about {seconds / 60:.0f} min on this machine (matmul peak "
          f"{probe.flops / min(probe.seconds) / 1e9:.0f} GFLOP/s now; steps assumed at "
          f"{ASSUMED_UTILIZATION:.0%} of it"
          f"{'; GPU rows not included' if any(r.table == 'gpu' for r in rows) else ''}).",
          flush=True)
    if options.estimate:
        return
    started, load_start = datetime.datetime.now(datetime.timezone.utc), os.getloadavg()[0]
    command = shlex.join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])])
    earlier = options.out.read_text() if options.out.exists() else ""  # the tables carried over
    results, finished = [], started
    for row in rows:  # RESULTS.md after every row: a stopped run keeps what it measured
        result = run_row(row, options)
        print("\n".join(benchmark.describe(result)), flush=True)
        results.append((row, result))
        finished = datetime.datetime.now(datetime.timezone.utc)
        write(options.out, measured_section(results, skipped, started, finished,
                                            (load_start, os.getloadavg()[0]), command,
                                            planned=len(rows), tables=options.tables,
                                            earlier=earlier))
    print(f"Wrote {options.out} ({(finished - started).total_seconds() / 60:.0f} min).")


if __name__ == "__main__":
    main()
