"""Do activations predict inference time better than FLOPs? The RegNet paper's claim, measured.

    python benchmarks/activations.py [--out DIR] [--families regnet mobile] [--rounds N]
        [--min-rounds 3] [--budget SECONDS] [--warmup 1] [--variants NAME,...] [--quick]

Radosavovic et al. 2020 ("Designing Network Design Spaces", section 4, complexity analysis)
find that "activations", the size of the output tensors of all conv layers, predict a network's
run time on GPUs better than its FLOPs. This script tests that on this machine's CPU. For each
variant of a group (GROUPS: the 24 RegNetX/RegNetY, and a group of mobile networks) at its
default input size it counts the parameters, FLOPs (2 x `keras_backbones.stats.count_macs`)
and activations (`keras_backbones.stats.count_activations`, per image), and times inference at
batch 1 and 16 in two runtimes:

- tf: `model(x, training=False)` in a `tf.function` (`keras_backbones.benchmark.infer_contender`)
  on the model `export` writes, its BatchNormalizations folded (`keras_backbones.fuse`);
- tflite: that model converted once to float32 TFLite (`keras_backbones.export.tflite.convert`),
  `invoke()` in the LiteRT interpreter with XNNPACK on every core
  (`keras_backbones.benchmark.tflite_interpreter`); batch 16 resizes a second interpreter's
  input (`resize_tensor_input`), and both batches' outputs are checked against TensorFlow's.

Every measurement (variant, runtime, batch) is called once untimed (tracing, XNNPACK's weight
packing) and `--warmup` times more, then timed in rounds: each round calls the variant's four
measurements once, in an order reversed every other round, and a measurement stops after
`--min-rounds` once its timed seconds pass `--budget` (the big RegNets at batch 16 take seconds
a call), else after `--rounds`. The figure is the median over rounds, with the range. Then, per
group, runtime and batch: the Pearson correlation of time with activations and with FLOPs (on
the values, as the paper plots them, and on their logarithms, where every variant weighs alike),
Spearman's rank correlation, Williams' test of the difference of the two dependent Pearson
correlations (they share the times) where SciPy is installed, and a one-line verdict.

Writes to --out (default benchmarks/): ACTIVATIONS.md (the text between its markers is
generated; the rest, the findings, kept as written), activations.json (every number) and
activations.png (time against FLOPs and against activations, log-log), all rewritten after every
variant, so a stopped run keeps what it measured. --quick measures 3 small variants per group for
2 rounds and writes to a temporary directory unless --out is given: a smoke run, not the study.
Measure on a quiet machine.
"""

import argparse
import dataclasses
import datetime
import gc
import importlib.util
import json
import math
import os
import pathlib
import shlex
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from keras_backbones import benchmark, registry  # noqa: E402

BEGIN = "<!-- BEGIN MEASURED: written by benchmarks/activations.py; edit outside these markers -->"
END = "<!-- END MEASURED -->"
TITLE = "# Activations against FLOPs as predictors of inference time"
FINDINGS = "\n\n## Findings\n\n(none written yet: the verdicts above are the script's)\n"

# The mobile group: the depthwise and shuffle families at their default input sizes, two or
# more sizes of a family where it has them, from 0.08 to 3.7 GFLOPs. Smallest first within a
# family; the order is the order of measurement.
MOBILE = ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
          "mobilenetv4_conv_small", "mobilenetv4_conv_medium", "shufflenet_v1_g3_x1_0",
          "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x2_0", "ghostnet_100",
          "mnasnet_small", "mnasnet1_0", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2",
          "efficientnet_b3"]
FAMILIES = ("regnet", "mobile")
QUICK = {"regnet": ["regnetx_002", "regnety_002", "regnetx_004"],
         "mobile": ["mobilenet_v3_small", "shufflenet_v2_x0_5", "mnasnet_small"]}
