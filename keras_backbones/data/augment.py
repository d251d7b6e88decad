"""Training augmentation and label regularization, in the order timm applies them:
random resized crop, pad-and-crop, flip (per image, `preprocessing`) -> RandAugment,
AutoAugment, TrivialAugmentWide or AugMix (0..255) -> normalize -> random erasing (per image,
on normalized pixels) -> one-hot labels, label smoothing -> MixUp or CutMix (per batch).

The augment config (an `ml_collections.ConfigDict` or a dict; every field optional):

    crop_scale       area share range of the random resized crop      ((0.08, 1.0); None: no
                     random crop, the evaluation resize + center crop)
    crop_ratio       aspect ratio range of the crop                   ((3/4, 4/3))
    flip             random horizontal flip                            (True)
    pad_crop         after the crop: zero-pad this many pixels per side, then take a random
                     crop of the input size (CIFAR's "pad 4, random crop"; 0: off)      (0)
    randaugment      None, True (2 layers, magnitude 9), or {num_layers, magnitude, magnitude_std}
                     on timm's 0..10 magnitude scale: "rand-m9-mstd0.5" is
                     {num_layers: 2, magnitude: 9, magnitude_std: 0.5}
    autoaugment      None, "imagenet" (Cubuk et al.'s ImageNet policy, torchvision's magnitudes)
                     or "v0" (the EfficientNet code's policy_v0)           (None)
    trivialaugment   TrivialAugmentWide                                  (False)
    augmix           None, True, or {severity, width, depth, alpha, all_ops, jsd}: AugMix
                     (google-research/augmix: 3, 3, -1 (1..3), 1.0, False, True). jsd: the
                     pipeline yields (clean, augmix, augmix) views, and the train step adds
                     12 x their Jensen-Shannon divergence to the clean view's cross-entropy
                     (random erasing then applies to the two augmented views only; MixUp and
                     CutMix cannot mix the views and are refused)
                     At most one of randaugment, autoaugment, trivialaugment and augmix.
    random_erasing   probability of erasing a box per image (timm: area 2%..1/3, log-uniform
                     aspect 0.3..3.3, filled with per-pixel N(0, 1) noise)   (0.0)
    label_smoothing  epsilon: targets (1 - eps) * one_hot + eps / num_classes   (0.0)
    mixup_alpha      Beta(alpha, alpha) of MixUp; 0 turns it off      (0.0)
    cutmix_alpha     Beta(alpha, alpha) of CutMix; 0 turns it off     (0.0)
    mix_prob         probability that a batch is mixed at all         (1.0)
    switch_prob      with both on, probability of CutMix over MixUp   (0.5)

RandAugment is keras-cv's layer (it runs under both Kerases). AutoAugment, TrivialAugmentWide
and AugMix are stateless ops on each image's seed (`autoaugment.py` says why not keras-cv's).
MixUp, CutMix and random erasing are written here with stateless TensorFlow ops rather than
taken from keras-cv: they follow timm's definitions, which the modern recipes were tuned with
(one lambda per batch mixed with the reversed batch; CutMix's label weight corrected to the
box area that survives clipping; erasing with pixel noise on normalized images), they
reproduce exactly from a seed (keras-cv's layers, given the same seed, do not), and tf-keras
has no RandomErasing layer. Seeds are int32/int64 tensors of shape [2].
"""

import math

import tensorflow as tf

from keras_backbones.data import autoaugment as policies

DEFAULTS = {
    "crop_scale": (0.08, 1.0),
    "crop_ratio": (3.0 / 4.0, 4.0 / 3.0),
    "flip": True,
    "pad_crop": 0,
    "randaugment": None,
    "autoaugment": None,
    "trivialaugment": False,
    "augmix": None,
    "random_erasing": 0.0,
    "label_smoothing": 0.0,
    "mixup_alpha": 0.0,
    "cutmix_alpha": 0.0,
    "mix_prob": 1.0,
    "switch_prob": 0.5,
}
RANDAUGMENT_DEFAULTS = {"num_layers": 2, "magnitude": 9.0, "magnitude_std": 0.0}
# google-research/augmix's defaults (cifar.py; its imagenet.py trains at severity 1).
AUGMIX_DEFAULTS = {"severity": 3.0, "width": 3, "depth": -1, "alpha": 1.0, "all_ops": False,
                   "jsd": True}
IMAGE_POLICIES = ("randaugment", "autoaugment", "trivialaugment", "augmix")
ERASE_AREA = (0.02, 1.0 / 3.0)
ERASE_LOG_RATIO = (math.log(0.3), math.log(1.0 / 0.3))
ERASE_ATTEMPTS = 10


