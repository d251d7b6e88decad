"""Mixing inside the network: manifold mixup, PatchUp and PuzzleMix, for a custom train step.

`mixed_forward(model, images, labels, method=...)` returns (predictions, mixed_labels); the
loss is the model's usual loss against the mixed (soft) labels. It is a training-time
regularizer only: evaluation calls the model directly (and `training=False` mixes nothing).
It runs eagerly, inside `tf.function`, under a distribution strategy and under XLA
(`jit_compile`): every random choice is a tensor (the mixing point too), and Beta draws use
only uniform and normal samples (tf.random.gamma has no XLA kernel).

Where the network is cut: a registry model's `block_boundaries` (stage outputs, each of which
alone feeds the rest of the network). `segments(model, names)` cuts it at those boundaries into
sub-models, input -> names[0] -> ... -> output, made of the model's own layers and weights
(`keras.Model(tensor_a, tensor_b)`, which both Kerases build from intermediate tensors); they
are built once per (model, names) and cached, and `cut(model, name)` is the (head, tail) pair.
A mixed forward pass runs the segments once, mixing at the chosen point only, so a traced step
holds one copy of the network whatever the number of candidates. Candidates are the input and
every boundary (`boundaries=` narrows them; `boundary=` fixes one).

manifold_mixup (Verma et al. 2019, "Manifold Mixup"): pick k uniformly among the candidates,
run the head to k, mix hidden states h = lam * h + (1 - lam) * h[perm] with lam ~ Beta(alpha,
alpha) (alpha 2.0, the paper's setting for hidden states) and a random permutation of the
batch, run the tail; labels are mixed with the same lam. k = input is input mixup.

patchup (Faramarzi et al. 2020, "PatchUp"), as the authors' code (chandar-lab/PatchUp):
with probability `patchup_prob` the batch is mixed, else it runs clean. k is picked uniformly;
at the input PatchUp is CutMix with lam ~ Beta(1, 1). At a hidden map [B, H, W, C] a binary
mask shared by the batch is drawn: Bernoulli(gamma_adj) seeds per unit (per channel and
position), gamma_adj = gamma * H * W / (block^2 (H - block + 1)(W - block + 1)), grown into
block x block squares by a stride-1 max pool (DropBlock). With u the share of units left
unchanged: hard PatchUp swaps the masked units for the permuted batch's, labels
u * y + (1 - u) * y[perm]; soft PatchUp interpolates the masked units with lam ~ Beta(alpha,
alpha), labels u * y + (1 - u) * (lam * y + (1 - lam) * y[perm]) (the paper's
"target_reweighted"). The authors' loss adds two more cross-entropy terms against y and
y[perm] weighted by u and 1 - u; the mixed labels returned here are the reweighted target, the
one loss a generic train step can apply. `block_size` (7) is lowered to the largest odd size
that is at most half the map's side (the authors set it by hand per layer: 7, 5, 3).

puzzlemix (Kim et al. 2020, "Puzzle Mix"), as the authors' code: saliency from the input
gradient, a block mask of mixing levels chosen by a graph cut of the paper's energy, salient
blocks transported into the region each image keeps, labels mixed by the kept area
(`keras_backbones.training.puzzlemix`, which says how and what is left out). Its options:
`puzzle=` (the CIFAR setting by default, or "imagenet"); the paper draws lam from
Beta(1, 1) (alpha=1.0). The graph cut runs on the host: not under XLA or on TPU (an error).
"""

import weakref

import tensorflow as tf

from keras_backbones.backend import keras
from keras_backbones.data import augment
from keras_backbones.training import puzzlemix

METHODS = ("manifold_mixup", "patchup", "puzzlemix")
PATCHUP_MODES = ("soft", "hard")
INPUT = "input"  # the candidate "boundary" before the first layer

_chains = weakref.WeakKeyDictionary()  # model -> {boundary names: segment models}


def block_boundaries(model):
    """The layer names at which `model` may be cut (its stage outputs)."""
    names = tuple(getattr(model, "block_boundaries", None) or ())
    if not names:
        raise ValueError(
            f"Model {model.name!r} has no block boundaries (`model.block_boundaries`): "
            "hidden-state mixing needs a model built by the keras_backbones registry with "
            "include_top=True.")
    return names