RUNTIMES = ("tf", "tflite")
BATCHES = (1, 16)
# Output agreement of TFLite with TensorFlow: max |difference| / max |TensorFlow's output|.
# Above it the batch-16 interpreter (resized) is not running the same network: the row says so.
AGREEMENT = 1e-3
SIGNIFICANCE = 0.05  # Williams' test, two-sided


def groups(families=FAMILIES):
    """{group: [variants]}: the 24 RegNets as the registry lists them (X then Y, smallest first),
    and MOBILE."""
    found = {"regnet": registry.list_models("regnet*"), "mobile": list(MOBILE)}
    return {family: found[family] for family in families}


def group_of(variant):
    return "regnet" if variant.startswith("regnet") else "mobile"


def subgroup_of(variant):
    """regnetx, regnety or mobile: the plot's colours and the correlation table's extra rows."""
    return variant[:7] if variant.startswith("regnet") else "mobile"


def key(runtime, batch):
    return f"{runtime}/b{batch}"


KEYS = [key(runtime, batch) for runtime in RUNTIMES for batch in BATCHES]


@dataclasses.dataclass
class Variant:
    """One variant's counts and measurements. seconds: {key(runtime, batch): per call, one a
    round}; disagreement: {key: max |TFLite - TF| / max |TF|} and partitions: {key: how many
    partitions XNNPACK made of the graph}, of the tflite measurements."""

    name: str
    group: str
    input_size: list
    params: int
    macs: int
    activations: int
    seconds: dict = dataclasses.field(default_factory=dict)
    disagreement: dict = dataclasses.field(default_factory=dict)
    tflite_mib: float = float("nan")
    partitions: dict = dataclasses.field(default_factory=dict)
    build_s: float = 0.0
    conversion_s: float = 0.0
    measure_s: float = 0.0

    @property
    def flops(self):
        return 2 * self.macs

    def metric(self, name):
        return self.activations if name == "activations" else self.flops

    def median_ms(self, k):
        return 1000 * statistics.median(self.seconds[k])


# --- correlation ----------------------------------------------------------------------------------

def ranks(values):
    """1-based ranks of `values`, ties given their average rank (as scipy.stats.rankdata)."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    result = np.empty(len(values))
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        result[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return result


def pearson(x, y, scipy=None):
    """Pearson's r of x and y; nan for fewer than 3 points or a constant side. scipy: use
    scipy.stats (default: where it is installed), else NumPy."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    if has_scipy() if scipy is None else scipy:
        from scipy import stats

        return float(stats.pearsonr(x, y)[0])
    dx, dy = x - x.mean(), y - y.mean()
    return float(np.clip((dx @ dy) / math.sqrt((dx @ dx) * (dy @ dy)), -1.0, 1.0))


def spearman(x, y, scipy=None):
    """Spearman's rank correlation: Pearson's r of the ranks (ties averaged)."""
    if len(x) < 3 or np.ptp(np.asarray(x, float)) == 0 or np.ptp(np.asarray(y, float)) == 0:
        return float("nan")
    if has_scipy() if scipy is None else scipy:
        from scipy import stats

        return float(stats.spearmanr(x, y)[0])
    return pearson(ranks(x), ranks(y), scipy=False)


def has_scipy():
    return importlib.util.find_spec("scipy") is not None


def williams_p(r_a, r_b, r_ab, n):
    """Two-sided p of Williams' t test (Steiger 1980, eq. 7) that r_a = corr(time, a) and
    r_b = corr(time, b) are equal, given r_ab = corr(a, b), n points; None without SciPy, nan
    where undefined (n < 4, or a perfect correlation)."""
    if not has_scipy():
        return None
    from scipy import stats

    determinant = 1 - r_a ** 2 - r_b ** 2 - r_ab ** 2 + 2 * r_a * r_b * r_ab
    mean = (r_a + r_b) / 2
    denominator = 2 * (n - 1) / (n - 3) * determinant + mean ** 2 * (1 - r_ab) ** 3 if n > 3 \
        else 0.0
    if not (n > 3 and denominator > 0) or any(map(math.isnan, (r_a, r_b, r_ab))):
        return float("nan")
    t = (r_a - r_b) * math.sqrt((n - 1) * (1 + r_ab) / denominator)
    return float(2 * stats.t.sf(abs(t), n - 3))


