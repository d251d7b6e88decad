"""`keras-backbones benchmark` and benchmarks/run.py: options, statistics, reports and tables,
not timings. What runs, runs LeNet-5 for one repetition, so the file takes well under a minute."""

import argparse
import datetime
import importlib.util
import math
import os
import pathlib
import subprocess
import sys

import pytest

from keras_backbones import benchmark, cli, peers

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = dict(batch=2, repeats=1, warmup=0)


def load_run_script():
    spec = importlib.util.spec_from_file_location("benchmarks_run", ROOT / "benchmarks" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


table = load_run_script()


def contender(label, seconds, images=16, image_flops=1e9):
    return benchmark.Contender(label=label, step=None, images=images, flops=images * image_flops,
                               image_flops=image_flops, seconds=list(seconds))


def result(name, contenders, ratios=(), mode="infer", peak_seconds=(1.0,), notes=()):
    peak = contender("peak", peak_seconds, images=1, image_flops=100e9) if peak_seconds else None
    return benchmark.Result(name=name, mode=mode, batch=contenders[0].images, shape=(224, 224, 3),
                            jit=False, precision="float32", repeats=len(contenders[0].seconds),
                            warmup=0, contenders=list(contenders), ratios=list(ratios), peak=peak,
                            notes=list(notes))


# --- options ------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    (dict(name="resnet5O"), r"Unknown model name 'resnet5O'.*Closest names: .*resnet50"),
    (dict(mode="eval"), r"--mode must be one of infer, train, tflite, serve; got 'eval'"),
    (dict(batch=0), r"--batch must be at least 1; got 0"),
    (dict(size=0), r"--size must be a positive number of pixels; got 0"),
    (dict(repeats=0), r"--repeats must be at least 1; got 0"),
    (dict(warmup=-1), r"--warmup must be 0 or more; got -1"),
    (dict(precision="fp16"), r"--precision must be one of float32, mixed_float16"),
    (dict(mode="tflite", jit=True), r"--jit and --precision do not apply"),
    (dict(against="keras.applications.ResNet51"),
     r"must name a keras.applications model; got 'keras.applications.ResNet51'.*"
     r"Closest: .*keras.applications.ResNet50"),
    (dict(against="torchvision.models.resnet50"), r"must name a keras.applications model"),
    (dict(peers="torch,tensorrt"), r"--peers must be a comma-separated subset of torch, "
     r"torch.compile, onnxruntime; got 'torch,tensorrt'"),
    (dict(peers="torch,,onnxruntime"), r"--peers must be a comma-separated subset"),
    (dict(peers=["onnxruntime"], mode="train"), r"--peers compare float32 inference"),
    (dict(peers="onnxruntime", precision="mixed_bfloat16"), r"--peers compare float32 inference"),
    (dict(peers="torch"), r"lenet5 has no code reference \(it follows the paper"),
    (dict(unfused=True, mode="train"), r"--unfused compares the fused and unfused model's "
     r"inference \(--mode infer or serve\); --mode train runs the model as built"),
    (dict(mode="serve", jit=True), r"--mode serve exports our float32 model"),
    (dict(mode="serve", against="ResNet50"), r"--jit, --precision and --against do not apply"),
    (dict(compile_budget=0), r"--compile_budget must be a positive number of seconds; got 0"),
])
def test_bad_options_are_value_errors_that_say_what_is_allowed(options, message):
    options = {"name": "lenet5", **options}
    with pytest.raises(ValueError, match=message):
        benchmark.check_options(**options)


@pytest.mark.parametrize("target", ["keras.applications.ResNet50",
                                    "tf.keras.applications.ResNet50", "ResNet50"])
def test_against_accepts_the_applications_name_with_or_without_its_module(target):
    assert benchmark.check_options("lenet5", against=target) == "ResNet50"


def test_a_model_with_constructor_arguments_is_parsed_and_labelled_the_same_way():
    assert benchmark.parse_model("resnet50") == ("resnet50", {})
    assert benchmark.parse_model("resnet50(variant='v1', se=True)") == \
        ("resnet50", {"variant": "v1", "se": True})
    assert benchmark.label_of("resnet50", {"variant": "v1"}) == "resnet50(variant='v1')"
    assert benchmark.label_of(*benchmark.parse_model("resnet50(variant='v1')")) == \
        "resnet50(variant='v1')"


@pytest.mark.parametrize("text", ["resnet50('v1')", "resnet50(variant=v1)", "resnet50(**x)",
                                  "resnet50(variant='v1'"])
def test_a_model_text_that_is_not_a_call_of_literals_is_refused(text):
    with pytest.raises(ValueError, match=r"is not a model: expected a registered name"):
        benchmark.parse_model(text)


def test_flops_are_counted_inside_nested_models_too():
    from keras_backbones.backend import keras

    inputs = keras.Input((8, 8, 3))
    nested = keras.Sequential([keras.layers.Conv2D(4, 1, name="inner")], name="block")
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1, name="outer")(nested(inputs)))
    assert benchmark.counted_flops(model)[0] == 2 * 8 * 8 * (3 * 4 + 4 * 2)


def test_benchmarked_models_have_norm_statistics_that_match_their_activations():
    """As a trained network's: random statistics that do not match them let the activations
    of a deep squeeze-and-excitation network grow to thousands, where float32 rounding decides
    its outputs (TFLite and TensorFlow then disagree by 1e-2 of their range)."""
    import numpy as np

    from keras_backbones import registry

    shape = (224, 224, 3)
    model = registry.create_model("regnety_016", input_shape=shape, classifier_activation=None)
    momenta = [norm.momentum for norm in benchmark.batch_norms(model)]
    calibration = benchmark.random_batch(shape, 4, seed=7)
    benchmark.trained_batch_norms(model, calibration=calibration)
    assert [norm.momentum for norm in benchmark.batch_norms(model)] == momenta
    # each norm's moving statistics are its inputs': inference is the training-mode pass
    inference = model(calibration, training=False).numpy()
    training = model(calibration, training=True).numpy()
    np.testing.assert_allclose(inference, training, atol=1e-4 * np.abs(training).max())
    logits = model(benchmark.random_batch(shape, 1), training=False).numpy()
    assert np.abs(logits).max() < 10  # near unit scale (with random statistics: hundreds)


