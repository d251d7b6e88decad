"""AutoAugment, TrivialAugmentWide and AugMix: per image, on float32 [H, W, C] images on
0..255, every random choice a stateless op on the image's seed (int32/int64 [2]), so a seed
reproduces the output and the pipeline's parallel maps need no ordering.

Written here rather than taken from keras-cv 0.9: it has no AutoAugment and no
TrivialAugment, and its AugMix draws its operations from the layer's stateful generator and
its mixing weights from unseeded tf.random.gamma (a seed does not reproduce it; in a parallel
map not even the order of draws is fixed), maps severity to the operations differently
(e.g. posterize bits = 3 x severity on a 0..1 scale) and makes no JSD views.

The operations, with the definitions of the references (PIL's ImageOps/ImageEnhance, which
tensorflow/tpu models/official/efficientnet/autoaugment.py and torchvision's functional ops
reimplement): autocontrast (per channel min..max to 0..255), equalize (PIL's histogram
equalization, per channel), invert, posterize (keep the high `bits` of each value), solarize
(invert the values >= threshold), solarize_add (add to the values < 128), color / contrast /
brightness / sharpness (blend with the grayscale image / its mean gray / black / the 3x3
SMOOTH-filtered image: factor 0 is that image, 1 the input, > 1 extrapolates; clipped),
shear / translate / rotate (an affine warp on pixel indices, as the EfficientNet code's: output
(x, y) reads input (x + shear * y, y), (x + pixels, y); rotation counter-clockwise about the
centre; outside pixels are `fill`; PIL, sampling at pixel centres, shears half a pixel apart).
The references quantize to uint8 after every operation; here values stay float (within 1.3 of
PIL's) except where an operation is defined on integers (posterize, equalize).

The policies and their magnitudes:

    "imagenet"       AutoAugment's ImageNet policy (Cubuk et al., "AutoAugment: Learning
                     Augmentation Strategies from Data", CVPR 2019, appendix), as torchvision
                     (transforms/autoaugment.py, AutoAugmentPolicy.IMAGENET) encodes it: 25
                     sub-policies of 2 (operation, probability, magnitude bin of 10); bins
                     linspace(0, max, 10): shear 0.3, rotate 30 degrees, color/contrast/
                     sharpness 1 +- 0.9, solarize threshold 255..0, posterize 8..4 bits;
                     signed magnitudes negated with probability 1/2; nearest-neighbour warps
                     filled with 0 (torchvision's defaults).
    "v0"             policy_v0 of the EfficientNet code (tensorflow/tpu
                     models/official/efficientnet/autoaugment.py, "used in AutoAugment
                     Paper"), with its level_to_arg: level / 10 x (rotate 30 degrees, shear
                     0.3, translate 250 pixels), color 0.1 + 1.8 x level / 10, solarize
                     threshold int(256 x level / 10), solarize_add int(110 x level / 10),
                     posterize int(4 x level / 10) bits (0 bits keeps 1: TensorFlow clamps
                     the 8-bit shift to 7); nearest-neighbour warps filled with 128.
    trivialaugment   TrivialAugmentWide (Mueller & Hutter, ICCV 2021; torchvision's
                     TrivialAugmentWide): one of 14 operations (identity included) uniformly,
                     its magnitude uniformly from 31 bins of the wide ranges: shear 0.99,
                     translate 32 pixels, rotate 135 degrees, color/contrast/brightness/
                     sharpness 1 +- 0.99, posterize 8..2 bits, solarize 255..0; fill 0.
    augmix           AugMix (Hendrycks et al., ICLR 2020; google-research/augmix
                     augmentations.py and imagenet.py): `width` chains of `depth` operations
                     (-1: 1..3 uniformly), each operation's level uniform in [0.1, severity]:
                     posterize 4 - int(4 x level / 10) bits, rotate int(30 x level / 10)
                     degrees, solarize threshold 256 - int(256 x level / 10), shear
                     0.3 x level / 10, translate int(level / 10 x size / 3) pixels, (all_ops:
                     color/contrast/brightness/sharpness 0.1 + 1.8 x level / 10), bilinear
                     warps filled with 0; the chains mixed with Dirichlet(alpha) weights, the
                     mix blended with the image by m ~ Beta(alpha, alpha).
"""

