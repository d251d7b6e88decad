"""The standard benchmark table: rewrites the measured part of benchmarks/RESULTS.md.

    PYTHONPATH=. python benchmarks/run.py [--only 'resnet*'] [--out benchmarks/RESULTS.md]

Each row is one `keras_backbones.benchmark.benchmark` run (the `keras-backbones benchmark`
command): our model and keras.applications' measured alternately, with the float32 matmul
probe in the same rounds. The text between RESULTS.md's two markers is generated; everything
outside them (the findings) is kept as written. About 10 minutes on 2 CPU cores. Measure on a
quiet machine: the load average is recorded with the results.
"""

import argparse
import dataclasses
import datetime
import fnmatch
import importlib.metadata
import os
import pathlib
import platform
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from keras_backbones import benchmark  # noqa: E402

BEGIN = "<!-- BEGIN MEASURED: written by benchmarks/run.py; edit outside these markers -->"
END = "<!-- END MEASURED -->"
BATCH = 16



@dataclasses.dataclass(frozen=True)
class Comparison:
    name: str
    application: str  # in keras.applications
    mode: str
    repeats: int
    warmup: int = 2
    overrides: tuple = ()  # constructor arguments of ours, as (key, value) pairs

    @property
    def label(self):
        return benchmark.label_of(self.name, dict(self.overrides))


# VGG16's steps are 4x ResNet50's, so fewer of them. resnet50(variant="v1") is the layer-for-
# layer counterpart of keras.applications.ResNet50: the like-for-like test of the port.
COMPARISONS = [
    Comparison("resnet50", "ResNet50", "infer", 10),
    Comparison("resnet50", "ResNet50", "infer", 10, overrides=(("variant", "v1"),)),
    Comparison("resnet50", "ResNet50", "train", 5),
    Comparison("vgg16", "VGG16", "infer", 6, warmup=1),
    Comparison("vgg16", "VGG16", "train", 3, warmup=1),
    Comparison("resnetv2_50", "ResNet50V2", "infer", 10),
    Comparison("resnetv2_50", "ResNet50V2", "train", 5),
]
# Inference utilization (batch 16, each model's input size) of the families keras.applications
# lacks; ResNet50, VGG16 and ResNet50V2 come from the comparisons.
UTILIZATION = ["resnet18", "resnext50_32x4d", "seresnet50", "eca_resnet50", "cbam_resnet50",
               "wide_resnet50_2", "alexnet", "lenet5"]
UTILIZATION_REPEATS = 8
# float32 and int8 TFLite at batch 1.
TFLITE = ["resnet18", "resnet50"]
TFLITE_REPEATS = 10
REFERENCE = "resnet50"  # utilization below half of its is investigated (issue 9)


def environment():
    """The machine and the software, as (key, value) rows."""
    import tensorflow as tf

    from keras_backbones.backend import KERAS_VERSION, LEGACY_KERAS

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo")
                  if line.startswith("flags")), [])
    vector = ", ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags)
    memory = next((int(line.split()[1]) / 2 ** 20 for line in open("/proc/meminfo")
                   if line.startswith("MemTotal")), float("nan"))
    versions = [f"TensorFlow {tf.__version__}",
                f"{'tf-keras' if LEGACY_KERAS else 'Keras'} {KERAS_VERSION}"]
    for package in ("ai-edge-litert",):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1 (default)")
    gpus = tf.config.list_physical_devices("GPU")
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} cores ({vector or 'no AVX2'}), {memory:.0f} GiB memory"),
        ("GPU", ", ".join(g.name for g in gpus) or "none"),
        ("OS", platform.platform()),
        ("Software", f"Python {platform.python_version()}, " + ", ".join(versions)
         + f"; TF_ENABLE_ONEDNN_OPTS={onednn}"),
    ]


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def fmt_range(values, digits=2):
    return f"{min(values):.{digits}f}-{max(values):.{digits}f}"


