"""Puzzle Mix (Kim, Choo & Song, ICML 2020, "Puzzle Mix: Exploiting Saliency and Local
Statistics for Optimal Mixup"), as the authors' code (snu-mllab/PuzzleMix: mixup.py's
mixup_graph, graphcut_multi, neigh_penalty, mask_transport, cost_matrix; main.py and
imagenet_fast/ for the settings).

One mixed batch, per step:
1. Saliency: the gradient of the mean cross-entropy with respect to the input, reduced over
   channels as sqrt(mean(g^2)) (main.py), average-pooled into n x n blocks with n drawn
   uniformly from {2, 4, 8, 16} (those that divide the image's height and width) and
   normalized to sum to 1 per image. The pass runs the model in inference mode when
   clean_lam = 0 (the authors' CIFAR runs: model.eval()), in training mode otherwise, and then
   clean_lam x its loss is added to the step's objective (info["clean_loss"]: the authors'
   "clean input regularization", their Tiny-ImageNet and ImageNet runs).
2. The mask: each block gets one of n_labels mixing levels m in linspace(1, 0, n_labels) (the
   share of the image itself; the partner is a random permutation of the batch), chosen by
   minimizing graphcut_multi's energy with alpha-beta swap (gco, the authors' library):
     unary(m)   = (1 - m) x own saliency + m x partner's saliency (what the mix hides)
                  + eta / n^2 x -log(Binomial(n_labels - 1, lam) prior of the level)
     pairwise   = (beta / (16 n) + data term) x (level difference / (n_labels - 1))^2
   The data term, gamma x beta / (16 n) x the mean absolute pixel difference across each block
   border of the two images shown there (neigh_penalty, on the images pooled by neigh_size and
   brought back to [0, 1] with the preprocessing's mean and std), is split into unary parts and
   one pairwise weight exactly as mixup_graph does; costs are quantized as the authors'
   (x 1000 n^2, truncated to integers). lam ~ Beta(alpha, alpha), one per batch.
3. Transport (switchable, `transport`): each image's blocks move within the region where it is
   shown (mask > 0) by mask_transport's assignment: cost[i, j] = t_eps x C[i, j] - saliency[i]
   x in_region[j], C the squared grid distance / (T - 1)^2; T rounds of: every source block
   takes its cheapest destination, each destination keeps the cheapest of the sources that
   took it, the losers pay +1 there. Every destination in the region holds a distinct block
   of the image (outside it, destinations no block won are black, as theirs; they are not
   shown). `t_size` (pixels; -1: the mask's blocks) sets a finer transport grid where it
   divides the mask's blocks (the authors' code assumes it does; elsewhere: the mask's).
4. The mixed image is mask x transported own + (1 - mask) x transported partner; the label
   weight of an image is its mask's mean (the area share it keeps), the rest the partner's.

Where it differs: a destination whose cheapest taker costs exactly 0 (a block of zero
saliency) keeps it, where the authors' argmin leaves it black (transport_sources); a
neigh_size that does not divide a block becomes its largest divisor below (their sizes all
divide); n_labels is 2 or 3 (the paper's; their code also takes 4); the cost integers are
(n_labels - 1)^2 x theirs, so that gco gets integer label costs (the same minimizer). The
mixed loss is the train step's cross-entropy (their CIFAR script uses BCE on the softmax).
Left out: the adversarial perturbation (adv_p, a robustness option with its own FGSM step).
The graph cut runs on the host (tf.numpy_function, gco: about 1 ms per 16 x 16 image): eagerly,
in tf.function and under MirroredStrategy on CPU/GPU; under XLA (jit_compile) or on TPU it
is an error. gco-wrapper's import sets numpy.int and numpy.float (removed in NumPy 1.24) to
the builtins, in the training process.
"""

import dataclasses
import math
from typing import Tuple

import numpy as np
import tensorflow as tf

BLOCKS = (2, 4, 8, 16)  # mixup_process: block_num = 2 ** randint(1, 5)
PRIOR_EPS = 1e-8  # graphcut_multi's eps


