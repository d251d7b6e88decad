"""Sources: digits' fixed split, image folders and TFRecords (corrupt images skipped and
counted, bad labels and missing files as clear errors), TFDS from a local data_dir, `load`."""

import os

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones.data import sources


def _examples(source):
    return [(image.numpy(), int(label)) for image, label in source.dataset]


def _png(array):
    return tf.io.encode_png(array).numpy()


def _jpeg(array):
    return tf.io.encode_jpeg(array).numpy()


RNG = np.random.default_rng(0)
CORRUPT = b"this is not an image"
TRUNCATED = _jpeg(RNG.integers(0, 255, (16, 16, 3), dtype=np.uint8))[:200]


# --- digits ---------------------------------------------------------------------------------

def test_digits_fixed_stratified_split():
    train, test = sources.digits("train"), sources.digits("test")
    assert (train.num_examples, test.num_examples) == (1347, 450)
    assert train.num_classes == 10 and train.class_names == [str(d) for d in range(10)]
    train_x = np.stack([x for x, _ in _examples(train)])
    test_examples = _examples(test)
    test_x = np.stack([x for x, _ in test_examples])
    assert train_x.shape[1:] == (8, 8, 1) and train_x.dtype == np.uint8 and train_x.max() == 255
    # Stratified: every class holds its share (1,797 digits, 174..183 per class) in the test split.
    counts = np.bincount([y for _, y in test_examples], minlength=10)
    assert counts.min() >= 43 and counts.max() <= 46 and counts.sum() == 450
    # Fixed: loading again gives the same held-out images, none of them in train.
    again = np.stack([x for x, _ in _examples(sources.digits("test"))])
    np.testing.assert_array_equal(test_x, again)
    train_keys = {x.tobytes() for x in train_x}
    assert not any(x.tobytes() in train_keys for x in test_x)
    with pytest.raises(ValueError, match="'train' and 'test'"):
        sources.digits("validation")


# --- image folders --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    for name, count in (("dog", 2), ("cat", 3)):
        os.makedirs(root / name)
        for i in range(count):
            image = RNG.integers(0, 255, (10 + i, 12, 3), dtype=np.uint8)
            (root / name / f"{i}.png").write_bytes(_png(image))
    (root / "cat" / "corrupt.jpg").write_bytes(CORRUPT)
    (root / "dog" / "truncated.jpg").write_bytes(TRUNCATED)
    (root / "dog" / "notes.txt").write_text("not an image file")
    return str(root)


def test_image_folder_skips_and_counts_corrupt_images(folder):
    source = sources.image_folder(folder)
    assert source.class_names == ["cat", "dog"] and source.num_classes == 2
    examples = _examples(source)
    assert sorted(y for _, y in examples) == [0, 0, 0, 1, 1]
    assert all(x.dtype == np.uint8 and x.shape[2] == 3 for x, _ in examples)
    assert int(source.skipped) == 2  # the garbage file and the truncated JPEG
    _examples(source)
    assert int(source.skipped) == 4  # counted on every pass


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such directory.*missing"):
        sources.image_folder(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="no class sub-directories"):
        sources.image_folder(str(tmp_path))
    os.makedirs(tmp_path / "cat")
    (tmp_path / "cat" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=f"no images .* {str(tmp_path)!r}"):
        sources.image_folder(str(tmp_path))


# --- TFRecords ------------------------------------------------------------------------------

def _record(encoded, label):
    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """ImageNet-style shards with 1-based labels 1..3, one corrupt and one truncated image."""
    root = tmp_path_factory.mktemp("records")
    shards = [
        [(_jpeg(RNG.integers(0, 255, (20, 30, 3), dtype=np.uint8)), 1), (CORRUPT, 2),
         (_png(RNG.integers(0, 255, (6, 5, 1), dtype=np.uint8)), 3)],
        [(_jpeg(RNG.integers(0, 255, (9, 9, 3), dtype=np.uint8)), 2), (TRUNCATED, 1)],
    ]
    for index, shard in enumerate(shards):
        with tf.io.TFRecordWriter(str(root / f"train-{index:05d}-of-00002")) as writer:
            for encoded, label in shard:
                writer.write(_record(encoded, label))
    return str(root)