import math

import numpy as np
import tensorflow as tf

IMAGENET_POLICY = (  # torchvision's AutoAugmentPolicy.IMAGENET: (op, probability, bin of 10)
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)), (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, None)), (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)), (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
    (("Equalize", 0.0, None), ("Equalize", 0.8, None)), (("Invert", 0.6, None), ("Equalize", 1.0, None)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, None)), (("Color", 0.4, 0), ("Equalize", 0.6, None)),
    (("Equalize", 0.4, None), ("Solarize", 0.2, 4)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
    (("Invert", 0.6, None), ("Equalize", 1.0, None)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
)
V0_POLICY = (  # tensorflow/tpu efficientnet autoaugment.py policy_v0: (op, probability, level of 10)
    (("Equalize", 0.8, 1), ("ShearY", 0.8, 4)), (("Color", 0.4, 9), ("Equalize", 0.6, 3)),
    (("Color", 0.4, 1), ("Rotate", 0.6, 8)), (("Solarize", 0.8, 3), ("Equalize", 0.4, 7)),
    (("Solarize", 0.4, 2), ("Solarize", 0.6, 2)), (("Color", 0.2, 0), ("Equalize", 0.8, 8)),
    (("Equalize", 0.4, 8), ("SolarizeAdd", 0.8, 3)), (("ShearX", 0.2, 9), ("Rotate", 0.6, 8)),
    (("Color", 0.6, 1), ("Equalize", 1.0, 2)), (("Invert", 0.4, 9), ("Rotate", 0.6, 0)),
    (("Equalize", 1.0, 9), ("ShearY", 0.6, 3)), (("Color", 0.4, 7), ("Equalize", 0.6, 0)),
    (("Posterize", 0.4, 6), ("AutoContrast", 0.4, 7)), (("Solarize", 0.6, 8), ("Color", 0.6, 9)),
    (("Solarize", 0.2, 4), ("Rotate", 0.8, 9)), (("Rotate", 1.0, 7), ("TranslateY", 0.8, 9)),
    (("ShearX", 0.0, 0), ("Solarize", 0.8, 4)), (("ShearY", 0.8, 0), ("Color", 0.6, 4)),
    (("Color", 1.0, 0), ("Rotate", 0.6, 2)), (("Equalize", 0.8, 4), ("Equalize", 0.0, 8)),
    (("Equalize", 1.0, 4), ("AutoContrast", 0.6, 2)), (("ShearY", 0.4, 7), ("SolarizeAdd", 0.6, 7)),
    (("Posterize", 0.8, 2), ("Solarize", 0.6, 10)), (("Solarize", 0.6, 8), ("Equalize", 0.6, 1)),
    (("Color", 0.8, 6), ("Rotate", 0.4, 5)),
)
V0_TRANSLATE = 250.0  # pixels at level 10 (translate_const of distort_image_with_autoaugment)
TRIVIAL_BINS = 31

# Magnitude spaces: op -> (level -> magnitude, signed). Levels are Python numbers or tensors.
_NO_MAGNITUDE = (lambda level: 0.0, False)
_UNSIGNED_OPS = {"Identity": _NO_MAGNITUDE, "AutoContrast": _NO_MAGNITUDE,
                 "Equalize": _NO_MAGNITUDE, "Invert": _NO_MAGNITUDE}


def _torchvision_space(bins, *, shear, rotate, enhance, min_bits, translate=None):
    """torchvision's _augmentation_space: linspace(0, max, bins)[level]; enhance ops 1 + m.
    translate None: no translations (the ImageNet policy has none)."""
    last = bins - 1
    translations = {} if translate is None else {
        "TranslateX": (lambda level: translate * level / last, True),
        "TranslateY": (lambda level: translate * level / last, True)}
    return {
        **_UNSIGNED_OPS, **translations,
        "ShearX": (lambda level: shear * level / last, True),
        "ShearY": (lambda level: shear * level / last, True),
        "Rotate": (lambda level: rotate * level / last, True),
        **{name: (lambda level: enhance * level / last, True)
           for name in ("Brightness", "Color", "Contrast", "Sharpness")},
        # 8 - (arange(bins) / ((bins - 1) / (8 - min_bits))).round()
        "Posterize": (lambda level: 8.0 - _round(level / (last / (8.0 - min_bits))), False),
        "Solarize": (lambda level: 255.0 - 255.0 * level / last, False),
    }


def _round(value):
    return tf.round(value) if tf.is_tensor(value) else float(np.round(value))


def _floor(value):
    return tf.floor(value) if tf.is_tensor(value) else float(math.floor(value))


IMAGENET_SPACE = _torchvision_space(10, shear=0.3, rotate=30.0, enhance=0.9, min_bits=4)
WIDE_SPACE = _torchvision_space(TRIVIAL_BINS, shear=0.99, translate=32.0, rotate=135.0,
                                enhance=0.99, min_bits=2)
TRIVIAL_OPS = ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
               "Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize")
