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
- Layer-wise learning-rate decay (`optimizer.layer_decay`; BEiT, Bao et al. 2021, and the
  fine-tuning of ConvNeXt and MAE; timm's `param_groups_layer_decay`): a weight at depth d
  trains at the rate x layer_decay^(num_layers - d), so the classifier keeps the full rate and
  the stem the smallest. Depth comes from the model's stage outputs (`layer_depths`). The
  optimizer scales each variable's rate inside its update step (a scaled gradient would not
  scale Adam's or RMSprop's step), AdamW's decoupled decay included, with no variables added:
  checkpoints keep their structure.
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


# --- layer-wise learning-rate decay ---------------------------------------------------------

def layer_depths(model):
    """({layer name: depth}, num_layers) of a registry model: the depths of layer-wise rate
    decay, and what fine-tuning's head epochs freeze (every layer below num_layers).

    The cut points are the model's stage outputs, `model.block_boundaries` and the layers of
    `model.feature_info` (every family records them; a ViT's are its blocks), in network
    order. A layer's depth is the number of cut points before it: the first cut point ends
    the stem (depth 0), each later one a stage (a ViT's block), and what follows the last (the
    classifier, a transformer's final norm, auxiliary classifiers) is at num_layers, the
    number of cut points. Where a family's first cut point is its first stage's output
    (ConvNeXt, Swin; a ViT's first block) the stem shares depth 0 with it. CNNs count stages,
    not blocks: a ResNet's num_layers is 5 where timm's per-block grouping gives 10-18, so
    the same layer_decay decays their early layers less."""
    names = dict.fromkeys([*(getattr(model, "block_boundaries", None) or ()),
                           *(info.layer for info in getattr(model, "feature_info", None) or ())])
    if not names:
        raise ValueError(f"Model {model.name!r} records no stage outputs (model.block_boundaries, "
                         "model.feature_info): layer-wise rate decay and fine-tuning's head "
                         "epochs need a model built by the keras_backbones registry.")
    # Each cut point's ancestors (itself included), from the input: nested sets, so their
    # sizes order them.
    upstream = sorted(({layer.name for layer in
                        keras.Model(model.inputs, model.get_layer(name).output).layers}
                       for name in names), key=len)
    depths = {layer.name: next((depth for depth, before in enumerate(upstream)
                                if layer.name in before), len(upstream))
              for layer in model.layers}
    return depths, len(upstream)


def rate_multipliers(model, layer_decay):
    """[(variable, layer_decay ** (num_layers - depth))] for every weight of `model`."""
    depths, num_layers = layer_depths(model)
    multipliers = {}
    for layer in model.layers:
        for variable in layer.weights:
            multipliers.setdefault(id(variable), (variable,
                                                  layer_decay ** (num_layers - depths[layer.name])))
    return list(multipliers.values())


class _Multipliers:
    """{optimizer variable key: rate multiplier}, in an object neither Keras tracks (a dict
    attribute of an optimizer would become a tracked data structure)."""

    def __init__(self, by_key):
        self.by_key = by_key


class _LayerDecay:
    """Mixin for a Keras optimizer: each variable's update at the rate x its multiplier
    (`rate_multipliers`); AdamW's decoupled decay, w -= rate x weight_decay x w, moves into the
    update step to use that rate too (timm's parameter groups scale both). Keras 3 passes the
    rate to update_step; tf-keras's update steps read `self.learning_rate`, which returns the
    scaled rate while one runs (each variable's step is traced separately: a Python number)."""

    def __init__(self, *args, multipliers, **kwargs):
        super().__init__(*args, **kwargs)
        self._multipliers = _Multipliers({self._var_key(v): float(m) for v, m in multipliers})

    def multiplier(self, variable):
        return self._multipliers.by_key.get(self._var_key(variable), 1.0)

    def _apply_weight_decay(self, variables):
        del variables  # applied in the update step, at each variable's rate

    def _decay(self, variable, rate):
        if self.weight_decay and self._use_weight_decay(variable):
            variable.assign_sub(variable * tf.cast(self.weight_decay, variable.dtype)
                                * tf.cast(rate, variable.dtype))

    if LEGACY_KERAS:
        _scale = 1.0

        def update_step(self, gradient, variable):
            self._scale = self.multiplier(variable)
            try:
                self._decay(variable, self.learning_rate)
                return super().update_step(gradient, variable)
            finally:
                self._scale = 1.0

        @property
        def learning_rate(self):
            rate = super().learning_rate
            return rate if self._scale == 1.0 else rate * self._scale

        @learning_rate.setter
        def learning_rate(self, value):
            super(_LayerDecay, type(self)).learning_rate.fset(self, value)
    else:
        def update_step(self, gradient, variable, learning_rate):
            rate = learning_rate * self.multiplier(variable)
            self._decay(variable, rate)
            return super().update_step(gradient, variable, rate)


class LayerDecaySGD(_LayerDecay, keras.optimizers.SGD):
    """SGD with a rate multiplier per variable."""


class LayerDecayRMSprop(_LayerDecay, keras.optimizers.RMSprop):
    """RMSprop with a rate multiplier per variable."""


class LayerDecayAdamW(_LayerDecay, keras.optimizers.AdamW):
    """AdamW with a rate multiplier per variable (its decoupled decay too)."""


def make_optimizer(config, steps_per_epoch, model):
    """The recipe's optimizer, with its schedule, EMA and layer-wise rate decay (the decoupled
    decay of AdamW skips what `decayed_weights` leaves out). Build it inside the strategy's
    scope, before any layer is frozen."""
    opt = config.optimizer
    common = {"learning_rate": learning_rate(config, steps_per_epoch)}
    if config.ema.decay:
        common.update(use_ema=True, ema_momentum=config.ema.decay)
    if opt.clipnorm:
        common["global_clipnorm"] = opt.clipnorm
    classes = (keras.optimizers.SGD, keras.optimizers.RMSprop, keras.optimizers.AdamW)
    if opt.layer_decay:
        classes = (LayerDecaySGD, LayerDecayRMSprop, LayerDecayAdamW)
        common["multipliers"] = rate_multipliers(model, opt.layer_decay)
    sgd, rmsprop, adamw = classes
    if opt.name == "sgd":
        return sgd(momentum=opt.momentum, nesterov=opt.nesterov, **common)
    if opt.name == "rmsprop":
        return rmsprop(rho=opt.rho, momentum=opt.momentum, epsilon=opt.epsilon, **common)
    optimizer = adamw(weight_decay=opt.weight_decay, beta_1=opt.beta_1, beta_2=opt.beta_2,
                      epsilon=opt.epsilon, **common)
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
