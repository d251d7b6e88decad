"""Where labelled images come from: each source is a `tf.data.Dataset` of (uint8 image
[H, W, C], int32 label in [0, num_classes)) with its metadata. Images may differ in size
(folders, TFRecords); `pipeline.make_dataset` resizes, augments and batches them.

The data config that `load(config, split)` reads (an `ml_collections.ConfigDict` or a dict):

    source            "digits" | "tfrecords" | "folder" | "tfds"            (default "digits")
    path              tfrecords: a file pattern, or a directory holding the splits' files
                          (then `{path}/{split}-*`, as the ImageNet-to-TFRecord scripts name
                          them: train-00000-of-01024, validation-00000-of-00128);
                      folder: the root holding one directory per split (`{path}/{split}`),
                          each with one sub-directory of images per class;
                      tfds: the local data_dir (never downloaded into)
    name              tfds: the dataset name ("cifar10", "imagenet2012:5.1.0")
    train_split       the split `load(config, "train")` reads           (default "train")
    eval_split        the split `load(config, "eval")` reads
                      (default "test" for digits and tfds, "validation" for tfrecords and folder)
    one_based_labels  tfrecords: labels are 1..num_classes, as the standard ImageNet scripts
                      write them (1..1000); subtract 1                  (default False)
    num_classes       tfrecords: the number of classes (required there: TFRecords do not say);
                      elsewhere an optional check against what the source reports
    class_names       the training split's class names, which `train` records in recipe.json:
                      a split whose classes differ (other names, or another order) is an error
                      naming the difference, as labels would shift
    test_fraction     digits: the held-out share of the fixed stratified split (default 0.25)

`load(config, "train")` and `load(config, "eval")` are what the train loop calls; any other
split name is read as given.

A source has at least two classes (one class would be "100%" accurate whatever the model
learns). Sources that decode files skip corrupt images: `skipped_images(source)` names them.
"""

import dataclasses
import os
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

SOURCES = ("digits", "tfrecords", "folder", "tfds")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
DIGITS_SPLIT_SEED = 0


@dataclasses.dataclass
class Source:
    """A labelled image dataset and what is known about it.

    dataset: (uint8 [H, W, C], int32 scalar) examples. num_examples: None where unknown.
    skipped: for sources that decode files, a counter of the corrupt images skipped so far,
        over all passes (`int(source.skipped)`; it also counts images being decoded at the
        moment it is read, so read it between epochs). `skipped_images(source)` names them.
    augment_defaults: training-augmentation settings that suit these images better than the
        ImageNet defaults (digits: no random resized crop, no flip); a recipe's `augment`
        config overrides them.
    """

    dataset: tf.data.Dataset
    num_classes: int
    num_examples: Optional[int]
    class_names: Optional[Sequence[str]]
    name: str
    skipped: Optional[tf.Variable] = None
    augment_defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # What `skipped_images` reads: the names of the images whose decoding began and did not
    # end (a table), and name -> whether that image decodes (to set aside the ones that were
    # only being decoded, or were cancelled, when the table was read).
    suspects: Optional[Any] = None
    decodes: Optional[Callable[[str], bool]] = None

    def __post_init__(self):
        if self.num_classes < 2:
            names = f" ({', '.join(map(repr, self.class_names))})" if self.class_names else ""
            raise ValueError(f"{self.name}: {self.num_classes} class{names}; a classifier needs "
                             "at least 2 (one class is 100% accurate whatever it learns).")


# --- digits -------------------------------------------------------------------------------

