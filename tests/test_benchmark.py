"""`keras-backbones benchmark`: its options and its report (not its timings), on LeNet-5 and
one repetition, so that the whole file runs in well under a minute."""

import os
import pathlib
import subprocess
import sys

import pytest
from absl import flags
from absl.testing import flagsaver

from keras_backbones import benchmark

ROOT = pathlib.Path(__file__).resolve().parents[1]
TINY = dict(batch=2, repeats=1, warmup=0)


@pytest.mark.parametrize("options, message", [
    (dict(name="resnet5O"), r"Unknown model name 'resnet5O'.*Closest names: .*resnet50"),
    (dict(mode="eval"), r"--mode must be one of infer, train, tflite; got 'eval'"),
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
])
def test_bad_options_are_value_errors_that_say_what_is_allowed(options, message):
    options = {"name": "lenet5", **options}
    with pytest.raises(ValueError, match=message):
        benchmark.check_options(**options)


@pytest.mark.parametrize("target", ["keras.applications.ResNet50", "tf.keras.applications.ResNet50",
                                    "ResNet50"])
def test_against_accepts_the_applications_name_with_or_without_its_module(target):
    assert benchmark.check_options("lenet5", against=target) == "ResNet50"


def test_size_below_the_models_minimum_names_the_minimum():
    with pytest.raises(ValueError, match="smaller than the network's minimum of 32x32"):
        benchmark.benchmark("lenet5", size=28, **TINY)


def test_infer_against_an_application_reports_rates_ratios_and_flops():
    result = benchmark.benchmark("lenet5", against="keras.applications.MobileNetV3Small", **TINY)
    ours, theirs = result.contenders
    assert (ours.label, theirs.label) == ("lenet5", "keras.applications.MobileNetV3Small")
    assert len(ours.seconds) == len(theirs.seconds) == len(result.peak.seconds) == 1
    assert ours.image_flops == 2 * 416_520  # 2 x LeNet-5's multiply-accumulates
    assert "counted on its graph" in theirs.flops_note and theirs.image_flops > 0
    (ratio,) = result.ratios
    assert ratio.values == [theirs.seconds[0] / ours.seconds[0]]  # images/s, ours over theirs
    report = "\n".join(benchmark.describe(result))
    for expected in ("lenet5: infer, batch 2, 32x32x1", "images/s", "of the matmul peak",
                     "ratio lenet5 / keras.applications.MobileNetV3Small images/s: median"):
        assert expected in report


def test_train_step_counts_three_forward_passes():
    result = benchmark.benchmark("lenet5", mode="train", peak=False, **TINY)
    (ours,) = result.contenders
    assert ours.flops == benchmark.TRAIN_FLOPS_FACTOR * 2 * ours.image_flops
    assert result.ratios == [] and "x 3 per trained image" in "\n".join(benchmark.describe(result))


def test_tflite_times_float32_and_int8_at_batch_1():
    result = benchmark.benchmark("lenet5", mode="tflite", peak=False, **TINY)
    assert result.batch == 1
    assert [c.label for c in result.contenders] == ["lenet5 TFLite float32", "lenet5 TFLite int8"]
    (ratio,) = result.ratios
    assert ratio.label == "lenet5: TFLite int8 / float32 latency" and ratio.of == "latency"
    assert any("XNNPACK partition" in note for note in result.notes)


def test_measure_alternates_the_order_of_contenders_every_round():
    calls = []
    contenders = [benchmark.Contender(label=x, step=lambda x=x: calls.append(x), images=1, flops=1)
                  for x in "ab"]
    benchmark.measure(contenders, repeats=3, warmup=1)
    assert calls == list("aabb" + "ab" "ba" "ab")  # 1 + warmup untimed each, then the rounds
    assert all(len(c.seconds) == 3 for c in contenders)


@pytest.fixture
def parsed_flags():
    with flagsaver.flagsaver():
        yield lambda *argv: flags.FLAGS(["keras-backbones", *argv])


def test_main_takes_one_name(parsed_flags):
    parsed_flags()
    with pytest.raises(ValueError, match="benchmark takes one model name"):
        benchmark.main([])
    with pytest.raises(ValueError, match="benchmark takes one model name"):
        benchmark.main(["resnet18", "resnet50"])


def test_main_refuses_a_tflite_batch(parsed_flags):
    parsed_flags("--mode=tflite", "--batch=4")
    with pytest.raises(ValueError, match="--mode tflite runs batch 1"):
        benchmark.main(["lenet5"])


def test_main_prints_the_report(parsed_flags, capsys):
    parsed_flags("--batch=2", "--repeats=1", "--warmup=0")
    benchmark.main(["lenet5"])
    out = capsys.readouterr().out
    assert "lenet5: infer, batch 2, 32x32x1" in out and "matmul peak" in out


def test_command_line_bad_input_exits_2_with_the_message():
    done = subprocess.run([sys.executable, "-m", "keras_backbones.cli", "benchmark", "lenet5",
                           "--batch=0"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and "--batch must be at least 1; got 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_variant_built_with_other_arguments_is_labelled_with_them():
    assert benchmark.label_of("resnet50") == "resnet50"
    assert benchmark.label_of("resnet50", {"variant": "v1"}) == "resnet50(variant='v1')"