@dataclasses.dataclass(frozen=True)
class Options:
    """Puzzle Mix's hyperparameters; the defaults are the authors' CIFAR-100 setting (README,
    main.py: --mixup_alpha 1 --n_labels 3 --beta 1.2 --gamma 0.5 --eta 0.2 --neigh_size 4
    --transport True --t_size 4 --t_eps 0.8, clean_lam 0). `IMAGENET` is their ImageNet one.

    beta: label smoothness (pairwise weight of a level change). gamma: data smoothness (weight
    of the pixel differences across block borders). eta: weight of the label prior that keeps
    the mixed share near lam. neigh_size: pooling (pixels) of the images for the data term.
    n_labels: mixing levels per block (2: binary; 3: also half-half). transport: move salient
    blocks into the shown region. t_eps: transport's distance weight. t_size: transport grid
    (pixels; -1: the mask's blocks). clean_lam: weight of the clean loss of the saliency pass
    (0: that pass runs in inference mode and adds nothing). mean, std: the normalization the
    images went through ((x - mean) / std on [0, 1]); the data term is on [0, 1] pixels.
    """
    beta: float = 1.2
    gamma: float = 0.5
    eta: float = 0.2
    neigh_size: int = 4
    n_labels: int = 3
    transport: bool = True
    t_eps: float = 0.8
    t_size: int = 4
    clean_lam: float = 0.0
    mean: Tuple[float, ...] = (0.0,)
    std: Tuple[float, ...] = (1.0,)

    def __post_init__(self):
        problems = [f"{name} must be >= 0; got {getattr(self, name)}"
                    for name in ("beta", "gamma", "eta", "clean_lam")
                    if not getattr(self, name) >= 0]
        if not self.t_eps > 0:  # at 0 every block ties for every place in the region
            problems.append(f"t_eps must be > 0; got {self.t_eps}")
        if self.n_labels not in (2, 3):
            problems.append(f"n_labels must be 2 or 3 (the paper's); got {self.n_labels}")
        if self.neigh_size < 1:
            problems.append(f"neigh_size must be >= 1; got {self.neigh_size}")
        if self.t_size != -1 and self.t_size < 1:
            problems.append(f"t_size must be -1 (the mask's blocks) or >= 1; got {self.t_size}")
        if problems:
            raise ValueError("Puzzle Mix options: " + "; ".join(problems) + ".")