V0_SPACE = {
    **_UNSIGNED_OPS,
    "Rotate": (lambda level: level / 10.0 * 30.0, True),
    "ShearX": (lambda level: level / 10.0 * 0.3, True),
    "ShearY": (lambda level: level / 10.0 * 0.3, True),
    "TranslateX": (lambda level: level / 10.0 * V0_TRANSLATE, True),
    "TranslateY": (lambda level: level / 10.0 * V0_TRANSLATE, True),
    "Color": (lambda level: level / 10.0 * 1.8 + 0.1 - 1.0, False),  # stored as factor - 1
    "Solarize": (lambda level: _floor(level / 10.0 * 256.0), False),
    "SolarizeAdd": (lambda level: _floor(level / 10.0 * 110.0), False),
    "Posterize": (lambda level: max(_floor(level / 10.0 * 4.0), 1.0), False),
}
AUGMIX_OPS = ("AutoContrast", "Equalize", "Posterize", "Rotate", "Solarize", "ShearX", "ShearY",
              "TranslateX", "TranslateY")
AUGMIX_ALL_OPS = AUGMIX_OPS + ("Color", "Contrast", "Brightness", "Sharpness")
AUGMIX_LEVEL_LOW = 0.1  # sample_level: uniform(0.1, severity)
POLICIES = {"imagenet": (IMAGENET_POLICY, IMAGENET_SPACE, 0.0),
            "v0": (V0_POLICY, V0_SPACE, 128.0)}
GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # ITU-R 601-2 luma: PIL's "L", tf.image, torchvision
SMOOTH = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0  # PIL ImageFilter.SMOOTH


# --- the operations -------------------------------------------------------------------------

def invert(image):
    return 255.0 - image


def solarize(image, threshold):
    return tf.where(image >= threshold, 255.0 - image, image)


def solarize_add(image, addition, threshold=128.0):
    return tf.where(image < threshold, tf.clip_by_value(image + addition, 0.0, 255.0), image)


def posterize(image, bits):
    """The `bits` high bits of each (integer) value: floor(x / 2^(8 - bits)) x 2^(8 - bits)."""
    step = tf.pow(2.0, 8.0 - tf.cast(bits, tf.float32))
    return tf.floor(tf.clip_by_value(image, 0.0, 255.0) / step) * step


def blend(degenerate, image, factor):
    """degenerate + factor x (image - degenerate), clipped: PIL ImageEnhance's blend."""
    factor = tf.cast(factor, image.dtype)
    return tf.clip_by_value(degenerate + factor * (image - degenerate), 0.0, 255.0)


def grayscale(image):
    if image.shape[-1] != 3:
        return image
    return tf.reduce_sum(image * tf.constant(GRAY_WEIGHTS, image.dtype), axis=-1, keepdims=True)


def color(image, factor):
    return blend(grayscale(image) * tf.ones_like(image), image, factor)


