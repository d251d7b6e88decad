"""Labels that cannot shift and data that says what happened: every split is checked against
the training split's classes (recorded in recipe.json, which evaluate and export read), a
dataset with fewer than two classes or an empty class folder is an error, the corrupt images
skipped are shown and written down, a complete evaluation pass is no "ran out of data", and a
one-class model warns at export."""

import contextlib
import io
import json
import os
import shutil
import warnings

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones import registry, weights
from keras_backbones.backend import clear_session
from keras_backbones.data import sources
from keras_backbones.export import deployable
from keras_backbones.training import loop, recipe
from tests.training.helpers import DIGITS

RNG = np.random.default_rng(0)
CORRUPT = b"this is not an image"


def write_folder(root, splits):
    """{split: {class: images}} as tiny PNGs in class-per-folder splits under `root`."""
    for split, classes in splits.items():
        for name, count in classes.items():
            os.makedirs(os.path.join(root, split, name), exist_ok=True)
            for i in range(count):
                image = RNG.integers(0, 255, (32, 32, 3), dtype=np.uint8)
                with open(os.path.join(root, split, name, f"{i}.png"), "wb") as f:
                    f.write(tf.io.encode_png(image).numpy())
    return str(root)


def folder_recipe(path, **updates):
    """LeNet-5's digits recipe on a folder source, a few tiny batches."""
    config = recipe.load(DIGITS)
    config.data.update(source="folder", path=str(path), cache=False)
    config.update({"epochs": 2, "batch_size": 4, "eval_batch_size": 4, **updates})
    return config


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A two-epoch run on cat/dog folders, each split with one corrupt image, its output and
    warnings captured: (config, workdir, result, printed text, warning messages)."""
    root = tmp_path_factory.mktemp("pets")
    write_folder(root, {"train": {"cat": 6, "dog": 6}, "validation": {"cat": 3, "dog": 2}})
    (root / "train" / "dog" / "broken.jpg").write_bytes(CORRUPT)
    (root / "validation" / "cat" / "broken.png").write_bytes(CORRUPT)
    config = folder_recipe(root)
    workdir = str(tmp_path_factory.mktemp("pets_run"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = loop.train(config, workdir, verbose=2)
    clear_session()
    return config, workdir, result, out.getvalue(), [str(w.message) for w in caught]


# --- every split has the training split's classes --------------------------------------------

def test_a_split_with_other_classes_is_an_error_naming_them(tmp_path):
    # validation lacks "cat": its "dog" would be label 0, the training split's "cat".
    write_folder(tmp_path, {"train": {"cat": 4, "dog": 4, "fox": 4},
                            "validation": {"dog": 2, "fox": 2, "owl": 2}})
    with pytest.raises(ValueError, match=r"validation.*lacks 'cat'.*'owl'"):
        loop.train(folder_recipe(tmp_path, epochs=1, steps_per_epoch=1), str(tmp_path / "run"),
                   verbose=0)
    assert not os.path.exists(tmp_path / "run" / "weights.npz")
    # The same check for any source, given the classes a config records.
    data = {"source": "folder", "path": str(tmp_path), "class_names": ["cat", "dog", "fox"]}
    with pytest.raises(ValueError, match=r"lacks 'cat'.*has 'owl'"):
        sources.load(data, "eval")
    with pytest.raises(ValueError, match="another order"):
        sources.load({**data, "class_names": ["fox", "dog", "cat"]}, "train")
    with pytest.raises(ValueError, match=r"data.num_classes=4 .* 3 classes"):
        sources.load({**data, "class_names": [], "num_classes": 4}, "train")


def test_recipe_json_records_the_training_classes_and_export_and_evaluate_read_them(
        folder_run, tmp_path):
    config, workdir, _, _, _ = folder_run
    with open(os.path.join(workdir, "recipe.json")) as f:
        recorded = json.load(f)["data"]
    assert recorded["class_names"] == ["cat", "dog"] and recorded["num_classes"] == 2
    # The run's directory moved beside data whose validation split has other classes.
    data = shutil.copytree(config.data.path, tmp_path / "data")
    os.rename(data / "validation" / "cat", data / "validation" / "ant")
    run = tmp_path / "run"
    os.makedirs(run)
    shutil.copy(os.path.join(workdir, "weights.npz"), run)
    moved = recipe.load(os.path.join(workdir, "recipe.json"))
    moved.data.path = str(data)
    with open(run / "recipe.json", "w") as f:
        f.write(moved.to_json_best_effort())
    item = deployable.load("lenet5", str(run / "weights.npz"))
    assert item.labels == ["cat", "dog"]  # the training split's, not the validation split's
    with pytest.raises(ValueError, match=r"lacks 'cat'.*has 'ant'"):
        item.dataset("eval")
    # evaluate with the recipe file (no recorded classes): recipe.json beside the weights.
    user_recipe = folder_recipe(data)
    with pytest.raises(ValueError, match=r"lacks 'cat'.*has 'ant'"):
        loop.evaluate(user_recipe, str(run / "weights.npz"))


# --- too few classes ------------------------------------------------------------------------------

def test_one_class_or_an_empty_class_folder_is_an_error(tmp_path):
    write_folder(tmp_path, {"one": {"cat": 2}, "empty": {"cat": 2, "dog": 2}})
    os.makedirs(tmp_path / "empty" / "bird")
    with pytest.raises(ValueError, match=r"1 class \('cat'\).*at least 2"):
        sources.image_folder(str(tmp_path / "one"))
    with pytest.raises(ValueError, match=r"'bird'.*no images"):
        sources.image_folder(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="at least 2"):
        sources.Source(dataset=tf.data.Dataset.range(1), num_classes=1, num_examples=1,
                       class_names=None, name="tfrecords:x")
    config = recipe.load(DIGITS)
    config.data.num_classes = 1
    with pytest.raises(ValueError, match="data.num_classes must be 0 .* or at least 2"):
        recipe.validate(config)


def test_export_warns_about_a_one_class_model(tmp_path):
    model = registry.create_model("lenet5", classes=1)
    path = weights.save_weights(model, str(tmp_path / "weights.npz"))
    with pytest.warns(UserWarning, match="1 class.*100%"):
        item = deployable.load("lenet5", path, classes=1)
    assert item.labels == ["class_0"]
    clear_session()


# --- what happened to the data ------------------------------------------------------------------

def test_skipped_corrupt_images_are_shown_and_written(folder_run):
    config, workdir, result, printed, _ = folder_run
    train_bad = os.path.join(config.data.path, "train", "dog", "broken.jpg")
    eval_bad = os.path.join(config.data.path, "validation", "cat", "broken.png")
    assert result["skipped_images"] == {"train": {"count": 1, "first": [train_bad]},
                                        "eval": {"count": 1, "first": [eval_bad]}}
    with open(os.path.join(workdir, "result.json")) as f:
        assert json.load(f)["skipped_images"] == result["skipped_images"]
    assert f"Skipped 1 corrupt image of folder:{os.path.dirname(os.path.dirname(train_bad))}: " \
           f"{train_bad}" in printed
    evaluated = loop.evaluate(config, os.path.join(workdir, "weights.npz"))
    assert evaluated["skipped_images"] == {"count": 1, "first": [eval_bad]}
    assert evaluated["examples"] == 5  # every readable validation image
    clear_session()


def test_skipped_images_are_named_in_tfrecords_and_checked_again(tmp_path):
    def record(encoded, label):
        return tf.train.Example(features=tf.train.Features(feature={
            "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
            "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        })).SerializeToString()

    good = tf.io.encode_png(RNG.integers(0, 255, (8, 8, 3), dtype=np.uint8)).numpy()
    shard = str(tmp_path / "train-00000-of-00001")
    with tf.io.TFRecordWriter(shard) as writer:
        for encoded, label in ((good, 0), (CORRUPT, 1), (good, 1), (CORRUPT, 0)):
            writer.write(record(encoded, label))
    source = sources.tfrecords(shard, num_classes=2)
    assert len(list(source.dataset)) == 2
    # An image being decoded (or cancelled) when the names are read is checked again: not one.
    source.suspects.insert(tf.constant([f"{shard}[2]"]), tf.constant([1], tf.int64))
    assert sources.skipped_images(source) == [f"{shard}[1]", f"{shard}[3]"]
    assert sources.skipped_images(sources.digits("test")) == []


def test_a_complete_run_does_not_say_it_ran_out_of_data(folder_run):
    config, workdir, result, printed, caught = folder_run
    assert not [m for m in caught if "ran out of data" in m]
    assert "ran out of data" not in printed
    # Every step ran: 12 files (one corrupt) make 3 batches of 4 a epoch, for 2 epochs, and
    # every epoch was validated.
    assert (result["steps_per_epoch"], result["steps"]) == (3, 6)
    with open(os.path.join(workdir, "history.json")) as f:
        history = json.load(f)
    assert len(history["val_loss"]) == 2
