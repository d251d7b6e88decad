"""A training process killed with SIGKILL mid-epoch resumes from its backup when the same
command runs again, and ends after exactly the steps of an uninterrupted run."""

import json
import os
import signal
import time

from tests.training.helpers import DIGITS, run_cli, start_cli, tail

# 2 epochs of 84 steps (1,347 images, batch 16); a backup every 10 steps: the first lies
# mid-epoch.
ARGS = ("--recipe.epochs=2", "--recipe.batch_size=16", "--recipe.checkpoint.backup_every_steps=10")


def backup_step(workdir):
    """The step of the latest complete backup (its index file names it), or None."""
    state = workdir / "backup" / "checkpoint"
    if not state.exists():
        return None
    text = state.read_text()
    return int(text.split('"backup-')[1].split('"')[0])


def test_sigkill_mid_epoch_then_resume(tmp_path):
    workdir = tmp_path / "killed"
    args = ("train", "--recipe", DIGITS, "--workdir", workdir, *ARGS)
    process = start_cli(*args, log=tmp_path / "first.log")
    deadline = time.time() + 120
    try:
        while backup_step(workdir) is None:
            assert process.poll() is None, "training ended before its first backup: " + tail(
                (tmp_path / "first.log").read_text())
            assert time.time() < deadline, "no backup after 120 s"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    killed_at = backup_step(workdir)
    assert not (workdir / "result.json").exists()

    resumed = run_cli(*args, timeout=300)
    assert resumed.returncode == 0, tail(resumed.stdout + resumed.stderr)
    result = json.loads((workdir / "result.json").read_text())
    assert result["resumed_from_step"] >= killed_at > 0
    assert f"Resuming from step {result['resumed_from_step']}" in resumed.stdout
    assert result["resumed_from_step"] % result["steps_per_epoch"] != 0, "not a mid-epoch resume"

    uninterrupted = run_cli("train", "--recipe", DIGITS, "--workdir", tmp_path / "whole", *ARGS,
                            timeout=300)
    assert uninterrupted.returncode == 0, tail(uninterrupted.stdout + uninterrupted.stderr)
    expected = json.loads((tmp_path / "whole" / "result.json").read_text())
    assert result["steps"] == expected["steps"] == 2 * 84
    history = json.loads((workdir / "history.json").read_text())
    assert history["epoch"] == [0, 1]  # the epochs before the resumed one are kept
    assert not (workdir / "backup").exists()

