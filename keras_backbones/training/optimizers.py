"""The papers' optimizers and learning-rate schedules, and which weights decay.

- SGD with momentum (AlexNet, VGG, the ResNets), RMSprop (MobileNet, EfficientNet), AdamW
  (ConvNeXt, ViT, Swin), built from a recipe's `optimizer` section.
- Schedules on the global step: constant, step (x decay_rate at epoch boundaries), cosine to a
  floor, each after an optional linear warmup; and reduce-on-plateau (AlexNet: /10 when the
  validation error stops improving), which is a callback acting on a constant rate.
- Weight decay as the papers apply it. SGD and RMSprop: L2 regularization, coupled with the
  gradient (PyTorch's `SGD(weight_decay=wd)` adds wd x w to it; the TensorFlow references add
  wd/2 x ||w||^2 to the loss): `l2_penalty` is that term, added to the loss by the train step.
  AdamW: decoupled decay, w -= lr x wd x w, inside the optimizer. Either way the decayed weights
  are chosen by `decayed_weights`: everything, or (timm's rule) all but the 1-D weights (norm
  scales and shifts, biases, layer scales) and the names a recipe lists (position embeddings,
  class tokens, relative position tables).
"""

import math
import re

import tensorflow as tf

from keras_backbones.backend import LEGACY_KERAS, keras