def digits(split, *, test_fraction=0.25, seed=DIGITS_SPLIT_SEED):
    """scikit-learn's bundled handwritten digits (1,797 real 8x8 images, 10 classes), split
    once into train/test, stratified by class, with a fixed seed: every run sees the same
    held-out images. Pixels (0..16) are scaled to uint8 0..255; images are [8, 8, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test"):
        raise ValueError(f"digits has the splits 'train' and 'test'; got {split!r}.")
    data = load_digits()
    images = np.round(data.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    labels = data.target.astype(np.int32)
    train_x, test_x, train_y, test_y = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed)
    x, y = (train_x, train_y) if split == "train" else (test_x, test_y)
    return Source(dataset=tf.data.Dataset.from_tensor_slices((x, y)), num_classes=10,
                  num_examples=len(y), class_names=[str(d) for d in range(10)],
                  name=f"digits:{split}",
                  # 8x8 digits: a crop of 8% of the image is noise, and a flipped 2 is no 2.
                  augment_defaults={"crop_scale": None, "flip": False})


# --- decoding files -------------------------------------------------------------------------

def _decoder(skipped, suspects):
    """(encoded bytes, label, name) -> (uint8 [H, W, 3], label), counting failures in
    `skipped` and keeping their names in `suspects`.

    A corrupt file makes decode_image fail; the map that follows is wrapped in
    `ignore_errors`, which drops the example. The counter is raised and the name entered
    before decoding, and both undone once decoding succeeded, so what remains is the dropped
    ones (and those being decoded, or cancelled, at the moment)."""
    def decode(encoded, label, name):
        names = name[None]  # the table's ops take a batch of keys
        entered = suspects.insert(names, tf.ones_like(names, tf.int64))
        with tf.control_dependencies([skipped.assign_add(1), entered]):
            image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        with tf.control_dependencies([image]):
            done = [skipped.assign_sub(1), suspects.remove(names)]
        with tf.control_dependencies(done):
            return tf.identity(image), label
    return decode


def _skip_log():
    """A host-side int64 counter and string set. The counter is a plain ResourceVariable
    rather than a tf.Variable, which a distribution strategy's scope would turn into
    per-device copies (on accelerators), out of reach of the input pipeline that runs on the
    host CPU."""
    from tensorflow.python.ops import resource_variable_ops

    with tf.init_scope(), tf.device("/cpu:0"):
        counter = resource_variable_ops.ResourceVariable(0, dtype=tf.int64, trainable=False,
                                                         name="skipped_images")
        names = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)
    return counter, names


def _decodes(encoded):
    try:
        tf.io.decode_image(encoded, channels=3, expand_animations=False)
        return True
    except tf.errors.InvalidArgumentError:
        return False


def skipped_images(source):
    """The corrupt images `source` skipped so far (sorted names: file paths, or
    "FILE[RECORD]" in TFRecords); [] for sources that decode nothing."""
    if source.suspects is None:
        return []
    names = sorted(name.decode() for name in source.suspects.export()[0].numpy())
    return [name for name in names if not source.decodes(name)]


def _check_labels(num_classes, where):
    def check(image, label):
        assertion = tf.debugging.Assert(
            tf.logical_and(label >= 0, label < num_classes),
            [f"{where}: label outside [0, {num_classes}):", label,
             "(labels 1..N? set one_based_labels)"])
        with tf.control_dependencies([assertion]):
            return image, tf.identity(label)
    return check


def _decoded(dataset, num_classes, where):
    """Decodes (bytes, int32 label, name) examples, skipping corrupt images, then checks
    labels. Returns the dataset and Source's skipped and suspects."""
    skipped, suspects = _skip_log()
    dataset = dataset.map(_decoder(skipped, suspects), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.ignore_errors()
    # After ignore_errors, so that a bad label stops the job instead of vanishing.
    dataset = dataset.map(_check_labels(num_classes, where), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset, skipped, suspects


# --- TFRecords ------------------------------------------------------------------------------

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/class/label": tf.io.FixedLenFeature([], tf.int64),
}


def tfrecords(file_pattern, *, one_based_labels=False, num_classes=None, shuffle_files=False,
              seed=0):
    """ImageNet-format TFRecords: tf.train.Examples with `image/encoded` (JPEG/PNG bytes) and
    `image/class/label` (int64; 1..N with `one_based_labels`, as the standard
    ImageNet-to-TFRecord scripts write 1..1000). Corrupt images are skipped and counted in
    `source.skipped`; a label outside [0, num_classes) stops iteration with an error.
    shuffle_files: visit the files in a (seeded) random order, for training."""
    if not num_classes:
        raise ValueError("tfrecords: `num_classes` is required (TFRecords do not record it).")
    files = sorted(tf.io.gfile.glob(file_pattern))
    if not files:
        raise FileNotFoundError(f"tfrecords: no files match {file_pattern!r}.")
    offset = 1 if one_based_labels else 0

    def parse(record):
        example = tf.io.parse_single_example(record, FEATURES)
        return example["image/encoded"], tf.cast(example["image/class/label"] - offset, tf.int32)

    def named_records(file):  # (record, "FILE[INDEX]"): what names a corrupt image
        return tf.data.TFRecordDataset(file).enumerate().map(
            lambda index, record: (record, tf.strings.join(
                [file, "[", tf.strings.as_string(index), "]"])))

    def decodes(name):
        file, index = name[:-1].rsplit("[", 1)
        record = next(iter(tf.data.TFRecordDataset(file).skip(int(index))))
        return _decodes(parse(record)[0])

    files_ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files:
        # Seeded: a new file order every pass, the same sequence of orders on every run.
        files_ds = files_ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    records = files_ds.interleave(named_records, cycle_length=min(len(files), 16),
                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    records = records.map(lambda record, name: (*parse(record), name),
                          num_parallel_calls=tf.data.AUTOTUNE)
    dataset, skipped, suspects = _decoded(records, num_classes, f"tfrecords {file_pattern}")
    return Source(dataset=dataset, num_classes=num_classes, num_examples=None, class_names=None,
                  name=f"tfrecords:{file_pattern}", skipped=skipped, suspects=suspects,
                  decodes=decodes)


# --- class-per-folder images ----------------------------------------------------------------

def image_folder(directory):
    """Images in one sub-directory per class (`directory/cat/001.jpg`); the class names are
    the sorted sub-directory names, the labels their indices."""
    if not tf.io.gfile.isdir(directory):
        raise FileNotFoundError(f"image_folder: no such directory: {directory!r}.")
    class_names = sorted(d.rstrip("/") for d in tf.io.gfile.listdir(directory)
                         if tf.io.gfile.isdir(os.path.join(directory, d)))
    if not class_names:
        raise ValueError(f"image_folder: {directory!r} has no class sub-directories.")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        for filename in sorted(tf.io.gfile.listdir(os.path.join(directory, name))):
            if filename.lower().endswith(IMAGE_EXTENSIONS):
                paths.append(os.path.join(directory, name, filename))
                labels.append(label)
    if not paths:
        raise ValueError(f"image_folder: no images ({', '.join(IMAGE_EXTENSIONS)}) in the class "
                         f"directories of {directory!r}.")
    found = set(labels)
    empty = [name for label, name in enumerate(class_names) if label not in found]
    if empty:  # a class the model could never learn, that would still take an output
        raise ValueError(f"image_folder: the class directories {', '.join(map(repr, empty))} of "
                         f"{directory!r} hold no images ({', '.join(IMAGE_EXTENSIONS)}); add "
                         "images or remove them.")
    files = tf.data.Dataset.from_tensor_slices((paths, np.array(labels, np.int32)))
    files = files.map(lambda path, label: (tf.io.read_file(path), label, path),
                      num_parallel_calls=tf.data.AUTOTUNE)
    dataset, skipped, suspects = _decoded(files, len(class_names), f"image_folder {directory}")
    return Source(dataset=dataset, num_classes=len(class_names), num_examples=len(paths),
                  class_names=class_names, name=f"folder:{directory}", skipped=skipped,
                  suspects=suspects, decodes=lambda path: _decodes(tf.io.read_file(path)))


# --- TFDS -----------------------------------------------------------------------------------

def tfds(name, split, *, data_dir, image_key="image", label_key="label"):
    """A TensorFlow Datasets dataset already prepared in `data_dir` (never downloaded)."""
    try:
        import tensorflow_datasets as tfds_lib
    except ImportError as error:
        raise ImportError("tfds: the source needs tensorflow-datasets "
                          "(pip install tensorflow-datasets).") from error
    if not data_dir:
        raise ValueError("tfds: `data_dir` is required (datasets are never downloaded).")
    try:
        builder = tfds_lib.builder(name, data_dir=data_dir)
    except tfds_lib.core.registered.DatasetNotFoundError:
        raise ValueError(f"tfds: no dataset named {name!r} (`tfds.list_builders()` lists "
                         "them).") from None
    if not tf.io.gfile.exists(builder.data_path.joinpath("dataset_info.json")):
        raise FileNotFoundError(
            f"tfds: {name!r} is not prepared in {data_dir!r} (looked in {builder.data_path}). "
            f"Prepare it there first, e.g. `tfds build {name.split(':')[0]} --data_dir {data_dir}` "
            "on a machine with the source files; this package never downloads.")
    info = builder.info
    if split not in info.splits:
        raise ValueError(f"tfds: {name!r} has the splits {sorted(info.splits)}; got {split!r}.")
    label_feature = info.features[label_key]
    dataset = builder.as_dataset(split=split, shuffle_files=False, read_config=tfds_lib.ReadConfig(
        try_autocache=False))

    def pair(example):
        image = example[image_key]
        image = tf.image.convert_image_dtype(image, tf.uint8) if image.dtype != tf.uint8 else image
        return image, tf.cast(example[label_key], tf.int32)

    return Source(dataset=dataset.map(pair, num_parallel_calls=tf.data.AUTOTUNE),
                  num_classes=label_feature.num_classes,
                  num_examples=info.splits[split].num_examples,
                  class_names=list(label_feature.names), name=f"tfds:{name}:{split}")


# --- from a config --------------------------------------------------------------------------

EVAL_SPLIT = {"digits": "test", "tfds": "test", "tfrecords": "validation", "folder": "validation"}


def load(config, split):
    """The Source a data config names (fields: see the module docstring). `split` "train"
    and "eval" read the config's train_split / eval_split; other names are used as given."""
    if hasattr(config, "get"):  # a dict or a ConfigDict
        get = config.get
    else:
        def get(key, default=None):
            return getattr(config, key, default)
    kind = get("source", "digits")
    if kind not in SOURCES:
        raise ValueError(f"data.source must be one of {', '.join(SOURCES)}; got {kind!r}.")
    training = split == "train"
    if training:
        split = get("train_split", None) or "train"
    elif split == "eval":
        split = get("eval_split", None) or EVAL_SPLIT[kind]
    path = get("path", None)
    path = os.path.expanduser(path) if path else path
    class_names = list(get("class_names", None) or ())
    num_classes = get("num_classes", None) or len(class_names)
    if kind != "digits" and not path:
        raise ValueError(f"data.source={kind!r} needs data.path "
                         f"({'the data_dir' if kind == 'tfds' else 'where the files are'}).")

    if kind == "digits":
        source = digits(split, test_fraction=get("test_fraction", None) or 0.25)
    elif kind == "tfrecords":
        pattern = path
        if tf.io.gfile.isdir(path):
            pattern = os.path.join(path, f"{split}-*")
        source = tfrecords(pattern, one_based_labels=bool(get("one_based_labels", False)),
                           num_classes=num_classes, shuffle_files=training)
    elif kind == "folder":
        source = image_folder(os.path.join(path, split))
    else:
        if not get("name", None):
            raise ValueError("data.source='tfds' needs data.name (the TFDS dataset name).")
        source = tfds(get("name"), split, data_dir=path)
    if num_classes and source.num_classes != num_classes:
        raise ValueError(f"data.num_classes={num_classes} but {source.name} has "
                         f"{source.num_classes} classes.")
    if class_names and source.class_names is not None:
        _check_class_names(source, class_names)
    return source


def _check_class_names(source, expected):
    """Labels are indices into the class list: a split with other classes, or the same in
    another order, would shift them."""
    names = [str(name) for name in source.class_names]
    expected = [str(name) for name in expected]
    if names == expected:
        return
    lacks = ", ".join(repr(name) for name in expected if name not in names)
    extra = ", ".join(repr(name) for name in names if name not in expected)
    difference = "; ".join(part for part in (lacks and f"lacks {lacks}",
                                             extra and f"has {extra}") if part)
    difference = difference or "has the classes in another order"
    raise ValueError(f"{source.name} {difference}: its classes must be the training split's "
                     f"(data.class_names: {', '.join(expected)}), or its labels would shift.")
