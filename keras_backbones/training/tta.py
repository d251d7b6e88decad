"""Evaluation as the papers evaluate: mirror images, multiple crops, dense application.

    none     the model on the evaluation center crop
    flip     the center crop and its horizontal reflection
    10crop   AlexNet (Krizhevsky et al. 2012, section 4.1): "five 224x224 patches (the four
             corner patches and the center patch) as well as their horizontal reflections"
             of the 256x256 image; here the model's input size from the image resized to
             size / crop_pct and center-cropped square (256 for 224 at crop_pct 0.875)
    144crop  GoogLeNet (Szegedy et al. 2014, section 7): the shorter side resized to 256, 288,
             320 and 352; the left, center and right squares (top, center and bottom for a
             portrait image); of each square the four corner and the center 224x224 crops and
             the square resized to 224x224; and the mirror of each: 4 x 3 x 6 x 2 = 144. For
             another input size the scales keep their ratio to it (`googlenet_scales`)
    dense    VGG (Simonyan & Zisserman 2014, section 3.2): the classifier turned convolutional
             (`fully_convolutional`) on the whole uncropped image, its shorter side resized to
             each scale Q, and on its mirror image. Default Q = {S - 32, S, S + 32} (section
             4.2, for a model trained at a fixed scale S), with S = size / crop_pct, the side
             the evaluation resizes to (224, 256, 288 for 224 at crop_pct 0.875); no scale
             below the input size, where the classifier's window would not fit

Every mode averages softmax probabilities, over crops, positions of the score map, mirror
images and scales, as the papers average their softmax outputs (VGG: "the soft-max class
posteriors of the original and flipped images are averaged"; GoogLeNet: "softmax probabilities
are averaged over multiple crops"). A model that ends in a softmax is averaged as it is; one that
returns logits has its outputs put through a softmax first.

The functions take images already normalized for the model, float32 [B, H, W, C] with static
shapes, and run eagerly (crop positions and scales are computed in Python from the shapes).
Normalization is per-channel affine, so resizing normalized images (dense, 144crop) equals
normalizing resized ones for the linear interpolations (bilinear, area); bicubic differs only
where the package's evaluation clips the overshoot to 0..255.
"""

import numpy as np
import tensorflow as tf

from keras_backbones.backend import keras
from keras_backbones.data import augment as augment_lib
from keras_backbones.data import pipeline
from keras_backbones.data import preprocessing as prep
from keras_backbones.layers import AdaptiveAveragePooling2D, ScaledTanh
from keras_backbones.layers.pooling import adaptive_windows

MODES = ("none", "flip", "10crop", "144crop", "dense")
SCALED_MODES = ("144crop", "dense")  # the modes that take scales

# GoogLeNet, section 7: the shorter sides for 224x224 crops.
GOOGLENET_SCALES = (256, 288, 320, 352)
GOOGLENET_CROP = 224
# VGG, section 4.2: Q = {S - 32, S, S + 32} around a fixed training scale S.
DENSE_SCALE_STEP = 32

# Layers that act on each position's features alone: in a classifier after the Flatten they
# carry over to the score map as they are.
_POINTWISE = (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU,
              keras.layers.ELU, keras.layers.Softmax, ScaledTanh)


# --- the fully convolutional form -------------------------------------------------------------