def correlate(times, activations, flops):
    """{"n", "activations" and "flops": {"pearson", "pearson_log", "spearman"} of time with
    each, "between": Pearson's r of activations with FLOPs, "williams_p"} of one group, runtime
    and batch."""
    times, activations, flops = (np.asarray(v, dtype=float) for v in (times, activations, flops))
    result = {"n": int(len(times))}
    for name, metric in (("activations", activations), ("flops", flops)):
        result[name] = {"pearson": pearson(metric, times),
                        "pearson_log": pearson(np.log(metric), np.log(times)),
                        "spearman": spearman(metric, times)}
    result["between"] = pearson(activations, flops)
    result["williams_p"] = williams_p(result["activations"]["pearson"],
                                      result["flops"]["pearson"], result["between"], len(times))
    return result


def which(activations_r, flops_r):
    """1 where activations' r is the higher at 2 digits, -1 where FLOPs', 0 where they tie."""
    a, f = round(activations_r, 2), round(flops_r, 2)
    return (a > f) - (a < f)


def verdict(correlation):
    """One line from `correlate`'s result: which of the two predicts time better by Pearson's r
    on the values (the paper's), compared at 2 digits; whether the difference is significant
    (Williams' test, where SciPy is installed); and whether the log-log r and Spearman's
    agree. Where neither r is positive, neither predicts time, whichever is higher."""
    act, flo = correlation["activations"], correlation["flops"]
    a, f = act["pearson"], flo["pearson"]
    if math.isnan(a) or math.isnan(f):
        return f"too few variants to tell (n={correlation['n']})"
    better = which(a, f)
    line = ("neither predicts time (no positive correlation)" if max(a, f) <= 0 else
            {1: "activations predict time better than FLOPs",
             -1: "FLOPs predict time better than activations",
             0: "activations and FLOPs predict time equally well"}[better])
    line += f": Pearson r {a:.2f} vs {f:.2f}"
    p = correlation["williams_p"]
    if better and p is not None and not math.isnan(p):
        line += (f" (significant: Williams' test p={p:.2g})" if p < SIGNIFICANCE
                 else f" (not significant: Williams' test p={p:.2g})")
    others = [f"{label} {act[name]:.2f} vs {flo[name]:.2f}"
              + ("" if which(act[name], flo[name]) == better else " disagrees")
              for name, label in (("pearson_log", "log-log r"), ("spearman", "Spearman"))]
    return f"{line}; {', '.join(others)}; n={correlation['n']}"


def correlations(variants):
    """[(group, runtime, batch, correlate(...))] over every group (and regnetx, regnety where
    both RegNet kinds are there), runtime and batch; groups of under 3 measured variants are
    left out."""
    subgroups = {}
    for variant in variants:
        subgroups.setdefault(variant.group, []).append(variant)
    kinds = {subgroup_of(v.name) for v in variants if v.group == "regnet"}
    if kinds == {"regnetx", "regnety"}:
        for kind in sorted(kinds):
            subgroups[kind] = [v for v in variants if subgroup_of(v.name) == kind]
    rows = []
    for group, members in subgroups.items():
        for runtime in RUNTIMES:
            for batch in BATCHES:
                measured = [v for v in members if key(runtime, batch) in v.seconds]
                if len(measured) < 3:
                    continue
                rows.append((group, runtime, batch, correlate(
                    [v.median_ms(key(runtime, batch)) for v in measured],
                    [v.activations for v in measured], [v.flops for v in measured])))
    return rows


# --- measuring ------------------------------------------------------------------------------------

