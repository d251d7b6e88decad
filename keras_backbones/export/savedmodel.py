"""SavedModels for TF Serving: `savedmodels/<name>/<version>/`, two signatures, a warmup file,
and the `models.config` that serves every exported model.

Signatures (both return probabilities, top_k_indices, top_k_scores and top_k_labels):

    serving_default   images: float32 [N, H, W, 3], RGB on 0..255, any H and W
    serving_encoded   image_bytes: string [N], JPEG or PNG files

Both run the evaluation transform of training (`keras_backbones.data.preprocessing`: resize
to cover input_size / crop_pct, center crop, normalize; RGB -> gray for a 1-channel model)
inside the graph, so a client sends plain pixels or files. A string that is not a JPEG or PNG
file, or a truncated one, fails the request with INVALID_ARGUMENT and a message naming the
image; the server goes on.

Limits bound what one request can cost; each is an argument of `export` (and a flag of the
export command), built into the graph as a constant, so TF Serving enforces it. A request
over one fails with INVALID_ARGUMENT naming the limit:

    max_image_pixels  89,478,485 (Pillow's MAX_IMAGE_PIXELS): H x W of an image, read from the
                      PNG's IHDR or the JPEG's SOF header before anything is decoded
    max_aspect_ratio  20: the long side over the short side
    max_batch_size    64: images per request; an empty batch is refused too

and float pixels must be finite (NaN or inf is refused). With the aspect ratio bounded, the
resize-to-cover step makes at most S x 20 S pixels, S = input size / crop_pct (256 x 5,120
for a 224-pixel model at crop_pct 0.875). Files are decoded one at a time, so an encoded
request holds at most one decoded image: about 30 bytes a pixel (the RGB bytes, their
float32 copy, the gray or resized image; 270 MB measured for 3000 x 3000), 2.7 GB at the
pixel limit: lower --max_image_pixels for a server with less memory per request.

The SavedModel is a plain `tf.Module` of concrete functions: `tf.saved_model.load` reads it
without keras_backbones or any custom object. A version is written to a hidden temporary
directory beside its final place and renamed into it: TF Serving, which polls the base path,
never sees half a model; export refuses to write into a tree TF Serving would read otherwise
(a file where a directory goes; a numbered entry of savedmodels/<name>/ that is a file, a
dangling link or "007"). Every file and directory of it gets the permissions that the umask
gives a new one (0644, 0755 under umask 022), so that a server running as another user reads
it; a full disk is one error naming the version, and leaves no temporary directory.
"""

import dataclasses
import math
import numbers
import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from keras_backbones import backend, files, fusion
from keras_backbones.data import preprocessing as prep

IMAGES_SIGNATURE = "serving_default"
ENCODED_SIGNATURE = "serving_encoded"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG = "models.config"
_VERSION = re.compile(r"[0-9]+")
MAX_IMAGE_PIXELS = 89_478_485  # Pillow's: a quarter gigabyte as 24-bit RGB
MAX_ASPECT_RATIO = 20
MAX_BATCH_SIZE = 64


