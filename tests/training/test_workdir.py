"""The work directory: one run at a time (a lock that a killed run cannot leave behind),
checkpoints that recover (an unreadable latest checkpoint or backup, or a garbage
`checkpoint` index, falls back to the newest readable one and says so), and a full disk while
checkpointing (one clear error, no `_temp` directory left)."""

import errno
import os
import shutil
import signal
import time

import pytest
import tensorflow as tf
from tensorflow.python.ops import gen_io_ops

from keras_backbones.backend import clear_session
from keras_backbones.training import loop
from tests.training.helpers import DIGITS, start_cli, tail
from tests.training.test_loop import short_digits


@pytest.fixture(autouse=True)
def fresh_session():
    yield
    clear_session()


# --- one run per work directory -------------------------------------------------------------

def test_a_second_run_fails_fast_and_a_killed_runs_lock_is_recovered(tmp_path):
    workdir = tmp_path / "run"
    lock = workdir / ".lock"
    first = start_cli("train", "--recipe", DIGITS, "--workdir", workdir, "--recipe.epochs=100000",
                      "--recipe.steps_per_epoch=2", "--recipe.eval_steps=1",
                      log=tmp_path / "first.log")
    try:
        deadline = time.time() + 50
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, tail((tmp_path / "first.log").read_text())
            assert time.time() < deadline, "the first run holds no lock after 50 s"
            time.sleep(0.1)
        # This process is the second run.
        started = time.time()
        with pytest.raises(ValueError) as raised:
            loop.train(short_digits(steps_per_epoch=2), str(workdir), verbose=0)
        assert str(raised.value) == (f"{workdir} is in use by another training run (PID "
                                     f"{first.pid}): wait for it to end, or train into another "
                                     "--workdir.")
        assert time.time() - started < 10  # before any data or model is loaded
        assert first.poll() is None  # the first run goes on
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    # The kernel released the killed run's lock: a new run starts (resuming from whatever
    # checkpoint the killed one left) and holds it.
    assert loop.train(short_digits(steps_per_epoch=2), str(workdir), verbose=0)["steps"] >= 2
    assert lock.read_text().strip() == str(os.getpid())


# --- checkpoints that recover ---------------------------------------------------------------

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A run of 3 epochs of 2 steps: checkpoints ckpt-2, ckpt-4 and ckpt-6."""
    workdir = tmp_path_factory.mktemp("trained") / "run"
    loop.train(short_digits(epochs=3, steps_per_epoch=2), str(workdir), verbose=0)
    clear_session()
    return workdir


@pytest.fixture
def workdir(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "run")


def resume(workdir):
    return loop.train(short_digits(epochs=4, steps_per_epoch=2), str(workdir), verbose=0)


def truncate(prefix, what):
    path = f"{prefix}.index" if what == "index" else f"{prefix}.data-00000-of-00001"
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


@pytest.mark.parametrize("what", ["data", "index"])
def test_an_unreadable_latest_checkpoint_falls_back_to_the_previous(workdir, capsys, what):
    truncate(workdir / "checkpoints" / "ckpt-6", what)
    result = resume(workdir)
    out = capsys.readouterr().out
    assert result["resumed_from_step"] == 4 and result["steps"] == 8
    assert f"Skipped {workdir / 'checkpoints' / 'ckpt-6'}: unreadable" in out
    assert "Resuming from step 4 " in out


def test_an_unreadable_backup_falls_back_to_the_latest_checkpoint(workdir, capsys):
    # A mid-epoch backup after step 7 (a copy of ckpt-6's files), then truncated.
    (workdir / "backup").mkdir()
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(workdir / "checkpoints" / f"ckpt-6{suffix}",
                    workdir / "backup" / f"backup-7{suffix}")
    (workdir / "backup" / "checkpoint").write_text('model_checkpoint_path: "backup-7"\n')
    truncate(workdir / "backup" / "backup-7", "data")
    assert resume(workdir)["resumed_from_step"] == 6
    assert f"Skipped {workdir / 'backup' / 'backup-7'}: unreadable" in capsys.readouterr().out


def test_a_garbage_checkpoint_index_does_not_restart_training(workdir):
    (workdir / "checkpoints" / "checkpoint").write_text("garbage {{{")
    assert resume(workdir)["resumed_from_step"] == 6


def test_no_readable_checkpoint_is_an_error_not_a_fresh_start(workdir):
    for step in (2, 4, 6):
        truncate(workdir / "checkpoints" / f"ckpt-{step}", "index")
    with pytest.raises(ValueError, match="No checkpoint in .* is readable .*ckpt-6") as raised:
        resume(workdir)
    assert "\n" not in str(raised.value)


# --- a full disk ----------------------------------------------------------------------------

def test_a_full_disk_while_checkpointing_is_one_clear_error(tmp_path, monkeypatch):
    def merge(checkpoint_prefixes, destination_prefix, **kwargs):
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{destination_prefix}.index.tempstate1; No space left on device")

    monkeypatch.setattr(gen_io_ops, "merge_v2_checkpoints", merge)  # after the shards are written
    with pytest.raises(OSError, match="No space left on device .*ckpt-4") as raised:
        loop.train(short_digits(), str(tmp_path), verbose=0)
    assert raised.value.errno == errno.ENOSPC and "\n" not in str(raised.value)
    assert not [name for _, dirs, files in os.walk(tmp_path) for name in dirs + files
                if "_temp" in name or "tempstate" in name]
