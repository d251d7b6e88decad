"""Images as a checkpoint's reference evaluates them: `load_image` decodes, resizes and crops
a file with PIL as torchvision's and timm's evaluation transforms do, `preprocess_input` scales
and normalizes the pixels. Together they give the model what the reference's eval transform
gives its own, to float rounding: the same predictions on the same file.

The transform (`eval_transform`) comes from a published checkpoint (`table.Checkpoint`: its
resize_size, input_size, interpolation, mean, std), a registry `Preprocessing` (the variant's
reference's: the resize is floor(size / crop_pct), timm's rule), or a variant's name (its
default checkpoint's, else its registered preprocessing's):

    PIL.Image.open(path).convert("RGB")         # "L" for a 1-channel model
    Resize(resize_size)                         # the shorter side, PIL's resampling filter
    CenterCrop(input_size)                      # torchvision's offsets: round(excess / 2)
    (pixels / 255 - mean) / std                 # float32, per channel

The model's input is always RGB: a checkpoint trained on BGR images (channel_order "BGR") has
its stem's input channels reversed when it is converted, so its pixels go in as RGB too, with
the mean and std the table states in RGB order.

NumPy and PIL only: no TensorFlow, so that loading images costs nothing before a model.
"""

import dataclasses
import math
from typing import Tuple

import numpy as np

from keras_backbones.files import existing_file
from keras_backbones.pretrained.table import Checkpoint

# PIL's resampling filters under the names torchvision's InterpolationMode and timm use.
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


@dataclasses.dataclass(frozen=True)
class EvalTransform:
    """An evaluation transform: resize to `resize` (equal sides: the shorter side to that
    length, torchvision's Resize(int); else the aspect kept, the side nearer its target
    matched, timm's ResizeKeepRatio; squash: both sides to `resize`, the aspect not kept, as
    timm's crop_mode "squash"), center-crop `size`, normalize by `mean` and `std`."""

    size: Tuple[int, int]
    resize: Tuple[int, int]
    interpolation: str
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    channels: int
    squash: bool = False


def eval_transform(preprocessing, size=None, channels=None) -> EvalTransform:
    """The evaluation transform of `preprocessing`: a `Checkpoint`, a registry `Preprocessing`,
    or a registered variant's name (its default published checkpoint's, else its registered
    preprocessing).

    size, channels: the model's input (height, width) and channels where they are not the
    preprocessing's own (a model built with another input_shape): the resize follows from the
    size by timm's rule, floor(size / crop_pct)."""
    if isinstance(preprocessing, str):
        preprocessing = _of_variant(preprocessing)
    try:
        crop_pct = float(preprocessing.crop_pct)
        own_size = tuple(int(s) for s in preprocessing.input_size[:2])
        interpolation = preprocessing.interpolation
        mean, std = tuple(map(float, preprocessing.mean)), tuple(map(float, preprocessing.std))
    except (AttributeError, TypeError, ValueError):
        raise ValueError("preprocessing must be a published Checkpoint, a registry "
                         "Preprocessing or a registered variant's name; got "
                         f"{preprocessing!r}.") from None
    size = own_size if size is None else tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width) in pixels; got {size}.")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}; got "
                         f"{interpolation!r}.")
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"crop_pct must be in (0, 1]; got {crop_pct}.")
    if len(mean) != len(std) or not all(s > 0 for s in std):
        raise ValueError(f"mean {mean} and std {std} must have one value per channel, std > 0.")
    if isinstance(preprocessing, Checkpoint) and size == own_size and preprocessing.resize_size:
        resize = (int(preprocessing.resize_size),) * 2  # as published (torchvision's 232, 342)
    else:
        resize = tuple(math.floor(s / crop_pct) for s in size)  # timm's scale_size
    if channels is None:
        input_size = tuple(preprocessing.input_size)
        channels = input_size[2] if len(input_size) == 3 else len(mean)
    squash = getattr(preprocessing, "crop_mode", "center") == "squash"
    return EvalTransform(size=size, resize=resize, interpolation=interpolation, mean=mean,
                         std=std, channels=int(channels), squash=squash)


def _of_variant(name):
    from keras_backbones import pretrained, registry  # both import this module's package

    spec = registry.get_spec(name)
    published = pretrained.checkpoints(name)
    return published[0] if published else spec.preprocessing


