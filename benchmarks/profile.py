"""Where an inference step's time goes: the share of each kind of op, after TensorFlow's
graph optimizations (oneDNN's fused convolutions included).

    PYTHONPATH=. python benchmarks/profile.py NAME [NAME ...] [--batch 16] [--repeats 5]
        [--unfused] [--against keras.applications.X]

NAME is as `keras-backbones benchmark` takes it (fused unless --unfused). The model's inference
function is frozen (weights as constants), run in a TensorFlow session with full tracing, and
each op's time is summed by op type over the repetitions (the first run, which optimizes the
graph, is left out). Ops that run in parallel on the cores are each counted in full, so the
shares are of the summed op time, not of wall time. Prints one table per model: op type, its
share, milliseconds per step, and how many such ops run per step.
"""

import argparse
import collections
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def frozen_graph(model, batch):
    """The GraphDef of model(x, training=False) at `batch`, weights folded in as constants;
    with its input and output tensor names."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import \
        convert_variables_to_constants_v2

    spec = tf.TensorSpec((batch, *model.inputs[0].shape[1:]), tf.float32)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    frozen = convert_variables_to_constants_v2(concrete)
    return (frozen.graph.as_graph_def(), frozen.inputs[0].name,
            [output.name for output in frozen.outputs])


def op_times(graph_def, input_name, output_names, shape, repeats):
    """{op type: (total microseconds over `repeats` steps, ops of that type per step)}."""
    import numpy as np
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    totals, counts = collections.Counter(), collections.Counter()
    images = np.random.default_rng(0).uniform(size=shape).astype(np.float32)
    with tf.compat.v1.Session(graph=graph) as session:
        session.run(output_names, {input_name: images})  # optimizes the graph
        for step in range(repeats):
            options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
            metadata = tf.compat.v1.RunMetadata()
            session.run(output_names, {input_name: images}, options=options,
                        run_metadata=metadata)
            for device in metadata.step_stats.dev_stats:
                for node in device.node_stats:
                    kind = node.timeline_label.split("(")[0].split(" = ")[-1].split()[0] \
                        if " = " in node.timeline_label else node.node_name.split(":")[0]
                    if kind in ("_SOURCE", "_Arg", "_Retval", "Const", "NoOp"):
                        continue
                    totals[kind] += node.all_end_rel_micros
                    if step == 0:
                        counts[kind] += 1
    return {kind: (totals[kind], counts[kind]) for kind in totals}


def table(label, times, repeats):
    total = sum(micros for micros, _ in times.values())
    lines = [f"{label}: {total / repeats / 1000:.1f} ms of op time per step",
             "| op | share | ms per step | ops per step |", "|---|---|---|---|"]
    for kind, (micros, count) in sorted(times.items(), key=lambda item: -item[1][0]):
        if micros / total < 0.005:
            continue
        lines.append(f"| {kind} | {micros / total:.1%} | {micros / repeats / 1000:.2f} | "
                     f"{count} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", metavar="NAME")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--unfused", action="store_true", help="profile the model as built")
    parser.add_argument("--against", help="also profile this keras.applications model")
    args = parser.parse_args(argv)

    from keras_backbones import benchmark, fusion

    for text in args.models:
        name, overrides = benchmark.parse_model(text)
        shape = benchmark.input_shape(name, None)
        models = [(f"{text} ({'as built' if args.unfused else 'fused'})",
                   benchmark.build_ours(name, shape, overrides))]
        if not args.unfused:
            models[0] = (models[0][0], fusion.fuse(models[0][1]))
        if args.against:
            application = benchmark.resolve_against(args.against)
            models.append((f"keras.applications.{application}",
                           benchmark.build_theirs(application, shape)))
        for label, model in models:
            graph_def, input_name, output_names = frozen_graph(model, args.batch)
            times = op_times(graph_def, input_name, output_names, (args.batch, *shape),
                             args.repeats)
            print(table(f"{label}, batch {args.batch}", times, args.repeats), "\n", flush=True)


if __name__ == "__main__":
    main()
