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

The SavedModel is a plain `tf.Module` of concrete functions: `tf.saved_model.load` reads it
without keras_backbones or any custom object. A version is written to a hidden temporary
directory beside its final place and renamed into it: TF Serving, which polls the base path,
never sees half a model.
"""

import os
import re
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from keras_backbones import backend, weights
from keras_backbones.data import preprocessing as prep

IMAGES_SIGNATURE = "serving_default"
ENCODED_SIGNATURE = "serving_encoded"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG = "models.config"
_VERSION = re.compile(r"[0-9]+")


class ServingModule(tf.Module):
    """The model with its preprocessing and the top-k readout, as two serving functions."""

    def __init__(self, deployable, top_k=5):
        super().__init__(name=f"{deployable.name}_serving")
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

    def _serve_images(self, images):
        batch = tf.map_fn(self._prepare, images, fn_output_signature=tf.TensorSpec(
            [*self.image_size, self.channels], tf.float32))
        return self._predict(batch)

    def _serve_encoded(self, image_bytes):
        def decode(args):
            index, data = args
            header = tf.strings.substr(data, 0, 8)
            is_jpeg = tf.equal(tf.strings.substr(header, 0, 3), b"\xff\xd8\xff")
            is_png = tf.equal(header, b"\x89PNG\r\n\x1a\n")
            check = tf.debugging.Assert(tf.logical_or(is_jpeg, is_png), [tf.strings.format(
                "image_bytes[{}] is not a JPEG or PNG file ({} bytes): send the file's bytes, "
                "not pixels or base64 text", (index, tf.strings.length(data)))])
            with tf.control_dependencies([check]):
                image = tf.io.decode_image(data, channels=3, expand_animations=False)
            image.set_shape([None, None, 3])
            return self._prepare(tf.cast(image, tf.float32))

        indices = tf.range(tf.shape(image_bytes)[0])
        batch = tf.map_fn(decode, (indices, image_bytes), fn_output_signature=tf.TensorSpec(
            [*self.image_size, self.channels], tf.float32))
        return self._predict(batch)

    def signatures(self):
        return {IMAGES_SIGNATURE: self.serve_images.get_concrete_function(),
                ENCODED_SIGNATURE: self.serve_encoded.get_concrete_function()}


def versions(model_dir):
    """The numeric versions under savedmodels/<name>/, ascending."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir)
                  if _VERSION.fullmatch(d) and os.path.isdir(os.path.join(model_dir, d)))


def export(deployable, base_dir="savedmodels", *, version=None, overwrite=False, top_k=5,
           name=None):
    """Writes savedmodels/<name>/<version>/ (the next version by default) and refreshes
    base_dir/models.config; returns the version's path."""
    name = name or deployable.name
    model_dir = os.path.join(base_dir, name)
    existing = versions(model_dir)
    if version is None:
        version = (existing[-1] + 1) if existing else 1
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"--version must be a positive integer; got {version!r}.")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final) and not overwrite:
        raise ValueError(f"{final} exists: pass --overwrite to replace version {version}, or "
                         f"leave --version out to write version {existing[-1] + 1}.")
    os.makedirs(model_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{version}-", dir=model_dir)  # TF Serving skips it
    try:
        module = ServingModule(deployable, top_k=top_k)
        tf.saved_model.save(module, staging, signatures=module.signatures())
        write_warmup(os.path.join(staging, WARMUP_FILE), name, deployable)
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
    return weights.write_atomic(os.path.join(base, MODELS_CONFIG), lambda f: f.write(text.encode()))