def load_image(image, preprocessing, *, size=None, channels=None) -> np.ndarray:
    """An image file (or a PIL image) resized and center-cropped as `preprocessing`'s
    reference evaluates it: uint8 [height, width, 3], or [height, width, 1] for a 1-channel
    model. size, channels: the model's input where it is not the preprocessing's own.

    A missing file is a FileNotFoundError, a file PIL cannot read a ValueError, each naming
    the file."""
    transform = eval_transform(preprocessing, size, channels)
    if transform.channels not in (1, 3):
        raise ValueError(f"load_image makes 1- or 3-channel images; this model takes "
                         f"{transform.channels} channels: give it arrays of its own.")
    picture = _open(image, "RGB" if transform.channels == 3 else "L")
    picture = _resize(picture, transform)
    pixels = _center_crop(np.asarray(picture, dtype=np.uint8), transform.size)
    return pixels[..., None] if pixels.ndim == 2 else pixels


def _open(image, mode):
    """A PIL image in `mode`, decoded whole (as torchvision's and timm's loaders do)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(image, Image.Image):
        return image.convert(mode)
    path = existing_file(image, "image")
    try:
        with Image.open(path) as opened:
            return opened.convert(mode)
    except UnidentifiedImageError:
        raise ValueError(f"{path} is not an image that PIL can read.") from None
    except (OSError, SyntaxError, ValueError) as error:  # a truncated or corrupt file
        raise ValueError(f"{path} cannot be decoded: {error}.") from None


def _resize(picture, transform):
    """torchvision's Resize(int) on a PIL image (the shorter side to `resize`, the longer
    int(resize * long / short)), or timm's ResizeKeepRatio for unequal sides."""
    from PIL import Image

    width, height = picture.size
    target_height, target_width = transform.resize
    if transform.squash:
        new_height, new_width = target_height, target_width
    elif target_height == target_width:
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = target_height, int(target_height * long / short)
        new_width, new_height = (new_short, new_long) if width <= height else (new_long,
                                                                                new_short)
    else:
        ratio = min(height / target_height, width / target_width)
        new_height, new_width = round(height / ratio), round(width / ratio)
    if (new_width, new_height) == (width, height):
        return picture
    return picture.resize((new_width, new_height),
                          getattr(Image.Resampling, transform.interpolation.upper()))


def _center_crop(pixels, size):
    """torchvision's CenterCrop: zero-padded first where the image is smaller (the extra pixel
    of an odd padding after), then the top-left corner at round(excess / 2) (Python's round:
    halves to even)."""
    crop_height, crop_width = size
    height, width = pixels.shape[:2]
    pad_height, pad_width = max(crop_height - height, 0), max(crop_width - width, 0)
    if pad_height or pad_width:
        padding = [(pad_height // 2, (pad_height + 1) // 2), (pad_width // 2, (pad_width + 1) // 2)]
        pixels = np.pad(pixels, padding + [(0, 0)] * (pixels.ndim - 2))
        height, width = pixels.shape[:2]
    top = int(round((height - crop_height) / 2.0))
    left = int(round((width - crop_width) / 2.0))
    return pixels[top:top + crop_height, left:left + crop_width]


def preprocess_input(images, preprocessing) -> np.ndarray:
    """Pixels on the 0..255 scale, [..., height, width, channels] (uint8 or float, as
    `load_image` gives them), -> float32 (pixels / 255 - mean) / std with `preprocessing`'s
    mean and std (a Checkpoint, a registry Preprocessing or a variant's name): the model's
    input. Channels stay in RGB order, for every checkpoint (see the module's docstring). A
    3-value mean/std on 1-channel images is averaged to one value, as training does."""
    transform = eval_transform(preprocessing)
    pixels = np.asarray(images)
    if pixels.dtype.kind not in "uif":
        raise ValueError(f"preprocess_input expects pixel values; got dtype {pixels.dtype}.")
    if pixels.ndim < 3:
        raise ValueError("preprocess_input expects images [..., height, width, channels]; got "
                         f"shape {pixels.shape}.")
    channels = pixels.shape[-1]
    mean = _per_channel(transform.mean, channels, "mean")
    std = _per_channel(transform.std, channels, "std")
    # torchvision's ToTensor and Normalize, op for op in float32.
    return (pixels.astype(np.float32) / np.float32(255.0) - mean) / std


def _per_channel(values, channels, name):
    if len(values) == channels:
        return np.asarray(values, np.float32)
    if len(values) == 1 or channels == 1:
        return np.full([channels], sum(values) / len(values), np.float32)
    raise ValueError(f"The preprocessing's {name} has {len(values)} values for "
                     f"{channels}-channel images.")
