"""tf.data input pipelines: sources (digits, TFRecords, image folders, TFDS), preprocessing
from the registry's metadata, augmentation, and `make_dataset`, which joins them."""

from keras_backbones.data.pipeline import make_dataset
from keras_backbones.data.sources import Source, digits, image_folder, load, tfds, tfrecords

__all__ = ["Source", "digits", "image_folder", "load", "make_dataset", "tfds", "tfrecords"]