def fully_convolutional(model):
    """`model` with its Flatten-then-Dense classifier turned into convolutions, for any input
    size of at least the model's (VGG's dense evaluation, section 3.2).

    The first Dense layer becomes a convolution whose window is the feature map it flattened at
    the model's input size (VGG and AlexNet at 224: 7x7 and 6x6), with an adaptive average
    pool before the Flatten folded into its kernel (exact: the pool is linear); the other Dense
    layers become 1x1 convolutions. Weights are reshaped from the Dense kernels in the NHWC
    order of the Flatten. Dropout is left out (inference). The output is a class score map
    [B, H', W', classes], probabilities where the model ends in a softmax, else logits: at the
    model's input size one position, equal to the model's output; at a larger size the
    classifier at every window position, with the stride of the feature map (32 for VGG and
    AlexNet). Its weights are copies of the model's. `window_size` records the model's input
    size.

    Raises ValueError for a model whose output does not come from Dense layers after a Flatten
    of the feature map (a globally pooled head is already size-independent)."""
    head, pool, features = _dense_head(model)
    window = tuple(features.shape[1:3])
    if None in window:
        raise ValueError(f"{model.name}: fully_convolutional needs the model's input size to be "
                         f"fixed (the classifier's window); got input {model.input_shape}.")
    # The body again on an input of any size (a functional model checks the size it was
    # built for): its layers rebuilt from their configs, on copies of their weights.
    body = keras.Model(model.inputs, features)
    inputs = keras.Input(shape=(None, None, model.input_shape[-1]), name="input")
    resizable = keras.models.clone_model(body, input_tensors=[inputs])
    resizable.set_weights(body.get_weights())
    x = resizable.outputs[0]
    first = True
    for layer in head:
        if isinstance(layer, keras.layers.Dense):
            kernel, *bias = layer.get_weights()
            if first:
                kernel = _window_kernel(layer, kernel, window, features.shape[-1], pool)
                first = False
            else:
                kernel = kernel[np.newaxis, np.newaxis]
            conv = keras.layers.Conv2D(
                filters=kernel.shape[-1], kernel_size=kernel.shape[:2], padding="valid",
                activation=layer.get_config()["activation"], use_bias=layer.use_bias,
                dtype=layer.dtype_policy, name=layer.name)
            x = conv(x)
            conv.set_weights([kernel, *bias])
        elif not isinstance(layer, keras.layers.Dropout):
            x = layer.__class__.from_config(layer.get_config())(x)
    dense = keras.Model(inputs, x, name=f"{model.name}_dense")
    dense.window_size = tuple(model.input_shape[1:3])
    return dense


def _dense_head(model):
    """(the layers from the Flatten to the output, in order; the adaptive pool before the
    Flatten or None; the feature map tensor it flattens), or a ValueError saying what is
    missing."""
    no_head = (f"{model.name} has no classifier of Dense layers after a Flatten of the feature "
               "map (VGG, AlexNet, LeNet-5 have one), which dense evaluation makes convolutional")
    tensor = model.outputs[0]
    head = []
    while True:
        layer = tensor._keras_history[0]
        if isinstance(layer, keras.layers.Flatten):
            break
        if isinstance(layer, keras.layers.InputLayer):
            raise ValueError(f"{no_head}.")
        if not isinstance(layer, (keras.layers.Dense, keras.layers.Dropout, *_POINTWISE)):
            raise ValueError(f"{no_head}: its head has {layer.name} "
                             f"({layer.__class__.__name__}); only Dense, Dropout and activation "
                             "layers convert.")
        head.insert(0, layer)
        tensor = layer.input
        if isinstance(tensor, (list, tuple)):
            raise ValueError(f"{no_head}: {layer.name} has several inputs.")
    if not any(isinstance(layer, keras.layers.Dense) for layer in head):
        raise ValueError(f"{no_head}: no Dense layer after {layer.name}.")
    features = layer.input
    pool = features._keras_history[0]
    if isinstance(pool, AdaptiveAveragePooling2D):
        return head, pool, pool.input
    if len(features.shape) != 4:
        raise ValueError(f"{no_head}: {layer.name} flattens a {len(features.shape)}-D tensor.")
    return head, None, features


def _window_kernel(dense, kernel, window, channels, pool):
    """The first Dense kernel [h * w * C, units] as a convolution kernel over the feature map
    window [window_h, window_w, C, units], the adaptive pool folded in."""
    grid = pool.output_size if pool is not None else window
    if kernel.shape[0] != grid[0] * grid[1] * channels:
        raise ValueError(f"{dense.name}: its kernel has {kernel.shape[0]} inputs, not the "
                         f"{grid[0]}x{grid[1]}x{channels} it flattens.")
    kernel = kernel.reshape(grid[0], grid[1], channels, -1)  # Flatten's row-major NHWC order
    if tuple(grid) == window:
        return kernel
    rows, cols = (_pool_matrix(size, out) for size, out in zip(window, grid))
    return np.einsum("pi,qj,pqcu->ijcu", rows, cols, kernel).astype(kernel.dtype)