def timed_rounds(contenders, rounds, min_rounds, budget, untimed):
    """Calls each contender `untimed` times, then times them round by round, the order reversed
    every other round (as `keras_backbones.benchmark.measure`); a contender leaves after
    `min_rounds` once its timed seconds pass `budget`, or after `rounds`. Their `seconds` hold
    one time a round."""
    for contender in contenders:
        for _ in range(untimed):
            contender.step()
        contender.seconds = []
    for round_index in range(rounds):
        order = contenders if round_index % 2 == 0 else contenders[::-1]
        for contender in order:
            done = len(contender.seconds)
            if done >= min_rounds and sum(contender.seconds) >= budget:
                continue
            start = time.perf_counter()
            contender.step()
            contender.seconds.append(time.perf_counter() - start)
    return contenders


def disagreement(ours, reference):
    reference = np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(np.asarray(ours, np.float64) - reference))
                 / max(float(np.max(np.abs(reference))), 1e-12))


def measure_variant(name, options, log, *, overrides=None, label=None, runtimes=RUNTIMES):
    """Builds (with `overrides` of its registered arguments), counts, converts and times `name`
    in `runtimes`; a Variant named `label` (default: `name`)."""
    from keras_backbones import fusion, stats
    from keras_backbones.backend import clear_session
    from keras_backbones.export import tflite

    started = time.perf_counter()
    clear_session()
    shape = benchmark.input_shape(name, None)
    built = benchmark.build_ours(name, shape, overrides)
    variant = Variant(name=label or name, group=group_of(name), input_size=list(shape),
                      params=stats.trainable_params(built), macs=stats.count_macs(built),
                      activations=stats.count_activations(built))
    model = fusion.fuse(built)
    del built
    variant.build_s = time.perf_counter() - started

    started = time.perf_counter()
    content = b""
    if "tflite" in runtimes:
        with benchmark.quiet():  # the converter prints the SavedModel it writes on the way
            content = tflite.convert(model, quantize="none")
    variant.conversion_s = time.perf_counter() - started
    variant.tflite_mib = len(content) / 2 ** 20
    log(f"  {variant.name}: {variant.params / 1e6:.1f}M params, {variant.flops / 1e9:.2f} GFLOPs, "
        f"{variant.activations / 1e6:.2f}M activations; built and counted in "
        f"{variant.build_s:.0f} s, converted in {variant.conversion_s:.0f} s "
        f"({variant.tflite_mib:.1f} MiB)")

    started = time.perf_counter()
    contenders, runners, inputs = [], {}, {}
    for batch in BATCHES:
        inputs[batch] = benchmark.random_batch(shape, batch)
        contenders.append(benchmark.infer_contender(
            key("tf", batch), model, batch, False, variant.flops, "", kind="tf"))
    for batch in BATCHES if "tflite" in runtimes else ():
        runner, _ = benchmark.tflite_interpreter(content)
        (detail,) = runner.get_input_details()
        if batch != 1:
            runner.resize_tensor_input(detail["index"], [batch, *shape])
            runner.allocate_tensors()
        runner.set_tensor(detail["index"], inputs[batch].numpy())
        runners[batch] = runner
        variant.partitions[key("tflite", batch)] = tflite.xnnpack_partitions(runner)
        contenders.append(benchmark.Contender(
            label=key("tflite", batch), step=runner.invoke, images=batch,
            flops=batch * variant.flops, image_flops=variant.flops, kind="tflite"))
    del content
    # The first call of each (untimed: tracing, XNNPACK's weight packing) gives the outputs
    reference = {contender.images: contender.step() for contender in contenders[:len(BATCHES)]}
    for batch, runner in runners.items():
        runner.invoke()
        (output,) = runner.get_output_details()
        k = key("tflite", batch)
        variant.disagreement[k] = disagreement(runner.get_tensor(output["index"]),
                                               reference[batch])
        if variant.disagreement[k] > AGREEMENT:
            log(f"  WARNING {name} {k}: TFLite's outputs differ from TensorFlow's by "
                f"{variant.disagreement[k]:.2g} of their range")
    del reference
    timed_rounds(contenders, options.rounds, options.min_rounds, options.budget, options.warmup)
    variant.seconds = {c.label: c.seconds for c in contenders}
    variant.measure_s = time.perf_counter() - started
    for contender in contenders:  # release the compiled functions and the interpreters
        contender.step = None
    del contenders, runners, model, inputs
    gc.collect()
    clear_session()
    log(f"  {variant.name}: " + ", ".join(
        f"{k} {variant.median_ms(k):.1f} ms ({cell_range(variant.seconds[k])}, "
        f"{len(variant.seconds[k])} rounds)" for k in KEYS if k in variant.seconds)
        + f"; measured in {variant.measure_s:.0f} s")
    return variant