def contrast(image, factor):
    return blend(tf.reduce_mean(grayscale(image)) * tf.ones_like(image), image, factor)


def brightness(image, factor):
    return blend(tf.zeros_like(image), image, factor)


def sharpness(image, factor):
    """Blend with the SMOOTH-filtered image, whose one-pixel border is the input's."""
    channels = image.shape[-1]
    kernel = tf.tile(tf.constant(SMOOTH)[:, :, None, None], [1, 1, channels, 1])
    smooth = tf.nn.depthwise_conv2d(image[None], kernel, [1, 1, 1, 1], "VALID")[0]
    inner = tf.pad(tf.ones_like(smooth, tf.bool), [[1, 1], [1, 1], [0, 0]])
    degenerate = tf.where(inner, tf.pad(smooth, [[1, 1], [1, 1], [0, 0]]), image)
    return blend(degenerate, image, factor)


def autocontrast(image):
    """Each channel stretched from its min..max to 0..255 (left alone where it is flat)."""
    low = tf.reduce_min(image, axis=[0, 1], keepdims=True)
    high = tf.reduce_max(image, axis=[0, 1], keepdims=True)
    span = high - low
    stretched = (image - low) * 255.0 / tf.where(span > 0, span, 1.0)
    return tf.where(span > 0, tf.clip_by_value(stretched, 0.0, 255.0), image)


def equalize(image):
    """PIL's ImageOps.equalize per channel (of the integer values): the lookup table
    (cumsum(histogram) + step // 2) // step shifted by one, step = (pixels - the count of the
    highest value present) // 255; a channel whose step is 0 is left alone."""
    channels = image.shape[-1]
    values = tf.cast(tf.clip_by_value(tf.floor(image), 0.0, 255.0), tf.int32)
    per_channel = tf.transpose(tf.reshape(values, [-1, channels]))  # [C, pixels]
    histogram = tf.math.bincount(per_channel, minlength=256, maxlength=256, axis=-1)
    highest = 255 - tf.argmax(tf.reverse(tf.cast(histogram > 0, tf.int32), [1]), axis=1,
                              output_type=tf.int32)
    last_count = tf.gather(histogram, highest, batch_dims=1)
    step = (tf.reduce_sum(histogram, axis=1) - last_count) // 255  # [C]
    safe_step = tf.maximum(step, 1)[:, None]
    lut = (tf.cumsum(histogram, axis=1) + safe_step // 2) // safe_step
    lut = tf.clip_by_value(tf.pad(lut[:, :-1], [[0, 0], [1, 0]]), 0, 255)
    equalized = tf.transpose(tf.gather(lut, per_channel, batch_dims=1))
    equalized = tf.cast(tf.reshape(equalized, tf.shape(image)), image.dtype)
    return tf.where((step > 0)[None, None, :], equalized, image)


def warp(image, transform, *, fill, interpolation):
    """An affine warp: output (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2),
    transform = [a0, a1, a2, b0, b1, b2]; pixels from outside the image are `fill`."""
    transform = tf.concat([tf.cast(tf.stack(transform), tf.float32), tf.zeros([2])], 0)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=transform[None], output_shape=tf.shape(image)[:2],
        fill_value=tf.cast(fill, tf.float32), interpolation=interpolation.upper(),
        fill_mode="CONSTANT")[0]


def shear_x(image, level, **warp_args):
    return warp(image, [1.0, level, 0.0, 0.0, 1.0, 0.0], **warp_args)


def shear_y(image, level, **warp_args):
    return warp(image, [1.0, 0.0, 0.0, level, 1.0, 0.0], **warp_args)


def translate_x(image, pixels, **warp_args):
    return warp(image, [1.0, 0.0, pixels, 0.0, 1.0, 0.0], **warp_args)


def translate_y(image, pixels, **warp_args):
    return warp(image, [1.0, 0.0, 0.0, 0.0, 1.0, pixels], **warp_args)