def segments(model, names):
    """The model cut at the boundaries `names` (in network order): len(names) + 1 models
    sharing `model`'s layers, input -> names[0] -> ... -> output, whose composition is `model`.
    Built once per (model, names) and cached."""
    names = tuple(names)
    if not names:
        return [model]
    per_model = _chains.setdefault(model, {})
    if names not in per_model:
        known = block_boundaries(model)
        for name in names:
            if name not in known:
                raise ValueError(f"{name!r} is not a block boundary of {model.name!r}; "
                                 f"they are {', '.join(known)}.")
        with tf.init_scope():  # the first use may be inside a traced train step
            ends = [model.input, *(model.get_layer(n).output for n in names), model.output]
            labels = ["input", *names, "output"]
            per_model[names] = [keras.Model(ends[i], ends[i + 1],
                                            name=f"{model.name}_{labels[i]}_to_{labels[i + 1]}")
                                for i in range(len(names) + 1)]
    return per_model[names]


def cut(model, boundary):
    """(head, tail): head(images) is the boundary's output, tail(head(images)) is model(images)."""
    return tuple(segments(model, (boundary,)))


def mixed_forward(model, images, labels, *, method, alpha=2.0, training=True, seed=None,
                  patchup_mode="soft", patchup_prob=0.7, block_size=7, gamma=0.9,
                  boundaries=None, boundary=None, lam=None, from_logits=None, puzzle=None,
                  return_info=False):
    """Predictions of `model` on batch-mixed inputs or hidden states, and the mixed labels.

    labels: int [B] or one-hot / soft [B, classes]. method: "manifold_mixup", "patchup" or
    "puzzlemix" (module docstring). alpha: Beta(alpha, alpha) of the mixing weight.
    seed: None or an int (op seeds: a new draw on every call, reproducible under a global seed).
    boundaries: the candidates, "input" and/or boundary names (default: "input" and all of the
    model's); boundary: use this one instead of drawing. lam: a fixed mixing weight.
    patchup_mode / patchup_prob / block_size / gamma: PatchUp's settings (module docstring).
    from_logits: whether the model returns logits (default: read from its last layer); PuzzleMix
    needs it for the saliency loss. puzzle: PuzzleMix's options (`puzzlemix.options`: None for
    the CIFAR setting, "cifar", "imagenet", a dict of fields, or `puzzlemix.Options`).
    training=False: no mixing, the model's plain predictions.
    return_info: also return a dict of the draws (lam, the chosen candidate's index, the share
    of the map that changed) for inspection and tests; for PuzzleMix it holds "clean_loss", the
    clean_lam-weighted loss of the saliency pass, which a train step adds to its objective.
    """
    if method not in METHODS:
        raise ValueError(f"mixing method must be one of {', '.join(METHODS)}; got {method!r}.")
    if patchup_mode not in PATCHUP_MODES:
        raise ValueError(f"patchup_mode must be 'soft' or 'hard'; got {patchup_mode!r}.")
    images = tf.convert_to_tensor(images)
    targets = _soft_labels(labels, _first(model.outputs).shape[-1])
    if not training:  # mixing is a training-time regularizer
        result = model(images, training=False), targets, {}
        return result if return_info else result[:2]
    rng = _Random(seed)
    batch = tf.shape(images)[0]
    perm = tf.argsort(rng.uniform([batch]))  # a uniformly random permutation
    lam = rng.beta(alpha, ()) if lam is None else tf.constant(float(lam))

    if method == "puzzlemix":
        options = puzzlemix.options(puzzle)
        mixed, targets, info = _puzzlemix(model, images, targets, perm, lam, rng, from_logits,
                                          options)
        predictions = model(mixed, training=True)
        return (predictions, targets, info) if return_info else (predictions, targets)

    candidates = _candidates(model, boundaries, boundary)
    names = tuple(c for c in block_boundaries(model) if c in candidates)  # network order
    chain = segments(model, names)
    # Mixing point p runs before chain[p]: 0 is the input, p > 0 the output of names[p - 1].
    points = tf.constant([0 if c == INPUT else names.index(c) + 1 for c in candidates])
    point = tf.gather(points, _uniform_index(rng, len(candidates)))
    if method == "patchup" and patchup_prob < 1.0:
        point = tf.where(rng.uniform(()) < patchup_prob, point, -1)  # -1: this batch runs clean

    # One pass through the network; the mix is computed at every candidate point (cheap,
    # elementwise) and kept only at the chosen one, so the graph holds the model once.
    hidden, changed = images, tf.constant(0.0)
    for p, segment in enumerate(chain):
        if p == 0 and INPUT in candidates or p > 0:
            if p == 0 and method == "patchup":  # the authors' PatchUp is CutMix at the input
                input_lam = rng.beta(1.0, ()) if lam is None else lam
                mixed, mixed_targets, share = _cutmix(hidden, targets, perm, input_lam, rng)
            elif method == "patchup":
                mixed, mixed_targets, share = _patchup(hidden, targets, perm, lam, rng,
                                                       patchup_mode, block_size, gamma)
            else:
                mixed, mixed_targets = _interpolate(hidden, targets, perm, lam)
                share = 1.0 - lam
            here = tf.equal(point, p)
            hidden = tf.where(here, mixed, hidden)
            targets = tf.where(here, mixed_targets, targets)
            changed = tf.where(here, tf.cast(share, tf.float32), changed)
        hidden = segment(hidden, training=True)
    if not return_info:
        return hidden, targets
    return hidden, targets, {"lam": lam, "perm": perm, "point": point, "names": names,
                             "changed": changed}