def test_size_below_the_models_minimum_names_the_minimum():
    with pytest.raises(ValueError, match="smaller than the network's minimum of 32x32"):
        benchmark.benchmark("lenet5", size=28, **TINY)


# --- statistics ---------------------------------------------------------------------------------

def test_a_throughput_ratio_is_taken_within_each_round_and_its_median_is_the_figure():
    ours, theirs = contender("ours", [1.0, 2.0, 1.0]), contender("theirs", [2.0, 2.0, 1.5])
    ratio = benchmark.Ratio("ours / theirs", a=ours, b=theirs)
    assert ratio.values == [2.0, 1.0, 1.5]  # images/s ours over theirs = seconds theirs over ours
    assert ratio.median == 1.5
    assert ratio.best == 1.5  # fastest over fastest: 1.5 s / 1.0 s
    assert ours.images_per_s == 16.0 and ours.rates == [16.0, 8.0, 16.0]
    assert ours.gflops == 16.0  # 16 images x 1 GFLOP in the median 1 s
    assert ours.latency_ms == 1000 / 16


def test_a_latency_ratio_is_below_1_when_a_is_faster():
    int8, float32 = contender("int8", [0.2, 0.4], images=1), contender("f32", [0.5, 0.5], images=1)
    ratio = benchmark.Ratio("int8 / float32 latency", a=int8, b=float32, of="latency")
    assert ratio.values == [0.4, 0.8] and ratio.median == pytest.approx(0.6)


def test_utilization_is_achieved_over_the_probes_gflops():
    ours = contender("ours", [2.0])
    assert result("ours", [ours]).utilization(ours) == pytest.approx(8 / 100)
    assert str(result("ours", [ours], peak_seconds=()).utilization(ours)) == "nan"


def test_torch_peers_without_torch_say_how_to_install_it(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else find_spec(name, *a))
    with pytest.raises(ValueError, match=r'--peers torch.compile needs PyTorch, torchvision and '
                       r'timm: pip install -e "\.\[parity\]"'):
        benchmark.check_options("resnet18", peers="onnxruntime,torch.compile")


def test_peers_are_parsed_from_a_comma_separated_list_in_order_each_once():
    assert peers.parse("torch.compile, onnxruntime,torch.compile") == \
        ["torch.compile", "onnxruntime"]
    assert peers.parse("") == peers.parse(()) == []


def test_measure_alternates_the_order_of_contenders_every_round():
    calls = []
    contenders = [benchmark.Contender(label=x, step=lambda x=x: calls.append(x), images=1, flops=1)
                  for x in "ab"]
    benchmark.measure(contenders, repeats=3, warmup=1)
    assert calls == list("aabb" + "ab" "ba" "ab")  # 1 + warmup untimed each, then the rounds
    assert all(len(c.seconds) == 3 for c in contenders)


def test_self_timed_contenders_count_the_seconds_their_step_reports():
    reported = benchmark.Contender(label="peer", step=lambda: 0.25, images=1, flops=1,
                                   self_timed=True)
    benchmark.measure([reported], repeats=2, warmup=0)
    assert reported.seconds == [0.25, 0.25]


def test_ours_fused_is_compared_with_unfused_then_each_of_ours_with_every_other():
    fused, built, theirs, torch = [
        benchmark.Contender(label=kind, step=None, images=1, flops=1, kind=kind, seconds=[1.0])
        for kind in ("fused", "ours", "against", "torch")]
    ratios = benchmark._ratios([fused, built, theirs, torch], "infer")
    assert [(r.a.kind, r.b.kind) for r in ratios] == [
        ("fused", "ours"), ("fused", "against"), ("fused", "torch"), ("ours", "against"),
        ("ours", "torch")]
    measured = result("x", [fused, built, theirs, torch], ratios)
    assert measured.ratio("fused", "torch") is ratios[2]
    assert measured.ratio("ours", "fused") is None
    assert [r.label for r in benchmark._ratios([built, theirs], "train")] == \
        ["ours / against images/s"]


def test_tflite_ratios_pair_each_models_int8_with_its_float32_then_ours_with_theirs():
    labels = ["a TFLite float32", "a TFLite int8", "b TFLite float32", "b TFLite int8"]
    f32a, i8a, f32b, i8b = [contender(label, [1.0], images=1) for label in labels]
    ratios = benchmark._ratios([f32a, i8a, f32b, i8b], "tflite")
    assert [(r.label, r.a, r.b, r.of) for r in ratios] == [
        ("a: TFLite int8 / float32 latency", i8a, f32a, "latency"),
        ("b: TFLite int8 / float32 latency", i8b, f32b, "latency"),
        ("a TFLite float32 / b TFLite float32 images/s", f32a, f32b, "throughput"),
        ("a TFLite int8 / b TFLite int8 images/s", i8a, i8b, "throughput")]
    assert len(benchmark._ratios([f32a, i8a], "tflite")) == 1
    assert benchmark._ratios([f32a], "infer") == []


# --- measuring (one repetition of LeNet-5) ------------------------------------------------------

def test_infer_against_an_application_reports_rates_ratios_and_flops():
    measured = benchmark.benchmark("lenet5", against="keras.applications.MobileNetV3Small",
                                   unfused=True, **TINY)
    fused, ours, theirs = measured.contenders
    assert [(c.label, c.kind) for c in measured.contenders] == [
        ("lenet5 fused", "fused"), ("lenet5", "ours"),
        ("keras.applications.MobileNetV3Small", "against")]
    assert len(ours.seconds) == len(theirs.seconds) == len(measured.peak.seconds) == 1
    assert fused.image_flops == ours.image_flops == 2 * 416_520  # 2 x LeNet-5's MACs
    assert "counted on its graph" in theirs.flops_note and theirs.image_flops > 0
    ratio = measured.ratio("fused", "against")
    assert ratio.values == [theirs.seconds[0] / fused.seconds[0]]
    assert len(measured.ratios) == 3  # fused / unfused, and each of them / theirs
    report = "\n".join(benchmark.describe(measured))
    for expected in ("lenet5: infer, batch 2, 32x32x1", "images/s median (min",
                     "of the matmul peak", "ratio lenet5 fused / lenet5 images/s: median",
                     "ratio lenet5 fused / keras.applications.MobileNetV3Small images/s: median",
                     "ratio lenet5 / keras.applications.MobileNetV3Small images/s: median"):
        assert expected in report