def cell_range(seconds):
    return f"{1000 * min(seconds):.1f}-{1000 * max(seconds):.1f}"


# --- the report ---------------------------------------------------------------------------------

def load_run_script():
    """benchmarks/run.py, for its description of the machine (`environment()`)."""
    spec = importlib.util.spec_from_file_location("benchmarks_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def names_of(group, variants):
    return [v for v in variants if v.group == group]


def variant_table(members):
    lines = ["| variant | input | params (M) | GFLOPs | activations (M) | activations / FLOP "
             "(x1000) | TF b1 ms | TF b16 ms | TFLite b1 ms | TFLite b16 ms | TFLite MiB | "
             "XNNPACK partitions b1 / b16 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for v in members:
        cells = []
        for k in KEYS:
            if k not in v.seconds:
                cells.append("-")
                continue
            flag = " **outputs differ**" if v.disagreement.get(k, 0) > AGREEMENT else ""
            cells.append(f"{v.median_ms(k):.1f} ({cell_range(v.seconds[k])}){flag}")
        partitions = " / ".join(str(v.partitions.get(key("tflite", b), "-")) for b in BATCHES)
        lines.append(f"| {v.name} | {v.input_size[0]}x{v.input_size[1]} | {v.params / 1e6:.2f} | "
                     f"{v.flops / 1e9:.3f} | {v.activations / 1e6:.2f} | "
                     f"{1000 * v.activations / v.flops:.2f} | {' | '.join(cells)} | "
                     f"{v.tflite_mib:.1f} | {partitions} |")
    return lines


def correlation_table(rows):
    lines = ["| group | runtime | batch | n | Pearson r: activations / FLOPs | log-log r: "
             "activations / FLOPs | Spearman: activations / FLOPs | r(activations, FLOPs) | "
             "Williams' p |",
             "|---|---|---|---|---|---|---|---|---|"]
    for group, runtime, batch, c in rows:
        a, f = c["activations"], c["flops"]
        cells = [{1: f"**{a[m]:.3f}** / {f[m]:.3f}", -1: f"{a[m]:.3f} / **{f[m]:.3f}**",
                  0: f"{a[m]:.3f} / {f[m]:.3f}"}[which(a[m], f[m])]
                 for m in ("pearson", "pearson_log", "spearman")]
        p = c["williams_p"]
        lines.append(f"| {group} | {runtime} | {batch} | {c['n']} | {' | '.join(cells)} | "
                     f"{c['between']:.3f} | {'-' if p is None or math.isnan(p) else f'{p:.2g}'} |")
    return lines


def verdicts(rows):
    """["group, runtime, batch N: verdict"] of the groups (not their regnetx / regnety parts)."""
    return [f"{group}, {runtime}, batch {batch}: {verdict(c)}" for group, runtime, batch, c in rows
            if group in FAMILIES]


def measured_section(variants, rows, started, finished, loads, command, options, planned,
                     environment):
    minutes = (finished - started).total_seconds() / 60
    lines = [BEGIN, "", f"Measured {started:%Y-%m-%d %H:%M} to {finished:%H:%M} UTC "
             f"({minutes:.0f} min) by `{command}`"
             + (": **a --quick smoke run, not the study**" if options.quick else "") + ".", ""]
    if len(variants) < planned:
        lines += [f"**Partial: {len(variants)} of the run's {planned} variants measured** (the "
                  f"run writes this file after every variant; it was stopped, or is still "
                  f"running).", ""]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in environment]
    lines += [f"| Load average (1 min) | {loads[0]:.2f} at the start, {loads[1]:.2f} at the end "
              f"({os.cpu_count()} cores) |", "",
              "## Method", "",
              "Radosavovic et al. 2020 (\"Designing Network Design Spaces\", section 4) find "
              "that activations, the size of the output tensors of all conv layers, predict run "
              "time better than FLOPs. Here, per variant at its default input size, random "
              "weights (each BatchNormalization's moving statistics those of its inputs on 4 "
              "random images, as training leaves them: `keras_backbones.benchmark."
              "trained_batch_norms`; then folded: `keras_backbones.fuse`, the model `export` "
              "writes): parameters, "
              "GFLOPs = 2 x `keras_backbones.stats.count_macs`, activations = "
              "`keras_backbones.stats.count_activations` (output elements of every convolution "
              "and linear layer, per image), and the time of one call at batch 1 and 16 in "
              f"TensorFlow (`model(x, training=False)` in a `tf.function`, float32, no XLA, "
              f"{os.cpu_count()} threads) and in TFLite (float32, converted once by "
              f"`keras_backbones.export.tflite.convert`, `invoke()` in the LiteRT interpreter "
              f"with XNNPACK on {os.cpu_count()} threads; batch 16 by `resize_tensor_input` on "
              f"a second interpreter, its outputs checked against TensorFlow's to {AGREEMENT:g} "
              f"of their range). Each measurement is called once untimed, then {options.warmup} "
              f"warm-up call(s), then timed in rounds (each round calls a variant's four "
              f"measurements, in an order reversed every other round) until {options.rounds} "
              f"rounds, or after {options.min_rounds} once its timed seconds pass "
              f"{options.budget:g} s. Times are ms per call (of 16 images at batch 16): the "
              "median over rounds, the range in brackets.", "",
              "Correlations, per group, runtime and batch, of the median times with "
              "activations and with FLOPs: Pearson's r on the values (as the paper plots them: "
              "the biggest variants weigh most), on their logarithms (every variant alike) and "
              "Spearman's rank correlation; the better of each pair in bold. Williams' test "
              "(Steiger 1980) asks whether the two Pearson r, which share the times, differ "
              "(two-sided p; '-' without SciPy). The verdicts compare Pearson's r on the values, "
              "rounded to 2 digits, and say where the other two disagree. "
              "`activations.png`, beside this file, plots them; `activations.json` holds every "
              "round's time.", ""]
    if rows:
        lines += ["## Verdicts", "", *[f"- {line}" for line in verdicts(rows)], ""]
        lines += ["## Correlations", "", *correlation_table(rows), "",
                  "![Inference time against FLOPs and against activations, log-log, per runtime "
                  "and batch](activations.png)", ""]
    else:
        lines += ["## Correlations", "", "No group has 3 measured variants yet: no "
                  "correlations.", ""]
    for group in FAMILIES:
        members = names_of(group, variants)
        if members:
            title = ("RegNetX and RegNetY" if group == "regnet" else
                     f"Mobile networks ({len(members)} variants)")
            lines += [f"## {title}", "", *variant_table(members), ""]
    flagged = [(v.name, k, d) for v in variants for k, d in v.disagreement.items()
               if d > AGREEMENT]
    if flagged:
        lines += ["## TFLite outputs that differ from TensorFlow's", "",
                  *[f"- {name} {k}: {d:.2g} of the output's range" for name, k, d in flagged], ""]
    lines.append(END)
    return "\n".join(lines)


def write_text(path, text):
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_markdown(path, section):
    """Replaces the text between the markers of `path` (or writes a new file)."""
    text = path.read_text() if path.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
    else:
        before, after = f"{TITLE}\n\n", FINDINGS
    write_text(path, before + section + after)


def without_nan(value):
    """`value` with every float NaN made None, in nested dicts and lists (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(v) for v in value]
    return None if isinstance(value, float) and math.isnan(value) else value


def write_json(path, variants, rows, meta):
    data = {**meta, "variants": [
        {**dataclasses.asdict(variant), "flops": variant.flops,
         "median_ms": {k: variant.median_ms(k) for k in variant.seconds}}
        for variant in variants],
        "correlations": [{"group": group, "runtime": runtime, "batch": batch, **c,
                          "verdict": verdict(c)} for group, runtime, batch, c in rows]}
    write_text(path, json.dumps(without_nan(data), indent=1, allow_nan=False) + "\n")


COLOURS = {"regnetx": ("tab:blue", "o"), "regnety": ("tab:orange", "s"),
           "mobile": ("tab:green", "^")}


def short_name(name):
    return ("X" + name[8:] if name.startswith("regnetx_") else "Y" + name[8:]
            if name.startswith("regnety_") else name)


def plot(path, variants, rows):
    """Time against FLOPs (top row) and against activations (bottom), log-log, one column per
    runtime and batch; Pearson's r of each group in the titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    two_and_five = matplotlib.ticker.FuncFormatter(  # the minor ticks' labels
        lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else "")
    by_cell = {(g, r, b): c for g, r, b, c in rows}
    figure, axes = plt.subplots(2, len(KEYS), figsize=(5 * len(KEYS), 9.5), squeeze=False)
    for column, (runtime, batch) in enumerate((r, b) for r in RUNTIMES for b in BATCHES):
        k = key(runtime, batch)
        for row, metric in enumerate(("flops", "activations")):
            axis = axes[row][column]
            for kind, (colour, marker) in COLOURS.items():
                members = [v for v in variants if subgroup_of(v.name) == kind and k in v.seconds]
                if not members:
                    continue
                scale = 1e9 if metric == "flops" else 1e6
                xs = [v.metric(metric) / scale for v in members]
                ys = [v.median_ms(k) for v in members]
                axis.scatter(xs, ys, c=colour, marker=marker, s=22, label=kind, zorder=3)
                for x, y, v in zip(xs, ys, members):
                    axis.annotate(short_name(v.name), (x, y), fontsize=5.5, alpha=0.8,
                                  xytext=(3, -2), textcoords="offset points")
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.margins(0.08)
            for ticks in (axis.xaxis, axis.yaxis):  # 0.2, not 2 x 10^-1
                ticks.set_major_formatter(plain)
                ticks.set_minor_formatter(two_and_five)
            axis.grid(True, which="both", alpha=0.25)
            axis.set_xlabel("GFLOPs per image" if metric == "flops" else
                            "activations per image (millions)")
            axis.set_ylabel(f"ms per call (batch {batch})")
            rs = [f"{g} r={by_cell[(g, runtime, batch)][metric]['pearson']:.2f}"
                  for g in FAMILIES if (g, runtime, batch) in by_cell]
            axis.set_title(f"{'TensorFlow' if runtime == 'tf' else 'TFLite XNNPACK'}, batch "
                           f"{batch}, against {'FLOPs' if metric == 'flops' else 'activations'}"
                           + (f"\nPearson {', '.join(rs)}" if rs else ""), fontsize=9)
            if row == 0 and column == 0:
                axis.legend(fontsize=8)
    figure.suptitle(f"Inference time against FLOPs and activations, {os.cpu_count()} CPU cores",
                    fontsize=11)
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp.png")
    figure.savefig(temporary, dpi=110)
    plt.close(figure)
    os.replace(temporary, path)


