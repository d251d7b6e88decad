"""The train loop: a recipe in; a trained model, its history and its artifacts out.

    strategy -> data (one pipeline per worker, per-replica batches) -> model (the registry,
    from the recipe's model.weights; SyncBN with several replicas) -> Trainer (the train
    step) -> fit with the callbacks (fine-tuning: the head epochs with the backbone frozen,
    then the whole network) -> evaluation (with the EMA weights when the recipe keeps an
    EMA) -> artifacts

What a run writes into its work directory:

    recipe.json        the recipe as run (with the command line's overrides and the training
                       split's classes, data.num_classes and data.class_names, which every
                       other split must have)
    checkpoints/       ckpt-<step>: model and optimizer after each epoch, the last N kept
    backup/            the latest mid-epoch backup (every checkpoint.backup_every_steps steps),
                       deleted when the run ends. Rerunning the command resumes from the latest
                       of the two (a finished run is then only evaluated again)
    tensorboard/       TensorBoard logs (train/ and validation/)
    history.json       the metrics of each epoch
    curves.png         loss and accuracy per epoch, training and validation
    weights.npz        the final weights in the portable format (keras_backbones.weights):
                       with recipe.json, what `keras-backbones export` deploys
    result.json        test top-1/top-5, steps, epochs, replicas, wall time, and the corrupt
                       images skipped (skipped_images: count and first paths, per split)
    .lock              locked while a run writes here (it holds the run's PID): a second run
                       into the same directory fails at once. The kernel releases the lock
                       when its process ends, killed or not: a new run then starts

In a multi-worker run the chief writes these; worker i keeps its own backup, checkpoints and
weights (and .lock) under workers/worker<i>/ (every worker takes part in every save: reading
some distributed variables is a collective operation). Every file is written atomically
(`keras_backbones.files`) with the permissions that the umask gives a new file.
"""

import contextlib
import dataclasses
import fcntl
import json
import os
import sys
import time
import warnings

import tensorflow as tf

from keras_backbones import backend, files, registry, weights
from keras_backbones.backend import LEGACY_KERAS, keras
from keras_backbones.training import callbacks as callbacks_lib
from keras_backbones.training import optimizers, recipe, report
from keras_backbones.training import strategy as strategy_lib


class Diverged(ValueError):
    """The loss became NaN or infinite (a ValueError: the usual cause is a recipe's rate)."""


# --- the train step ---------------------------------------------------------------------------