def comparison_rows(results):
    footnotes = {}
    lines = ["| ours | keras.applications | mode | ours images/s | theirs images/s | ratio ours / "
             "theirs: median (range of rounds) | ours GFLOP/s (of peak) | theirs GFLOP/s (of peak) "
             "| GFLOPs/image ours / theirs | |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for entry, result in results:
        ours, theirs = result.contenders
        (ratio,) = result.ratios
        note = ""
        difference = benchmark.DIFFERENCES.get((entry.label, entry.application))
        if difference:
            note = f"[{footnotes.setdefault(difference, len(footnotes) + 1)}]"
        lines.append(
            f"| {entry.label} | {entry.application} | {entry.mode} | {ours.images_per_s:.2f} | "
            f"{theirs.images_per_s:.2f} | **{ratio.median:.3f}** ({fmt_range(ratio.values, 3)}) | "
            f"{ours.gflops:.0f} ({result.utilization(ours):.0%}) | "
            f"{theirs.gflops:.0f} ({result.utilization(theirs):.0%}) | "
            f"{ours.image_flops / 1e9:.3g} / {theirs.image_flops / 1e9:.3g} | {note} |")
    lines.append("")
    lines += [f"[{n}] {text}." for text, n in footnotes.items()]
    return lines


def utilization_rows(entries):
    """entries: (label, result, contender) of inference runs."""
    from keras_backbones import registry

    reference = next((result.utilization(c) for name, result, c in entries if name == REFERENCE),
                     float("nan"))
    lines = [f"| model | family | input | GFLOPs/image | images/s (range) | GFLOP/s | of matmul "
             f"peak | relative to {REFERENCE}'s | |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, result, c in entries:
        utilization = result.utilization(c)
        relative = utilization / reference
        flag = "below half: see findings" if relative < 0.5 else ""  # False for nan
        height, width, channels = result.shape
        family = registry.get_spec(name.split("(")[0]).family  # the label's registered name
        lines.append(f"| {name} | {family} | {height}x{width}x{channels} | "
                     f"{c.image_flops / 1e9:.3g} | {c.images_per_s:.1f} ({fmt_range(c.rates, 1)}) | "
                     f"{c.gflops:.0f} | {utilization:.0%} | {relative:.2f} | {flag} |")
    return lines


def tflite_rows(results):
    lines = ["| model | float32 ms | int8 ms | int8 / float32 latency: median (range of rounds) "
             "| files and XNNPACK partitions |", "|---|---|---|---|---|"]
    for result in results:
        contenders = result.contenders
        latency_ratios = [r for r in result.ratios if r.of == "latency"]
        for (f32, i8), ratio in zip(zip(contenders[::2], contenders[1::2]), latency_ratios):
            label = f32.label.rsplit(" TFLite", 1)[0]
            files = "; ".join(n.split(": ", 1)[1] for n in result.notes
                              if n.startswith(f"{label} TFLite"))
            lines.append(f"| {label} | {f32.latency_ms:.1f} | {i8.latency_ms:.1f} | "
                         f"**{ratio.median:.3f}** ({fmt_range(ratio.values, 3)}) | {files} |")
        for r in result.ratios:
            if r.of == "throughput":
                lines.append(f"| {r.label} | | | **{r.median:.3f}** ({fmt_range(r.values, 3)}) | |")
    return lines


def measured_section(results, started, finished, loads, seconds):
    comparisons, utilization, tflite = results
    peaks = [r.peak.gflops for _, r in comparisons + utilization if r.peak]
    peaks += [r.peak.gflops for r in tflite if r.peak]
    infer = [(entry.label, r, r.contenders[0]) for entry, r in comparisons
             if entry.mode == "infer"]
    infer += [(name, r, r.contenders[0]) for name, r in utilization]
    lines = [BEGIN, "", f"Measured {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC "
             f"({seconds / 60:.1f} minutes) by `python benchmarks/run.py`.", ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in environment()]
    lines += [f"| Load average (1 min) | {loads[0]:.2f} at the start, {loads[1]:.2f} at the end "
              f"({os.cpu_count()} cores; other work on the machine slows every contender of a "
              "round alike) |",
              f"| float32 matmul peak | median {statistics.median(peaks):.0f} GFLOP/s over the runs "
              f"(range {min(peaks):.0f}-{max(peaks):.0f}), measured inside each run's rounds |", ""]
    lines += ["## Method", "",
              "Every row is `keras-backbones benchmark NAME --batch 16 [--mode train] "
              "[--against keras.applications.X]` (`keras_backbones/benchmark.py`): random "
              "weights, random inputs, logits out; one untimed call (tracing) and 2 untimed "
              "warm-up repetitions, then timed repetitions in rounds in which our model, "
              "keras.applications' and a float32 matmul probe (8 chained 1024x1024 `tf.matmul`s "
              "in a `tf.function`) each run once, the order reversed every other round. The ratio "
              "is ours / theirs images/s within each round; the table gives its median. "
              "Inference is `model(x, training=False)` in a `tf.function`; a training step is "
              "one SGD (momentum 0.9) step on sparse categorical cross-entropy in a "
              "`tf.function`. Achieved GFLOP/s = 2 x the multiply-accumulates counted by "
              "`keras_backbones.stats.count_macs` (convolutions, dense layers and the custom "
              "layers' own counts; keras.applications models counted on their own graphs the "
              "same way) x images/s, a training step counting 3 forward passes; \"of peak\" "
              "divides it by the matmul probe's GFLOP/s in the same rounds. No XLA "
              "(`--jit` off), float32.", ""]
    lines += [f"## Ours against keras.applications (batch {BATCH}, 224x224, float32, CPU)", ""]
    lines += comparison_rows(comparisons) + [""]
    lines += [f"## Utilization (inference, batch {BATCH}, each model's input size)", ""]
    lines += utilization_rows(infer) + [""]
    lines += ["## TFLite (batch 1, LiteRT interpreter, XNNPACK on "
              f"{os.cpu_count()} threads; int8 = full integer, calibrated on "
              f"{benchmark.TFLITE_CALIBRATION_SAMPLES} random images)", ""]
    lines += tflite_rows(tflite) + [""]
    lines += ["## GPU", ""]
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        lines += ["A GPU is present, but this script measures the CPU table only; run "
                  "`keras-backbones benchmark resnet50 --mode train --batch 128 --jit "
                  "--precision mixed_float16` for the GPU figures.", ""]
    else:
        lines += ["No GPU machine was available to this session; not measured.", ""]
    lines.append(END)
    return "\n".join(lines)


def write(path, section):
    """Replaces the text between the markers of `path` (or writes a new file)."""
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
    else:
        before, after = "# Benchmarks\n\n", "\n\n## Findings\n\n(not written yet)\n"
    path.write_text(before + section + after)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="*", help="run only the rows of models matching this "
                        "shell pattern (the file then holds only those)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "benchmarks" / "RESULTS.md")
    options = parser.parse_args()
    selected = lambda name: fnmatch.fnmatch(name, options.only)  # noqa: E731

    started, start, load_start = utc_now(), time.time(), os.getloadavg()[0]
    comparisons, utilization, tflite = [], [], []
    for entry in COMPARISONS:
        if selected(entry.name):
            result = benchmark.benchmark(entry.name, mode=entry.mode, batch=BATCH,
                                         against=entry.application, repeats=entry.repeats,
                                         warmup=entry.warmup, overrides=dict(entry.overrides))
            print("\n".join(benchmark.describe(result)), flush=True)
            comparisons.append((entry, result))
    for name in filter(selected, UTILIZATION):
        result = benchmark.benchmark(name, batch=BATCH, repeats=UTILIZATION_REPEATS)
        print("\n".join(benchmark.describe(result)), flush=True)
        utilization.append((name, result))
    for name in filter(selected, TFLITE):
        result = benchmark.benchmark(name, mode="tflite", repeats=TFLITE_REPEATS)
        print("\n".join(benchmark.describe(result)), flush=True)
        tflite.append(result)
    section = measured_section((comparisons, utilization, tflite), started,
                               utc_now(), (load_start, os.getloadavg()[0]),
                               time.time() - start)
    write(options.out, section)
    print(f"Wrote {options.out}")


if __name__ == "__main__":
    main()