def _candidates(model, boundaries, boundary):
    known = (INPUT, *block_boundaries(model))
    candidates = tuple(known if boundaries is None else boundaries)
    if boundary is not None:
        candidates = (boundary,)
    unknown = [c for c in candidates if c not in known]
    if unknown or not candidates:
        raise ValueError(f"mixing boundaries must be among {', '.join(known)}; got {candidates}.")
    return candidates


# --- the mixes ------------------------------------------------------------------------------

def _interpolate(x, targets, perm, lam):
    lam_x = tf.cast(lam, x.dtype)
    mixed = lam_x * x + (1.0 - lam_x) * tf.gather(x, perm)
    lam_y = tf.cast(lam, targets.dtype)
    return mixed, lam_y * targets + (1.0 - lam_y) * tf.gather(targets, perm)


def _cutmix(images, targets, perm, lam, rng):
    """CutMix with a permuted partner; the label weight is the area outside the box."""
    shape = tf.shape(images)
    centre = (_randint(rng, shape[1]), _randint(rng, shape[2]))
    box = augment.cutmix_box(shape[1], shape[2], lam, centre)
    mixed, pasted = augment.paste(images, tf.gather(images, perm), box)
    return mixed, (1.0 - pasted) * targets + pasted * tf.gather(targets, perm), pasted


