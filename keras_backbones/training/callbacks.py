"""The loop's Keras callbacks: fault tolerance, checkpoints, EMA evaluation, the history.

Keras's own BackupAndRestore differs between the Kerases (Keras 3 restarts an interrupted
epoch from its first step; tf-keras resumes mid-epoch) and is not multi-worker safe under
Keras 3, so the one here serves both: `tf.train.Checkpoint`s of the model and the optimizer
(its step count, slots and EMA) written by CheckpointManagers (the `checkpoint` index file is
replaced only once a checkpoint is complete, so a process killed while writing leaves the
previous one intact). The loop restores the latest before `fit` and skips the steps that the
interrupted epoch had already trained, so a resumed run ends after exactly the steps of an
uninterrupted one.

The latest is found by listing the `<name>-<step>.index` files, not through the `checkpoint`
index files (garbage there would silently restart training): an unreadable one (truncated by a
full disk, corrupt) is skipped, saying so, for the newest readable one; none readable is an
error. A full disk while saving is one clear error that leaves no `_temp` directory.
"""

import glob
import json
import math
import os
import shutil

import tensorflow as tf

from keras_backbones import files
from keras_backbones.backend import keras
from keras_backbones.training import optimizers


def _step(model):
    return int(model.optimizer.iterations.numpy())


class BackupAndRestore(keras.callbacks.Callback):
    """Checkpoints and fault tolerance, for `fit`.

    After every epoch: a checkpoint of the model and optimizer in `checkpoint_dir`
    (`ckpt-<step>`, the last `keep` kept). Every `save_freq` steps within an epoch (an int;
    None: only at epochs' ends): a backup in `backup_dir` (one kept). `restore()`, called
    before fit, loads the newest readable of the two and returns its global step (0 when
    there is none); `delete_backup()` removes the backup once the run has finished. Every
    worker of a multi-worker run saves at the same steps, each into its own directories (the
    loop gives them theirs)."""

    def __init__(self, model, optimizer, *, checkpoint_dir, backup_dir, keep=3, save_freq=None):
        super().__init__()
        if save_freq is not None and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"save_freq must be None or a positive number of steps; got {save_freq!r}.")
        self.save_freq = save_freq
        self.backup_dir = backup_dir
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        self._checkpoints = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=keep,
                                                       checkpoint_name="ckpt")
        self._backups = tf.train.CheckpointManager(checkpoint, backup_dir, max_to_keep=1,
                                                   checkpoint_name="backup")
        self._checkpoint = checkpoint
        self._saved_step = 0

    def _saved(self):
        """The paths of every checkpoint and backup on disk, newest first."""
        paths = [index.removesuffix(".index")
                 for manager, name in ((self._checkpoints, "ckpt"), (self._backups, "backup"))
                 for index in glob.glob(os.path.join(glob.escape(manager.directory),
                                                     f"{name}-*.index"))]
        return sorted((p for p in paths if p.rsplit("-", 1)[1].isdigit()),
                      key=_checkpoint_step, reverse=True)

    def latest(self):
        """The newest checkpoint or backup on disk (what a rerun resumes from), or None."""
        saved = self._saved()
        return saved[0] if saved else None

    def restore(self):
        saved = self._saved()
        for path in saved:
            try:
                self._checkpoint.restore(path).assert_existing_objects_matched()
            except (AssertionError, ValueError, IndexError, tf.errors.OpError) as error:
                problem = _unreadable(path)
                if problem:
                    print(f"Skipped {path}: unreadable ({problem}).")
                    continue
                raise ValueError(f"Cannot resume from {path}: it does not fit this recipe's model "
                                 f"and optimizer ({_first_line(error)}). Train into a new "
                                 "--workdir, or delete the old one.") from None
            self._saved_step = _checkpoint_step(path)
            return self._saved_step
        if saved:
            raise ValueError(f"No checkpoint in {os.path.dirname(self._checkpoints.directory)} is "
                             f"readable (the newest, {saved[0]}: {_unreadable(saved[0])}). Delete "
                             "checkpoints/ and backup/ to train from the start, or train into a "
                             "new --workdir.")
        return 0

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq is None or _is_nan(logs):
            return
        step = _step(self.model)
        if step // self.save_freq > self._saved_step // self.save_freq:
            _save(self._backups, "backup", step)
            self._saved_step = step

    def on_epoch_end(self, epoch, logs=None):
        if not _is_nan(logs):
            self._saved_step = _step(self.model)
            _save(self._checkpoints, "ckpt", self._saved_step)

    def delete_backup(self):
        shutil.rmtree(self.backup_dir, ignore_errors=True)


def _checkpoint_step(path):
    return int(path.rsplit("-", 1)[1])


def _save(manager, name, step):
    """manager.save, a full disk one clear error. TensorFlow writes a checkpoint's shards into
    `<name>-<step>_temp/` before merging them: a failed save (or a killed one) leaves it."""
    try:
        with files.reporting_full_disk(os.path.join(manager.directory, f"{name}-{step}")):
            manager.save(checkpoint_number=step)
    except BaseException:
        for temp in glob.glob(os.path.join(glob.escape(manager.directory), "*_temp")):
            shutil.rmtree(temp, ignore_errors=True)
        raise


def _unreadable(path):
    """Why the checkpoint `path` cannot be read whole (truncated, corrupt), or None."""
    try:
        reader = tf.train.load_checkpoint(path)
        for key in reader.get_variable_to_shape_map():
            reader.get_tensor(key)
    except (IndexError, tf.errors.OpError) as error:
        return _first_line(error)
    return None


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _is_nan(logs):
    loss = (logs or {}).get("loss")
    return loss is not None and not math.isfinite(float(loss))


class SwapEMAWeights(keras.callbacks.Callback):
    """Evaluates with the exponential moving average of the weights that the optimizer keeps
    (use_ema), then puts the live weights back: validation numbers are the EMA model's, as
    the exported weights will be (fit ends by copying the average into the model)."""

    def __init__(self, variables):
        super().__init__()
        self.variables = variables

    def _swap(self):
        for variable, average in optimizers.ema_pairs(self.model.optimizer, self.variables):
            live = tf.convert_to_tensor(variable)
            variable.assign(tf.convert_to_tensor(average))
            average.assign(live)

    def on_test_begin(self, logs=None):
        self._swap()

    def on_test_end(self, logs=None):
        self._swap()


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the epoch's final learning rate to its logs (history, TensorBoard, curves)."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = optimizers.current_learning_rate(self.model.optimizer)


class HistoryFile(keras.callbacks.Callback):
    """The per-epoch logs as JSON ({metric: [value per epoch], "epoch": [...]}), rewritten
    after every epoch. A resumed run keeps the epochs before the one it resumes."""

    def __init__(self, path, initial_epoch=0):
        super().__init__()
        self.path = path
        self.rows = [row for row in self._read() if row["epoch"] < initial_epoch]

    def _read(self):
        try:
            with open(self.path) as f:
                history = json.load(f)
        except (OSError, ValueError):
            return []
        epochs = history.get("epoch", [])
        return [{key: values[i] for key, values in history.items() if i < len(values)}
                for i in range(len(epochs))]

    @property
    def history(self):
        keys = sorted({key for row in self.rows for key in row} - {"epoch"})
        return {"epoch": [row["epoch"] for row in self.rows],
                **{key: [row.get(key) for row in self.rows] for key in keys}}

    def on_epoch_end(self, epoch, logs=None):
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}})
        files.write_bytes(self.path, json.dumps(self.history, indent=1).encode())