class ServingModule(tf.Module):
    """The model with its preprocessing and the top-k readout, as two serving functions."""

    def __init__(self, deployable, top_k=5, *, max_image_pixels=MAX_IMAGE_PIXELS,
                 max_aspect_ratio=MAX_ASPECT_RATIO, max_batch_size=MAX_BATCH_SIZE):
        super().__init__(name=f"{deployable.name}_serving")
        input_pixels = deployable.image_size[0] * deployable.image_size[1]
        for name, value, least in (("max_image_pixels", max_image_pixels, input_pixels),
                                   ("max_batch_size", max_batch_size, 1)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
                raise ValueError(f"{name} must be an integer of at least {least}; got {value!r}.")
        if not (isinstance(max_aspect_ratio, numbers.Real) and 1 <= max_aspect_ratio < math.inf):
            raise ValueError(f"max_aspect_ratio must be a number of at least 1; "
                             f"got {max_aspect_ratio!r}.")
        self.max_image_pixels = int(max_image_pixels)
        self.max_aspect_ratio = float(max_aspect_ratio)
        self.max_batch_size = int(max_batch_size)
        self.model = deployable.model
        # Keras 3 variables wrap tf.Variables that tf.Module does not find by itself: listed
        # here, the SavedModel's checkpoint holds them.
        self.model_variables = backend.tf_variables(deployable.model)
        self.labels = tf.constant(list(deployable.labels))
        self.top_k = min(top_k, len(deployable.labels))
        self.image_size = deployable.image_size
        self.channels = deployable.channels
        self.pre = deployable.preprocessing
        self.serve_images = tf.function(self._serve_images, input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
        self.serve_encoded = tf.function(self._serve_encoded, input_signature=[
            tf.TensorSpec([None], tf.string, name="image_bytes")])

    def _prepare(self, image):  # one float32 [H, W, 3] image on 0..255
        image = prep.adapt_channels(image, self.channels)
        return prep.normalize(prep.center_crop(image, self.image_size, self.pre), self.pre,
                              self.channels)

    def _predict(self, batch):
        probabilities = tf.cast(self.model(batch, training=False), tf.float32)
        scores, indices = tf.math.top_k(probabilities, k=self.top_k)
        return {"probabilities": probabilities, "top_k_indices": indices,
                "top_k_scores": scores, "top_k_labels": tf.gather(self.labels, indices)}

    def _check_batch(self, inputs):
        size = tf.shape(inputs)[0]
        return [_require(size > 0, f"empty batch: send 1 to {self.max_batch_size} images"),
                _require(size <= self.max_batch_size,
                         f"{{}} images, over max_batch_size {self.max_batch_size}", size)]

    def _check_size(self, height, width, index=None):
        """The limits on the size of the images (index None) or of image_bytes[index], checked
        in order, before any work on the pixels: the first one broken is reported."""
        where, at = ("images", []) if index is None else ("image_bytes[{}]", [index])
        short, long = tf.minimum(height, width), tf.maximum(height, width)
        check = None
        for condition, template, *values in (
                (short > 0, "an image needs at least one pixel each way"),
                (height * width <= self.max_image_pixels,
                 f"{{}} pixels, over max_image_pixels {self.max_image_pixels}", height * width),
                # Bounds the resize-to-cover step, which scales the short side to
                # size / crop_pct: the long side becomes at most max_aspect_ratio times that.
                (tf.cast(long, tf.float64) <= self.max_aspect_ratio * tf.cast(short, tf.float64),
                 f"an aspect ratio over max_aspect_ratio {self.max_aspect_ratio:g}")):
            with tf.control_dependencies([check] if check is not None else []):
                check = _require(condition, f"{where}: {{}}x{{}}, {template}", *at, height,
                                 width, *values)
        return [check]

    def _serve_images(self, images):
        shape = tf.shape(images, out_type=tf.int64)
        finite = tf.reduce_all(tf.math.is_finite(images), axis=[1, 2, 3])
        checks = [*self._check_batch(images), *self._check_size(shape[1], shape[2]),
                  _require(tf.reduce_all(finite), "images[{}] holds NaN or inf: send RGB values "
                           "on 0..255", tf.reduce_min(tf.where(~finite)))]
        with tf.control_dependencies(checks):
            images = tf.identity(images)
        batch = tf.map_fn(self._prepare, images, fn_output_signature=tf.TensorSpec(
            [*self.image_size, self.channels], tf.float32))
        return self._predict(batch)

    def _serve_encoded(self, image_bytes):
        def decode(args):
            index, data = args
            header = tf.strings.substr(data, 0, 8)
            is_jpeg = tf.equal(tf.strings.substr(header, 0, 3), b"\xff\xd8\xff")
            is_png = tf.equal(header, b"\x89PNG\r\n\x1a\n")
            check = _require(tf.logical_or(is_jpeg, is_png),
                             "image_bytes[{}] is not a JPEG or PNG file ({} bytes): send the "
                             "file's bytes, not pixels or base64 text", index,
                             tf.strings.length(data))
            with tf.control_dependencies([check]):
                height, width = tf.unstack(tf.cond(
                    is_jpeg, lambda: tf.io.extract_jpeg_shape(data, output_type=tf.int64)[:2],
                    lambda: _png_size(data, index)), num=2)
            with tf.control_dependencies(self._check_size(height, width, index)):
                image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image.set_shape([None, None, 3])
            return self._prepare(tf.cast(image, tf.float32))

        with tf.control_dependencies(self._check_batch(image_bytes)):
            indices = tf.range(tf.shape(image_bytes)[0])
        # One image at a time: a request holds at most one decoded image.
        batch = tf.map_fn(decode, (indices, image_bytes), parallel_iterations=1,
                          fn_output_signature=tf.TensorSpec([*self.image_size, self.channels],
                                                            tf.float32))
        return self._predict(batch)

    def signatures(self):
        return {IMAGES_SIGNATURE: self.serve_images.get_concrete_function(),
                ENCODED_SIGNATURE: self.serve_encoded.get_concrete_function()}


def _require(condition, template, *values):
    """An assertion op: where `condition` is false, the request fails with INVALID_ARGUMENT and
    `template` formatted with `values` ("{}" each)."""
    return tf.debugging.Assert(condition, [tf.strings.format(template, list(values))])


def _png_size(data, index):
    """[height, width] (int64) from the IHDR chunk that opens every PNG: bytes 16..24 after the
    signature, big-endian; nothing is decompressed."""
    header = tf.strings.substr(data, 0, 24)
    padded = tf.strings.join([header, b"\0" * 24])  # substr past the end would fail
    check = _require(tf.logical_and(tf.strings.length(header) == 24,
                                    tf.equal(tf.strings.substr(padded, 12, 4), b"IHDR")),
                     "image_bytes[{}] is a truncated PNG: its header (IHDR) is missing", index)
    with tf.control_dependencies([check]):
        # int32: PNG allows up to 2^31 - 1; a larger value reads negative and is refused.
        width_height = tf.io.decode_raw(tf.strings.substr(header, 16, 8), tf.int32,
                                        little_endian=False)
    return tf.cast(width_height[::-1], tf.int64)


def versions(model_dir):
    """The numeric versions under savedmodels/<name>/, ascending."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir)
                  if _VERSION.fullmatch(d) and os.path.isdir(os.path.join(model_dir, d)))


def _check_tree(base_dir, model_dir):
    """Refuses a tree TF Serving would read otherwise than export writes it: a file where a
    directory goes, or a numbered entry of savedmodels/<name>/ that is no version directory
    named by its number (a file, a dangling link, "007": all versions to TF Serving)."""
    for path in (base_dir, model_dir):
        if os.path.lexists(path) and not os.path.isdir(path):
            raise ValueError(f"{path} is a file: savedmodels/<name>/<version>/ needs a "
                             "directory there.")
    for entry in os.listdir(model_dir) if os.path.isdir(model_dir) else ():
        path = os.path.join(model_dir, entry)
        if _VERSION.fullmatch(entry) and (entry != str(int(entry)) or not os.path.isdir(path)):
            raise ValueError(f"{path} is no version directory, but TF Serving takes it for "
                             f"version {int(entry)}: move it out of {model_dir}.")


def export(deployable, base_dir="savedmodels", *, version=None, overwrite=False, top_k=5,
           name=None, fuse=True, **limits):
    """Writes savedmodels/<name>/<version>/ (the next version by default) and refreshes
    base_dir/models.config; returns the version's path. fuse: serve the model with its
    BatchNormalizations folded (`keras_backbones.fuse`: the same outputs, faster). limits:
    ServingModule's max_image_pixels, max_aspect_ratio and max_batch_size."""
    name = name or deployable.name
    if fuse:
        deployable = dataclasses.replace(deployable, model=fusion.fuse(deployable.model))
    model_dir = os.path.join(base_dir, name)
    _check_tree(base_dir, model_dir)
    existing = versions(model_dir)
    if version is None:
        version = (existing[-1] + 1) if existing else 1
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"--version must be a positive integer; got {version!r}.")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final) and not overwrite:
        raise ValueError(f"{final} exists: pass --overwrite to replace version {version}, or "
                         f"leave --version out to write version {existing[-1] + 1}.")
    module = ServingModule(deployable, top_k=top_k, **limits)  # bad limits: before any write
    os.makedirs(model_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir)  # TF Serving skips it
    try:
        with files.reporting_full_disk(final):
            tf.saved_model.save(module, staging, signatures=module.signatures())
            write_warmup(os.path.join(staging, WARMUP_FILE), name, deployable)
        files.apply_umask(staging)  # mkdtemp's 0700: TF Serving may run as another user
        _replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    write_models_config(base_dir)
    return final