def _pool_matrix(in_size, out_size):
    """[out, in]: the adaptive average pool along one axis as a matrix."""
    matrix = np.zeros((out_size, in_size))
    for row, (start, end) in enumerate(adaptive_windows(in_size, out_size)):
        matrix[row, start:end] = 1.0 / (end - start)
    return matrix


# --- crops ------------------------------------------------------------------------------------

def ten_crop(images, crop_size):
    """AlexNet's ten crops of `images` [B, H, W, C]: [10, B, h, w, C], the top-left, top-right,
    bottom-left, bottom-right and center crops of crop_size (an int or (h, w)), then the mirror
    image of each."""
    crops = _five_crops(images, _size(crop_size), "ten_crop")
    return tf.stack(crops + [tf.reverse(crop, axis=[2]) for crop in crops])


def googlenet_scales(crop_size):
    """GoogLeNet's shorter sides (256, 288, 320, 352 for 224) in their ratio to crop_size."""
    return tuple(round(scale * crop_size / GOOGLENET_CROP) for scale in GOOGLENET_SCALES)


def multi_crop_144(images, crop_size=GOOGLENET_CROP, scales=None, *, interpolation="bilinear"):
    """GoogLeNet's 144 crops of `images` [B, H, W, C] (one size for the batch): [144, B, h, w,
    C]. Per scale (the shorter side; default `googlenet_scales(crop_size)`), per square (left,
    center, right; top, center, bottom where H > W): the top-left, top-right, bottom-left,
    bottom-right and center crops and the square resized to the crop; then the mirror image of
    each of those 72."""
    crop = _size(crop_size)
    scales = _scales(scales or googlenet_scales(crop[0]), "multi_crop_144")
    views = []
    for scale in scales:
        if scale < max(crop):
            raise ValueError(f"multi_crop_144: scale {scale} is below the {crop[0]}x{crop[1]} "
                             "crop; scales must be at least the crop's side.")
        resized = resize_shorter_side(images, scale, interpolation)
        height, width = resized.shape[1:3]
        last = abs(width - height)
        for offset in (0, last // 2, last):
            square = (resized[:, :, offset:offset + height] if width >= height
                      else resized[:, offset:offset + width])
            views += _five_crops(square, crop, "multi_crop_144")
            views.append(_resize(square, crop, interpolation))
    return tf.stack(views + [tf.reverse(view, axis=[2]) for view in views])


def _five_crops(images, crop, caller):
    height, width = images.shape[1:3]
    if height < crop[0] or width < crop[1]:
        raise ValueError(f"{caller}: the images are {height}x{width}, smaller than the "
                         f"{crop[0]}x{crop[1]} crop; they must be at least its size.")
    bottom, right = height - crop[0], width - crop[1]
    corners = [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]
    return [images[:, top:top + crop[0], left:left + crop[1]] for top, left in corners]


def resize_shorter_side(images, side, interpolation="bilinear"):
    """`images` [B, H, W, C] resized, aspect kept, so that the shorter side is `side`."""
    height, width = images.shape[1:3]
    scale = side / min(height, width)
    return _resize(images, (max(side, round(height * scale)), max(side, round(width * scale))),
                   interpolation)


def _resize(images, size, interpolation):
    if tuple(images.shape[1:3]) == tuple(size):
        return images
    return tf.image.resize(images, size, method=prep.INTERPOLATIONS[interpolation],
                           antialias=True)


# --- predictions ------------------------------------------------------------------------------

def ends_in_softmax(model):
    """Whether `model`'s (first) output comes out of a softmax."""
    layer = model.outputs[0]._keras_history[0]
    return (isinstance(layer, keras.layers.Softmax)
            or layer.get_config().get("activation") == "softmax")


def dense_predict(model, images, scales=None, *, flip=True, interpolation="bilinear"):
    """VGG's dense evaluation: class probabilities [B, classes] of `images` [B, H, W, C].

    model: a model with a Dense classifier after a Flatten (converted here: convert it once
        with `fully_convolutional` and pass that for repeated calls) or such a conversion.
    scales: the shorter sides Q the images are resized to (aspect kept); None: as they are.
    flip: also the mirror images.
    The softmax probabilities at every position of each score map are averaged, then over the
    mirror images and the scales: the average of the model over every window, as the crop
    modes average over crops (the paper's "class score map is spatially averaged" could also
    be read as averaging the scores before the softmax; the posteriors of flips and scales it
    averages after)."""
    dense = model if getattr(model, "window_size", None) else fully_convolutional(model)
    softmax = ends_in_softmax(dense)
    window = dense.window_size
    total = 0.0
    sizes = _scales(scales, "dense_predict") if scales else [None]
    for side in sizes:
        resized = images if side is None else resize_shorter_side(images, side, interpolation)
        height, width = resized.shape[1:3]
        if height < window[0] or width < window[1]:
            raise ValueError(f"dense_predict: at {'scale ' + str(side) if side else 'its size'}"
                             f" the image is {height}x{width}, smaller than the model's "
                             f"{window[0]}x{window[1]} input (the classifier's window); scales "
                             f"must be at least {max(window)}.")
        for view in ([resized, tf.reverse(resized, axis=[2])] if flip else [resized]):
            scores = _probabilities(dense(view, training=False), softmax)
            total += tf.reduce_mean(scores, axis=[1, 2])
    return total / (len(sizes) * (2 if flip else 1))


def predict_tta(model, images, tta="flip", *, scales=None, crop_size=None,
                interpolation="bilinear", batch_size=None):
    """Class probabilities [B, classes] of `images` [B, H, W, C] (normalized) under `tta` (the
    module docstring): none and flip take images of the model's input size; 10crop and 144crop
    larger images, cropped to crop_size (default: the model's input size); dense whole images
    (`dense_predict`). scales: 144crop's shorter sides (default `googlenet_scales`) or dense's
    Q (default: the images as they are). batch_size: crops per model call (default: the
    images' batch size)."""
    check_mode(tta, scales)
    images = tf.convert_to_tensor(images, tf.float32)
    if tta == "dense":
        return dense_predict(model, images, scales, interpolation=interpolation)
    if tta == "none":
        views = images[tf.newaxis]
    elif tta == "flip":
        views = tf.stack([images, tf.reverse(images, axis=[2])])
    else:
        crop = _size(crop_size or _input_size(model, tta))
        views = (ten_crop(images, crop) if tta == "10crop" else
                 multi_crop_144(images, crop, scales, interpolation=interpolation))
    return _mean_over_views(model, views, batch_size or images.shape[0])


def check_mode(tta, scales=None):
    """A ValueError for an unknown mode, or scales given to a mode without scales."""
    if tta not in MODES:
        raise ValueError(f"tta must be one of {', '.join(MODES)}; got {tta!r}.")
    if scales and tta not in SCALED_MODES:
        raise ValueError(f"scales apply to tta {' and '.join(SCALED_MODES)}; got tta={tta!r}.")
    if scales:
        _scales(scales, f"tta {tta}")


def _mean_over_views(model, views, batch_size):
    """The softmax probabilities of `views` [V, B, ...] averaged over V, batch_size per call."""
    count, batch = views.shape[:2]
    flat = tf.reshape(views, [count * batch, *views.shape[2:]])
    softmax = ends_in_softmax(model)
    scores = tf.concat([_probabilities(model(flat[start:start + batch_size], training=False),
                                       softmax)
                        for start in range(0, count * batch, batch_size)], axis=0)
    return tf.reduce_mean(tf.reshape(scores, [count, batch, -1]), axis=0)


def _probabilities(outputs, softmax):
    outputs = outputs[0] if isinstance(outputs, (list, tuple)) else outputs  # auxiliary heads
    outputs = tf.cast(outputs, tf.float32)
    return outputs if softmax else tf.nn.softmax(outputs, axis=-1)


def _input_size(model, tta):
    size = tuple(model.input_shape[1:3])
    if None in size:
        raise ValueError(f"tta {tta}: {model.name} takes any input size: pass crop_size.")
    return size


def _size(size):
    size = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"crop_size must be a positive int or (height, width); got {size}.")
    return size


