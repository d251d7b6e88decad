"""The SavedModel's serving limits (issue 17): a request cannot exhaust the server. Images over
the pixel budget (read from the PNG/JPEG header, before decoding), over the aspect-ratio bound,
batches over the maximum or empty, and NaN/inf pixels fail with INVALID_ARGUMENT naming the
limit; just inside every limit is served. Also the odd savedmodels trees export meets.

One small SavedModel (LeNet-5 at random initialization: no training) is written once and
loaded with plain `tf.saved_model.load`, as TF Serving would, without keras_backbones.
"""

import json
import os
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import tensorflow as tf

from keras_backbones.data import preprocessing as prep
from keras_backbones.export import deployable, savedmodel

QUIET = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
PIXELS = 500 * 500  # this file's SavedModel's max_image_pixels
BATCH = 4           # ... and max_batch_size; its max_aspect_ratio is the default


@pytest.fixture(scope="module")
def item():
    from keras_backbones import registry

    model = registry.create_model("lenet5", classes=10, input_shape=(32, 32, 1),
                                  classifier_activation="softmax")
    return deployable.Deployable(name="lenet5", model=model, image_size=(32, 32), channels=1,
                                 preprocessing=prep.spec("lenet5"),
                                 labels=[str(i) for i in range(10)], recipe=None, model_kwargs={})


@pytest.fixture(scope="module")
def served(item, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("serving_limits") / "lenet5")
    module = savedmodel.ServingModule(item, max_image_pixels=PIXELS, max_batch_size=BATCH)
    tf.saved_model.save(module, path, signatures=module.signatures())
    return path


@pytest.fixture(scope="module")
def loaded(served):
    return tf.saved_model.load(served)


def images(loaded, batch):
    return loaded.signatures["serving_default"](images=tf.constant(batch, tf.float32))


def encoded(loaded, *files):
    return loaded.signatures["serving_encoded"](image_bytes=tf.constant(list(files)))


def refused(call, *texts):
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        call()
    for text in texts:
        assert text in error.value.message, error.value.message
    return error.value.message


