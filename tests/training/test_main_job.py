"""The README's main job: LeNet-5 on the digits, end to end through the command line."""

import json
import re

import pytest

from tests.training.helpers import DIGITS, DIGITS_JOB, run_cli, tail

BUDGET_SECONDS = 180  # the bound for the whole job on the 2-core CPU

# The job's run is trained once for this module and tests/export/test_deployment.py.
pytestmark = DIGITS_JOB


@pytest.mark.allow_slow("trains the main job (once for its group, if tests/export has not) "
                        "and evaluates it through the command line")
def test_main_job_reaches_97_percent_and_writes_its_artifacts(digits_job):
    _, workdir, done, elapsed = digits_job
    assert done.returncode == 0, tail(done.stdout + done.stderr)
    printed = re.search(r"Test top-1 ([\d.]+)%", done.stdout)
    assert printed, tail(done.stdout)
    result = json.loads((workdir / "result.json").read_text())
    assert result["top1"] >= 0.97, result
    assert abs(float(printed.group(1)) / 100 - result["top1"]) < 1e-4
    assert elapsed < BUDGET_SECONDS, f"the main job took {elapsed:.0f} s"
    assert result["steps"] == result["epochs"] * result["steps_per_epoch"]

    history = json.loads((workdir / "history.json").read_text())
    assert len(history["loss"]) == result["epochs"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(history)
    assert (workdir / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert (workdir / "weights.npz").stat().st_size > 0
    assert list((workdir / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert len(list((workdir / "checkpoints").glob("ckpt-*.index"))) == 3  # the last 3 kept
    assert not (workdir / "backup").exists()

    # `evaluate` on the written weights: the same top-1, and a confusion matrix.
    evaluated = run_cli("evaluate", "--recipe", DIGITS, "--weights", workdir / "weights.npz",
                        timeout=120)
    assert evaluated.returncode == 0, tail(evaluated.stdout + evaluated.stderr)
    top1 = re.search(r"top-1 ([\d.]+)%, top-5 ([\d.]+)%", evaluated.stdout)
    assert top1 and abs(float(top1.group(1)) / 100 - result["top1"]) < 1e-3, evaluated.stdout
    assert (workdir / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG")