def test_tfrecords_one_based_labels_and_corrupt_images(records):
    source = sources.tfrecords(os.path.join(records, "train-*"), one_based_labels=True, num_classes=3)
    examples = _examples(source)
    assert sorted(y for _, y in examples) == [0, 1, 2]
    assert {x.shape for x, _ in examples} == {(20, 30, 3), (6, 5, 3), (9, 9, 3)}  # gray -> RGB
    assert int(source.skipped) == 2


def test_tfrecords_label_out_of_range_is_an_error(records):
    source = sources.tfrecords(os.path.join(records, "train-*"), num_classes=3)  # 0-based: 3 is out
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"label outside \[0, 3\).*\[3\]"):
        _examples(source)


def test_tfrecords_errors(records):
    with pytest.raises(FileNotFoundError, match="no files match"):
        sources.tfrecords(os.path.join(records, "validation-*"), num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        sources.tfrecords(os.path.join(records, "train-*"))


# --- TFDS -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
    """A three-class dataset prepared locally by a minimal TFDS builder (nothing downloaded)."""
    tfds = pytest.importorskip("tensorflow_datasets")

    class KbTinyShapes(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(None, None, 3)),
                "label": tfds.features.ClassLabel(names=["a", "b", "c"])}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(6), "test": self._generate_examples(3)}

        def _generate_examples(self, count):
            for i in range(count):
                yield i, {"image": np.full((5 + i, 7, 3), i, np.uint8), "label": i % 3}

    data_dir = str(tmp_path_factory.mktemp("tfds"))
    KbTinyShapes(data_dir=data_dir).download_and_prepare()
    return data_dir


def test_tfds_reads_a_locally_prepared_dataset(tfds_dir):
    source = sources.tfds("kb_tiny_shapes", "train", data_dir=tfds_dir)
    assert (source.num_classes, source.num_examples, source.class_names) == (3, 6, ["a", "b", "c"])
    examples = _examples(source)
    assert sorted((x.shape[0], y) for x, y in examples) == [(5 + i, i % 3) for i in range(6)]
    with pytest.raises(ValueError, match=r"splits \['test', 'train'\]; got 'validation'"):
        sources.tfds("kb_tiny_shapes", "validation", data_dir=tfds_dir)


def test_tfds_never_downloads(tfds_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="not prepared in"):
        sources.tfds("kb_tiny_shapes", "train", data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="'mnist' is not prepared"):
        sources.tfds("mnist", "train", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="no dataset named"):
        sources.tfds("no_such_dataset_kb", "train", data_dir=str(tmp_path))


# --- load -----------------------------------------------------------------------------------

def test_load_dispatches_on_the_config(folder, records, tmp_path):
    ml_collections = pytest.importorskip("ml_collections")
    assert sources.load(ml_collections.ConfigDict({"source": "digits"}), "eval").name == "digits:test"
    assert sources.load({}, "train").num_examples == 1347  # digits is the default
    source = sources.load({"source": "tfrecords", "path": records, "one_based_labels": True,
                           "num_classes": 3}, "train")  # a directory: {path}/train-*
    assert sorted(y for _, y in _examples(source)) == [0, 1, 2]
    os.symlink(folder, tmp_path / "validation")
    assert sources.load({"source": "folder", "path": str(tmp_path)}, "eval").num_classes == 2
    with pytest.raises(ValueError, match="must be one of digits, tfrecords, folder, tfds; got 'csv'"):
        sources.load({"source": "csv"}, "train")
    with pytest.raises(ValueError, match="needs data.path"):
        sources.load({"source": "folder"}, "train")
    with pytest.raises(ValueError, match="data.num_classes=5 but .* 2 classes"):
        sources.load({"source": "folder", "path": str(tmp_path), "num_classes": 5}, "eval")