def test_nofuse_measures_the_model_as_built():
    measured = benchmark.benchmark("lenet5", fused=False, peak=False, **TINY)
    assert [(c.label, c.kind) for c in measured.contenders] == [("lenet5", "ours")]


def test_serve_times_requests_to_the_savedmodel_fused_against_unfused():
    measured = benchmark.benchmark("lenet5", mode="serve", peak=False, **TINY)
    fused, ours = measured.contenders
    assert (fused.label, ours.label) == ("lenet5 fused SavedModel", "lenet5 SavedModel")
    assert fused.images == 2 and fused.seconds[0] > 0
    assert measured.ratio("fused", "ours").values == [ours.seconds[0] / fused.seconds[0]]
    report = "\n".join(benchmark.describe(measured))
    assert "requests/s" in report and "one request = serving_default on 2 x 32x32x3" in report


def test_train_step_counts_three_forward_passes():
    measured = benchmark.benchmark("lenet5", mode="train", peak=False, **TINY)
    (ours,) = measured.contenders
    assert ours.flops == benchmark.TRAIN_FLOPS_FACTOR * 2 * ours.image_flops
    assert measured.ratios == [] and "x 3 per trained image" in \
        "\n".join(benchmark.describe(measured))


def test_a_model_with_constructor_arguments_is_built_with_them():
    measured = benchmark.benchmark("lenet5(modern=True)", peak=False, **TINY)
    assert measured.name == "lenet5(modern=True)"
    assert measured.contenders[0].label == "lenet5(modern=True) fused"


def test_tflite_times_float32_and_int8_at_batch_1():
    measured = benchmark.benchmark("lenet5", mode="tflite", peak=False, **TINY)
    assert measured.batch == 1
    assert [c.label for c in measured.contenders] == ["lenet5 TFLite float32",
                                                      "lenet5 TFLite int8"]
    (ratio,) = measured.ratios
    assert ratio.label == "lenet5: TFLite int8 / float32 latency" and ratio.of == "latency"
    assert any("XNNPACK partition" in note for note in measured.notes)


# --- the command --------------------------------------------------------------------------------

def parsed(*argv):
    return cli.parse(["keras-backbones", "benchmark", *argv])


def test_the_command_takes_one_name(capsys):
    for argv in ([], ["resnet18", "resnet50"]):
        with pytest.raises(SystemExit) as exited:
            parsed(*argv)
        assert exited.value.code == 2
    assert "the following arguments are required: NAME" in capsys.readouterr().err


def test_main_refuses_a_tflite_batch():
    with pytest.raises(ValueError, match="--mode tflite runs batch 1"):
        benchmark.main(parsed("lenet5", "--mode=tflite", "--batch=4"))


def test_main_prints_the_report(capsys):
    benchmark.main(parsed("lenet5", "--batch=2", "--repeats=1", "--warmup=0"))
    out = capsys.readouterr().out
    assert "lenet5: infer, batch 2, 32x32x1" in out and "matmul peak" in out


def test_the_fusion_and_peer_flags():
    args = parsed("resnet50")
    assert (args.fuse, args.unfused, args.peers, args.compile_budget) == \
        (True, None, "", peers.COMPILE_BUDGET)
    args = parsed("resnet50", "--nofuse", "--unfused", "--peers=torch,onnxruntime",
                  "--compile_budget=30")
    assert (args.fuse, args.unfused, args.peers, args.compile_budget) == \
        (False, True, "torch,onnxruntime", 30)
    assert parsed("resnet50", "--mode=serve", "--nounfused").unfused is False


