"""Artifacts that others can read, and a full disk: every file the package writes (weights,
sidecars, models.config, SavedModels, checkpoints, the run's JSON files) goes through
`keras_backbones.files` and gets the permissions of a normally created file under the
process's umask, whatever the temporary file or directory it was staged in; a disk that fills
up while writing is one clear error that names the file, and leaves no temporary file or
directory behind."""

import ast
import contextlib
import errno
import os
import pathlib

import pytest
import tensorflow as tf

import keras_backbones
from keras_backbones import files, registry, weights
from keras_backbones.backend import clear_session
from keras_backbones.export import deployable, savedmodel
from keras_backbones.training import loop
from tests.training.test_loop import short_digits

UMASKS = pytest.mark.parametrize("mask", [0o022, 0o077], ids=["umask022", "umask077"])
FULL = "No space left on device"


@contextlib.contextmanager
def umask(mask):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def wrong_modes(root, mask):
    """{path: mode} of everything under `root` whose permissions differ from those of a file
    (0666) or directory (0777) created under `mask`."""
    wrong = {}
    for directory, dirs, names in os.walk(root):
        for path, full in [(os.path.join(directory, d), 0o777) for d in dirs] + \
                [(os.path.join(directory, f), 0o666) for f in names]:
            mode = os.stat(path).st_mode & 0o777
            if mode != full & ~mask:
                wrong[os.path.relpath(path, root)] = oct(mode)
    return wrong


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """An untrained LeNet-5 as a Deployable (weights file, no recipe)."""
    path = weights.save_weights(registry.create_model("lenet5", classes=10),
                                tmp_path_factory.mktemp("lenet") / "lenet5.npz")
    yield deployable.load("lenet5", path, classes=10)
    clear_session()


# The writes that do not go through `files`: savedmodel.py renames its staged version directory
# into place (a directory: its files were written by TensorFlow, then `files.apply_umask`).
DIRECTORY_RENAMES = {"export/savedmodel.py": 2}


def direct_writes(source):
    """[line: call] of `source`'s calls that write or rename a file themselves: open() with a
    writing mode, os.replace, os.rename, tempfile.mkstemp."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        mode = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "mode"), None)
        writes = isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax+")
        if (name == "open" and writes) or name in ("os.replace", "os.rename", "tempfile.mkstemp"):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_every_file_is_written_through_files():
    package = pathlib.Path(keras_backbones.__file__).parent
    offenders = {}
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        calls = direct_writes(path.read_text())
        if module != "files.py" and len(calls) != DIRECTORY_RENAMES.get(module, 0):
            offenders[module] = calls
    assert offenders == {}, "write through keras_backbones.files (write_atomic, write_bytes)"


@UMASKS
def test_atomic_writes_get_the_umasks_permissions(tmp_path, mask):
    with umask(mask):
        written = files.write_atomic(tmp_path / "new" / "file.bin", lambda f: f.write(b"x"))
        registry._write_cache(tmp_path / "cache" / "stats.json", {"lenet5": {}})
    assert wrong_modes(tmp_path, mask) == {}
    assert os.path.isfile(written)


@UMASKS
def test_savedmodel_export_is_readable_by_the_umasks_readers(tmp_path, lenet, mask):
    with umask(mask):
        final = savedmodel.export(lenet, tmp_path / "savedmodels")
    assert os.path.isfile(os.path.join(final, "saved_model.pb"))
    assert wrong_modes(tmp_path / "savedmodels", mask) == {}


@UMASKS
def test_training_artifacts_get_the_umasks_permissions(tmp_path, mask):
    with umask(mask):
        loop.train(short_digits(), str(tmp_path / "run"), verbose=0)
    assert os.path.isfile(tmp_path / "run" / "checkpoints" / "ckpt-4.index")
    assert wrong_modes(tmp_path / "run", mask) == {}
    clear_session()


# --- a full disk ----------------------------------------------------------------------------

@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, FULL), OSError(errno.EDQUOT, "Disk quota exceeded"),
    tf.errors.ResourceExhaustedError(None, None, f"x.tmp; {FULL}")],
    ids=["ENOSPC", "EDQUOT", "tensorflow"])
def test_a_full_disk_is_one_clear_error_and_leaves_the_old_file(tmp_path, error):
    path = tmp_path / "weights.npz"
    path.write_bytes(b"previous")

    def write(f):
        f.write(b"half")
        raise error

    with pytest.raises(OSError, match=f"{FULL}.*{path}") as raised:
        files.write_atomic(path, write)
    assert raised.value.errno == errno.ENOSPC and "\n" not in str(raised.value)
    assert os.listdir(tmp_path) == ["weights.npz"] and path.read_bytes() == b"previous"


def test_other_write_errors_pass_through(tmp_path):
    def write(f):
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError, match="Input/output error"):
        files.write_atomic(tmp_path / "file", write)
    assert os.listdir(tmp_path) == []


def test_savedmodel_export_on_a_full_disk(tmp_path, lenet, monkeypatch):
    def save(module, directory, **kwargs):
        os.makedirs(os.path.join(directory, "variables", "variables_temp"))
        raise tf.errors.ResourceExhaustedError(
            None, None, f"{directory}/variables/variables_temp/part-00000; {FULL}")

    monkeypatch.setattr(tf.saved_model, "save", save)
    with pytest.raises(OSError, match=FULL) as raised:
        savedmodel.export(lenet, tmp_path / "savedmodels")
    assert str(tmp_path / "savedmodels" / "lenet5") in str(raised.value)
    assert os.listdir(tmp_path / "savedmodels" / "lenet5") == []  # no staging directory
