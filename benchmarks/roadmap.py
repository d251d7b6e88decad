"""What each step of ConvNeXt's roadmap costs on this CPU: the paper argues accuracy per FLOP,
this measures time.

    python benchmarks/roadmap.py [--rounds N] [--min-rounds 3] [--budget SECONDS] [--warmup 1]
        [--tflite] [--steps NAME,...]

For each step of `keras_backbones.models.convnext_roadmap.STEPS` at 224x224: its parameters,
MACs, fvcore's FLOPs (the paper's count, `stats.fvcore_flops`), activations, the paper's GFLOPs
and top-1, and the time of one inference at batch 1 and 16 of the model `export` writes (fused:
BatchNormalizations folded into the convolutions), in TensorFlow and with --tflite in TFLite
(XNNPACK), timed as benchmarks/activations.py times (`measure_variant`: untimed calls, then
interleaved rounds, the median and the range). Writes the table between the ROADMAP markers of
README.md and docs/guides/studies.md, and every number to benchmarks/roadmap.json. Measure on
a quiet machine.
"""

import argparse
import datetime
import importlib.util
import json
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

BEGIN = "<!-- BEGIN ROADMAP: written by benchmarks/roadmap.py -->"
END = "<!-- END ROADMAP -->"
PAGES = (ROOT / "README.md", ROOT / "docs" / "guides" / "studies.md")


def load_activations_script():
    spec = importlib.util.spec_from_file_location("benchmarks_activations", HERE / "activations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(rows, runtimes, step_names):
    """The Markdown table of measured `rows` (dicts of roadmap.json); `#` is the step's index."""
    timed = [k for k in ("tf/b1", "tf/b16", "tflite/b1", "tflite/b16")
             if k.split("/")[0] in runtimes]
    head = ["#", "step", "change", "params (M)", "GMACs", "GFLOPs (fvcore)", "paper GFLOPs",
            "paper top-1", "acts (M)", *[f"{k.replace('tf/', 'TF ').replace('tflite/', 'TFLite ')}"
                                         f" ms" for k in timed]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(step_names.index(row["step"])), f"`{row['step']}`", row["change"], f"{row['params'] / 1e6:.2f}",
                 f"{row['macs'] / 1e9:.3f}", f"{row['fvcore_flops'] / 1e9:.2f}",
                 f"{row['paper_gflops']:.1f}", f"{row['paper_top1']:.1f}",
                 f"{row['activations'] / 1e6:.2f}"]
        for k in timed:
            ms = row["ms"][k]
            cells.append(f"{ms['median']:.1f} ({ms['min']:.1f}-{ms['max']:.1f})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_between_markers(path, text):
    page = path.read_text()
    if BEGIN not in page or END not in page:
        raise ValueError(f"{path}: no {BEGIN!r} ... {END!r} markers to write the table between")
    before, rest = page.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{BEGIN}\n{text}\n{END}{after}")


def main(argv=None):
    from keras_backbones import registry, stats
    from keras_backbones.models import convnext_roadmap as roadmap

    activations = load_activations_script()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    run_script = activations.load_run_script()
    at_least = run_script.at_least
    parser.add_argument("--rounds", type=at_least(1), default=9)
    parser.add_argument("--min-rounds", type=at_least(1), default=3)
    parser.add_argument("--budget", type=float, default=8.0)
    parser.add_argument("--warmup", type=at_least(0), default=1)
    parser.add_argument("--tflite", action="store_true", help="time TFLite (XNNPACK) too")
    parser.add_argument("--steps", type=lambda text: text.split(","), default=list(roadmap.STEP_NAMES),
                        help="the steps to measure, comma-separated (default: all)")
    options = parser.parse_args(argv)
    runtimes = ("tf", "tflite") if options.tflite else ("tf",)
    environment = run_script.environment()
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = []
    for entry in roadmap.STEPS:
        if entry.name not in options.steps:
            continue
        print(f"{entry.name}", flush=True)
        variant = activations.measure_variant(
            "convnext_roadmap", options, lambda line: print(line, flush=True),
            overrides={"step": entry.name}, label=f"convnext_roadmap:{entry.name}",
            runtimes=runtimes)
        fvcore = stats.fvcore_flops(registry.create_model("convnext_roadmap", step=entry.name))
        rows.append({"step": entry.name, "change": entry.title, "params": variant.params,
                     "macs": variant.macs, "fvcore_flops": fvcore,
                     "activations": variant.activations, "paper_gflops": entry.paper_gflops,
                     "paper_top1": entry.paper_top1,
                     "ms": {k: {"median": variant.median_ms(k),
                                "min": 1000 * min(s), "max": 1000 * max(s), "rounds": len(s)}
                            for k, s in variant.seconds.items()}})
    finished = datetime.datetime.now(datetime.timezone.utc)
    machine = ", ".join(f"{k}: {v}" for k, v in dict(environment).items())
    note = (f"Measured {started:%Y-%m-%d %H:%M}-{finished:%H:%M} UTC by `python "
            f"benchmarks/roadmap.py` on {machine}; load average {os.getloadavg()[0]:.1f} at the "
            f"end. Times: one inference of the fused model (as `export` writes it) at batch 1 and "
            f"16, median of up to {options.rounds} rounds (range).")
    text = table(rows, runtimes, roadmap.STEP_NAMES) + "\n\n" + note
    for page in PAGES:
        replace_between_markers(page, text)
    (HERE / "roadmap.json").write_text(json.dumps(
        {"started": started.isoformat(), "finished": finished.isoformat(),
         "machine": dict(environment), "rows": rows}, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