# --- the command --------------------------------------------------------------------------------

def parse_args(argv=None):
    count = load_run_script().at_least
    def names(text):
        found = [name.strip() for name in text.split(",") if name.strip()]
        registered = set(registry.list_models())
        unknown = [name for name in found if name not in registered]
        if unknown or not found:
            raise argparse.ArgumentTypeError(f"not registered: {', '.join(unknown) or text!r}")
        return found

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=None,
                        help="where ACTIVATIONS.md, activations.json and activations.png go "
                        "(default: benchmarks/; with --quick a temporary directory)")
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES),
                        help="the groups to measure (default: both)")
    parser.add_argument("--variants", type=names, default=None, metavar="NAME,...",
                        help="only these variants (a RegNet goes to the regnet group, any other "
                        "to mobile); overrides --families and --quick's choice")
    parser.add_argument("--rounds", type=count(1), default=None,
                        help="timed rounds at most (default 9; --quick 2)")
    parser.add_argument("--min-rounds", type=count(1), default=None,
                        help="timed rounds at least, however long they take (default 3; "
                        "--quick 2)")
    parser.add_argument("--budget", type=float, default=8.0, metavar="SECONDS",
                        help="a measurement stops after --min-rounds once its timed seconds "
                        "pass this (default 8)")
    parser.add_argument("--warmup", type=count(0), default=1,
                        help="untimed calls after the first (default 1)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {', '.join(QUICK['regnet'] + QUICK['mobile'])}, "
                        "2 rounds, into a temporary directory unless --out is given")
    options = parser.parse_args(argv)
    options.rounds = options.rounds or (2 if options.quick else 9)
    options.min_rounds = min(options.min_rounds or (2 if options.quick else 3), options.rounds)
    if options.out is None:
        options.out = (pathlib.Path(tempfile.gettempdir()) / "keras_backbones_activations_quick"
                       if options.quick else HERE)
    if options.variants:
        options.plan = options.variants
    elif options.quick:
        options.plan = [name for family in options.families for name in QUICK[family]]
    else:
        options.plan = [name for family in options.families for name in groups([family])[family]]
    return options


