"""TFMOT: quantization-aware training, magnitude pruning, pruning-preserving QAT and weight
clustering, each fine-tuned on the recipe's data and converted to a full-int8 TFLite file.

TFMOT works only with tf-keras: `optimize()` runs this module in a child process with
TF_USE_LEGACY_KERAS=1 (`python -m keras_backbones.export.optimize ...`), which rebuilds the
model by its registered name, loads the portable weights (written by either Keras) and writes
the artifact, its sidecar and a JSON result that the parent reads.

    qat      quantize_model's default 8-bit scheme; layers TFMOT has no QuantizeConfig for
             (the package's custom layers without one) stay float and are listed with why
    prune    prune_low_magnitude, PolynomialDecay from 0 to the target sparsity over the
             fine-tuning, then strip_pruning; reports the measured sparsity (and writes a
             float32 file too, `-float32.tflite`: gzip measures pruning there)
    pqat     prune, then QAT with the pruning-preserving scheme (the zeros survive)
    cluster  cluster_weights (k-means++ centroids), fine-tune, strip_clustering (float32 file
             too, as for prune)
"""

import json
import os
import subprocess
import sys

METHODS = ("qat", "prune", "pqat", "cluster")


def optimize(name, weights_path, method, out_path, *, recipe=None, labels=None, epochs=3,
             learning_rate=1e-4, sparsity=0.5, clusters=16, timeout=3600):
    """Runs `method` in a tf-keras child process; returns its result dict."""
    if method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}; got {method!r}.")
    if not 0.0 < sparsity < 1.0:
        raise ValueError(f"--sparsity must be in (0, 1); got {sparsity}.")
    if clusters < 2:
        raise ValueError(f"--clusters must be at least 2; got {clusters}.")
    result_path = out_path + ".result.json"
    command = [sys.executable, "-m", "keras_backbones.export.optimize", "--name", name,
               "--weights", weights_path, "--method", method, "--out", out_path,
               "--epochs", str(epochs), "--learning_rate", str(learning_rate),
               "--sparsity", str(sparsity), "--clusters", str(clusters)]
    if recipe:
        command += ["--recipe", recipe]
    if labels:
        command += ["--labels", labels]
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    done = subprocess.run(command, env=env, timeout=timeout)
    if done.returncode != 0 or not os.path.exists(result_path):
        raise RuntimeError(f"optimize --method {method} failed in its tf-keras process "
                           f"(exit {done.returncode}); its output is above.")
    with open(result_path) as f:
        result = json.load(f)
    os.remove(result_path)
    return result


# --- the tf-keras side ----------------------------------------------------------------------

def _float_layers(model):
    """{layer name: why it stays float} for layers TFMOT's default scheme cannot quantize."""
    import tensorflow_model_optimization as tfmot

    registry = tfmot.quantization.keras.default_8bit.Default8BitQuantizeRegistry()
    reasons = {}
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer" or registry.supports(layer):
            continue
        reasons[layer.name] = (f"{layer.__class__.__name__}: TFMOT has no QuantizeConfig for it; "
                               "it computes in float during QAT (int8 conversion still "
                               "quantizes it from calibration)")
    return reasons


def _annotated(model, skip):
    """A clone of `model` with every layer but `skip` annotated for quantization."""
    import tensorflow_model_optimization as tfmot

    from keras_backbones.backend import keras

    annotate = tfmot.quantization.keras.quantize_annotate_layer

    def clone(layer):
        copy = layer.__class__.from_config(layer.get_config())
        return copy if layer.name in skip else annotate(copy)

    annotated = keras.models.clone_model(model, clone_function=clone)
    annotated.set_weights(model.get_weights())
    return annotated


def _fine_tune(model, deployable, epochs, learning_rate, callbacks=()):
    from keras_backbones.backend import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    if epochs:
        model.fit(deployable.dataset("train").repeat(), epochs=epochs,
                  steps_per_epoch=_steps(deployable), callbacks=list(callbacks), verbose=2)
    return model


