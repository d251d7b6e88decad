"""From a Source to batches a model trains or evaluates on.

`make_dataset` yields (float32 images [B, H, W, C], normalized for the model; float32 labels
[B, num_classes], one-hot, smoothed and mixed in training when the augment config asks). With
AugMix's JSD loss (augment.augmix.jsd) the training images are a tuple of three such batches:
the clean images and two AugMix views of them.

Order: shard (per input pipeline) -> cache -> shuffle -> repeat -> per-image preprocessing
(parallel map; AutoAugment, TrivialAugmentWide and AugMix too) -> batch -> per-batch
augmentation -> prefetch. Each training example carries its own seed pair from a seeded
`Dataset.random`, and every random choice except keras-cv's RandAugment is a stateless op on
such a seed: with `seed` given, the augmentation does not depend on thread scheduling, and
`deterministic=True` gives the same batches on every run: it
also orders parallel maps and, with RandAugment on, calls `tf.random.set_seed(seed)` and runs
RandAugment one image at a time in order (keras-cv draws from stateful ops, and over a batch
it maps them in parallel iterations whose order varies). Each pass over a finite dataset
reshuffles and redraws, reproducibly.
"""

import tensorflow as tf

from keras_backbones.data import augment as augment_lib
from keras_backbones.data import preprocessing as prep

AUTOTUNE = tf.data.AUTOTUNE
SHUFFLE_BUFFER = 10_000
DEFAULT_SEED = 0  # deterministic=True without a seed
POLICY_STREAM = 1  # folded into an example's seed for its AutoAugment/TrivialAugment/AugMix


def make_dataset(source, *, training, image_size, channels, preprocessing, batch_size,
                 num_classes=None, augment=None, seed=None, deterministic=False,
                 input_context=None, cache=False, drop_remainder=None, repeat=None,
                 shuffle_buffer=SHUFFLE_BUFFER):
    """Batches of (images, one-hot labels) from `source` (a `sources.Source`).

    training: random crop/flip and the `augment` config (fields: `augment.py`; the source's
        `augment_defaults` apply beneath it); False: the evaluation resize/center crop only,
        plain one-hot labels, the source's order.
    image_size: (height, width); channels: the model's input channels.
    preprocessing: the model's `registry.Preprocessing`, its dict, or a model name.
    batch_size: per input pipeline (per replica when sharded with `input_context`).
    input_context: a `tf.distribute.InputContext`; shards by its pipeline id.
    cache: True (memory) or a file path; caches the decoded images before any random step.
    drop_remainder: default True in training, False in evaluation.
    repeat: None/False: one pass per iteration; True: forever; an int: that many passes.
    """
    if seed is None and deterministic:
        seed = DEFAULT_SEED
    num_classes = num_classes or source.num_classes
    image_size = tuple(int(s) for s in image_size)
    if len(image_size) != 2:
        raise ValueError(f"image_size must be (height, width); got {image_size}.")
    if drop_remainder is None:
        drop_remainder = training
    pre = prep.spec(preprocessing)
    config = augment_lib.resolve(augment, defaults=getattr(source, "augment_defaults", None))

    dataset = source.dataset
    if input_context is not None and input_context.num_input_pipelines > 1:
        dataset = dataset.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    _check_not_empty(dataset, source, batch_size, drop_remainder and not repeat)
    if cache:
        dataset = dataset.cache(cache if isinstance(cache, str) else "")
    if training:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat(None if repeat is True else int(repeat))

    if training:
        dataset = _train_images(dataset, config, pre, image_size, channels, seed,
                                augment_lib.image_policy(config))
        randaugment = _randaugment(config, seed, deterministic)
        if randaugment is not None and deterministic:
            # keras-cv draws from stateful ops, and over a batch it maps them in parallel
            # iterations whose order varies; one image at a time, in order, repeats.
            dataset = dataset.map(lambda image, *rest: (randaugment(image), *rest))
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder,
                                num_parallel_calls=AUTOTUNE)
        if randaugment is not None and not deterministic:
            dataset = dataset.map(lambda images, *rest: (randaugment(images), *rest),
                                  num_parallel_calls=AUTOTUNE)
        dataset = dataset.map(_batch_finisher(config, pre, channels, num_classes),
                              num_parallel_calls=AUTOTUNE)
    else:
        def eval_image(image, label):
            image = prep.center_crop(prep.adapt_channels(image, channels), image_size, pre)
            return prep.normalize(image, pre, channels), label

        dataset = dataset.map(eval_image, num_parallel_calls=AUTOTUNE)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder,
                                num_parallel_calls=AUTOTUNE)
        one_hot = augment_lib.one_hot
        dataset = dataset.map(lambda images, labels: (images, one_hot(labels, num_classes)),
                              num_parallel_calls=AUTOTUNE)

    options = tf.data.Options()
    options.deterministic = bool(deterministic) or not training  # evaluation keeps the order
    if input_context is not None:
        # Already sharded per pipeline: no second (auto) sharding by the strategy.
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(AUTOTUNE)