def main(argv=None):
    options = parse_args(argv)
    import tensorflow as tf

    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # each measurement's new tf.function: retracing notices
    try:
        run(options, argv)
    finally:
        tf.get_logger().setLevel(level)


def run(options, argv):
    import tensorflow as tf

    run_script = load_run_script()
    environment = run_script.environment()
    clock = time.perf_counter()

    def log(line):
        elapsed = time.perf_counter() - clock
        print(f"[{int(elapsed // 60):3d}:{int(elapsed % 60):02d}] {line}", flush=True)

    command = shlex.join(["python", "benchmarks/activations.py", *(
        sys.argv[1:] if argv is None else argv)])
    planned = options.plan
    log(f"{len(planned)} variants: {', '.join(planned)}; up to {options.rounds} rounds (at "
        f"least {options.min_rounds}, budget {options.budget:g} s a measurement), warm-up "
        f"{options.warmup}; TensorFlow {tf.__version__}, {os.cpu_count()} cores; writing to "
        f"{options.out}")
    options.out.mkdir(parents=True, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()[0]
    variants = []
    for number, name in enumerate(planned, 1):
        log(f"{name} ({number}/{len(planned)}, {group_of(name)})")
        variants.append(measure_variant(name, options, log))
        rows = correlations(variants)
        finished = datetime.datetime.now(datetime.timezone.utc)
        meta = {"command": command, "started": started.isoformat(),
                "finished": finished.isoformat(), "quick": options.quick,
                "options": {k: getattr(options, k) for k in
                            ("rounds", "min_rounds", "budget", "warmup")},
                "planned": planned, "machine": dict(environment),
                "load_average": [load_start, os.getloadavg()[0]], "cores": os.cpu_count(),
                "scipy": has_scipy()}
        write_markdown(options.out / "ACTIVATIONS.md", measured_section(
            variants, rows, started, finished, (load_start, os.getloadavg()[0]), command,
            options, len(planned), environment))
        write_json(options.out / "activations.json", variants, rows, meta)
        plot(options.out / "activations.png", variants, rows)
    for line in verdicts(rows):
        log(line)
    log(f"Wrote {options.out / 'ACTIVATIONS.md'}, activations.json and activations.png")


if __name__ == "__main__":
    main()