def test_command_line_bad_input_exits_2_with_the_message():
    done = subprocess.run([sys.executable, "-m", "keras_backbones.cli", "benchmark", "lenet5",
                           "--batch=0"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and "--batch must be at least 1; got 0" in done.stderr
    assert "Traceback" not in done.stderr


# --- benchmarks/run.py --------------------------------------------------------------------------

def test_the_table_skips_an_unregistered_model_or_a_missing_counterpart_with_a_note(monkeypatch):
    monkeypatch.setattr(table, "COUNTERPARTS", {
        "lenet5": ("ResNet50", "differs"), "lenet5(modern=True)": ("RegNetX999", None),
        "not_a_family_yet": ("DenseNet121", None)})
    monkeypatch.setattr(table, "GROUPED", ["not_a_family_yet", "alexnet"])
    monkeypatch.setattr(table, "TFLITE", ["lenet5"])
    monkeypatch.setattr(table, "FUSED", ["lenet5", "not_a_family_yet"])
    monkeypatch.setattr(table, "PEERS", ["alexnet"])
    monkeypatch.setattr(table, "SERVED", ["lenet5"])
    rows, skipped = table.plan()
    assert [(r.table, r.model, r.mode, r.batch) for r in rows] == [
        ("fused", "lenet5", "infer", 16), ("fused", "lenet5", "infer", 1),
        ("peers", "alexnet", "infer", 1), ("peers", "alexnet", "infer", 16),
        ("served", "lenet5", "serve", 1), ("served", "lenet5", "serve", 16),
        ("comparison", "lenet5", "infer", 16), ("comparison", "lenet5", "train", 16),
        ("grouped", "resnet50", "infer", 16), ("grouped", "alexnet", "infer", 16),
        ("tflite", "lenet5", "tflite", 1)]
    assert rows[0].fused and rows[0].unfused and rows[0].against == "ResNet50"
    assert rows[2].fused and rows[2].peers == ("torch", "torch.compile", "onnxruntime")
    assert not rows[6].fused  # the older tables measure the model as built, as before
    assert rows[0].against == "ResNet50" and rows[0].difference == "differs"
    assert skipped == {
        "lenet5(modern=True)": "not compared: this Keras has no keras.applications.RegNetX999",
        "not_a_family_yet": "not registered yet"}
    rows, _ = table.plan(only="alex*", gpu=True)
    assert [(r.table, r.model) for r in rows] == [("peers", "alexnet")] * 2 + [
        ("grouped", "alexnet")]
    rows, _ = table.plan(tables=("served", "tflite"))
    assert [r.table for r in rows] == ["served", "served", "tflite"]


def test_without_torch_the_peers_rows_keep_onnxruntime_and_say_why(monkeypatch):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else find_spec(name, *a))
    rows, skipped = table.plan(only="resnet50", tables=("peers",))
    assert {r.peers for r in rows} == {("onnxruntime",)}
    assert skipped == {"torch, torch.compile":
                       'PyTorch is not installed here: pip install -e ".[parity]"'}


def test_every_fused_row_is_a_same_network_counterpart_and_the_goals_split_them():
    assert set(table.FUSED) <= set(table.COUNTERPARTS) and set(table.DEPTHWISE) <= \
        set(table.FUSED)
    assert table.goal_of(table.Row("fused", "mobilenet_v2")) == 1.25
    assert table.goal_of(table.Row("fused", "resnet50(variant='v1')")) == 1.08


def test_each_row_prints_the_command_that_measures_it():
    assert table.Row("fused", "resnet50(variant='v1')", against="ResNet50", batch=1, fused=True,
                     unfused=True).command() == (
        "keras-backbones benchmark \"resnet50(variant='v1')\" --mode infer --batch 1 --against "
        "keras.applications.ResNet50 --unfused")
    assert table.Row("peers", "resnet50", fused=True, peers=("torch", "onnxruntime")).command() \
        == "keras-backbones benchmark resnet50 --mode infer --batch 16 --peers torch,onnxruntime"
    assert table.Row("comparison", "vgg16", "train").command() == \
        "keras-backbones benchmark vgg16 --mode train --batch 16"
    assert table.Row("grouped", "vgg16").command().endswith("--nofuse")


def test_every_counterpart_names_a_keras_applications_model_of_one_keras_or_the_other():
    for model, (application, difference) in table.COUNTERPARTS.items():
        assert application[0].isupper() and benchmark.parse_model(model)
        assert difference is None or not difference.endswith(".")


def test_the_estimate_adds_setup_and_steps_at_the_assumed_utilization():
    options = argparse.Namespace(repeats=3, train_repeats=1, warmup=0)
    probe = contender("probe", [1.5, 1.0], images=1, image_flops=64e9)  # fastest: 64 GFLOP/s
    rows = [table.Row("comparison", "m", "infer", against="M"),
            table.Row("comparison", "m", "train", against="M"),
            table.Row("tflite", "m", "tflite", batch=1),
            table.Row("gpu", "m", "train"),
            table.Row("peers", "m", fused=True, peers=("torch", "onnxruntime")),
            table.Row("served", "m", "serve", fused=True, unfused=True)]
    macs = {"m": 64e9 * table.ASSUMED_UTILIZATION / 2 / table.BATCH}  # a batch step: 1 s
    setup = table.SETUP_SECONDS
    expected = (2 * (setup["infer"] + 4 * 1) + 4 * 1  # 1 + 3 rounds, 2 models, the probe
                + 2 * (setup["train"] + 2 * 3) + 2 * 1  # 1 + 1 rounds, 3 passes
                + setup["tflite"] + 2 * 4 / table.BATCH + 4 * 1  # float32 + int8
                + setup["infer"] + setup["torch"] + setup["onnxruntime"] + 3 * 4 * 1  # no probe
                + 2 * (setup["serve"] + 4 * 1))
    assert table.estimate_seconds(rows, options, macs, probe) == pytest.approx(expected)


def test_repetition_counts_come_from_the_command_line():
    options = table.parse_args(["--repeats", "4", "--train-repeats", "2", "--warmup", "0"])
    assert table.Row("c", "m", "infer").repeats(options) == 4
    assert table.Row("c", "m", "train").repeats(options) == 2
    for bad in (["--repeats", "0"], ["--warmup", "-1"], ["--compile-budget", "0"]):
        with pytest.raises(SystemExit):
            table.parse_args(bad)


def test_tables_and_the_compile_budget_come_from_the_command_line(capsys):
    options = table.parse_args(["--tables", "peers,served", "--compile-budget", "120"])
    assert (options.tables, options.compile_budget) == (("peers", "served"), 120)
    assert table.parse_args([]).tables == table.TABLES
    with pytest.raises(SystemExit):
        table.parse_args(["--tables", "peers,fast"])
    assert "must be a comma-separated subset of fused, peers, served, comparison" in \
        capsys.readouterr().err


def test_results_md_tables_say_the_ratio_its_spread_the_bar_and_the_difference():
    ours, theirs = contender("resnet50", [1.0, 1.0, 2.0]), contender("ResNet50", [1.1, 1.2, 2.0])
    compared = result("resnet50", [ours, theirs], [benchmark.Ratio("r", a=ours, b=theirs)])
    resnext = contender("resnext50_32x4d", [3.0])
    tflite = result("resnet18", [contender("f32", [0.1], images=1),
                                 contender("i8", [0.08], images=1)],
                    notes=["resnet18 TFLite float32: 44 MiB, 1 XNNPACK partition",
                           "resnet18 TFLite int8: 11 MiB, 1 XNNPACK partition"], mode="tflite")
    tflite.ratios = benchmark._ratios(tflite.contenders, "tflite")
    rows = [(table.Row("comparison", "resnet50", "infer", "ResNet50", "theirs has biases"),
             compared),
            (table.Row("comparison", "resnet50", "train", "ResNet50", None), compared),
            (table.Row("grouped", "resnext50_32x4d"), result("resnext50_32x4d", [resnext])),
            (table.Row("tflite", "resnet18", "tflite", batch=1), tflite)]
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    text = table.measured_section(rows, {"densenet121": "not registered yet"}, when, when,
                                  (0.5, 0.7), "python benchmarks/run.py")
    assert text.startswith(table.BEGIN) and text.endswith(table.END)
    assert ("| resnet50 | ResNet50 | infer | 16.00 / 13.33 | **1.100** (1.000-1.200) | met | "
            "16 (16%) / 13 (13%) | 1 / 1 | theirs has biases |") in text
    assert "| 1 / 1 | not reviewed yet |" in text  # no difference written: said so
    assert "| resnext50_32x4d | ResNeXt | 224x224x3 | 1 | 5.3 (5.3-5.3) | 5 | 5% | 0.33 | " \
           "NOT MET: see findings |" in text
    assert "| resnet18 | 100.0 | 80.0 | **0.800** (0.800-0.800) | NOT MET | 44 MiB, 1 XNNPACK " \
           "partition; 11 MiB, 1 XNNPACK partition |" in text
    assert "No GPU was available to this run: not measured." in text
    assert "- densenet121: not registered yet" in text


def test_results_md_of_a_run_not_finished_says_how_many_rows_it_holds():
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    tflite = result("resnet18", [contender("f32", [0.1], images=1),
                                 contender("i8", [0.08], images=1)], mode="tflite")
    tflite.ratios = benchmark._ratios(tflite.contenders, "tflite")
    rows = [(table.Row("tflite", "resnet18", "tflite", batch=1), tflite)]
    args = rows, {}, when, when, (0.5, 0.7), "python benchmarks/run.py"
    assert "**Partial: 1 of the run's 3 rows measured**" in table.measured_section(*args, planned=3)
    assert "Partial" not in table.measured_section(*args, planned=1)


def test_results_md_keeps_what_is_written_outside_the_markers(tmp_path):
    path = tmp_path / "RESULTS.md"
    table.write(path, f"{table.BEGIN}\nfirst\n{table.END}")
    assert "## Findings" in path.read_text()
    path.write_text(path.read_text().replace("(none written yet)", "ResNeXt: a finding"))
    table.write(path, f"{table.BEGIN}\nsecond\n{table.END}")
    text = path.read_text()
    assert "second" in text and "first" not in text and "ResNeXt: a finding" in text


def test_the_gpu_table_gives_training_throughput_and_utilization():
    trained = result("resnet50", [contender("resnet50", [0.5, 0.25, 0.5], images=128)])
    (line,) = table.gpu_table([(table.Row("gpu", "resnet50", "train", batch=128), trained)])[4:]
    assert line == "| resnet50 | 128 | 256.0 (256.0-512.0) | 256 | 256% |"


def kinds(*pairs, images=16):
    """Contenders of (kind, seconds per round)."""
    return [benchmark.Contender(label=kind, step=None, images=images, flops=images * 1e9,
                                image_flops=1e9, kind=kind, seconds=list(seconds))
            for kind, seconds in pairs]


def measured(name, contenders, mode="infer", dropped=None):
    done = result(name, contenders, benchmark._ratios(contenders, mode), mode=mode,
                  peak_seconds=())
    done.dropped = dropped or {}
    return done


def test_the_fused_table_gives_both_ratios_the_goal_of_each_row_and_the_two_medians():
    rows = [(table.Row("fused", "mobilenet_v2", against="MobileNetV2", batch=16, fused=True,
                       unfused=True, difference="same layers"),
             measured("mobilenet_v2", kinds(("fused", [1.0, 1.0]), ("ours", [1.2, 1.3]),
                                            ("against", [1.3, 1.4])))),
            (table.Row("fused", "mobilenet_v2", against="MobileNetV2", batch=1, fused=True,
                       unfused=True), measured("mobilenet_v2", kinds(
                           ("fused", [1.0]), ("ours", [1.0]), ("against", [1.2]), images=1))),
            (table.Row("fused", "vgg16", against="VGG16", batch=16, fused=True, unfused=True),
             measured("vgg16", kinds(("fused", [1.0]), ("ours", [1.0]), ("against", [1.1]))))]
    lines = table.fused_table(rows)
    assert lines[2] == ("| mobilenet_v2 | MobileNetV2 | 16 | 16.00 / 12.82 / 11.87 | **1.350** "
                        "(1.300-1.400) | 1.080 (1.077-1.083) | 1.250 (1.200-1.300) | >= 1.25: "
                        "met | same layers |")
    assert lines[3].endswith("| **1.200** (1.200-1.200) | 1.200 (1.200-1.200) | 1.000 "
                             "(1.000-1.000) | >= 1.25: NOT MET | not reviewed yet |")
    assert lines[-2] == ("- Median fused / keras.applications over the 2 depthwise rows "
                         "(mobilenet_v2): **1.275** (batch 16 1.350, batch 1 1.200); goal >= "
                         "1.25: **met**.")
    assert lines[-1] == ("- Median fused / keras.applications over the 1 other rows (vgg16): "
                         "**1.100** (batch 16 1.100); goal >= 1.08: **met**.")


def test_the_peers_table_gives_ours_over_each_peer_and_says_why_one_was_dropped():
    contenders = kinds(("fused", [1.0, 1.0]), ("torch", [2.0, 1.5]), ("onnxruntime", [0.9, 0.8]))
    contenders[1].detail = "channels_last"
    done = measured("resnet50", contenders,
                    dropped={"torch.compile": "InductorError: no C++ compiler | cc"})
    (line,) = table.peers_table([(table.Row("peers", "resnet50", fused=True), done)])[2:]
    assert line == ("| resnet50 | 16 | 16.00 / 9.33 / - / 18.89 | **1.750** (1.500-2.000) | "
                    "dropped: InductorError: no C++ compiler \\| cc | **0.850** (0.800-0.900) | "
                    "NOT MET (onnxruntime) | torch: channels_last |")


def test_the_served_table_gives_requests_per_second_fused_and_unfused():
    done = measured("resnet50", kinds(("fused", [0.5, 0.25]), ("ours", [1.0, 0.5])), "serve")
    (line,) = table.served_table([(table.Row("served", "resnet50", "serve"), done)])[2:]
    assert line == ("| resnet50 | 16 | 3.00 (2.00-4.00) | 1.50 (1.00-2.00) | **2.000** "
                    "(2.000-2.000) |")


def test_results_md_puts_the_new_tables_first():
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    done = measured("resnet50", kinds(("fused", [0.5]), ("ours", [1.0])), "serve")
    text = table.measured_section([(table.Row("served", "resnet50", "serve"), done)], {}, when,
                                  when, (0.5, 0.7), "python benchmarks/run.py")
    titles = [line for line in text.splitlines() if line.startswith("## ")]
    assert titles[2:6] == [
        "## Fused against keras.applications (inference, float32, CPU)",
        "## Against PyTorch and onnxruntime (inference, float32, CPU)",
        "## Served: our SavedModel, fused against unfused (CPU)",
        f"## Ours against keras.applications (batch {table.BATCH}, float32, CPU)"]
    assert "| resnet50 | 16 | 2.00 (2.00-2.00) | 1.00 (1.00-1.00) | **2.000**" in text


# --- a run of some tables carries the others over -----------------------------------------------

def at(hour, minute):
    return datetime.datetime(2026, 12, 1, hour, minute, tzinfo=datetime.timezone.utc)


def older_tables_measured():
    """The comparison and TFLite rows of a run (the rows are fakes: nothing is measured)."""
    ours, theirs = contender("resnet50", [1.0, 1.2]), contender("ResNet50", [1.1, 1.3])
    tflite = result("resnet18", [contender("f32", [0.1], images=1),
                                 contender("i8", [0.04], images=1)], mode="tflite")
    tflite.ratios = benchmark._ratios(tflite.contenders, "tflite")
    return [(table.Row("comparison", "resnet50", "infer", "ResNet50", "differs"),
             result("resnet50", [ours, theirs], [benchmark.Ratio("r", a=ours, b=theirs)])),
            (table.Row("tflite", "resnet18", "tflite", batch=1), tflite)]


def served_measured(seconds):
    return [(table.Row("served", "resnet50", "serve"),
             measured("resnet50", kinds(("fused", [seconds]), ("ours", [1.0])), "serve"))]


def section(text, title):
    """The lines of `text`'s section `title`, from its heading to the next one."""
    lines = text.split(f"\n{table.END}")[0].split("\n")
    start = lines.index(f"## {title}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    return lines[start:end]


COMPARISON = f"Ours against keras.applications (batch {table.BATCH}, float32, CPU)"
GROUPED = f"Grouped and depthwise convolutions: utilization (inference, batch {table.BATCH})"
TFLITE = "TFLite (batch 1, XNNPACK)"
SERVED = "Served: our SavedModel, fused against unfused (CPU)"
FUSED = "Fused against keras.applications (inference, float32, CPU)"
KEPT_FROM_FIRST = ("*Kept from the run of 2026-12-01 02:12 to 02:45 UTC (`python "
                   "benchmarks/run.py`); this run did not measure it.*")


@pytest.fixture
def results_md(tmp_path):
    """A RESULTS.md whose comparison and TFLite tables a full run measured, 02:12 to 02:45."""
    path = tmp_path / "RESULTS.md"
    table.write(path, table.measured_section(older_tables_measured(), {}, at(2, 12), at(2, 45),
                                             (0.5, 0.7), "python benchmarks/run.py"))
    return path


def test_a_run_of_some_tables_keeps_the_others_verbatim_under_the_run_that_measured_them(
        results_md):
    before = results_md.read_text()
    command = "python benchmarks/run.py --tables served,fused"
    # written after its first row of two, as the run does: the carried tables are there already
    table.write(results_md, table.measured_section(
        served_measured(0.5), {}, at(9, 0), at(9, 30), (0.5, 0.7), command, planned=2,
        tables=("served", "fused"), earlier=before))
    after = results_md.read_text()
    assert after.startswith(f"# Benchmarks\n\n{table.BEGIN}\n\nMeasured 2026-12-01 09:00 to 09:30 "
                            f"UTC (30 min) by `{command}`: only the tables fused, served; each "
                            f"other table says which earlier run it is kept from, or that it "
                            f"was not measured.\n\n**Partial: 1 of the run's 2 rows measured**")
    for title in (COMPARISON, GROUPED, TFLITE):
        old = section(before, title)
        assert section(after, title) == [*old[:2], KEPT_FROM_FIRST, "", *old[2:]]
        assert "| resnet" in "\n".join(old)
    assert "| resnet50 | 16 | 2.00 (2.00-2.00) | 1.00 (1.00-1.00) | **2.000**" in \
        "\n".join(section(after, SERVED))
    assert section(after, FUSED) == [f"## {FUSED}", "", "Not measured.", ""]  # measured, none
    assert section(after, "GPU") == ["## GPU", "", "Not measured.", ""]  # no GPU then either
    assert after.count("Kept from") == 3 and after.endswith(
        f"{table.END}\n\n## Findings\n\n(none written yet)\n")


def test_a_table_carried_twice_keeps_one_line_with_the_run_that_measured_it(results_md):
    first = table.measured_section(served_measured(0.5), {}, at(9, 0), at(9, 30), (0.5, 0.7),
                                   "python benchmarks/run.py --tables served",
                                   tables=("served",), earlier=results_md.read_text())
    table.write(results_md, first)
    second = table.measured_section([], {}, at(11, 0), at(11, 5), (0.5, 0.7),
                                    "python benchmarks/run.py --tables fused",
                                    tables=("fused",), earlier=results_md.read_text())
    for title in (COMPARISON, GROUPED, TFLITE):
        assert section(second, title) == section(first, title)
        assert section(second, title)[2] == KEPT_FROM_FIRST
    assert section(second, SERVED) == [*section(first, SERVED)[:2], (
        "*Kept from the run of 2026-12-01 09:00 to 09:30 UTC (`python benchmarks/run.py "
        "--tables served`); this run did not measure it.*"), "", *section(first, SERVED)[2:]]
    assert second.count("Kept from") == 4


def test_a_table_the_earlier_file_does_not_have_is_not_measured(results_md):
    older = results_md.read_text().replace(f"## {TFLITE}", "## TFLite (batch 1, an old title)")
    text = table.measured_section(served_measured(0.5), {}, at(9, 0), at(9, 30), (0.5, 0.7),
                                  "python benchmarks/run.py --tables served",
                                  tables=("served",), earlier=older)
    assert section(text, TFLITE) == [f"## {TFLITE}", "", "Not measured.", ""]
    assert "an old title" not in text and section(text, COMPARISON)[2] == KEPT_FROM_FIRST
    no_file = table.measured_section(served_measured(0.5), {}, at(9, 0), at(9, 30), (0.5, 0.7),
                                     "python benchmarks/run.py --tables served",
                                     tables=("served",))
    assert section(no_file, COMPARISON) == [f"## {COMPARISON}", "", "Not measured.", ""]


def test_a_run_of_all_tables_replaces_every_table(results_md):
    text = table.measured_section(served_measured(0.5), {}, at(9, 0), at(9, 30), (0.5, 0.7),
                                  "python benchmarks/run.py", earlier=results_md.read_text())
    assert "Kept from" not in text and "only the tables" not in text and "| resnet18" not in text
    assert section(text, COMPARISON) == [f"## {COMPARISON}", "", "Not measured.", ""]
    assert section(text, "GPU") == ["## GPU", "", "No GPU was available to this run: not "
                                    "measured.", ""]


# --- benchmarks/activations.py: the RegNet paper's activations against FLOPs ----------------------

def load_activations_script():
    spec = importlib.util.spec_from_file_location("benchmarks_activations",
                                                  ROOT / "benchmarks" / "activations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


study = load_activations_script()
BOTH_PATHS = [True, False] if importlib.util.find_spec("scipy") else [False]  # scipy, NumPy


def test_ranks_give_ties_their_average_rank():
    assert study.ranks([30, 10, 20, 20]).tolist() == [4.0, 1.0, 2.5, 2.5]
    assert study.ranks([5.0, 5.0, 5.0]).tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("scipy", BOTH_PATHS)
def test_pearson_and_spearman_on_hand_made_numbers(scipy):
    x, y = [1, 2, 3, 4, 5], [2, 4, 5, 4, 5]
    assert study.pearson(x, y, scipy=scipy) == pytest.approx(0.6 / (0.6 ** 0.5), abs=1e-12)
    assert study.pearson(x, [-v for v in y], scipy=scipy) == pytest.approx(-0.774597, abs=1e-6)
    monotone = [1, 8, 27, 64, 125]  # x^3: not linear, perfectly monotone
    assert study.spearman(x, monotone, scipy=scipy) == pytest.approx(1.0)
    assert study.pearson(x, monotone, scipy=scipy) < 0.99
    assert study.spearman(x, monotone[::-1], scipy=scipy) == pytest.approx(-1.0)
    # ties: the Pearson r of the average ranks [1, 2.5, 2.5, 4] and [1, 2, 3, 4]
    assert study.spearman([1, 2, 2, 3], [1, 2, 3, 4], scipy=scipy) == \
        pytest.approx(study.pearson([1, 2.5, 2.5, 4], [1, 2, 3, 4], scipy=False))
    assert all(map(math.isnan, (study.pearson([1, 2], [3, 4], scipy=scipy),
                                study.spearman([1, 1, 1], [1, 2, 3], scipy=scipy))))


def test_williams_test_is_symmetric_and_smaller_for_a_larger_difference():
    if importlib.util.find_spec("scipy") is None:
        assert study.williams_p(0.9, 0.8, 0.9, 24) is None
        return
    assert study.williams_p(0.9, 0.9, 0.8, 24) == pytest.approx(1.0)
    assert study.williams_p(0.95, 0.85, 0.9, 24) == pytest.approx(
        study.williams_p(0.85, 0.95, 0.9, 24))
    assert study.williams_p(0.98, 0.80, 0.9, 24) < study.williams_p(0.95, 0.90, 0.9, 24) < 1
    assert math.isnan(study.williams_p(0.9, 0.8, 0.9, 3))


def test_the_verdict_names_the_better_predictor_with_both_rs():
    activations = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    flops = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]
    times = [2 * a for a in activations]  # time proportional to activations
    correlation = study.correlate(times, activations, flops)
    assert correlation["activations"]["pearson"] == pytest.approx(1.0)
    line = study.verdict(correlation)
    expected_flops = study.pearson(flops, times)
    assert line.startswith(f"activations predict time better than FLOPs: Pearson r 1.00 vs "
                           f"{expected_flops:.2f}")
    assert "disagrees" not in line and line.endswith("n=6")
    assert study.verdict(study.correlate(times, flops, activations)).startswith(
        "FLOPs predict time better than activations: Pearson r ")
    tied = study.verdict(study.correlate(times, activations, [2 * a for a in activations]))
    assert tied.startswith("activations and FLOPs predict time equally well: Pearson r 1.00 vs "
                           "1.00;") and "Williams" not in tied
    assert study.verdict(study.correlate(times, activations[::-1], flops[::-1])) \
        .startswith("neither predicts time (no positive correlation): Pearson r -1.00 vs ")
    assert study.verdict(study.correlate([1, 2], [1, 2], [2, 1])) == \
        "too few variants to tell (n=2)"


def hand_made_variant(name, activations, flops, ms):
    return study.Variant(name=name, group=study.group_of(name), input_size=[224, 224, 3],
                         params=1_000_000, macs=flops // 2, activations=activations,
                         seconds={k: [ms / 1000 * (0.9 + i / 10) for i in range(3)]
                                  for k in study.KEYS},
                         disagreement={"tflite/b1": 1e-6, "tflite/b16": 1e-6},
                         tflite_mib=4.0, partitions={"tflite/b1": 1, "tflite/b16": 1})


def hand_made_variants():
    return [hand_made_variant(name, act, flops, ms) for name, act, flops, ms in [
        ("regnetx_002", 2_000_000, 400_000_000, 10.0), ("regnetx_004", 3_000_000, 800_000_000,
                                                        14.0),
        ("regnetx_006", 4_000_000, 1_200_000_000, 19.0),
        ("regnety_002", 2_200_000, 400_000_000, 11.0),
        ("regnety_004", 3_500_000, 800_000_000, 16.0),
        ("regnety_006", 4_400_000, 1_200_000_000, 20.0),
        ("mobilenet_v2", 6_000_000, 600_000_000, 25.0),
        ("mnasnet_small", 2_000_000, 140_000_000, 9.0)]]


def test_correlations_cover_each_group_runtime_and_batch_and_the_two_regnet_kinds():
    rows = study.correlations(hand_made_variants())
    assert [(group, runtime, batch) for group, runtime, batch, _ in rows] == [
        (group, runtime, batch) for group in ("regnet", "regnetx", "regnety")
        for runtime in study.RUNTIMES for batch in study.BATCHES]  # mobile: only 2 variants
    assert [c["n"] for group, _, _, c in rows if group == "regnet"] == [6] * 4
    assert [line.split(":")[0] for line in study.verdicts(rows)] == [
        f"regnet, {runtime}, batch {batch}" for runtime in study.RUNTIMES
        for batch in study.BATCHES]


def test_the_report_is_rewritten_between_its_markers_and_the_findings_are_kept(tmp_path):
    variants = hand_made_variants()
    rows = study.correlations(variants)
    options = study.parse_args(["--out", str(tmp_path)])
    at = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    environment = [("CPU", "a test CPU, 2 cores"), ("Software", "TensorFlow 2.x")]
    path = tmp_path / "ACTIVATIONS.md"
    section = study.measured_section(variants, rows, at, at + datetime.timedelta(minutes=25),
                                     (0.1, 0.2), "python benchmarks/activations.py", options,
                                     len(variants) + 1, environment)
    study.write_markdown(path, section)
    text = path.read_text()
    assert text.startswith(f"{study.TITLE}\n\n{study.BEGIN}\n\nMeasured 2026-12-01 09:00 to 09:25 "
                           f"UTC (25 min) by `python benchmarks/activations.py`.\n\n**Partial: 8 "
                           f"of the run's 9 variants measured**")
    assert "| CPU | a test CPU, 2 cores |" in text
    assert "- regnet, tf, batch 1: " in text and "- regnetx" not in text
    assert "| regnetx | tflite | 16 | 3 |" in text
    assert "| regnetx_004 | 224x224 | 1.00 | 0.800 | 3.00 | 3.75 | 14.0 (12.6-15.4) |" in text
    assert "| mnasnet_small | 224x224 |" in text and "| 4.0 | 1 / 1 |" in text
    assert "outputs differ" not in text
    tables = [line for line in text.splitlines() if line.startswith("|")]
    for header, rule, first in (tables[i:i + 3] for i in range(len(tables) - 2)
                                if tables[i + 1].startswith("|---")):  # every table's columns
        assert header.count(" | ") == rule.count("|---") - 1 == first.count(" | "), header
    path.write_text(text.replace("(none written yet: the verdicts above are the script's)",
                                 "Our conclusion."))
    study.write_markdown(path, section.replace("8 of the run's 9", "8 of the run's 10"))
    assert path.read_text().count("Our conclusion.") == 1 and "8 of the run's 10" in \
        path.read_text()

    study.write_json(tmp_path / "activations.json", variants, rows, {"command": "x"})
    import json

    data = json.loads((tmp_path / "activations.json").read_text())
    assert [v["name"] for v in data["variants"]] == [v.name for v in variants]
    assert data["variants"][0]["flops"] == 400_000_000
    assert data["correlations"][0]["verdict"] == study.verdict(rows[0][3])


def test_quick_and_variants_choose_the_plan():
    quick = study.parse_args(["--quick"])
    assert quick.plan == study.QUICK["regnet"] + study.QUICK["mobile"]
    assert (quick.rounds, quick.min_rounds) == (2, 2) and quick.out != study.HERE
    full = study.parse_args(["--families", "regnet"])
    assert len(full.plan) == 24 and full.out == study.HERE and full.rounds == 9
    assert study.parse_args(["--variants", "lenet5,effnet"]).plan == ["lenet5", "effnet"]
    with pytest.raises(SystemExit):
        study.parse_args(["--variants", "resnet5O"])


def test_timed_rounds_stop_after_the_minimum_once_past_the_budget():
    calls = []
    slow = benchmark.Contender(label="slow", step=lambda: calls.append("slow") or
                               __import__("time").sleep(0.02), images=1, flops=1)
    fast = benchmark.Contender(label="fast", step=lambda: calls.append("fast"), images=1, flops=1)
    study.timed_rounds([slow, fast], rounds=6, min_rounds=2, budget=0.03, untimed=1)
    assert len(slow.seconds) == 2 and len(fast.seconds) == 6
    # untimed, then the first round in order, the second reversed
    assert calls[:6] == ["slow", "fast", "slow", "fast", "fast", "slow"]


def test_the_study_measures_two_tiny_variants_and_writes_its_three_files(tmp_path, capsys):
    study.main(["--variants", "lenet5,effnet", "--rounds", "1", "--warmup", "0",
                "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "lenet5: tf/b1 " in out and "effnet: tf/b1 " in out
    text = (tmp_path / "ACTIVATIONS.md").read_text()
    assert "No group has 3 measured variants yet" in text and "| lenet5 | 32x32 |" in text
    import json

    data = json.loads((tmp_path / "activations.json").read_text())
    lenet = data["variants"][0]
    assert lenet["macs"] == 416_520 and lenet["activations"] > 0
    assert sorted(lenet["seconds"]) == sorted(study.KEYS)
    assert all(value < study.AGREEMENT for value in lenet["disagreement"].values())
    assert (tmp_path / "activations.png").read_bytes()[:4] == b"\x89PNG"