CIFAR = Options()
# imagenet_fast/configs/puzzlemix (the paper's ResNet-50 runs): beta 1.5, eta 0.2, eps 0.8,
# clean_lam 1, alpha 1; lib/utils.get_mask: gamma 0.5, neigh_size 2, n_labels 3; transport on
# the mask's blocks. Mean and std: ImageNet's.
IMAGENET = Options(beta=1.5, neigh_size=2, t_size=-1, clean_lam=1.0,
                   mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
SETTINGS = {"cifar": CIFAR, "imagenet": IMAGENET}


def options(value):
    """Options from None (CIFAR's), a setting name, a dict of fields or Options."""
    if value is None:
        return CIFAR
    if isinstance(value, Options):
        return value
    if isinstance(value, str):
        if value not in SETTINGS:
            raise ValueError(f"Puzzle Mix setting must be one of {', '.join(SETTINGS)}; "
                             f"got {value!r}.")
        return SETTINGS[value]
    if isinstance(value, dict):
        fields = {f.name for f in dataclasses.fields(Options)}
        base = options(value.get("setting"))
        unknown = sorted(set(value) - fields - {"setting"})
        if unknown:
            raise ValueError(f"unknown Puzzle Mix options {unknown}; they are setting, "
                             f"{', '.join(sorted(fields))}.")
        return dataclasses.replace(base, **{k: v for k, v in value.items() if k != "setting"})
    raise ValueError(f"Puzzle Mix options must be None, a setting name, a dict or Options; "
                     f"got {value!r}.")


# --- the energy and its graph cut (host, NumPy) ---------------------------------------------

@dataclasses.dataclass
class Energy:
    """One image's quantized energy: unary [n, n, L] and edge weights [n - 1, n] (between
    vertical neighbours) and [n, n - 1] (horizontal), all int64, times the pairwise label cost
    (i - j)^2. Labels: 0 shows the image itself (mask 1), L - 1 the partner (mask 0)."""
    unary: np.ndarray
    vertical: np.ndarray
    horizontal: np.ndarray

    @property
    def n_labels(self):
        return self.unary.shape[-1]

    def label_cost(self):
        levels = np.arange(self.n_labels)
        return (levels[:, None] - levels[None, :]) ** 2

    def __call__(self, labels):
        """The energy of labelings [..., n, n] (int64; NumPy broadcasting over leading axes)."""
        labels = np.asarray(labels)
        cost = self.label_cost()
        unary = np.take_along_axis(np.broadcast_to(self.unary, (*labels.shape, self.n_labels)),
                                   labels[..., None], axis=-1)[..., 0].sum(axis=(-2, -1))
        vertical = (self.vertical * cost[labels[..., :-1, :], labels[..., 1:, :]]).sum(axis=(-2, -1))
        horizontal = (self.horizontal * cost[labels[..., :, :-1], labels[..., :, 1:]]).sum(axis=(-2, -1))
        return unary + vertical + horizontal


def energy(own, partner, pw_x, pw_y, lam, opts):
    """graphcut_multi's energy for one image and its partner (mixup_graph's terms).

    own, partner: [n, n] normalized block saliencies. pw_x: [2, 2, n - 1, n], pw_y:
    [2, 2, n, n - 1]: neigh_penalty's mean absolute differences across the vertical and
    horizontal block borders, index [a, b] with 1 = the image itself, 0 = the partner, a the
    upper/left block's source. The authors' float32 arithmetic; the result is
    (n_labels - 1)^2 x their integer costs, so that the label cost (i - j)^2 is an integer."""
    f32 = np.float32
    n = own.shape[0]
    labels = opts.n_labels
    beta = f32(opts.beta / n / 16)
    pw_x = beta * f32(opts.gamma) * pw_x.astype(f32)
    pw_y = beta * f32(opts.gamma) * pw_y.astype(f32)
    shows_own = partner.astype(f32).copy()  # the cost of showing the image itself: the partner's loss
    shows_partner = own.astype(f32).copy()
    shows_own[:-1, :] += (pw_x[1, 0] + pw_x[1, 1]) / 2
    shows_partner[:-1, :] += (pw_x[0, 1] + pw_x[0, 0]) / 2
    shows_own[1:, :] += (pw_x[0, 1] + pw_x[1, 1]) / 2
    shows_partner[1:, :] += (pw_x[1, 0] + pw_x[0, 0]) / 2
    shows_own[:, :-1] += (pw_y[1, 0] + pw_y[1, 1]) / 2
    shows_partner[:, :-1] += (pw_y[0, 1] + pw_y[0, 0]) / 2
    shows_own[:, 1:] += (pw_y[0, 1] + pw_y[1, 1]) / 2
    shows_partner[:, 1:] += (pw_y[1, 0] + pw_y[0, 0]) / 2
    edge_x = (pw_x[1, 0] + pw_x[0, 1] - pw_x[1, 1] - pw_x[0, 0]) / 2
    edge_y = (pw_y[1, 0] + pw_y[0, 1] - pw_y[1, 1] - pw_y[0, 0]) / 2

    large = f32(1000 * n ** 2)
    lam = float(lam)
    # Binomial(L - 1, lam) of level l (l = 0: all own): graphcut_multi's prior for L = 2, 3.
    prior = np.array([-math.log(math.comb(labels - 1, l) * lam ** (labels - 1 - l)
                                * (1 - lam) ** l + PRIOR_EPS) for l in range(labels)])
    prior = (opts.eta * prior / n ** 2).astype(f32)
    steps = np.linspace(0, 1, labels).astype(f32)
    unary = np.stack([(1 - s) * shows_own + s * shows_partner + prior[l]
                      for l, s in enumerate(steps)], axis=-1)
    scale = (labels - 1) ** 2
    as_int = lambda x: (large * x).astype(np.int32).astype(np.int64)  # noqa: E731  C's truncation
    # Edge weights are >= beta (1 - gamma) on [0, 1] pixels; a negative one (gamma > 1, or
    # pixels outside [0, 1]) is clipped to 0: a graph cut needs them non-negative.
    return Energy(unary=as_int(unary) * scale, vertical=np.maximum(as_int(edge_x + beta), 0),
                  horizontal=np.maximum(as_int(edge_y + beta), 0))


def graph_cut(terms):
    """The labeling [n, n] that alpha-beta swap finds for `terms` (gco, as the authors; the
    exact minimum for two labels, a local one for more)."""
    try:
        import gco
    except ImportError as error:  # a dependency: only a broken install lacks it
        raise ImportError("Puzzle Mix's graph cut needs gco-wrapper (pip install "
                          "gco-wrapper).") from error
    n = terms.unary.shape[0]
    labels = gco.cut_grid_graph(terms.unary.astype(np.int32), terms.label_cost().astype(np.int32),
                                terms.vertical.astype(np.int32), terms.horizontal.astype(np.int32),
                                algorithm="swap")
    return np.asarray(labels).reshape(n, n)


def cost_matrix(size):
    """cost_matrix: squared distance between the blocks of a size x size grid / (size - 1)^2."""
    rows, cols = np.divmod(np.arange(size * size), size)
    squared = (rows[:, None] - rows[None, :]) ** 2 + (cols[:, None] - cols[None, :]) ** 2
    return (squared / max(size - 1, 1) ** 2).astype(np.float32)


def transport_sources(region, saliency, eps):
    """mask_transport's plan as the source block of each destination (-1: none won it).

    region: [B, T, T] where the image is shown; saliency: [B, T, T] its normalized block
    saliency. Every source takes its cheapest destination, each destination keeps the cheapest
    of the sources that took it, the losers pay +1 there; T rounds. The authors' fight is an
    argmin over the whole column of plan x cost, where a source that did not take the
    destination counts 0: where the cheapest taker's cost is exactly 0 (a block of zero
    saliency in its own place) their destination goes to no one and turns black; here it
    stays. Elsewhere in the region the two agree: a taker must cost < 0 to beat a 0 there."""
    batch, size = region.shape[0], region.shape[-1]
    cells = size * size
    cost = (np.float32(eps) * cost_matrix(size)[None]
            - saliency.reshape(batch, cells, 1).astype(np.float32)
            * (region.reshape(batch, 1, cells) > 0).astype(np.float32))
    images, blocks = np.divmod(np.arange(batch * cells), cells)  # each source's image and index
    choice = cost.argmin(axis=-1).ravel()  # every source's cheapest destination
    for round_ in range(size):
        taken = cost[images, blocks, choice]
        # Per (image, destination): its takers cheapest first, ties to the lowest index.
        order = np.lexsort((blocks, taken, choice, images))
        first = np.ones(order.size, bool)
        first[1:] = (images[order][1:] != images[order][:-1]) | (choice[order][1:] != choice[order][:-1])
        winners = order[first]
        if round_ == size - 1:
            break
        lost = np.ones(order.size, bool)
        lost[winners] = False
        losers = np.flatnonzero(lost)
        cost[images[losers], blocks[losers], choice[losers]] += np.float32(1)
        choice[losers] = cost[images[losers], blocks[losers]].argmin(axis=-1)  # the rest keep theirs
    sources = np.full((batch, cells), -1, np.int32)
    sources[images[winners], choice[winners]] = blocks[winners]
    return sources


def masks_and_plans(own, pw_x, pw_y, perm, lam, t_saliency, opts):
    """The host half of a mixed batch: masks [B, n, n] (float32, the share of the image
    itself) and, for the transport grid, the source of every block of the image and of its
    partner [B, T^2] (identity without transport)."""
    batch, n = own.shape[0], own.shape[-1]
    labels = np.stack([graph_cut(energy(own[i], own[perm[i]], pw_x[i], pw_y[i], lam, opts))
                       for i in range(batch)])
    mask = (1.0 - labels / (opts.n_labels - 1)).astype(np.float32)
    size = t_saliency.shape[-1]
    if not opts.transport:
        identity = np.tile(np.arange(size * size, dtype=np.int32), (batch, 1))
        return mask, identity, identity
    fine = np.repeat(np.repeat(mask, size // n, axis=1), size // n, axis=2)  # nearest, as F.interpolate
    return (mask, transport_sources(fine > 0, t_saliency, opts.t_eps),
            transport_sources(1.0 - fine > 0, t_saliency[perm], opts.t_eps))


# --- the mixed batch (TensorFlow) -----------------------------------------------------------

def block_sizes(height, width):
    """The block counts n of the mask that divide the image (BLOCKS, the authors' choice)."""
    sizes = [n for n in BLOCKS if height % n == 0 and width % n == 0]
    if not sizes:
        raise ValueError(f"Puzzle Mix divides the image into n x n blocks, n in {BLOCKS}: "
                         f"{height} x {width} images have none (use sides divisible by 2).")
    return sizes


def check_host_execution():
    """The graph cut runs on the host: no XLA cluster or TPU may hold it."""
    from tensorflow.python.framework import ops
    from tensorflow.python.ops import control_flow_util

    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy)):
        raise ValueError("Puzzle Mix's graph cut runs on the host (tf.numpy_function), which a "
                         "TPU step cannot call; use another mixing method on TPU.")
    if control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph()):
        raise ValueError("Puzzle Mix's graph cut runs on the host (tf.numpy_function), which XLA "
                         "cannot compile: train without jit_compile, or use another mixing "
                         "method.")