def _replace(staging, final):
    """Renames staging into final; an existing final is moved aside first, then deleted."""
    old = None
    if os.path.exists(final):
        old = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(final))
        os.rmdir(old)
        os.rename(final, old)
    os.rename(staging, final)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def warmup_requests(name, deployable, batch=1):
    """PredictionLog records that exercise both signatures at the model's input size."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(batch, *deployable.image_size, 3)).astype(np.float32)
    encoded = [tf.io.encode_png(image.astype(np.uint8)).numpy() for image in images]
    records = []
    for signature, key, value in ((IMAGES_SIGNATURE, "images", images),
                                  (ENCODED_SIGNATURE, "image_bytes", encoded)):
        request = predict_pb2.PredictRequest(
            model_spec=model_pb2.ModelSpec(name=name, signature_name=signature))
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        log = prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request))
        records.append(log.SerializeToString())
    return records


def write_warmup(path, name, deployable):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for record in warmup_requests(name, deployable):
            writer.write(record)


def write_models_config(base_dir):
    """base_dir/models.config for `tensorflow_model_server --model_config_file`: every
    model directory with at least one version (written atomically)."""
    base = os.path.abspath(base_dir)
    names = sorted(d for d in os.listdir(base) if versions(os.path.join(base, d)))
    entries = "".join(
        f'  config {{\n    name: "{n}"\n    base_path: "{os.path.join(base, n)}"\n'
        f'    model_platform: "tensorflow"\n  }}\n' for n in names)
    text = f"model_config_list {{\n{entries}}}\n"
    return files.write_bytes(os.path.join(base, MODELS_CONFIG), text.encode())