def rotate(image, degrees, **warp_args):
    """Counter-clockwise about the image centre ((W - 1) / 2, (H - 1) / 2)."""
    angle = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    height, width = (tf.cast(s, tf.float32) - 1.0 for s in tf.unstack(tf.shape(image)[:2]))
    cos, sin = tf.cos(angle), tf.sin(angle)
    x_offset = (width - (cos * width - sin * height)) / 2.0
    y_offset = (height - (sin * width + cos * height)) / 2.0
    return warp(image, [cos, -sin, x_offset, sin, cos, y_offset], **warp_args)


def apply(name, image, magnitude, *, fill=0.0, interpolation="nearest"):
    """Operation `name` with its final argument `magnitude` (the enhance operations take
    factor - 1, as torchvision's spaces store them); the image's static shape kept (loops
    and later operations need it)."""
    return tf.ensure_shape(_apply(name, image, magnitude, fill, interpolation), image.shape)


def _apply(name, image, magnitude, fill, interpolation):
    warp_args = {"fill": fill, "interpolation": interpolation}
    if name == "Identity":
        return image
    simple = {"AutoContrast": autocontrast, "Equalize": equalize, "Invert": invert}
    if name in simple:
        return simple[name](image)
    enhance = {"Brightness": brightness, "Color": color, "Contrast": contrast, "Sharpness": sharpness}
    if name in enhance:
        return enhance[name](image, 1.0 + magnitude)
    graded = {"Posterize": posterize, "Solarize": solarize, "SolarizeAdd": solarize_add}
    if name in graded:
        return graded[name](image, magnitude)
    warps = {"ShearX": shear_x, "ShearY": shear_y, "TranslateX": translate_x,
             "TranslateY": translate_y, "Rotate": rotate}
    return warps[name](image, magnitude, **warp_args)


def magnitude(space, name, level, sign_draw=None):
    """The operation's argument at `level` in `space`, negated when it is signed and
    sign_draw (uniform 0..1) < 0.5."""
    to_magnitude, signed = space[name]
    value = to_magnitude(level)
    if signed and sign_draw is not None:
        value = tf.where(sign_draw < 0.5, -value, value)
    return value


# --- the policies ---------------------------------------------------------------------------

def _uniform_index(draw, count):
    return tf.minimum(tf.cast(draw * count, tf.int32), count - 1)


def _switch(index, names, run):
    """run(name) for names[index]: one graph branch per operation."""
    return tf.switch_case(index, [lambda name=name: run(name) for name in names])


def _policy_step(subpolicies, space, step, names):
    """Operation `step` of every sub-policy as columns: operation (index in names),
    probability, magnitude, signed."""
    rows = [(names.index(name), probability, float(magnitude(space, name, level or 0)),
             space[name][1]) for name, probability, level in (s[step] for s in subpolicies)]
    return [tf.constant(column) for column in zip(*rows)]


@tf.autograph.experimental.do_not_convert  # graph ops already; converting costs tracing time
def autoaugment(image, seed, policy="imagenet"):
    """One sub-policy drawn uniformly; each of its two operations applied with its
    probability, at its magnitude (signed ones negated half the time). The policy is a table
    gathered by the drawn index (one graph branch per operation, not per sub-policy)."""
    subpolicies, space, fill = POLICIES[policy]
    names = sorted({name for subpolicy in subpolicies for name, _, _ in subpolicy})
    draws = tf.random.stateless_uniform([5], seed)  # sub-policy, 2 x apply, 2 x sign
    row = _uniform_index(draws[0], len(subpolicies))
    out = image
    for step in range(2):
        operation, probability, value, signed = (
            tf.gather(column, row) for column in _policy_step(subpolicies, space, step, names))
        value = tf.where(signed & (draws[3 + step] < 0.5), -value, value)
        out = tf.cond(draws[1 + step] < probability,
                      lambda: _switch(operation, names,
                                      lambda name: apply(name, out, value, fill=fill)),
                      lambda: out)
    return out