class Trainer(keras.Model):
    """Wraps a functional network for `fit`: soft-label cross-entropy (labels arrive one-hot,
    smoothed or mixed), auxiliary classifier losses, coupled L2, hidden-state mixing,
    loss scaling, and top-1/top-5. The network is built with logits outputs.

    Outputs named aux* (GoogLeNet's, Inception-v3's auxiliary heads) add aux_weight x their
    cross-entropy in training and are ignored in evaluation. Training images that arrive as a
    tuple of views (AugMix's JSD: clean, augmented, augmented) run as one batch; the loss is
    the clean view's cross-entropy plus JSD_WEIGHT x the views' Jensen-Shannon divergence
    (recipe.validate refuses them with hidden-state mixing). With R replicas each computes
    the mean loss of its share of the global batch divided by R; the optimizer sums the
    replicas' gradients, so the update is that of the mean loss over the global batch.
    """

    def __init__(self, network, *, num_classes, aux_weight=0.0, penalty=None, mixing=None,
                 steps_per_execution=1):
        super().__init__(name=f"{network.name}_trainer")
        self.network = network
        names = list(getattr(network, "output_names", None) or [network.name])
        self._aux = [name.startswith("aux") for name in names]
        if self._aux.count(False) != 1:
            raise ValueError(f"{network.name} must have one main output besides its aux* "
                             f"outputs; its outputs are {names}.")
        self.aux_weight = float(aux_weight)
        self._penalty = penalty or (lambda: 0.0)  # a function: not tracked as weights
        self.mixing_method, self.mixing_alpha, self.mixing_options = mixing or (None, 0.0, None)
        self.steps_per_call = int(steps_per_execution)
        self.steps_to_skip = 0
        self.logs_per_worker = False
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
        self.top5 = keras.metrics.TopKCategoricalAccuracy(k=5, name="top5") if num_classes > 5 else None
        self.built = True  # the network is

    @property
    def metrics(self):
        return [m for m in (self.loss_tracker, self.accuracy, self.top5) if m is not None]

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def _split(self, outputs):
        """(main logits, [aux logits])."""
        if isinstance(outputs, dict):
            outputs = [outputs[name] for name in self.network.output_names]
        if not isinstance(outputs, (list, tuple)):
            return outputs, []
        main = [o for o, aux in zip(outputs, self._aux) if not aux][0]
        return main, [o for o, aux in zip(outputs, self._aux) if aux]

    def _per_example_loss(self, labels, outputs, training):
        logits, aux = self._split(outputs)
        loss = _cross_entropy(labels, logits)
        if training:
            for head in aux:
                loss += self.aux_weight * _cross_entropy(labels, head)
        return loss, logits

    def _update_metrics(self, per_example_loss, labels, logits):
        # Per-example values: a replica given an empty final batch adds nothing.
        self.loss_tracker.update_state(per_example_loss)
        for metric in self.metrics[1:]:
            metric.update_state(labels, logits)
        results = {m.name: m.result() for m in self.metrics}
        if self.logs_per_worker:
            # Keras 3 reduces a multi-worker step's outputs with strategy.reduce(MEAN, axis=0),
            # which fails on scalars (tensorflow/tensorflow#72388): give them an axis.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def train_step(self, data):
        images, labels = data
        views = len(images) if isinstance(images, (tuple, list)) else 1
        variables = self.network.trainable_variables
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            if self.mixing_method:
                from keras_backbones.training import mixing

                outputs, labels, mixed = mixing.mixed_forward(
                    self.network, images, labels, method=self.mixing_method,
                    alpha=self.mixing_alpha, puzzle=self.mixing_options, training=True,
                    return_info=True)
                clean_loss = mixed.get("clean_loss", 0.0)
            else:
                outputs = self.network(tf.concat(images, 0) if views > 1 else images, training=True)
            if views > 1:
                consistency = jensen_shannon(tf.split(self._split(outputs)[0], views))
                outputs = tf.nest.map_structure(lambda output: tf.split(output, views)[0], outputs)
            per_example, logits = self._per_example_loss(labels, outputs, training=True)
            if views > 1:
                per_example += JSD_WEIGHT * consistency
            objective = tf.reduce_mean(per_example) + self._penalty()
            if self.mixing_method:  # PuzzleMix's clean_lam x the loss of its saliency pass
                objective += clean_loss
            if self.network.losses:
                objective += tf.add_n([tf.cast(l, tf.float32) for l in self.network.losses])
            objective = objective / replicas
        optimizers.minimize(self.optimizer, tape, objective, variables)
        return self._update_metrics(per_example, labels, logits)

    def test_step(self, data):
        images, labels = data
        outputs = self.network(images, training=False)
        per_example, logits = self._per_example_loss(labels, outputs, training=False)
        return self._update_metrics(per_example, labels, logits)

    def evaluate(self, *args, **kwargs):
        """Keras's, without Keras 3's "Your input ran out of data; interrupting training" at
        the end of a pass without `steps`. An evaluation split of files whose corrupt images
        are skipped has a size tf.data cannot know, and Keras 3 takes the end of such a pass
        for a shortage; a pass without steps is meant to end where the data does (`fit`
        validates through this method too)."""
        if kwargs.get("steps") is not None:
            return super().evaluate(*args, **kwargs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            return super().evaluate(*args, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras 3 builds a distributed model's metrics and optimizer from a first batch,
        reduced across replicas, before fit/evaluate. Here they are built already (Trainer
        and loop), and that reduction fails under MultiWorkerMirroredStrategy (Keras 3.15)
        and takes a batch from a finite evaluation iterator: skipped."""
        del iterator, data_batch

    def make_train_function(self, force=False):
        """Keras's train function, wrapped to skip the steps that an interrupted epoch had
        already trained when a run resumes from a backup (it consumes their batches, so the
        epoch still ends where it would have)."""
        made = super().make_train_function(force)
        function = self.train_function if self.train_function is not None else made
        if getattr(function, "skips_resumed_steps", False):
            return function

        def train_function(iterator):
            if self.steps_to_skip > 0:
                for _ in range(self.steps_per_call):
                    next(iterator)
                self.steps_to_skip -= self.steps_per_call
                return {m.name: m.result() for m in self.metrics}
            return function(iterator)

        train_function.skips_resumed_steps = True
        self.train_function = train_function
        return train_function


def _cross_entropy(labels, logits):
    return tf.nn.softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32),
                                                   logits=tf.cast(logits, tf.float32))


JSD_WEIGHT = 12.0  # google-research/augmix cifar.py and imagenet.py


def jensen_shannon(view_logits):
    """Per example, AugMix's consistency loss: the mean over the views of KL(p_view || M), M
    the views' mean softmax clamped to [1e-7, 1] (the reference's clamp)."""
    probs = [tf.nn.softmax(tf.cast(logits, tf.float32)) for logits in view_logits]
    log_mixture = tf.math.log(tf.clip_by_value(tf.add_n(probs) / len(probs), 1e-7, 1.0))
    divergences = [tf.reduce_sum(tf.math.xlogy(p, p) - p * log_mixture, axis=-1) for p in probs]
    return tf.add_n(divergences) / len(probs)


# --- the model ------------------------------------------------------------------------------

def build_network(config, num_classes, input_shape, *, logits=True, weights_path=None):
    """The recipe's model from the registry (logits outputs for training)."""
    kwargs = config.model.kwargs.to_dict() if hasattr(config.model.kwargs, "to_dict") \
        else dict(config.model.kwargs)
    try:
        return registry.create_model(config.model.name, weights=weights_path, classes=num_classes,
                                     input_shape=tuple(input_shape),
                                     classifier_activation=None if logits else "softmax",
                                     **kwargs)
    except TypeError as error:  # an argument the builder does not take
        raise ValueError(f"model.kwargs {kwargs} do not fit {config.model.name}: {error} (after "
                         "--recipe.model.name, --recipe.model.kwargs='{}' clears the recipe's "
                         "model's arguments).") from None


def sync_batchnorm(model):
    """A copy of `model` (same layer names and weights) whose BatchNormalization layers
    compute their batch statistics over the global batch, across replicas.

    Done on the finished model rather than through a builder argument, so that it holds for
    every family: the builders' `norm="syncbatch"` (ResNets) gives the same layers."""
    bn_class = keras.layers.BatchNormalization
    if not any(isinstance(layer, bn_class) for layer in model.layers):
        return model

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, bn_class):
            config["synchronized"] = True
            if config.get("fused"):
                config["fused"] = False  # tf-keras: fused kernels do not synchronize
        return layer.__class__.from_config(config)

    synced = keras.models.clone_model(model, clone_function=clone)
    synced.set_weights(model.get_weights())
    synced.block_boundaries = getattr(model, "block_boundaries", ())
    synced.feature_info = getattr(model, "feature_info", ())
    return synced