def mix(images, targets, saliency, perm, lam, choice, opts):
    """Mixed images, mixed labels and the draws, from per-pixel saliency [B, H, W].

    choice: the index of the block count in block_sizes(H, W)."""
    check_host_execution()
    height, width = images.shape[1], images.shape[2]
    sizes = block_sizes(height, width)
    channels = images.shape[-1]
    pixels = (images * _per_channel(opts.std, channels, images.dtype)
              + _per_channel(opts.mean, channels, images.dtype))
    partner_pixels = tf.gather(pixels, perm)

    def branch(n):
        def make():
            block_h, block_w = height // n, width // n
            own = _normalized_blocks(saliency, n)
            pw_x, pw_y = _border_differences(pixels, partner_pixels, n, block_h, block_w,
                                             opts.neigh_size)
            t = opts.t_size  # a finer transport grid where it tiles the (square) blocks
            fine = t != -1 and block_h == block_w and t < block_h and block_h % t == 0
            grid = height // t if fine else n
            t_saliency = _normalized_blocks(saliency, grid) if fine else own

            def host(own, pw_x, pw_y, perm, lam, t_saliency):
                return masks_and_plans(own, pw_x, pw_y, perm, float(lam), t_saliency, opts)

            mask, sources, partner_sources = tf.numpy_function(
                host, [own, pw_x, pw_y, perm, lam, t_saliency], [tf.float32, tf.int32, tf.int32],
                stateful=False)
            mask = tf.ensure_shape(mask, [None, n, n])
            moved = _move_blocks(images, tf.ensure_shape(sources, [None, grid * grid]), grid)
            partner = _move_blocks(tf.gather(images, perm),
                                   tf.ensure_shape(partner_sources, [None, grid * grid]), grid)
            full = tf.repeat(tf.repeat(mask, block_h, axis=1), block_w, axis=2)[..., None]
            full = tf.cast(full, images.dtype)
            return full * moved + (1 - full) * partner, tf.reduce_mean(mask, axis=[1, 2]), full
        return make

    branches = [branch(n) for n in sizes]
    mixed, share, mask = branches[0]() if len(branches) == 1 else tf.switch_case(choice, branches)
    weight = tf.cast(share[:, None], targets.dtype)
    mixed_targets = weight * targets + (1 - weight) * tf.gather(targets, perm)
    info = {"lam": lam, "perm": perm, "share": share, "blocks": tf.gather(sizes, choice),
            "mask": mask, "mixed": mixed}
    return mixed, mixed_targets, info


