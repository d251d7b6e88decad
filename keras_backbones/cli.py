"""The `keras-backbones` command.

    keras-backbones list [PATTERN]     name, family, parameters and FLOPs of each variant
    keras-backbones info NAME          a variant's metadata and its model summary
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("family", None, "list: only the variants of this family.")
flags.DEFINE_boolean("summary", True, "info: print the Keras model summary too.")

USAGE = __doc__.strip()


def cmd_list(args):
    from keras_backbones import registry

    pattern = args[0] if args else "*"
    names = registry.list_models(pattern, family=FLAGS.family)
    if not names:
        families = sorted({registry.get_spec(n).family for n in registry.list_models()})
        raise app.UsageError(f"No model matches {pattern!r}"
                             + (f" in family {FLAGS.family!r}" if FLAGS.family else "")
                             + f". Families: {', '.join(families)}.")
    stats = registry.model_stats(names)
    rows = [("name", "family", "params", "GMACs", "GFLOPs")]
    for name in names:
        counted = stats[name]
        rows.append((name, registry.get_spec(name).family, f"{counted['params']:,}",
                     f"{counted['macs'] / 1e9:.4g}", f"{2 * counted['macs'] / 1e9:.4g}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))))
    print(f"\n{len(names)} variants. FLOPs = 2 x multiply-accumulates of conv/dense/matmul "
          "layers at the default input size.")


def cmd_info(args):
    from keras_backbones import registry

    if len(args) != 1:
        raise app.UsageError("info takes one model name: keras-backbones info resnet50")
    info = registry.model_info(args[0])
    paper = info["paper"]
    pre = info["preprocessing"]
    lines = [
        ("name", info["name"]),
        ("family", info["family"]),
        ("paper", f"{paper['title']} ({paper['year']})"
                  + (f", arXiv:{paper['arxiv']}" if paper["arxiv"] else "")),
        ("reference", f"{info['reference']['source']}: {info['reference']['name']}"),
        ("input size", "x".join(str(d) for d in info["input_size"])),
        ("preprocessing", f"mean {pre['mean']}, std {pre['std']}, {pre['interpolation']}, "
                          f"crop_pct {pre['crop_pct']}"),
        ("parameters", f"{info['params']:,} trainable"
                       + (f" (paper: {info['paper_params']:,})" if info["paper_params"] else "")),
        ("MACs", f"{info['macs']:,} ({2 * info['macs'] / 1e9:.3f} GFLOPs)"),
        ("defaults", ", ".join(f"{k}={v!r}" for k, v in info["default_kwargs"].items()) or "-"),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        print(f"{key.ljust(width)}  {value}")
    if FLAGS.summary:
        print()
        registry.create_model(args[0]).summary()


COMMANDS = {"list": cmd_list, "info": cmd_info}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise app.UsageError(USAGE if len(argv) < 2 else
                             f"Unknown command {argv[1]!r}. Commands: {', '.join(COMMANDS)}.\n\n{USAGE}")
    try:
        COMMANDS[argv[1]](argv[2:])
    except ValueError as error:  # bad names and arguments: the message says what is allowed
        print(f"keras-backbones: error: {error}", file=sys.stderr)
        return 2
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()