@keras.utils.register_keras_serializable(package="keras_backbones")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup from warmup_start x rate to the rate over warmup_steps, then:

    constant: the rate; step: x decay_rate at each of `boundaries` (steps); cosine: half a
    cosine from the rate down to min_rate at total_steps (timm's CosineLRScheduler without
    restarts; the cosine starts after the warmup); poly: min_rate + (rate - min_rate) x
    (1 - progress)^power (Caffe's "poly" policy; power 1 is a linear decay)."""

    def __init__(self, rate, *, kind="constant", total_steps=1, warmup_steps=0,
                 warmup_start=0.0, boundaries=(), decay_rate=0.1, min_rate=0.0, power=1.0):
        super().__init__()
        self.rate = float(rate)
        self.kind = kind
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.warmup_start = float(warmup_start)
        self.boundaries = tuple(int(b) for b in boundaries)
        self.decay_rate = float(decay_rate)
        self.min_rate = float(min_rate)
        self.power = float(power)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        rate = tf.constant(self.rate, tf.float32)
        if self.kind == "step" and self.boundaries:
            passed = tf.reduce_sum(tf.cast(step >= tf.constant(self.boundaries, tf.float32), tf.float32))
            rate = rate * tf.pow(self.decay_rate, passed)
        elif self.kind in ("cosine", "poly"):
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = tf.clip_by_value((step - self.warmup_steps) / span, 0.0, 1.0)
            fall = (0.5 * (1.0 + tf.cos(math.pi * progress)) if self.kind == "cosine"
                    else tf.pow(1.0 - progress, self.power))
            rate = self.min_rate + (rate - self.min_rate) * fall
        if self.warmup_steps:
            start = self.warmup_start * self.rate
            warm = start + (self.rate - start) * step / self.warmup_steps
            rate = tf.where(step < self.warmup_steps, warm, rate)
        return rate

    def get_config(self):
        return {"rate": self.rate, "kind": self.kind, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "warmup_start": self.warmup_start,
                "boundaries": list(self.boundaries), "decay_rate": self.decay_rate,
                "min_rate": self.min_rate, "power": self.power}


def peak_learning_rate(config):
    """The recipe's rate, scaled linearly to its global batch (Goyal et al. 2017) when it gives
    a reference batch size."""
    opt = config.optimizer
    scale = config.batch_size / opt.reference_batch_size if opt.reference_batch_size else 1.0
    return opt.learning_rate * scale


def learning_rate(config, steps_per_epoch):
    """A schedule for the optimizer, or a float for "plateau" (its callback changes it)."""
    sched = config.schedule
    rate = peak_learning_rate(config)
    if sched.name == "plateau":
        return rate
    return WarmupSchedule(
        rate, kind=sched.name, total_steps=config.epochs * steps_per_epoch,
        warmup_steps=round(sched.warmup_epochs * steps_per_epoch),
        warmup_start=sched.warmup_start,
        boundaries=[round(b * steps_per_epoch) for b in sched.boundaries],
        decay_rate=sched.decay_rate, min_rate=sched.min_learning_rate, power=sched.power)


def schedule_callbacks(config):
    """The callbacks a schedule needs: reduce-on-plateau's."""
    sched = config.schedule
    if sched.name != "plateau":
        return []
    mode = "min" if sched.monitor.endswith("loss") else "max"
    return [keras.callbacks.ReduceLROnPlateau(
        monitor=sched.monitor, factor=sched.decay_rate, patience=sched.patience, mode=mode,
        min_lr=sched.min_learning_rate, verbose=1)]


def variable_path(variable):
    """"stage1_block1_conv1/kernel" in both Kerases (Keras 3's path, tf-keras's name)."""
    path = getattr(variable, "path", None) or variable.name
    return path.split(":")[0]


def decayed_weights(model, config):
    """The trainable weights that weight decay applies to (see the module docstring)."""
    opt = config.optimizer
    patterns = [re.compile(p) for p in opt.no_decay_names]
    return [v for v in model.trainable_variables
            if (opt.decay_norms_and_biases or len(v.shape) > 1)
            and not any(p.search(variable_path(v)) for p in patterns)]


def couples_weight_decay(config):
    """Whether the recipe's weight decay is an L2 term on the loss (SGD, RMSprop)."""
    return config.optimizer.name != "adamw" and config.optimizer.weight_decay > 0


def l2_penalty(variables, weight_decay):
    """weight_decay / 2 x sum ||w||^2: its gradient adds weight_decay x w."""
    if not variables or not weight_decay:
        return tf.constant(0.0)
    return 0.5 * weight_decay * tf.add_n(
        [tf.reduce_sum(tf.square(tf.cast(v, tf.float32))) for v in variables])


def make_optimizer(config, steps_per_epoch, model):
    """The recipe's optimizer, with its schedule and EMA (the decoupled decay of AdamW skips
    what `decayed_weights` leaves out). Build it inside the strategy's scope."""
    opt = config.optimizer
    common = {"learning_rate": learning_rate(config, steps_per_epoch)}
    if config.ema.decay:
        common.update(use_ema=True, ema_momentum=config.ema.decay)
    if opt.clipnorm:
        common["global_clipnorm"] = opt.clipnorm
    if opt.name == "sgd":
        return keras.optimizers.SGD(momentum=opt.momentum, nesterov=opt.nesterov, **common)
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(rho=opt.rho, momentum=opt.momentum, epsilon=opt.epsilon,
                                        **common)
    optimizer = keras.optimizers.AdamW(weight_decay=opt.weight_decay, beta_1=opt.beta_1,
                                       beta_2=opt.beta_2, epsilon=opt.epsilon, **common)
    decayed = {id(v) for v in decayed_weights(model, config)}
    excluded = [v for v in model.trainable_variables if id(v) not in decayed]
    if excluded:
        optimizer.exclude_from_weight_decay(var_list=excluded)
    return optimizer


def current_learning_rate(optimizer):
    """The rate the optimizer applies at its current step, as a float."""
    optimizer = inner_optimizer(optimizer)
    rate = optimizer.learning_rate
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(optimizer.iterations)
    return float(tf.convert_to_tensor(rate))


def inner_optimizer(optimizer):
    """The optimizer inside a LossScaleOptimizer (mixed_float16), or the optimizer itself."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def is_loss_scaled(optimizer):
    return isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)


def minimize(optimizer, tape, loss, variables):
    """One update from `loss` recorded on `tape`, loss-scaled under mixed_float16 (compile()
    wraps the optimizer in a LossScaleOptimizer then, in both Kerases)."""
    if LEGACY_KERAS:
        # tf-keras's LossScaleOptimizer scales the loss on the tape and unscales the gradients.
        optimizer.minimize(loss, variables, tape=tape)
        return
    with tape:
        loss = optimizer.scale_loss(loss)  # a no-op without loss scaling
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))


def ema_pairs(optimizer, variables):
    """[(variable, its moving average)] of an optimizer built with use_ema, else []."""
    optimizer = inner_optimizer(optimizer)
    averages = getattr(optimizer, "_model_variables_moving_average", None)
    if not getattr(optimizer, "use_ema", False) or not averages:
        return []
    if LEGACY_KERAS:
        return [(v, averages[optimizer._index_dict[optimizer._var_key(v)]]) for v in variables]
    return [(v, averages[optimizer._get_variable_index(v)]) for v in variables]
