"""Per-image preprocessing, as the reference implementations feed their models.

Evaluation (timm's `transforms_imagenet_eval`): resize so that the image covers
size / crop_pct (the shorter side, for a square size) with the model's interpolation,
center-crop the size, scale to [0, 1], subtract the mean and divide by the std.

Training (Inception / timm `RandomResizedCropAndInterpolation`): a random crop covering a
`crop_scale` share of the image area (0.08..1) with aspect ratio in `crop_ratio` (3/4..4/3),
resized to the input size (or, with crop_scale None, the evaluation resize and crop);
optionally a zero-pad-and-random-crop (CIFAR's "padding 4"); then a horizontal flip with
probability 1/2. The random choices are stateless ops seeded per example, so a seeded
pipeline is reproducible.

Images enter as uint8 [H, W, C] with any channel count; `adapt_channels` gives the model's
(gray -> RGB by tiling, RGB -> gray by luminance). Geometry returns float32 on the 0..255 scale
(what RandAugment expects); `normalize` maps that to the model's input.
"""

import dataclasses
from typing import NamedTuple, Optional, Sequence, Tuple

import tensorflow as tf

INTERPOLATIONS = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest",
                  "area": "area", "lanczos": "lanczos3", "lanczos3": "lanczos3",
                  "lanczos5": "lanczos5", "gaussian": "gaussian", "mitchellcubic": "mitchellcubic",
                  "random": "bilinear"}
CROP_SCALE = (0.08, 1.0)
CROP_RATIO = (3.0 / 4.0, 4.0 / 3.0)


class Spec(NamedTuple):
    """The normalization and resizing the model was trained with."""

    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    interpolation: str
    crop_pct: float


def spec(preprocessing):
    """A Spec from a registry `Preprocessing`, its dict (`model_info(name)["preprocessing"]`),
    or a registered model name."""
    if isinstance(preprocessing, str):
        from keras_backbones import registry
        preprocessing = registry.get_spec(preprocessing).preprocessing
    if dataclasses.is_dataclass(preprocessing):
        preprocessing = dataclasses.asdict(preprocessing)
    if isinstance(preprocessing, Spec):
        return preprocessing
    try:
        mean, std = tuple(preprocessing["mean"]), tuple(preprocessing["std"])
        interpolation = preprocessing.get("interpolation", "bilinear")
        crop_pct = float(preprocessing.get("crop_pct", 0.875))
    except (KeyError, TypeError, AttributeError):
        raise ValueError("preprocessing must be a registry Preprocessing, a dict with mean and "
                         "std (and interpolation, crop_pct) or a model name; "
                         f"got {preprocessing!r}.") from None
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"preprocessing.interpolation must be one of {', '.join(INTERPOLATIONS)}; "
                         f"got {interpolation!r}.")
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"preprocessing.crop_pct must be in (0, 1]; got {crop_pct}.")
    return Spec(mean, std, interpolation, crop_pct)


def adapt_channels(image, channels):
    """[H, W, C] -> [H, W, channels]: gray is tiled to RGB, RGB becomes luminance, alpha is
    dropped."""
    have = image.shape[-1]
    if have is None:
        raise ValueError("adapt_channels: the image's channel count must be known.")
    if have == channels:
        return image
    if have == 1 and channels == 3:
        return tf.tile(image, [1, 1, 3])
    if have in (3, 4) and channels == 1:
        return tf.cast(tf.round(tf.image.rgb_to_grayscale(tf.cast(image[..., :3], tf.float32))),
                       image.dtype)
    if have == 4 and channels == 3:
        return image[..., :3]
    raise ValueError(f"Cannot adapt {have}-channel images to {channels} channels.")


def _resize(image, size, interpolation):
    resized = tf.image.resize(tf.cast(image, tf.float32), size,
                              method=INTERPOLATIONS[interpolation], antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)  # bicubic/lanczos overshoot


def center_crop(image, image_size, pre: Spec):
    """Resize to cover image_size / crop_pct (aspect kept), then take the central image_size:
    float32 [H, W, C] on 0..255."""
    height, width = image_size
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    # timm: scale_size = floor(size / crop_pct), the shorter side for a square size.
    target = tf.floor(tf.constant([height, width], tf.float32) / pre.crop_pct)
    scale = tf.reduce_max(target / shape)
    scaled = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), [height, width])
    image = _resize(image, scaled, pre.interpolation)
    top = (scaled[0] - height) // 2
    left = (scaled[1] - width) // 2
    return tf.ensure_shape(image[top:top + height, left:left + width], [height, width, None])


def random_resized_crop(image, image_size, pre: Spec, seed, *, scale=CROP_SCALE, ratio=CROP_RATIO):
    """Inception-style crop: a box of `scale` x the area and aspect ratio in `ratio`
    (10 attempts, else the whole image), resized to image_size. seed: int32/int64 [2]."""
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.zeros([1, 0, 4]), seed=seed,
        min_object_covered=0.0, aspect_ratio_range=ratio, area_range=scale, max_attempts=10,
        use_image_if_no_bounding_boxes=True)
    crop = tf.slice(image, begin, size)
    return tf.ensure_shape(_resize(crop, image_size, pre.interpolation),
                           [image_size[0], image_size[1], None])


def train_geometry(image, image_size, pre: Spec, seed, *, crop_scale=CROP_SCALE,
                   crop_ratio=CROP_RATIO, flip=True, pad_crop=0):
    """Training crop and flip: float32 [H, W, C] on 0..255. crop_scale None: no random crop
    (the evaluation resize and center crop), for images too small to crop (digits).
    pad_crop > 0: then zero-pad that many pixels on each side and take a random crop of the
    size back (the CIFAR augmentation of the ResNet and WRN papers)."""
    crop_seed, pad_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, num=3))
    if crop_scale:
        image = random_resized_crop(image, image_size, pre, crop_seed, scale=tuple(crop_scale),
                                    ratio=tuple(crop_ratio))
    else:
        image = center_crop(image, image_size, pre)
    if pad_crop:
        padded = tf.pad(image, [[pad_crop, pad_crop], [pad_crop, pad_crop], [0, 0]])
        offset = tf.random.stateless_uniform([2], pad_seed, minval=0, maxval=2 * pad_crop + 1,
                                             dtype=tf.int32)
        image = tf.slice(padded, [offset[0], offset[1], 0], [image_size[0], image_size[1], -1])
    if flip:
        image = tf.image.stateless_random_flip_left_right(image, seed=flip_seed)
    return image


def normalize(image, pre: Spec, channels: Optional[int] = None):
    """0..255 -> (x / 255 - mean) / std, per channel. A 3-value mean/std on 1-channel input
    is averaged to one value."""
    channels = channels or image.shape[-1]
    mean = _per_channel(pre.mean, channels, "mean")
    std = _per_channel(pre.std, channels, "std")
    return (tf.cast(image, tf.float32) / 255.0 - mean) / std


def _per_channel(values: Sequence[float], channels, name):
    if len(values) == channels:
        return tf.constant(values, tf.float32)
    if len(values) == 1 or channels == 1:
        return tf.fill([channels], sum(values) / len(values))
    raise ValueError(f"preprocessing.{name} has {len(values)} values for {channels}-channel "
                     "images.")


def eval_image(image, image_size, pre, channels):
    """The whole evaluation transform of one uint8 image: float32 [H, W, channels]."""
    pre = spec(pre)
    image = adapt_channels(image, channels)
    return normalize(center_crop(image, image_size, pre), pre, channels)