def _as_dict(config):
    if config is None:
        return {}
    if hasattr(config, "to_dict"):
        return config.to_dict()
    return dict(config)


def _is_range(pair, upper):
    """(low, high) numbers with 0 < low <= high <= upper, high finite."""
    try:
        low, high = (float(x) for x in pair)
    except (TypeError, ValueError):
        return False
    return 0.0 < low <= high <= upper and high < math.inf


def resolve(augment=None, defaults=None):
    """The full augment config: DEFAULTS, then a source's `augment_defaults`, then `augment`.
    An unknown field or an out-of-range value is a ValueError naming it."""
    config = {**DEFAULTS, **_as_dict(defaults)}
    given = _as_dict(augment)
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"augment: unknown field(s) {', '.join(unknown)}; "
                         f"the fields are {', '.join(DEFAULTS)}.")
    config.update(given)
    for key in ("random_erasing", "label_smoothing", "mix_prob", "switch_prob"):
        if not 0.0 <= float(config[key]) <= 1.0:
            raise ValueError(f"augment.{key} must be in [0, 1]; got {config[key]!r}.")
    if not isinstance(config["pad_crop"], int) or config["pad_crop"] < 0:
        raise ValueError("augment.pad_crop must be a number of pixels >= 0; "
                         f"got {config['pad_crop']!r}.")
    for key in ("mixup_alpha", "cutmix_alpha"):  # written so that NaN fails too
        if not 0.0 <= float(config[key]) < math.inf:
            raise ValueError(f"augment.{key} must be a finite number >= 0 (0 is off); "
                             f"got {config[key]!r}.")
    for key, upper in (("crop_scale", 1.0), ("crop_ratio", math.inf)):
        if config[key] and not _is_range(config[key], upper):
            raise ValueError(f"augment.{key} must be (low, high) with 0 < low <= high "
                             f"{'<= 1' if upper == 1.0 else 'finite'}; got {config[key]!r}.")
    if config["randaugment"]:
        given_ra = {} if config["randaugment"] is True else _as_dict(config["randaugment"])
        unknown = sorted(set(given_ra) - set(RANDAUGMENT_DEFAULTS))
        if unknown:
            raise ValueError(f"augment.randaugment: unknown field(s) {', '.join(unknown)}; the "
                             f"fields are {', '.join(RANDAUGMENT_DEFAULTS)}.")
        config["randaugment"] = {**RANDAUGMENT_DEFAULTS, **given_ra}
        if not 0.0 <= config["randaugment"]["magnitude"] <= 10.0:
            raise ValueError("augment.randaugment.magnitude is on timm's 0..10 scale; got "
                             f"{config['randaugment']['magnitude']!r}.")
        if not 0.0 <= config["randaugment"]["magnitude_std"] < math.inf:
            raise ValueError("augment.randaugment.magnitude_std must be a finite number >= 0; "
                             f"got {config['randaugment']['magnitude_std']!r}.")
        layers = config["randaugment"]["num_layers"]
        if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
            raise ValueError(f"augment.randaugment.num_layers must be an integer >= 1; got {layers!r}.")
    else:
        config["randaugment"] = None
    _resolve_policies(config)
    return config