@tf.autograph.experimental.do_not_convert
def trivialaugment(image, seed):
    """TrivialAugmentWide: one operation of TRIVIAL_OPS and one of 31 magnitude bins,
    uniformly; signed magnitudes negated half the time; fill 0."""
    draws = tf.random.stateless_uniform([3], seed)  # operation, bin, sign
    level = tf.cast(_uniform_index(draws[1], TRIVIAL_BINS), tf.float32)
    return _switch(_uniform_index(draws[0], len(TRIVIAL_OPS)), TRIVIAL_OPS,
                   lambda name: apply(name, image, magnitude(WIDE_SPACE, name, level, draws[2])))


def augmix_level_arguments(name, level, size):
    """AugMix's operation arguments at a sampled level (google-research/augmix
    augmentations.py): int_parameter = floor(level x max / 10)."""
    def int_parameter(maximum):
        return tf.floor(level * maximum / 10.0)

    if name == "Posterize":
        return 4.0 - int_parameter(4.0)
    if name == "Solarize":
        return 256.0 - int_parameter(256.0)
    if name == "Rotate":
        return int_parameter(30.0)
    if name in ("ShearX", "ShearY"):
        return level * 0.3 / 10.0
    if name == "TranslateX":
        return int_parameter(size[1] / 3.0)
    if name == "TranslateY":
        return int_parameter(size[0] / 3.0)
    return level * 1.8 / 10.0 + 0.1 - 1.0  # the enhance operations, as factor - 1


def _augmix_op(image, seed, ops, severity):
    """One operation of `ops` drawn uniformly, at a level uniform in [0.1, severity]."""
    draws = tf.random.stateless_uniform([3], seed)  # operation, level, sign
    level = AUGMIX_LEVEL_LOW + draws[1] * (severity - AUGMIX_LEVEL_LOW)

    def run(name):
        value = augmix_level_arguments(name, level, image.shape[:2])
        if name in ("Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY"):
            value = tf.where(draws[2] < 0.5, -value, value)
        return apply(name, image, value, fill=0.0, interpolation="bilinear")

    return _switch(_uniform_index(draws[0], len(ops)), ops, run)


@tf.autograph.experimental.do_not_convert
def augmix(image, seed, *, severity=3.0, width=3, depth=-1, alpha=1.0, all_ops=False):
    """AugMix's augment-and-mix of one image (google-research/augmix imagenet.py `aug`):
    (1 - m) x image + m x sum_i w_i x chain_i(image), w ~ Dirichlet(alpha), m ~ Beta(alpha,
    alpha), chain i: `depth` operations (-1: 1..3 uniformly) of AUGMIX_OPS (all_ops:
    AUGMIX_ALL_OPS). The static shape of `image` gives the translation range. The chains'
    steps run in one loop (one graph branch per operation)."""
    ops = AUGMIX_ALL_OPS if all_ops else AUGMIX_OPS
    seeds = tf.random.experimental.stateless_split(seed, num=5)
    weights = tf.random.stateless_gamma([width], seeds[0], alpha=alpha)
    weights = weights / tf.reduce_sum(weights)  # Dirichlet(alpha, ..., alpha)
    first, second = (tf.random.stateless_gamma([], s, alpha=alpha) for s in (seeds[1], seeds[2]))
    mix_share = first / (first + second)  # Beta(alpha, alpha)
    max_depth = depth if depth > 0 else 3
    if depth > 0:
        depths = tf.fill([width], depth)
    else:  # 1..3 uniformly per chain
        depths = 1 + _uniform_index(tf.random.stateless_uniform([width], seeds[3]), 3)
    step_seeds = tf.random.experimental.stateless_split(seeds[4], num=width * max_depth)

    def step(index, out, mixed):
        chain, position = index // max_depth, index % max_depth
        out = tf.where(position == 0, image, out)  # a chain starts from the image
        out = tf.cond(position < depths[chain],
                      lambda: _augmix_op(out, step_seeds[index], ops, severity), lambda: out)
        mixed = tf.where(position == max_depth - 1, mixed + weights[chain] * out, mixed)
        return index + 1, out, mixed

    _, _, mixed = tf.while_loop(lambda index, *_: index < width * max_depth, step,
                                (tf.constant(0), image, tf.zeros_like(image)))
    return (1.0 - mix_share) * image + mix_share * mixed