def _steps(deployable):
    from keras_backbones.data import sources

    source = sources.load(deployable.recipe.data, "train")
    return max(1, (source.num_examples or 6400) // 64)


def sparsity_of(model):
    """Share of exact zeros in the kernels of conv and dense layers."""
    zeros = total = 0
    for weight in model.weights:
        if "kernel" in weight.name and len(weight.shape) > 1:
            values = weight.numpy()
            zeros += int((values == 0).sum())
            total += values.size
    return zeros / max(total, 1)


def _prune(model, deployable, epochs, learning_rate, sparsity):
    import tensorflow_model_optimization as tfmot

    steps = _steps(deployable) * max(epochs, 1)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=sparsity, begin_step=0,
        end_step=max(1, int(0.7 * steps)), frequency=max(1, steps // 20))
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    _fine_tune(pruned, deployable, max(epochs, 1), learning_rate,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return tfmot.sparsity.keras.strip_pruning(pruned)


def _run(args):
    import tensorflow_model_optimization as tfmot

    from keras_backbones import files
    from keras_backbones.export import artifacts, deployable as deployable_lib

    deployable = deployable_lib.load(args.name, args.weights, recipe=args.recipe,
                                     labels_path=args.labels)
    model = deployable.model
    extra = {"method": args.method}
    if args.method == "qat":
        floats = _float_layers(model)
        model = tfmot.quantization.keras.quantize_apply(_annotated(model, set(floats)))
        model = _fine_tune(model, deployable, args.epochs, args.learning_rate)
        extra["float_layers"] = floats
    elif args.method == "prune":
        model = _prune(model, deployable, args.epochs, args.learning_rate, args.sparsity)
        extra["sparsity"] = sparsity_of(model)
    elif args.method == "pqat":
        pruned = _prune(model, deployable, args.epochs, args.learning_rate, args.sparsity)
        floats = _float_layers(pruned)
        model = tfmot.quantization.keras.quantize_apply(
            _annotated(pruned, set(floats)),
            tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())
        model = _fine_tune(model, deployable, args.epochs, args.learning_rate)
        extra.update(sparsity=sparsity_of(pruned), float_layers=floats)
    else:  # cluster
        clustering = tfmot.clustering.keras
        clustered = clustering.cluster_weights(
            model, number_of_clusters=args.clusters,
            cluster_centroids_init=clustering.CentroidInitialization.KMEANS_PLUS_PLUS)
        _fine_tune(clustered, deployable, args.epochs, args.learning_rate)
        model = clustering.strip_clustering(clustered)
        extra["clusters"] = args.clusters
    # Pruning's and clustering's savings show in a float file too: TFMOT's own measure is the
    # gzip size of float32 files, so they get one beside the int8 file.
    outputs = [(args.out, "int8")]
    if args.method in ("prune", "cluster"):
        outputs.append((args.out.removesuffix(".tflite") + "-float32.tflite", "none"))
    for path, quantize in outputs:
        artifacts.write_tflite(deployable, path, quantize, model=model)
        with open(path + ".json") as f:
            meta = json.load(f)
        files.write_bytes(path + ".json", json.dumps({**meta, **extra}, indent=1).encode())
    files.write_bytes(args.out + ".result.json", json.dumps(
        {"artifacts": [path for path, _ in outputs], **extra}, indent=1).encode())


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--out", required=True)
    parser.add_argument("--recipe")
    parser.add_argument("--labels")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--sparsity", type=float, default=0.5)
    parser.add_argument("--clusters", type=int, default=16)
    args = parser.parse_args(argv)
    from keras_backbones.backend import LEGACY_KERAS

    if not LEGACY_KERAS:
        parser.error("runs under tf-keras only: set TF_USE_LEGACY_KERAS=1 (optimize() does).")
    _run(args)


if __name__ == "__main__":
    main()