def _train_images(dataset, config, pre, image_size, channels, seed, policy=None):
    """(image, label) -> (float32 image on 0..255 after the random crop and flip and the
    per-image `policy` (`augment.image_policy`; AugMix's JSD: a tuple of views), label, the
    example's seed pair, from which every later random choice for it is derived)."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def train_image(example, image_seed):
        image, label = example
        image = prep.train_geometry(prep.adapt_channels(image, channels), image_size, pre,
                                    image_seed, crop_scale=config["crop_scale"],
                                    crop_ratio=config["crop_ratio"], flip=config["flip"],
                                    pad_crop=config["pad_crop"])
        if policy is not None:  # its own stream, beside the crop's and the batch's splits
            policy_seed = tf.random.experimental.stateless_fold_in(image_seed, POLICY_STREAM)
            # The operations need the static shape (color on RGB, AugMix's translation range).
            image = policy(tf.ensure_shape(image, [*image_size, channels]), policy_seed)
        return image, label, image_seed

    return tf.data.Dataset.zip((dataset, seeds)).map(train_image, num_parallel_calls=AUTOTUNE)


def _randaugment(config, seed, deterministic):
    """keras-cv's RandAugment (on 0..255 images), or None when the config has none."""
    if not config["randaugment"]:
        return None
    if deterministic:
        tf.random.set_seed(seed)  # keras-cv's stateful ops take their seeds from here
    return augment_lib.randaugment(**config["randaugment"], seed=seed)


def _batch_finisher(config, pre, channels, num_classes):
    """normalize -> random erasing -> one-hot (smoothed) labels -> MixUp/CutMix."""
    def finish(images, labels, seeds):
        # The batch's seed: its first example's (which no other batch has).
        erase_seed, mix_seed = tf.unstack(tf.random.experimental.stateless_split(seeds[0], num=2))
        targets = augment_lib.one_hot(labels, num_classes, config["label_smoothing"])
        if isinstance(images, tuple):  # AugMix's JSD views: erasing on the augmented ones (timm)
            clean, *views = (prep.normalize(view, pre, channels) for view in images)
            if config["random_erasing"]:
                view_seeds = tf.random.experimental.stateless_split(erase_seed, num=len(views))
                views = [augment_lib.random_erasing(view, view_seed, prob=config["random_erasing"])
                         for view, view_seed in zip(views, tf.unstack(view_seeds))]
            return (clean, *views), targets
        images = prep.normalize(images, pre, channels)
        if config["random_erasing"]:
            images = augment_lib.random_erasing(images, erase_seed, prob=config["random_erasing"])
        return augment_lib.mix_batch(images, targets, mix_seed,
                                     mixup_alpha=config["mixup_alpha"],
                                     cutmix_alpha=config["cutmix_alpha"],
                                     mix_prob=config["mix_prob"], switch_prob=config["switch_prob"])
    return finish


def _check_not_empty(dataset, source, batch_size, drops_partial):
    """An empty source (or shard) fails here, not as a silent zero-step epoch."""
    count = int(dataset.cardinality())
    name = getattr(source, "name", "dataset")
    if count == tf.data.UNKNOWN_CARDINALITY and tf.executing_eagerly():
        # Files are decoded lazily: look for one example (stops at the first good one),
        # leaving the corrupt-image count as it was.
        skipped = getattr(source, "skipped", None)
        before = None if skipped is None else skipped.numpy()
        count = sum(1 for _ in dataset.take(1))
        if skipped is not None:
            skipped.assign(before)
        if count:
            return
    if count == 0:
        readable = ", or none readable" if getattr(source, "skipped", None) is not None else ""
        raise ValueError(f"{name}: the dataset is empty (no examples{readable}).")
    if drops_partial and 0 < count < batch_size:
        raise ValueError(f"{name}: {count} examples make no full batch of {batch_size} with "
                         "drop_remainder; lower the batch size.")