def _per_channel(values, channels, dtype):
    """As the preprocessing's normalize: a 3-value mean/std on 1-channel images is averaged."""
    if len(values) == channels:
        return tf.constant(values, dtype)
    if len(values) == 1 or channels == 1:
        return tf.fill([channels], tf.constant(sum(values) / len(values), dtype))
    raise ValueError(f"Puzzle Mix's mean/std have {len(values)} values for {channels}-channel "
                     "images.")


def _normalized_blocks(saliency, n):
    """Block means [B, n, n] of [B, H, W], normalized to sum to 1 per image (F.avg_pool2d)."""
    height, width = saliency.shape[1], saliency.shape[2]
    pooled = tf.nn.avg_pool2d(saliency[..., None], [height // n, width // n],
                              [height // n, width // n], "VALID")[..., 0]
    total = tf.reduce_sum(pooled, axis=[1, 2], keepdims=True)
    return pooled / tf.where(total > 0, total, 1.0)


def _border_differences(own, partner, n, block_h, block_w, neigh_size):
    """neigh_penalty for the four (upper/left source, lower/right source) pairs: [B, 2, 2,
    n - 1, n] across horizontal borders, [B, 2, 2, n, n - 1] across vertical ones; index 1 is
    the image itself, 0 its partner. The images are average-pooled by neigh (neigh_size, or
    the largest divisor of the block below it: the authors' sizes all divide)."""
    neigh = max(d for d in range(1, min(neigh_size, block_h, block_w) + 1)
                if block_h % d == 0 and block_w % d == 0)
    kh, kw = block_h // neigh, block_w // neigh
    pooled = [tf.nn.avg_pool2d(x, neigh, neigh, "VALID") for x in (partner, own)]
    rows, cols = [], []
    for upper in pooled:
        row_pairs, col_pairs = [], []
        for lower in pooled:
            above = upper[:, kh - 1:(n - 1) * kh:kh]  # the last pooled row of blocks 0..n-2
            below = lower[:, kh:(n - 1) * kh + 1:kh]  # the first of blocks 1..n-1
            x = tf.reduce_mean(tf.abs(above - below), axis=-1)  # [B, n - 1, n * kw]
            row_pairs.append(tf.reduce_mean(tf.reshape(x, [-1, n - 1, n, kw]), axis=-1))
            left = upper[:, :, kw - 1:(n - 1) * kw:kw]
            right = lower[:, :, kw:(n - 1) * kw + 1:kw]
            y = tf.reduce_mean(tf.abs(left - right), axis=-1)  # [B, n * kh, n - 1]
            col_pairs.append(tf.reduce_mean(tf.reshape(y, [-1, n, kh, n - 1]), axis=2))
        rows.append(tf.stack(row_pairs, axis=1))
        cols.append(tf.stack(col_pairs, axis=1))
    return tf.cast(tf.stack(rows, axis=1), tf.float32), tf.cast(tf.stack(cols, axis=1), tf.float32)


def _move_blocks(images, sources, grid):
    """images with destination block j holding source block sources[:, j] (black where -1)."""
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    bh, bw = height // grid, width // grid
    blocks = tf.reshape(images, [-1, grid, bh, grid, bw, channels])
    blocks = tf.reshape(tf.transpose(blocks, [0, 1, 3, 2, 4, 5]), [-1, grid * grid, bh, bw, channels])
    moved = tf.gather(blocks, tf.maximum(sources, 0), batch_dims=1)
    moved *= tf.cast(sources >= 0, images.dtype)[:, :, None, None, None]
    moved = tf.transpose(tf.reshape(moved, [-1, grid, grid, bh, bw, channels]), [0, 1, 3, 2, 4, 5])
    return tf.reshape(moved, [-1, height, width, channels])


def rms_over_channels(gradient):
    """main.py's saliency: sqrt(mean over channels of the squared input gradient) [B, H, W]."""
    return tf.sqrt(tf.reduce_mean(tf.square(tf.cast(gradient, tf.float32)), axis=-1))