def _scales(scales, caller):
    scales = tuple(scales)
    if not scales or not all(isinstance(s, (int, np.integer)) and s > 0 for s in scales):
        raise ValueError(f"{caller}: scales must be positive integers (shorter sides in "
                         f"pixels); got {scales!r}.")
    return scales


# --- evaluation of a dataset ------------------------------------------------------------------

def default_scales(tta, image_size, preprocessing):
    """dense: VGG's {S - 32, S, S + 32} with S = the evaluation's resize side (image size /
    crop_pct), none below the image size; 144crop: `googlenet_scales`."""
    size = max(image_size)
    if tta == "144crop":
        return googlenet_scales(size)
    side = int(np.floor(size / prep.spec(preprocessing).crop_pct))
    return tuple(sorted({max(size, side - DENSE_SCALE_STEP), side, side + DENSE_SCALE_STEP}))


def evaluation(model, source, tta, *, scales, image_size, channels, preprocessing, batch_size,
               num_classes):
    """(batches of (normalized images, one-hot labels), predict(images) -> probabilities, the
    scales used) that evaluate `model` on `source` under `tta` (not "none": the plain pipeline).

    flip: the evaluation center crops. 10crop: the image resized to cover image_size /
    crop_pct and center-cropped to that square (AlexNet's 256x256), batch_size // 10 per batch.
    144crop, dense: whole images, consecutive images of one size batched together (144crop:
    batch_size // 144 per batch). Every model call takes at most batch_size images."""
    pre = prep.spec(preprocessing)
    if tta == "dense":
        model = fully_convolutional(model)
    scales = scales or (default_scales(tta, image_size, pre) if tta in SCALED_MODES else None)
    if scales and min(scales) < max(image_size):
        raise ValueError(f"tta {tta}: scale {min(scales)} is below the model's "
                         f"{image_size[0]}x{image_size[1]} input ("
                         + ("the classifier's window" if tta == "dense" else "the crop")
                         + f"); scales must be at least {max(image_size)}.")
    if tta in ("flip", "10crop"):
        size, views = image_size, 2
        if tta == "10crop":
            if pre.crop_pct >= 1.0:
                raise ValueError("tta 10crop crops the image resized to image size / crop_pct: "
                                 "with crop_pct 1.0 the ten crops are one crop and its mirror "
                                 "(tta flip).")
            size, views = tuple(int(s / pre.crop_pct) for s in image_size), 10
        batches = pipeline.make_dataset(
            source, training=False, image_size=size, channels=channels,
            preprocessing=pre._replace(crop_pct=1.0) if tta == "10crop" else pre,
            batch_size=max(1, batch_size // views), num_classes=num_classes)
    else:
        per_batch = max(1, batch_size // 144) if tta == "144crop" else batch_size
        batches = _whole_images(source, channels, pre, per_batch, num_classes)

    def predict(images):
        return predict_tta(model, images, tta, scales=scales, crop_size=image_size,
                           interpolation=pre.interpolation, batch_size=batch_size)
    return batches, predict, scales


def _whole_images(source, channels, pre, batch_size, num_classes):
    """Batches (at most batch_size) of consecutive images of one size: (normalized uncropped
    images, one-hot labels), in the source's order."""
    def normalized(image, label):
        return prep.normalize(prep.adapt_channels(image, channels), pre, channels), label

    images, labels = [], []
    for image, label in source.dataset.map(normalized, num_parallel_calls=tf.data.AUTOTUNE):
        if images and (image.shape != images[0].shape or len(images) == batch_size):
            yield tf.stack(images), augment_lib.one_hot(tf.stack(labels), num_classes)
            images, labels = [], []
        images.append(image)
        labels.append(label)
    if images:
        yield tf.stack(images), augment_lib.one_hot(tf.stack(labels), num_classes)
