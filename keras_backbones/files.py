"""Writing files: every file the package writes goes through `write_atomic`.

A file is written whole or not at all (a temporary file beside it, renamed into place: a
reader, TF Serving polling a directory or a user opening results, never sees half of one),
with the permissions that the process's umask gives a new file (`apply_umask`: the temporary
file is private), and a full disk is one error naming the file (`reporting_full_disk`, which
TensorFlow's own writers, SavedModels and checkpoints, run under too).

No TensorFlow here: weights, training and export import it alike.
"""

import contextlib
import errno
import os
import sys
import tempfile


def write_atomic(path, write):
    """Calls write(binary file) on a temporary file beside `path`, then renames it into
    place: a reader never sees half a file, and a failure (a full disk: one clear error, see
    `reporting_full_disk`) leaves what was there. The file gets the permissions of a normally
    created one (`apply_umask`). Returns `path` as a string."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}-")
    try:
        with reporting_full_disk(path), os.fdopen(fd, "wb") as f:
            write(f)
        apply_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def existing_file(path, what, error=ValueError):
    """`path` as a string if it is a file; else FileNotFoundError ("No such {what}: path"), or
    `error` for a directory."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such {what}: {path}")
    if os.path.isdir(path):
        raise error(f"{path} is a directory, not {'an' if what[0] in 'aeiou' else 'a'} {what}.")
    return path


def write_bytes(path, content):
    """`write_atomic` of `content` (bytes)."""
    return write_atomic(path, lambda f: f.write(content))


def apply_umask(path):
    """Gives `path`, a file or a directory and everything in it, the permissions that the
    process's umask gives a new one (0644 and 0755 under umask 022). mkstemp and mkdtemp,
    which stage every write, make them private (0600, 0700): a reader running as another
    user (TF Serving) could not open them."""
    mask = _umask()
    if not os.path.isdir(path):
        os.chmod(path, 0o666 & ~mask)
        return
    for directory, _, files in os.walk(path):
        os.chmod(directory, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o666 & ~mask)


def _umask():
    """The process's umask, from /proc where there is one: os.umask reads it only by setting
    it, and a file that another thread creates meanwhile gets the one set."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration):
        mask = os.umask(0o077)  # the most private meanwhile
        os.umask(mask)
        return mask


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def reporting_full_disk(path):
    """Reraises a full disk or quota while `path` is written (an OSError, or the
    ResourceExhaustedError of TensorFlow's own writers) as one OSError that names it, not a
    traceback from deep in a writer."""
    try:
        yield
    except Exception as error:
        if not _is_disk_full(error):
            raise
        raise OSError(errno.ENOSPC, f"No space left on device to write {path}: free some "
                                    "space, or write elsewhere.") from None


def _is_disk_full(error):
    if isinstance(error, OSError):
        return error.errno in _DISK_FULL
    tf = sys.modules.get("tensorflow")  # not imported: the error is not one of its writers'
    # TensorFlow reports ENOSPC and EDQUOT as RESOURCE_EXHAUSTED with the C library's text.
    return tf is not None and isinstance(error, tf.errors.ResourceExhaustedError) and any(
        os.strerror(code) in error.message for code in _DISK_FULL)