def _patchup(hidden, targets, perm, lam, rng, mode, block_size, gamma):
    if hidden.shape.rank != 4:
        raise ValueError(f"PatchUp mixes [B, H, W, C] feature maps; got shape {hidden.shape}.")
    height, width, channels = hidden.shape[1], hidden.shape[2], hidden.shape[3]
    # Odd (a stride-1 max pool then keeps the size) and at most half the map's side: a block
    # as large as the map would change every unit.
    block = max(1, min(block_size, min(height, width) // 2))
    block -= 1 - block % 2
    gamma_adj = gamma * height * width / (block ** 2 * (height - block + 1) * (width - block + 1))
    seeds = tf.cast(rng.uniform([1, height, width, channels]) < gamma_adj, tf.float32)
    holes = tf.nn.max_pool2d(seeds, ksize=block, strides=1, padding="SAME")  # [1, H, W, C]
    changed = tf.reduce_mean(holes)
    holes_h = tf.cast(holes, hidden.dtype)
    partner = tf.gather(hidden, perm)
    partner_targets = tf.gather(targets, perm)
    changed_y = tf.cast(changed, targets.dtype)
    if mode == "hard":
        patches = partner
        patch_targets = partner_targets
    else:
        lam_h = tf.cast(lam, hidden.dtype)
        patches = lam_h * hidden + (1.0 - lam_h) * partner
        lam_y = tf.cast(lam, targets.dtype)
        patch_targets = lam_y * targets + (1.0 - lam_y) * partner_targets
    mixed = (1.0 - holes_h) * hidden + holes_h * patches
    return mixed, (1.0 - changed_y) * targets + changed_y * patch_targets, changed


def _puzzlemix(model, images, targets, perm, lam, rng, from_logits, options):
    """Puzzle Mix at the input: the saliency pass here, the mask and transport in puzzlemix."""
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise ValueError("puzzlemix needs images of a static height and width.")
    puzzlemix.check_host_execution()  # before the saliency pass: fail at once
    sizes = puzzlemix.block_sizes(height, width)
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = model(images, training=options.clean_lam > 0)
        logits = _returns_logits(model) if from_logits is None else from_logits
        loss = tf.reduce_mean(_cross_entropy(targets, _first(outputs), logits))
    gradient = tf.stop_gradient(tape.gradient(loss, images))
    saliency = puzzlemix.rms_over_channels(gradient)
    choice = _uniform_index(rng, len(sizes))
    mixed, mixed_targets, info = puzzlemix.mix(images, targets, saliency, perm, lam, choice,
                                               options)
    info["clean_loss"] = options.clean_lam * loss if options.clean_lam > 0 else tf.constant(0.0)
    return mixed, mixed_targets, info


# --- helpers --------------------------------------------------------------------------------

def _soft_labels(labels, num_classes):
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 1:
        return tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
    return tf.cast(labels, tf.float32)


def _first(outputs):
    """The classifier's output (models with auxiliary heads return a list, main head first)."""
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


def _returns_logits(model):
    activation = getattr(model.layers[-1], "activation", None)
    return getattr(activation, "__name__", "") != "softmax"


def _cross_entropy(targets, outputs, from_logits):
    """Per example."""
    outputs = tf.cast(outputs, tf.float32)
    if from_logits:
        return tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=outputs)
    return -tf.reduce_sum(targets * tf.math.log(tf.clip_by_value(outputs, 1e-7, 1.0)), axis=-1)


def _uniform_index(rng, count):
    return tf.minimum(tf.cast(rng.uniform(()) * count, tf.int32), count - 1)


def _randint(rng, upper):
    """An int32 in [0, upper) for a tensor upper."""
    return tf.minimum(tf.cast(rng.uniform(()) * tf.cast(upper, tf.float32), tf.int32), upper - 1)


class _Random:
    """Stateful draws (uniform, normal, Beta) that XLA compiles. With an int seed every op
    gets its own op seed (seed, seed + 1, ...), so the sequence repeats under a global seed."""

    def __init__(self, seed):
        self._seed = seed
        self._count = 0

    def _next_seed(self):
        if self._seed is None:
            return None
        self._count += 1
        return self._seed * 1009 + self._count

    def uniform(self, shape):
        return tf.random.uniform(shape, seed=self._next_seed())

    def normal(self, shape):
        return tf.random.normal(shape, seed=self._next_seed())

    def gamma(self, alpha, shape, tries=8):
        """Marsaglia & Tsang (2000) with a fixed number of vectorized tries (each accepted with
        probability > 0.95 for alpha >= 1); alpha < 1 via Gamma(alpha + 1) * U^(1 / alpha).
        tf.random.gamma has no XLA kernel."""
        boost = alpha < 1.0
        a = alpha + 1.0 if boost else alpha
        d = a - 1.0 / 3.0
        c = 1.0 / (9.0 * d) ** 0.5
        x = self.normal([tries, *shape])
        v = (1.0 + c * x) ** 3
        u = self.uniform([tries, *shape])
        log_v = tf.math.log(tf.maximum(v, 1e-30))
        accept = (v > 0) & (tf.math.log(u) < 0.5 * x * x + d - d * v + d * log_v)
        first = tf.one_hot(tf.argmax(tf.cast(accept, tf.int32), axis=0), tries, axis=0)
        sample = d * tf.reduce_sum(v * first, axis=0)  # the first accepted try
        sample = tf.where(tf.reduce_any(accept, axis=0), sample, d)  # all tries rejected: ~1e-10
        if boost:
            sample *= self.uniform(shape) ** (1.0 / alpha)
        return sample

    def beta(self, alpha, shape):
        """Beta(alpha, alpha)."""
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0; got {alpha}.")
        g1 = self.gamma(alpha, shape)
        g2 = self.gamma(alpha, shape)
        return g1 / (g1 + g2)