def png(height, width, rows=None):
    """A gray 8-bit PNG of zeros claiming height x width; only its first `rows` rows are
    written (all by default): a decompression bomb is a few kilobytes."""
    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    compressor, row = zlib.compressobj(9), bytes(1 + width)
    rows = height if rows is None else rows
    block = max(1, min(rows, (1 << 22) // len(row)))
    data = b"".join(compressor.compress(row * min(block, rows - start))
                    for start in range(0, rows, block)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def jpeg(height, width, claim=None):
    """A JPEG of zeros; with claim=(H, W), its SOF0 header says H x W instead."""
    data = tf.io.encode_jpeg(np.zeros((height, width, 3), np.uint8)).numpy()
    if claim:
        sof = data.index(b"\xff\xc0")  # marker, length (2), precision (1), height, width
        data = data[:sof + 5] + struct.pack(">HH", *claim) + data[sof + 9:]
    return data


def test_the_pixel_budget_is_read_from_the_header(loaded):
    assert encoded(loaded, png(500, 500), jpeg(500, 500))["probabilities"].shape == (2, 10)
    for bomb in (png(501, 500), jpeg(250, 1001), png(30000, 30000, rows=2),
                 jpeg(8, 8, claim=(30000, 30000)), jpeg(8, 8, claim=(65500, 65500)),
                 png(2 ** 31 - 1, 2 ** 31 - 1, rows=0)):
        message = refused(lambda: encoded(loaded, png(4, 4), bomb), "image_bytes[1]",
                          f"over max_image_pixels {PIXELS}")
        assert message.count("assertion failed:") == 1  # one check, one line
    refused(lambda: images(loaded, np.zeros((1, 501, 500, 3))), f"over max_image_pixels {PIXELS}")
    assert images(loaded, np.zeros((1, 500, 500, 3)))["probabilities"].shape == (1, 10)


def test_the_aspect_ratio_is_bounded(loaded):
    limit = savedmodel.MAX_ASPECT_RATIO
    assert encoded(loaded, png(1, limit), png(limit, 1))["probabilities"].shape == (2, 10)
    assert images(loaded, np.zeros((1, limit, 1, 3)))["probabilities"].shape == (1, 10)
    for bomb in (png(1, limit + 1), png(limit + 1, 1), png(1, 200000),
                 jpeg(1, limit + 1), jpeg(8, 8, claim=(1, 200000 // 4))):
        refused(lambda: encoded(loaded, bomb), "image_bytes[0]", f"over max_aspect_ratio {limit}")
    for shape in ((1, 1, limit + 1, 3), (1, 1, 20000, 3), (2, 20000, 1, 3)):
        refused(lambda: images(loaded, np.zeros(shape)), f"over max_aspect_ratio {limit}")


def test_empty_images_are_refused(loaded):
    for shape in ((1, 0, 5, 3), (1, 5, 0, 3), (1, 0, 0, 3)):
        refused(lambda: images(loaded, np.zeros(shape)), "images: ", "at least one pixel")
    refused(lambda: encoded(loaded, png(0, 5, rows=0)), "image_bytes[0]", "at least one pixel")


def test_the_batch_is_bounded_and_not_empty(loaded):
    assert images(loaded, np.zeros((BATCH, 8, 8, 3)))["probabilities"].shape == (BATCH, 10)
    assert encoded(loaded, *[png(8, 8)] * BATCH)["probabilities"].shape == (BATCH, 10)
    refused(lambda: images(loaded, np.zeros((BATCH + 1, 8, 8, 3))), f"over max_batch_size {BATCH}")
    refused(lambda: encoded(loaded, *[png(8, 8)] * (BATCH + 1)), f"over max_batch_size {BATCH}")
    refused(lambda: images(loaded, np.zeros((0, 8, 8, 3))), "empty batch")
    refused(lambda: loaded.signatures["serving_encoded"](image_bytes=tf.zeros([0], tf.string)),
            "empty batch")


def test_nan_and_inf_pixels_are_refused(loaded):
    for value in (np.nan, np.inf, -np.inf):
        batch = np.full((3, 8, 8, 3), 100.0, np.float32)
        batch[2, 4, 5, 1] = value
        refused(lambda: images(loaded, batch), "images[2] holds NaN or inf")
    batch = np.full((2, 8, 8, 3), 100.0, np.float32)
    batch[0] = np.nan
    batch[1, 0, 0, 0] = np.inf
    refused(lambda: images(loaded, batch), "images[0] holds NaN or inf")


def test_malformed_headers_and_other_formats_are_refused(loaded):
    gif = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00"
           b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")  # 1x1, which decode_image takes
    bmp = b"BM" + bytes(60)
    for data in (gif, bmp, b"RIFF\x00\x00\x00\x00WEBPVP8 "):
        refused(lambda: encoded(loaded, data), "image_bytes[0] is not a JPEG or PNG file")
    good = png(8, 8)
    for broken in (good[:20], good[:8] + good[12:]):  # cut in the header; IHDR not first
        refused(lambda: encoded(loaded, good, broken), "image_bytes[1] is a truncated PNG")
    refused(lambda: encoded(loaded, good[:30]))  # cut after the header: the decoder's error


def test_defaults_and_argument_checks(item):
    from keras_backbones.export import commands

    assert (savedmodel.MAX_IMAGE_PIXELS, savedmodel.MAX_BATCH_SIZE,
            savedmodel.MAX_ASPECT_RATIO) == (89_478_485, 64, 20)
    for name, default in commands.SERVING_LIMITS.items():  # the export flags' defaults
        assert default == getattr(savedmodel, name.upper())
    module = savedmodel.ServingModule(item)  # the defaults, traced without saving
    serve = module.signatures()
    side = int(savedmodel.MAX_IMAGE_PIXELS ** 0.5)  # 9459 x 9459 is inside, 9460 x 9459 not

    def send(data):
        return serve["serving_encoded"](image_bytes=tf.constant([data]))

    refused(lambda: send(png(side + 1, side, rows=0)), "over max_image_pixels 89478485")
    inside = refused(lambda: send(png(side, side, rows=0)))
    assert "max_image_pixels" not in inside  # the header passes; the empty IDAT fails to decode
    refused(lambda: serve["serving_default"](images=tf.zeros([65, 2, 2, 3])),
            "over max_batch_size 64")
    for bad in ({"max_image_pixels": 0}, {"max_image_pixels": 1023}, {"max_batch_size": 0},
                {"max_batch_size": 2.5}, {"max_aspect_ratio": 0.5},
                {"max_aspect_ratio": float("nan")}, {"max_batch_size": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            savedmodel.ServingModule(item, **bad)


def test_the_export_command_passes_its_limit_flags(monkeypatch, tmp_path):
    from keras_backbones import cli
    from keras_backbones.export import commands

    weights = tmp_path / "weights.npz"
    weights.touch()

    def parsed(*flags):
        return cli.parse(["keras-backbones", "export", "--model=lenet5", f"--weights={weights}",
                          *flags])

    seen = {}
    monkeypatch.setattr(commands, "_deployable", lambda args: None)
    monkeypatch.setattr(savedmodel, "export", lambda item, base, **kwargs: seen.update(kwargs))
    commands.export(parsed("--max_image_pixels=1000000", "--max_batch_size=8"))
    assert seen["max_image_pixels"] == 1_000_000 and seen["max_batch_size"] == 8
    assert seen["max_aspect_ratio"] == savedmodel.MAX_ASPECT_RATIO
    with pytest.raises(ValueError, match="apply to --format savedmodel only"):
        commands.export(parsed("--format=onnx", "--max_batch_size=8"))
    for bad in ("--max_aspect_ratio=0.5", "--max_batch_size=0", "--max_image_pixels=nan"):
        with pytest.raises(SystemExit) as exited:
            parsed(bad)
        assert exited.value.code == 2


RSS_CHILD = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    import tensorflow as tf

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB

    loaded = tf.saved_model.load(sys.argv[1])
    images, encoded = loaded.signatures["serving_default"], loaded.signatures["serving_encoded"]
    files = [open(path, "rb").read() for path in sys.argv[2:]]
    encoded(image_bytes=tf.constant(files[:1]))  # warm-up: an ordinary image
    images(images=tf.zeros([1, 32, 32, 3]))
    baseline = peak()
    refused = []
    for request in ([lambda f=f: encoded(image_bytes=tf.constant([f] * 4)) for f in files[1:]]
                    + [lambda: images(images=tf.zeros([1, 1, 20000, 3]))]):
        try:
            request()
            refused.append(False)
        except tf.errors.InvalidArgumentError:
            refused.append(True)
    assert "keras_backbones" not in sys.modules
    json.dump({"growth": peak() - baseline, "refused": refused}, sys.stdout)
""")


def test_bombs_do_not_grow_the_servers_memory(served, tmp_path):
    """A child process loads the SavedModel and is sent batches of four bombs: a 10000x10000
    PNG of zeros (96 KB; 300 MB decoded, 1.2 GB as float32), a 631-byte JPEG whose header
    says 12000x12000 (libjpeg fills in the missing data), a 1x200000 PNG (its resize-to-cover
    would be 32 x 6,400,000) and zeros [1, 1, 20000, 3]. Before the limits its peak RSS grew
    by 5.8 GB (in 30 s); refused from the header, by under 1 MB. The bound, 100 MB, is a
    third of one bomb decoded and leaves room for the allocator's noise."""
    paths = []
    for name, data in (("ok.png", png(32, 32)), ("bomb.png", png(10000, 10000)),
                       ("bomb.jpg", jpeg(16, 16, claim=(12000, 12000))),
                       ("wide.png", png(1, 200000))):
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    script = tmp_path / "child.py"
    script.write_text(RSS_CHILD)
    done = subprocess.run([sys.executable, str(script), served, *paths], env=QUIET,
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["refused"] == [True] * 4
    assert result["growth"] < 100 * 2 ** 20, f"peak RSS grew by {result['growth'] / 2 ** 20:.0f} MB"


# --- the savedmodels/<name>/<version> tree -------------------------------------------------

@pytest.mark.parametrize("entry", ["1", "5", "007", "9"])
def test_a_numbered_entry_that_is_no_version_directory_is_refused(item, tmp_path, entry):
    """TF Serving takes every numbered entry for a version: "1" or "5" a file, "007" (version
    7 too), "9" a dangling link. export refuses to write beside one, whatever the version."""
    model_dir = tmp_path / "lenet5"
    model_dir.mkdir()
    versions = {"3"} if entry != "1" else set()  # "1" alone: the IndexError
    for version in versions:
        (model_dir / version).mkdir()
    if entry == "007":
        (model_dir / entry).mkdir()
    elif entry == "9":
        (model_dir / entry).symlink_to(tmp_path / "gone")
    else:
        (model_dir / entry).write_text("not a SavedModel")
    for version, overwrite in ((None, False), (int(entry), True), (4, False)):
        with pytest.raises(ValueError, match=f"lenet5/{entry} is no version directory"):
            savedmodel.export(item, str(tmp_path), version=version, overwrite=overwrite)
    assert sorted(os.listdir(model_dir)) == sorted(versions | {entry})  # nothing written


def test_a_file_where_a_directory_of_the_tree_goes_is_refused(item, tmp_path):
    (tmp_path / "lenet5").write_text("")
    with pytest.raises(ValueError, match="lenet5 is a file"):
        savedmodel.export(item, str(tmp_path))
    (tmp_path / "base").write_text("")
    with pytest.raises(ValueError, match="base is a file"):
        savedmodel.export(item, str(tmp_path / "base"))


def test_entries_that_are_not_versions_are_ignored(tmp_path):
    model_dir = tmp_path / "lenet5"
    for directory in ("1", "3", "latest", ".2-staging"):
        (model_dir / directory).mkdir(parents=True)
    (model_dir / "notes.txt").write_text("")
    (tmp_path / "README").write_text("")
    assert savedmodel.versions(str(model_dir)) == [1, 3]
    savedmodel.write_models_config(str(tmp_path))
    assert (tmp_path / "models.config").read_text().count("config {") == 1