def _resolve_policies(config):
    """AutoAugment, TrivialAugmentWide and AugMix's fields, checked; at most one policy."""
    chosen = [key for key in IMAGE_POLICIES if config[key]]
    if len(chosen) > 1:
        raise ValueError(f"augment: {' and '.join(chosen)} are each a whole augmentation policy; "
                         f"choose one of {', '.join(IMAGE_POLICIES)}.")
    if config["autoaugment"] and config["autoaugment"] not in policies.POLICIES:
        raise ValueError(f"augment.autoaugment must be None or one of "
                         f"{', '.join(map(repr, policies.POLICIES))}; got {config['autoaugment']!r}.")
    config["autoaugment"] = config["autoaugment"] or None
    config["trivialaugment"] = bool(config["trivialaugment"])
    if not config["augmix"]:
        config["augmix"] = None
        return
    given = {} if config["augmix"] is True else _as_dict(config["augmix"])
    unknown = sorted(set(given) - set(AUGMIX_DEFAULTS))
    if unknown:
        raise ValueError(f"augment.augmix: unknown field(s) {', '.join(unknown)}; the fields are "
                         f"{', '.join(AUGMIX_DEFAULTS)}.")
    augmix = config["augmix"] = {**AUGMIX_DEFAULTS, **given}
    if not 0.1 < float(augmix["severity"]) <= 10.0:
        raise ValueError("augment.augmix.severity is the operations' highest level, in (0.1, 10] "
                         f"(levels are drawn from [0.1, severity]); got {augmix['severity']!r}.")
    for key, low in (("width", 1), ("depth", -1)):
        value = augmix[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < low or value == 0:
            raise ValueError(f"augment.augmix.{key} must be an integer >= 1"
                             f"{' (or -1: 1..3 at random)' if key == 'depth' else ''}; got {value!r}.")
    if not 0.0 < float(augmix["alpha"]) < math.inf:
        raise ValueError(f"augment.augmix.alpha must be a finite number > 0; got {augmix['alpha']!r}.")
    if augmix["jsd"] and (config["mixup_alpha"] or config["cutmix_alpha"]):
        raise ValueError("augment.augmix.jsd compares the predictions for views of the same "
                         "images, which MixUp and CutMix would mix apart: set mixup_alpha and "
                         "cutmix_alpha to 0, or augmix.jsd to False.")


def image_policy(config):
    """The per-image policy of a resolved config, as `policy(image, seed)` on a 0..255 image
    (AugMix with jsd: returns (image, augmix view, augmix view)); None for none or
    RandAugment (keras-cv's layer, applied by the pipeline)."""
    if config["autoaugment"]:
        return lambda image, seed: policies.autoaugment(image, seed, config["autoaugment"])
    if config["trivialaugment"]:
        return policies.trivialaugment
    if not config["augmix"]:
        return None
    options = {key: value for key, value in config["augmix"].items() if key != "jsd"}
    if not config["augmix"]["jsd"]:
        return lambda image, seed: policies.augmix(image, seed, **options)

    def views(image, seed):
        first, second = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
        return (image, policies.augmix(image, first, **options),
                policies.augmix(image, second, **options))
    return views


# --- RandAugment ----------------------------------------------------------------------------

def randaugment(num_layers=2, magnitude=9.0, magnitude_std=0.0, seed=None):
    """keras-cv's RandAugment on 0..255 images, with timm's 0..10 magnitude scale
    (`rand-m9-mstd0.5`: magnitude=9, magnitude_std=0.5). Returns a callable on images."""
    import keras_cv

    return keras_cv.layers.RandAugment(value_range=(0, 255),
                                       augmentations_per_image=int(num_layers),
                                       magnitude=magnitude / 10.0,
                                       magnitude_stddev=magnitude_std / 10.0, seed=seed)


# --- random erasing -------------------------------------------------------------------------

def random_erasing(images, seed, *, prob):
    """timm's RandomErasing (mode "pixel", one box) on a normalized batch [B, H, W, C]: with
    probability `prob` per image, a box of 2%..1/3 of the area and aspect ratio log-uniform in
    0.3..3.3 (the first of 10 draws that fits) is filled with N(0, 1) noise."""
    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    seeds = tf.random.experimental.stateless_split(seed, num=6)
    area = tf.cast(height * width, tf.float32)
    draws = [batch, ERASE_ATTEMPTS]
    target = area * tf.random.stateless_uniform(draws, seeds[0], *ERASE_AREA)
    ratio = tf.exp(tf.random.stateless_uniform(draws, seeds[1], *ERASE_LOG_RATIO))
    box_h = tf.cast(tf.round(tf.sqrt(target * ratio)), tf.int32)
    box_w = tf.cast(tf.round(tf.sqrt(target / ratio)), tf.int32)
    fits = (box_h < height) & (box_w < width)
    first = tf.argmax(tf.cast(fits, tf.int32), axis=1, output_type=tf.int32)  # first that fits
    box_h = tf.gather(box_h, first, batch_dims=1)
    box_w = tf.gather(box_w, first, batch_dims=1)
    erase = tf.reduce_any(fits, axis=1) & (tf.random.stateless_uniform([batch], seeds[2]) < prob)
    top = _uniform_int([batch], seeds[3], height - box_h + 1)
    left = _uniform_int([batch], seeds[4], width - box_w + 1)
    rows = tf.range(height)[None, :]
    cols = tf.range(width)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < (top + box_h)[:, None])
    in_cols = (cols >= left[:, None]) & (cols < (left + box_w)[:, None])
    mask = in_rows[:, :, None] & in_cols[:, None, :] & erase[:, None, None]
    noise = tf.random.stateless_normal(shape, seeds[5], dtype=images.dtype)
    return tf.where(mask[..., None], noise, images)


def _uniform_int(shape, seed, upper):
    """Integers in [0, upper) with a per-element (tensor) upper bound."""
    draw = tf.random.stateless_uniform(shape, seed)
    return tf.minimum(tf.cast(draw * tf.cast(upper, tf.float32), tf.int32), upper - 1)


# --- labels ---------------------------------------------------------------------------------