# --- training -------------------------------------------------------------------------------

def train(config, workdir, *, strategy="default", tpu="", jit_compile=None,
          mixed_precision=None, verbose=None):
    """Trains the recipe `config` into `workdir` (see the module docstring); returns the
    result dict (also written to result.json). jit_compile / mixed_precision override the
    recipe's when not None. A run whose workdir holds a checkpoint or backup resumes from the
    latest."""
    started = time.time()
    config = _with_overrides(config, jit_compile=jit_compile, mixed_precision=mixed_precision)
    # A multi-worker strategy must exist before anything else runs in TensorFlow.
    strat = strategy_lib.make_strategy(strategy, tpu=tpu)
    task_type, task_id, chief = strategy_lib.worker(strat)
    outdir = workdir if chief else os.path.join(workdir, "workers", f"{task_type}{task_id}")
    os.makedirs(outdir, exist_ok=True)
    previous_policy = backend.dtype_policy_name()
    backend.set_dtype_policy("float32" if config.mixed_precision == "none" else config.mixed_precision)
    try:
        with _locked(outdir):
            return _train(config, workdir, outdir, strat, chief, started,
                          verbose=_verbosity() if verbose is None else verbose)
    finally:
        backend.set_dtype_policy(previous_policy)


@contextlib.contextmanager
def _locked(outdir):
    """Holds outdir/.lock (see the module docstring) while the body runs. An flock, not the
    file's existence: the kernel releases it with the process, so no lock outlives its run."""
    fd = os.open(os.path.join(outdir, ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise ValueError(f"{outdir} is in use by another training run (PID {holder}): wait "
                             "for it to end, or train into another --workdir.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _with_overrides(config, **overrides):
    config = config.copy_and_resolve_references()
    with config.unlocked():
        for key, value in overrides.items():
            if value is not None:
                config[key] = value
    recipe.validate(config)
    return config


def _verbosity():
    return 1 if sys.stdout.isatty() else 2  # progress bars on a terminal, a line per epoch in logs


def _train(config, workdir, outdir, strat, chief, started, *, verbose):
    # Python's, NumPy's and TensorFlow's global seeds: the initialization and, with the
    # pipeline's op seeds, the data order (set before any dataset is made).
    keras.utils.set_random_seed(config.seed)
    data = _data(config, strat)
    network, trainer = _trainer(config, strat, data)
    backup = callbacks_lib.BackupAndRestore(
        network, trainer.optimizer, checkpoint_dir=os.path.join(outdir, "checkpoints"),
        backup_dir=os.path.join(outdir, "backup"), keep=config.checkpoint.keep if chief else 1,
        save_freq=config.checkpoint.backup_every_steps or None)
    resumed_from = backup.restore()
    initial_epoch, trainer.steps_to_skip = divmod(resumed_from, data.steps_per_epoch)
    if resumed_from:
        print(f"Resuming from step {resumed_from} (epoch {initial_epoch + 1}, step "
              f"{trainer.steps_to_skip + 1} of {data.steps_per_epoch}).")
    if chief:
        files.write_bytes(os.path.join(workdir, recipe.RUN_RECIPE),
                          config.to_json_best_effort(indent=1, sort_keys=True).encode())
    history = callbacks_lib.HistoryFile(os.path.join(workdir, "history.json"), initial_epoch)
    callbacks = _callbacks(config, network, backup, history if chief else None, workdir)
    eval_steps = _eval_steps(config, data.eval_source, data.eval_batch, strat)
    _fit(config, trainer, data, eval_steps, callbacks, initial_epoch, verbose)
    steps = _trained_steps(trainer, backup, config.epochs * data.steps_per_epoch)

    scores = trainer.evaluate(data.eval, steps=eval_steps, return_dict=True, verbose=0)
    result = {
        "model": config.model.name, "top1": float(scores["accuracy"]),
        "top5": float(scores["top5"]) if "top5" in scores else None,
        "eval_loss": float(scores["loss"]), "steps": steps, "epochs": config.epochs,
        "steps_per_epoch": data.steps_per_epoch, "global_batch": config.batch_size,
        "replicas": strategy_lib.replicas(strat), "resumed_from_step": resumed_from,
        "weights": weights.save_weights(network, os.path.join(outdir, "weights.npz")),
        "keras": ("tf-keras " if LEGACY_KERAS else "keras ") + keras.__version__,
        "wall_seconds": round(time.time() - started, 1),
        "skipped_images": {split: _skipped_images(source)
                           for split, source in (("train", data.train_source),
                                                 ("eval", data.eval_source))
                           if source.suspects is not None},
    }
    if chief:
        report.plot_history(history.history, os.path.join(workdir, "curves.png"),
                            title=f"{config.model.name}: trained on {data.train_source.name}, "
                                  f"validated on {data.eval_source.name}")
        files.write_bytes(os.path.join(workdir, "result.json"),
                          json.dumps(result, indent=1).encode())
    backup.delete_backup()
    top5 = "" if result["top5"] is None else f", top-5 {result['top5']:.2%}"
    print(f"Test top-1 {result['top1']:.2%}{top5} on {data.eval_source.name} "
          f"({steps} steps, {result['wall_seconds']:.0f} s). Artifacts in {workdir}")
    return result


@dataclasses.dataclass
class _Data:
    """A run's two splits, their distributed datasets and the model's input shape."""
    train_source: object
    eval_source: object
    train: object
    eval: object
    steps_per_epoch: int
    eval_batch: int
    input_shape: tuple


def _data(config, strat):
    """The splits and their pipelines, per-replica batches under `strat`. Records the training
    split's classes in `config` (the model's outputs: recipe.json carries them to evaluate and
    export, and every other split is checked against them)."""
    from keras_backbones.data import pipeline, sources

    image_size, channels, pre = recipe.input_geometry(config)
    train_source = sources.load(config.data, "train")
    with config.unlocked():
        config.data.num_classes = train_source.num_classes
        config.data.class_names = tuple(train_source.class_names or ())
    eval_source = sources.load(config.data, "eval")

    def dataset_fn(source, training):
        def make(batch_size, context):
            return pipeline.make_dataset(
                source, training=training, image_size=image_size, channels=channels,
                preprocessing=pre, batch_size=batch_size, num_classes=train_source.num_classes,
                augment=config.augment if training else None, seed=config.seed,
                deterministic=config.data.deterministic, input_context=context,
                cache=config.data.cache,
                # Training repeats (steps_per_epoch counts the epoch). So does a partial
                # evaluation (eval_steps): Keras keeps its iterator between evaluations.
                repeat=training or bool(config.eval_steps))
        return make

    steps_per_epoch = _steps_per_epoch(config, train_source)
    eval_batch = config.eval_batch_size or config.batch_size
    return _Data(
        train_source, eval_source,
        train=strategy_lib.distribute(strat, dataset_fn(train_source, True), config.batch_size),
        eval=strategy_lib.distribute(strat, dataset_fn(eval_source, False), eval_batch),
        steps_per_epoch=steps_per_epoch, eval_batch=eval_batch,
        input_shape=(*image_size, channels))


def _trainer(config, strat, data):
    """(network, Trainer), built and compiled in `strat`'s scope."""
    num_classes = data.train_source.num_classes
    with strat.scope():
        network = build_network(config, num_classes, data.input_shape,
                                weights_path=config.model.weights or None)
        if strategy_lib.replicas(strat) > 1 and config.sync_batchnorm:
            network = sync_batchnorm(network)
        decayed = optimizers.decayed_weights(network, config)

        def penalty():  # on the weights that train now (fine-tuning's head epochs: the head)
            training = {id(v) for v in network.trainable_variables}
            return optimizers.l2_penalty([v for v in decayed if id(v) in training],
                                         config.optimizer.weight_decay)

        trainer = Trainer(
            network, num_classes=num_classes, aux_weight=config.loss.aux_weight,
            penalty=penalty if optimizers.couples_weight_decay(config) else None,
            mixing=_mixing(config) if config.mixing.method else None,
            steps_per_execution=config.steps_per_execution)
        trainer.logs_per_worker = not LEGACY_KERAS and strategy_lib.is_multi_worker(strat)
        _compile(trainer, optimizers.make_optimizer(config, data.steps_per_epoch, network), config)
        trainer.optimizer.build(network.trainable_variables)  # before a backup is restored
    return network, trainer


def _mixing(config):
    """(method, alpha, PuzzleMix's options) of the train step: PuzzleMix's data term reads
    pixels in [0, 1], so it gets the preprocessing's mean and std."""
    if config.mixing.method != "puzzlemix":
        return config.mixing.method, config.mixing.alpha, None
    from keras_backbones.data import preprocessing

    pre = preprocessing.spec(recipe.input_geometry(config)[2])
    return config.mixing.method, config.mixing.alpha, {
        "setting": config.mixing.get("puzzlemix", "cifar"), "mean": pre.mean, "std": pre.std}


def _compile(trainer, optimizer, config):
    if config.jit_compile:
        backend.warn_if_xla_on_cpu("jit_compile")
    trainer.compile(optimizer=optimizer, jit_compile=bool(config.jit_compile),
                    steps_per_execution=config.steps_per_execution)


def _callbacks(config, network, backup, history, workdir):
    """fit's callbacks; `history` (the chief's HistoryFile, else None) adds TensorBoard too."""
    callbacks = [
        backup,
        keras.callbacks.TerminateOnNaN(),
        callbacks_lib.LearningRateLogger(),
        *optimizers.schedule_callbacks(config),
    ]
    if config.ema.decay:
        callbacks.insert(0, callbacks_lib.SwapEMAWeights(network.trainable_variables))
    if history is not None:
        callbacks += [history, keras.callbacks.TensorBoard(
            os.path.join(workdir, "tensorboard"), write_graph=False, profile_batch=0)]
    return callbacks


def _fit(config, trainer, data, eval_steps, callbacks, initial_epoch, verbose):
    """Trains from `initial_epoch` to the recipe's last epoch (nothing left: a resumed
    finished run), in two phases where the recipe fine-tunes: finetune.head_epochs with the
    backbone frozen (`frozen_backbone`), then the whole network, each one `fit`.

    The phase follows from the epoch alone, so a run killed in either phase, or between
    them, resumes in the right one: the checkpoints hold the same variables in both (the
    optimizer is built for the whole network before anything is frozen; frozen weights only
    get no updates) and the frozen state is set from the epoch on every start, never saved."""
    if initial_epoch >= config.epochs:
        if config.ema.decay:  # the backup was of the last step: fit would have done this
            optimizers.inner_optimizer(trainer.optimizer).finalize_variable_values(
                trainer.network.trainable_variables)
        return
    phases = [(config.finetune.head_epochs, frozen_backbone),
              (config.epochs, contextlib.nullcontext)]
    for end, context in phases:
        if initial_epoch >= end:
            continue
        with context(trainer.network):
            if config.finetune.head_epochs:
                # Compiled again: compile() fixes which layers train (tf-keras's fit puts
                # back the trainable flags of compile time; Keras's transfer-learning guide:
                # compile after changing `trainable`). The optimizer and its state stay.
                with trainer.distribute_strategy.scope():
                    _compile(trainer, trainer.optimizer, config)
            trainer.fit(data.train, epochs=end, initial_epoch=initial_epoch,
                        steps_per_epoch=data.steps_per_epoch, validation_data=data.eval,
                        validation_steps=eval_steps, callbacks=callbacks,
                        shuffle=False, verbose=verbose)  # the pipeline shuffles
        if trainer.stop_training:
            return  # the loss stopped being finite (TerminateOnNaN): _trained_steps says so
        initial_epoch = end


@contextlib.contextmanager
def frozen_backbone(network):
    """Fine-tuning's head epochs: every layer below the head set trainable=False, which in
    both Kerases also runs BatchNormalization in inference mode (its moving statistics stay
    the checkpoint's); restored on exit. The head is what follows the last stage output
    (`optimizers.layer_depths`' num_layers): the classifier, and a transformer's final norm."""
    depths, num_layers = optimizers.layer_depths(network)
    frozen = [layer for layer in network.layers
              if layer.trainable and depths[layer.name] < num_layers]
    for layer in frozen:
        layer.trainable = False
    try:
        yield
    finally:
        for layer in frozen:
            layer.trainable = True


def _trained_steps(trainer, backup, total_steps):
    """The optimizer's step count; Diverged where the loss stopped training (TerminateOnNaN
    sets stop_training). Not the count against total_steps: under mixed_float16 the loss
    scale skips the updates whose gradients overflowed, which the optimizer does not count."""
    steps = int(trainer.optimizer.iterations.numpy())
    if trainer.stop_training:
        # States are saved only while the loss is finite (BackupAndRestore): the newest is the
        # last good one, where one was saved before the loss went.
        saved = backup.latest()
        resume = (f"a rerun into the same work directory resumes from {saved}, the last "
                  "state saved" if saved else
                  "nothing was saved before it (a checkpoint at each epoch's end, a backup every "
                  "checkpoint.backup_every_steps steps): a rerun starts afresh")
        raise Diverged(f"Training stopped at step {steps} of {total_steps}: the loss is not "
                       "finite. Lower optimizer.learning_rate (or raise schedule.warmup_epochs); "
                       f"{resume}.")
    return steps


SHOWN_SKIPPED = 5  # corrupt images named in messages and results


def _skipped_images(source):
    """{"count", "first": names} of the corrupt images `source` skipped so far; printed."""
    from keras_backbones.data import sources

    names = sources.skipped_images(source)
    if names:
        more = f" and {len(names) - SHOWN_SKIPPED} more" if len(names) > SHOWN_SKIPPED else ""
        print(f"Skipped {len(names)} corrupt image{'s' * (len(names) > 1)} of {source.name}: "
              f"{', '.join(names[:SHOWN_SKIPPED])}{more}.")
    return {"count": len(names), "first": names[:SHOWN_SKIPPED]}


def _eval_steps(config, source, batch_size, strat):
    """config.eval_steps, else None (one pass) where Keras can find the end of a pass by
    itself: tf-keras cannot on a distributed dataset, and is told the number of batches."""
    if config.eval_steps:
        return config.eval_steps
    if LEGACY_KERAS and not strategy_lib.is_default(strat):
        if not source.num_examples:
            raise ValueError(f"{source.name} does not know its size: set eval_steps "
                             "(tf-keras needs it on a distributed dataset).")
        return -(-source.num_examples // batch_size)
    return None


def _steps_per_epoch(config, source):
    examples = source.num_examples or config.data.train_examples
    if config.steps_per_epoch:
        steps = config.steps_per_epoch
    elif not examples:
        raise ValueError(f"{source.name} does not know its size: set data.train_examples "
                         "(ImageNet: 1281167) or steps_per_epoch.")
    else:
        steps = examples // config.batch_size
    steps -= steps % config.steps_per_execution  # epochs end on a call boundary
    if steps < 1:
        raise ValueError(f"batch_size={config.batch_size} x steps_per_execution="
                         f"{config.steps_per_execution} is more than the {examples} training "
                         "examples: lower them.")
    return steps


# --- evaluation -----------------------------------------------------------------------------

def evaluate(config, weights_path, *, out_dir=None, batch_size=None, tta="none", scales=None):
    """top-1/top-5 of a weights file on the recipe's evaluation split, and the confusion
    matrix PNG (in out_dir, default the weights' directory). Returns the numbers.

    tta: "none" (the center crop), or the test-time evaluation of a paper
    (keras_backbones.training.tta: flip, 10crop, 144crop, dense), with its `scales`."""
    import numpy as np

    from keras_backbones.data import pipeline, sources
    from keras_backbones.training import tta as tta_lib

    recipe.validate(config)
    tta_lib.check_mode(tta, scales)
    if not os.path.isfile(weights_path):
        raise ValueError(f"--weights: no such file: {weights_path!r}.")
    config = recipe.with_recorded_classes(config, weights_path)
    image_size, channels, pre = recipe.input_geometry(config)
    source = sources.load(config.data, "eval")
    model = build_network(config, source.num_classes, (*image_size, channels), logits=False,
                          weights_path=weights_path)
    batch_size = batch_size or config.eval_batch_size or config.batch_size
    if tta == "none":
        dataset = pipeline.make_dataset(
            source, training=False, image_size=image_size, channels=channels, preprocessing=pre,
            batch_size=batch_size, num_classes=source.num_classes)
        predict = tf.function(lambda images: model(images, training=False))
    else:
        dataset, predict, scales = tta_lib.evaluation(
            model, source, tta, scales=scales, image_size=image_size, channels=channels,
            preprocessing=pre, batch_size=batch_size, num_classes=source.num_classes)
    labels, scores = [], []
    progress = keras.utils.Progbar(target=None, unit_name="batch", verbose=_verbosity())
    for images, targets in dataset:
        outputs = predict(images)
        scores.append(np.asarray((outputs[0] if isinstance(outputs, (list, tuple)) else outputs)))
        labels.append(np.argmax(targets.numpy(), axis=-1))
        progress.add(1)
    labels, scores = np.concatenate(labels), np.concatenate(scores)
    matrix = report.confusion_matrix(labels, scores.argmax(-1), source.num_classes)
    out_dir = out_dir or os.path.dirname(os.path.abspath(weights_path))
    os.makedirs(out_dir, exist_ok=True)
    plot = report.plot_confusion_matrix(matrix, os.path.join(out_dir, "confusion_matrix.png"),
                                        class_names=source.class_names,
                                        title=f"{config.model.name} on {source.name}")
    result = {"top1": report.top_k_accuracy(labels, scores, 1),
              "top5": report.top_k_accuracy(labels, scores, 5), "examples": int(len(labels)),
              "confusion_matrix": plot, "tta": tta}
    if scales:
        result["scales"] = list(scales)
    if source.suspects is not None:
        result["skipped_images"] = _skipped_images(source)
    evaluated = "" if tta == "none" else f", tta {tta}" + (
        f" at {', '.join(map(str, scales))}" if scales else "")
    print(f"{config.model.name} on {source.name}: top-1 {result['top1']:.2%}, "
          f"top-5 {result['top5']:.2%} ({len(labels)} images{evaluated}). Confusion matrix: "
          f"{plot}")
    return result