def one_hot(labels, num_classes, smoothing=0.0):
    """int labels [B] -> float32 [B, num_classes], smoothed: (1 - eps) * y + eps / classes."""
    targets = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
    return smooth(targets, smoothing) if smoothing else targets


def smooth(targets, smoothing):
    num_classes = tf.cast(tf.shape(targets)[-1], targets.dtype)
    return targets * (1.0 - smoothing) + smoothing / num_classes


# --- MixUp and CutMix -----------------------------------------------------------------------

def sample_beta(seed, alpha, shape=()):
    """Beta(alpha, alpha) from two stateless gammas."""
    first, second = tf.unstack(tf.random.experimental.stateless_split(seed, num=2))
    g1 = tf.random.stateless_gamma(shape, first, alpha=alpha)
    g2 = tf.random.stateless_gamma(shape, second, alpha=alpha)
    return g1 / (g1 + g2)


def mixup(images, labels, lam):
    """MixUp (Zhang et al. 2018) with the reversed batch as partner, as timm does."""
    lam = tf.cast(lam, images.dtype)
    mixed = lam * images + (1.0 - lam) * tf.reverse(images, axis=[0])
    lam = tf.cast(lam, labels.dtype)
    return mixed, lam * labels + (1.0 - lam) * tf.reverse(labels, axis=[0])


def cutmix_box(height, width, lam, centre):
    """timm's rand_bbox: a box of side sqrt(1 - lam) x the image side centred at centre
    = (row, column), clipped to the image. Returns (top, bottom, left, right) int32 scalars."""
    cut = tf.sqrt(1.0 - tf.cast(lam, tf.float32))
    half_h = tf.cast(tf.cast(height, tf.float32) * cut, tf.int32) // 2
    half_w = tf.cast(tf.cast(width, tf.float32) * cut, tf.int32) // 2
    top, bottom = (tf.clip_by_value(centre[0] + d, 0, height) for d in (-half_h, half_h))
    left, right = (tf.clip_by_value(centre[1] + d, 0, width) for d in (-half_w, half_w))
    return top, bottom, left, right


def paste(images, partner, box):
    """`partner`'s pixels inside box = (top, bottom, left, right) pasted into `images`;
    returns (mixed images, the pasted share of the image area)."""
    top, bottom, left, right = box
    shape = tf.shape(images)
    rows, cols = tf.range(shape[1]), tf.range(shape[2])
    inside = ((rows >= top) & (rows < bottom))[:, None] & ((cols >= left) & (cols < right))[None, :]
    area = tf.cast(shape[1] * shape[2], tf.float32)
    pasted = tf.cast((bottom - top) * (right - left), tf.float32) / area
    return tf.where(inside[None, :, :, None], partner, images), pasted


def cutmix(images, labels, lam, seed):
    """CutMix (Yun et al. 2019): a box from the reversed batch is pasted in; the label
    weight is the share of the image outside the box (timm's correct_lam)."""
    shape = tf.shape(images)
    draw = tf.random.stateless_uniform([2], seed, minval=0, maxval=2 ** 30, dtype=tf.int32)
    centre = draw % shape[1:3]  # uniform over rows and columns
    box = cutmix_box(shape[1], shape[2], lam, centre)
    mixed, pasted = paste(images, tf.reverse(images, axis=[0]), box)
    pasted = tf.cast(pasted, labels.dtype)
    return mixed, (1.0 - pasted) * labels + pasted * tf.reverse(labels, axis=[0])


def mix_batch(images, labels, seed, *, mixup_alpha=0.0, cutmix_alpha=0.0, mix_prob=1.0,
              switch_prob=0.5):
    """timm's Mixup in batch mode: with probability mix_prob the batch is mixed, by CutMix with
    probability switch_prob when both are on (else the one that is on). labels: one-hot or
    smoothed [B, classes]."""
    if not (mixup_alpha or cutmix_alpha) or not mix_prob:
        return images, labels
    seeds = tf.random.experimental.stateless_split(seed, num=4)
    draws = tf.random.stateless_uniform([2], seeds[0])
    if mixup_alpha and cutmix_alpha:
        use_cutmix = draws[1] < switch_prob
    else:
        use_cutmix = tf.constant(bool(cutmix_alpha))

    def do_cutmix():
        return cutmix(images, labels, sample_beta(seeds[1], cutmix_alpha), seeds[2])

    def do_mixup():
        return mixup(images, labels, sample_beta(seeds[3], mixup_alpha))

    def do_mix():
        if not cutmix_alpha:
            return do_mixup()
        if not mixup_alpha:
            return do_cutmix()
        return tf.cond(use_cutmix, do_cutmix, do_mixup)

    return tf.cond(draws[0] < mix_prob, do_mix, lambda: (images, labels))
