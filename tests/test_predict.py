"""Predictions with labels: the ImageNet-1k classes and `decode_predictions`; `load_image` and
`preprocess_input` against torchvision's and timm's evaluation transforms on real photographs
(scikit-learn's sample images); `predict` and `keras-backbones predict` with a published
checkpoint (torchvision's resnet18 at random init, served on 127.0.0.1) and with the weights
and recipe.json of a digits run; `keras-backbones weights NAME`.

The reference side runs in a child process (torch is never imported beside TensorFlow)."""

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_backbones import cli, files, pretrained, registry, weights
from keras_backbones.pretrained import Checkpoint, imagenet, images
from keras_backbones.pretrained import predict as predicting
from keras_backbones.training import recipe as recipe_lib
from tests import support
from tests.support import ROOT

DIGITS_RECIPE = str(ROOT / "recipes" / "lenet5.py") + ":digits"


# --- the ImageNet classes and decode_predictions ---------------------------------------------

def test_the_imagenet_classes_are_the_classifiers_order():
    classes = imagenet.imagenet_classes()
    wnids = [wnid for wnid, _ in classes]
    assert len(classes) == 1000 and wnids == sorted(wnids) and len(set(wnids)) == 1000
    assert len({name for _, name in classes}) == 1000  # torchvision's names tell all apart
    assert classes[0] == ("n01440764", "tench")
    assert classes[281] == ("n02123045", "tabby")
    assert classes[999] == ("n15075141", "toilet tissue")


def test_decode_predictions_gives_the_best_classes_first():
    scores = np.full((2, 1000), 0.0001, np.float32)
    scores[0, [281, 285, 7]] = [0.5, 0.3, 0.1]
    scores[1, 999] = 0.9
    decoded = imagenet.decode_predictions(scores, top=3)
    assert [row[:2] for row in decoded[0]] == [
        ("n02123045", "tabby"), ("n02124075", "Egyptian cat"), ("n01514668", "cock")]
    assert decoded[0][0][2] == pytest.approx(0.5) and isinstance(decoded[0][0][2], float)
    assert decoded[1][0] == ("n15075141", "toilet tissue", pytest.approx(0.9))
    assert len(imagenet.decode_predictions(scores)[0]) == 5  # keras.applications' default
    # Other classifiers: a label per class, (index, label, score); top beyond the width: all.
    assert imagenet.decode_predictions([[0.1, 0.7, 0.2]], top=5, labels=["a", "b", "c"]) == [
        [(1, "b", pytest.approx(0.7)), (2, "c", pytest.approx(0.2)), (0, "a", pytest.approx(0.1))]]


@pytest.mark.parametrize("preds, kwargs, message", [
    (np.zeros(1000), {}, r"batch of scores, shape \(images, classes\); got shape \(1000,\)"),
    (np.zeros((1, 2, 1000)), {}, r"got shape \(1, 2, 1000\)"),
    (np.zeros((1, 10)), {}, "decodes the 1000 ImageNet-1k classes; got 10 scores per image"),
    (np.zeros((1, 3)), {"labels": ["a", "b"]}, "labels has 2 names for 3 scores per image"),
    (np.zeros((1, 1000)), {"top": 0}, "top must be a positive integer; got 0"),
    (np.zeros((1, 1000)), {"top": 2.5}, "top must be a positive integer; got 2.5"),
    (np.array([[0.0] * 999 + [np.nan], [0.0] * 1000]), {}, r"image\(s\) \[0\] are not finite"),
    (np.array([["a"] * 1000]), {}, "expects real scores; got dtype <U1"),
])
def test_decode_predictions_refuses_what_it_cannot_decode(preds, kwargs, message):
    with pytest.raises(ValueError, match=message):
        imagenet.decode_predictions(preds, **kwargs)


# --- the evaluation transform without a reference ---------------------------------------------

def checkpoint(variant="resnet50", **facts):
    """A published checkpoint's entry with the given preprocessing facts."""
    fields = dict(variant=variant, source="torchvision", tag="TEST", default=True,
                  url="https://download.pytorch.org/models/test-00000000.pth", file_format="pth",
                  sha256=None, converter="torchvision", classes=1000, input_size=(224, 224),
                  resize_size=256, crop_pct=0.875, interpolation="bilinear",
                  mean=registry.IMAGENET_MEAN, std=registry.IMAGENET_STD, top1=None, top5=None,
                  eval_size=None, license="test", origin={"all": "this test"})
    return Checkpoint(**{**fields, **facts})


def test_the_transform_follows_the_checkpoint_or_timms_rule():
    published = images.eval_transform(checkpoint(resize_size=232, crop_pct=224 / 232))
    assert (published.resize, published.size, published.channels) == ((232, 232), (224, 224), 3)
    # another input size than the checkpoint's: floor(size / crop_pct), as timm scales
    assert images.eval_transform(checkpoint(), size=(160, 192)).resize == (182, 219)
    pre = registry.get_spec("inception_v3").preprocessing  # crop_pct 299 / 342
    assert images.eval_transform(pre).resize == (342, 342)
    lenet = images.eval_transform("lenet5")
    assert (lenet.size, lenet.resize, lenet.channels) == ((32, 32), (32, 32), 1)
    with pytest.raises(ValueError, match="interpolation must be one of nearest, bilinear"):
        images.eval_transform(checkpoint(interpolation="cubic"))
    with pytest.raises(ValueError, match="a published Checkpoint, a registry Preprocessing"):
        images.eval_transform({"mean": (0.5,)})
    with pytest.raises(ValueError, match="Unknown model name 'resnet5'"):
        images.eval_transform("resnet5")


def test_load_image_resizes_the_shorter_side_and_crops_the_center(tmp_path):
    # Columns numbered 0..99, rows 0..49: after a resize with nearest neighbours the crop's
    # first row and column say where it began. 100x50 -> shorter side 20: 40x20, crop 10x10 at
    # row round(5.0) = 5, column round(15.0) = 15 (of the 40 columns), in source units x2.5.
    rows, columns = np.meshgrid(np.arange(50), np.arange(100), indexing="ij")
    pixels = np.stack([columns, rows, np.zeros_like(rows)], axis=-1).astype(np.uint8)
    path = tmp_path / "ramp.png"
    from PIL import Image
    Image.fromarray(pixels).save(path)
    loaded = images.load_image(path, checkpoint(input_size=(10, 10), resize_size=20,
                                                interpolation="nearest"))
    assert loaded.shape == (10, 10, 3) and loaded.dtype == np.uint8
    assert loaded[0, 0, 1] // 2.5 == 5 and loaded[0, 0, 0] // 2.5 == 15
    # torchvision pads an image smaller than the crop with zeros around it
    small = images.load_image(path, checkpoint(input_size=(30, 60), resize_size=20,
                                               interpolation="nearest"))
    assert small.shape == (30, 60, 3) and not small[:5].any() and small[5:25].any()


def test_load_image_names_the_file_it_cannot_read(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"No such image: {tmp_path / 'gone.jpg'}"):
        images.load_image(tmp_path / "gone.jpg", checkpoint())
    (tmp_path / "notes.jpg").write_text("not a picture")
    with pytest.raises(ValueError, match=f"{tmp_path / 'notes.jpg'} is not an image that PIL"):
        images.load_image(tmp_path / "notes.jpg", checkpoint())
    with pytest.raises(ValueError, match="is a directory, not an image"):
        images.load_image(tmp_path, checkpoint())


def test_preprocess_input_normalizes_per_channel_in_rgb_order():
    pixels = np.array([[[[0, 128, 255]]]], np.uint8)
    expected = (np.array([0, 128, 255]) / 255 - np.array(registry.IMAGENET_MEAN)) / np.array(
        registry.IMAGENET_STD)
    x = images.preprocess_input(pixels, checkpoint())
    assert x.dtype == np.float32 and x.shape == (1, 1, 1, 3)
    np.testing.assert_allclose(x[0, 0, 0], expected, rtol=1e-6)
    # a checkpoint trained on BGR images: its converted stem takes RGB, so nothing is reversed
    np.testing.assert_array_equal(
        images.preprocess_input(pixels, checkpoint(channel_order="BGR")), x)
    # one channel, a 3-value mean and std: their averages, as training normalizes
    grey = images.preprocess_input(np.full((2, 2, 1), 255, np.uint8), checkpoint())
    np.testing.assert_allclose(grey, (1 - np.mean(registry.IMAGENET_MEAN))
                               / np.mean(registry.IMAGENET_STD), rtol=1e-6)
    with pytest.raises(ValueError, match="mean has 3 values for 2-channel images"):
        images.preprocess_input(np.zeros((4, 4, 2)), checkpoint())
    with pytest.raises(ValueError, match=r"\[..., height, width, channels\]; got shape \(4, 4\)"):
        images.preprocess_input(np.zeros((4, 4)), checkpoint())


# --- against torchvision's and timm's transforms ----------------------------------------------

# What the references make of the photographs, and a published checkpoint's predictions
# (torchvision's resnet18 at random init, its norm statistics randomized and its classifier
# scaled so that the top classes stand apart), written by a child process.
REFERENCE_SIDE = textwrap.dedent("""
    import io, json, sys
    import numpy as np, timm, torch, torchvision
    from PIL import Image
    from keras_backbones.parity import randomize_norms
    out, paths = sys.argv[1], sys.argv[2:]
    arrays, facts = {}, {}
    def apply(transform, key):
        for index, path in enumerate(paths):
            image = Image.open(path).convert("RGB")
            arrays[f"{key}/{index}"] = transform(image).permute(1, 2, 0).numpy()
    for name in TORCHVISION:
        weights = torchvision.models.get_weight(name)
        transform = weights.transforms()
        facts[name] = {"resize_size": transform.resize_size[0],
                       "input_size": [transform.crop_size[0], transform.crop_size[-1]],
                       "interpolation": transform.interpolation.value,
                       "mean": list(transform.mean), "std": list(transform.std)}
        apply(transform, name)
    for name in TIMM:
        config = timm.data.resolve_data_config({}, model=timm.create_model(name))
        facts[name] = {**config, "input_size": list(config["input_size"][1:])}
        apply(timm.data.create_transform(**config), name)
    for name, config in TIMM_CONFIGS.items():
        apply(timm.data.create_transform(**config), name)
    # torchvision's Inception-v3 maps its ImageNet-normalized input to [-1, 1] itself
    # (transform_input=True); the registered model takes that input directly
    inception = torchvision.models.inception_v3(init_weights=False, transform_input=True)
    transform = torchvision.models.Inception_V3_Weights.IMAGENET1K_V1.transforms()
    apply(lambda image: inception._transform_input(transform(image)[None])[0],
          "inception_v3_input")
    torch.manual_seed(0)
    model = torchvision.models.resnet18().eval()
    randomize_norms(model, 0)
    with torch.no_grad():
        model.fc.weight.mul_(40.0)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    open(f"{out}/resnet18.pth", "wb").write(buffer.getvalue())
    transform = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.transforms()
    with torch.no_grad():
        batch = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
        arrays["resnet18"] = model(batch).softmax(-1).numpy()
    np.savez(f"{out}/reference.npz", **arrays)
    json.dump(facts, open(f"{out}/facts.json", "w"))
""")
# torchvision's Weights whose transforms are compared: their own resize (232, 342, 255).
TORCHVISION = ["ResNet50_Weights.IMAGENET1K_V1", "ResNet50_Weights.IMAGENET1K_V2",
               "Inception_V3_Weights.IMAGENET1K_V1", "EfficientNet_B1_Weights.IMAGENET1K_V2"]
# timm models whose default data config is compared: crop_pct 0.95, 0.9, 0.875; bicubic and
# bilinear; ImageNet's, Inception's and DPN's own mean.
TIMM = ["convnext_nano", "vit_tiny_patch16_224", "dpn68", "resnest14d"]
# a non-square input: timm's ResizeKeepRatio
TIMM_CONFIGS = {"non_square": {"input_size": (3, 160, 192), "crop_pct": 0.875,
                               "interpolation": "bicubic"},
                # the ConvNeXt ..._384 checkpoints': both sides resized, the aspect not kept
                "squash": {"input_size": (3, 384, 384), "crop_pct": 1.0,
                           "interpolation": "bicubic", "crop_mode": "squash"}}
# The registered variants whose registry preprocessing is the reference's default.
REGISTERED = {"resnet50": "ResNet50_Weights.IMAGENET1K_V1", "inception_v3": "inception_v3_input",
              **{name: name for name in TIMM}}


@pytest.fixture(scope="module")
def photographs(tmp_path_factory):
    """scikit-learn's two sample photographs, as a JPEG (landscape, 640x427), a PNG (portrait,
    transposed) and a PNG with an alpha channel (torchvision's and timm's loaders drop it)."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    folder = tmp_path_factory.mktemp("photographs")
    china, flower = load_sample_image("china.jpg"), load_sample_image("flower.jpg")
    Image.fromarray(china).save(folder / "china.jpg", quality=90)
    Image.fromarray(flower.transpose(1, 0, 2)).save(folder / "flower.png")
    alpha = np.full(china.shape[:2] + (1,), 200, np.uint8)
    Image.fromarray(np.concatenate([china, alpha], -1)).save(folder / "china_alpha.png")
    return [folder / "china.jpg", folder / "flower.png", folder / "china_alpha.png"]


@pytest.fixture(scope="module")
def reference(photographs, tmp_path_factory):
    """(arrays, facts) of the reference side: each transform's output per photograph, and the
    preprocessing facts each reference states."""
    out = tmp_path_factory.mktemp("reference")
    script = (f"TORCHVISION, TIMM = {TORCHVISION!r}, {TIMM!r}\n"
              f"TIMM_CONFIGS = {TIMM_CONFIGS!r}\n" + REFERENCE_SIDE)
    subprocess.run([sys.executable, "-c", script, str(out), *map(str, photographs)],
                   check=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                   timeout=600)
    with np.load(out / "reference.npz") as arrays:
        return ({key: arrays[key] for key in arrays.files},
                json.loads((out / "facts.json").read_text()), out)


def against_the_references(test):
    """Marks a test whose reference side is torchvision and timm (the parity extra)."""
    return pytest.mark.parity(support.needs_torch("torchvision's and timm's side")(test))


def published(facts):
    """The Checkpoint entry of the preprocessing facts a reference states."""
    size = facts["input_size"]
    crop_pct = facts.get("crop_pct") or size[0] / facts["resize_size"]
    return checkpoint(input_size=tuple(size), crop_pct=crop_pct,
                      resize_size=facts.get("resize_size") or math.floor(size[0] / crop_pct),
                      interpolation=facts["interpolation"], mean=tuple(facts["mean"]),
                      std=tuple(facts["std"]))


def assert_same_input(ours, theirs, atol=1e-6):
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=atol)


@against_the_references
@pytest.mark.parametrize("name", TORCHVISION + TIMM)
def test_a_checkpoints_preprocessing_is_its_references(name, photographs, reference):
    arrays, facts, _ = reference
    entry = published(facts[name])
    for index, path in enumerate(photographs):
        assert_same_input(images.preprocess_input(images.load_image(path, entry), entry),
                          arrays[f"{name}/{index}"])


@against_the_references
@pytest.mark.parametrize("variant", REGISTERED)
def test_a_registered_preprocessing_is_its_references_default(variant, photographs, reference):
    arrays, _, _ = reference
    pre = registry.get_spec(variant).preprocessing
    for index, path in enumerate(photographs):
        assert_same_input(images.preprocess_input(images.load_image(path, pre), pre),
                          arrays[f"{REGISTERED[variant]}/{index}"],
                          atol=1e-5 if variant == "inception_v3" else 1e-6)  # two roundings


@against_the_references
def test_another_input_size_keeps_the_aspect_as_timm_does(photographs, reference):
    arrays, _, _ = reference
    entry = checkpoint(interpolation="bicubic")
    for index, path in enumerate(photographs):
        pixels = images.load_image(path, entry, size=(160, 192))
        assert_same_input(images.preprocess_input(pixels, entry), arrays[f"non_square/{index}"])


@against_the_references
def test_timms_squash_crop_mode_resizes_both_sides(photographs, reference):
    arrays, _, _ = reference
    entry = checkpoint(input_size=(384, 384), resize_size=384, crop_pct=1.0,
                       interpolation="bicubic", crop_mode="squash")
    for index, path in enumerate(photographs):
        assert_same_input(images.preprocess_input(images.load_image(path, entry), entry),
                          arrays[f"squash/{index}"])


# --- predict with a published checkpoint --------------------------------------------------------

@pytest.fixture
def resnet18_published(reference, checkpoint_server, monkeypatch):
    """resnet18's default checkpoint: the reference side's file, served on 127.0.0.1 at a
    torchvision URL whose name carries its hash prefix."""
    import hashlib

    content = (reference[2] / "resnet18.pth").read_bytes()
    prefix = hashlib.sha256(content).hexdigest()[:8]
    entry = checkpoint("resnet18", tag="IMAGENET1K_V1", sha256=prefix,
                       url=f"https://download.pytorch.org/models/resnet18-{prefix}.pth")
    monkeypatch.setattr(pretrained, "checkpoints",
                        lambda variant: (entry,) if variant == "resnet18" else ())
    checkpoint_server.add(entry.url, content)
    return entry


def run_cli(*argv):
    """`keras-backbones ARGV` in this process: (exit status, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        # --verbose: this process's TensorFlow and absl log levels stay as the tests set them
        status = cli.main(cli.parse(["keras-backbones", "--verbose", *map(str, argv)]))
    return status, out.getvalue(), err.getvalue()


def printed(text):
    """{image: [(probability, label)]} of predict's output."""
    results, image = {}, None
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            image = line[:-1]
            results[image] = []
        elif line.strip():
            _, probability, label = line.split(maxsplit=2)
            results[image].append((float(probability.rstrip("%")) / 100, label))
    return results


@against_the_references
def test_predict_with_a_published_checkpoint_names_the_references_classes(
        photographs, reference, resnet18_published, capsys):
    arrays, _, _ = reference
    status, out, err = run_cli("predict", "--model", "resnet18", "--weights", "imagenet",
                               *photographs)
    assert status == 0, err
    results = printed(out)
    assert list(results) == [str(path) for path in photographs]
    names = imagenet.imagenet_classes()
    for index, path in enumerate(photographs):
        probabilities = arrays["resnet18"][index]
        best = np.argsort(-probabilities)[:5]
        assert [label for _, label in results[str(path)]] == [
            f"{names[i][1]}  ({names[i][0]})" for i in best]
        np.testing.assert_allclose([p for p, _ in results[str(path)]], probabilities[best],
                                   atol=1e-4)
    # the Python API: the same classes, with the scores unrounded
    model = registry.create_model("resnet18", weights="imagenet")
    decoded = predicting.predict(model, photographs[:1], checkpoint="imagenet", top=3)
    best = np.argsort(-arrays["resnet18"][0])[:3]
    assert [row[0] for row in decoded[0]] == [names[i][0] for i in best]
    np.testing.assert_allclose([row[2] for row in decoded[0]], arrays["resnet18"][0][best],
                               atol=1e-5)


# --- predict with the weights of a training run ------------------------------------------------

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A digits run's directory as `train` leaves it, without training: lenet5's weights
    (at initialization) and the recipe.json with the classes the run recorded, plus a digit
    from the test split as an 8x8 grey PNG."""
    from PIL import Image

    from keras_backbones.data import sources

    run = tmp_path_factory.mktemp("digits_run")
    config = recipe_lib.load(DIGITS_RECIPE)
    train = sources.load(config.data, "train")
    with config.unlocked():  # what the train loop records (training/loop.py, _data)
        config.data.num_classes = train.num_classes
        config.data.class_names = tuple(train.class_names)
    files.write_bytes(run / recipe_lib.RUN_RECIPE,
                      config.to_json_best_effort(indent=1, sort_keys=True).encode())
    model = registry.create_model("lenet5", classes=10, input_shape=(32, 32, 1),
                                  **config.model.kwargs.to_dict())
    weights.save_weights(model, run / "weights.npz")
    digit, _ = next(iter(sources.load(config.data, "eval").dataset))
    Image.fromarray(digit.numpy()[..., 0]).save(run / "digit.png")
    return run


def test_predict_with_a_runs_weights_uses_its_recorded_classes(digits_run):
    import tensorflow as tf
    from PIL import Image

    from keras_backbones.data import preprocessing

    digit = digits_run / "digit.png"
    status, out, err = run_cli("predict", "--model", "lenet5", "--weights",
                               digits_run / "weights.npz", digit, "--top", 3)
    assert status == 0, err
    rows = printed(out)[str(digit)]
    # the classes the run recorded ("0".."9"), best first, as the Python API scores them
    config = recipe_lib.load(DIGITS_RECIPE)
    model = registry.create_model("lenet5", classes=10, weights=str(digits_run / "weights.npz"),
                                  **config.model.kwargs.to_dict())
    [decoded] = predicting.predict(model, [digit], top=3, labels=[str(i) for i in range(10)])
    assert [label for _, label in rows] == [label for _, label, _ in decoded]
    np.testing.assert_allclose([p for p, _ in rows], [p for _, _, p in decoded], atol=5e-5)
    # The model's input is the one evaluation fed it to within a grey level: the training
    # pipeline resizes with TensorFlow in float32, predict with PIL (as the references do),
    # rounded to uint8.
    ours = images.preprocess_input(images.load_image(digit, "lenet5"), "lenet5")
    fed = preprocessing.eval_image(tf.constant(np.asarray(Image.open(digit))[..., None]),
                                   (32, 32), "lenet5", 1)
    std = registry.get_spec("lenet5").preprocessing.std[0]
    assert np.max(np.abs(ours - fed.numpy())) <= 1 / 255 / std


def test_predict_without_a_recipe_reads_the_classes_from_the_weights(digits_run, tmp_path):
    import shutil

    shutil.copy(digits_run / "weights.npz", tmp_path / "weights.npz")
    [(image, rows)] = predicting.predict_files("lenet5", str(tmp_path / "weights.npz"),
                                               [digits_run / "digit.png"], top=10)
    assert image == digits_run / "digit.png"
    assert sorted(label for _, label, _ in rows) == sorted(f"class {i}" for i in range(10))
    assert sum(score for _, _, score in rows) == pytest.approx(1.0, abs=1e-5)


def test_predict_takes_files_or_arrays_at_the_models_input_shape(digits_run):
    digit = digits_run / "digit.png"
    model = registry.create_model("lenet5", classes=10, modern=True,
                                  weights=str(digits_run / "weights.npz"))
    [from_file] = predicting.predict(model, digit, top=10)
    assert sorted(label for _, label, _ in from_file) == sorted(f"class {i}" for i in range(10))
    pixels = images.load_image(digit, "lenet5")
    for batch in (np.stack([pixels, pixels]), [pixels, pixels.astype(np.float32)]):
        for decoded in predicting.predict(model, batch, top=10):
            assert [row[:2] for row in decoded] == [row[:2] for row in from_file]
            np.testing.assert_allclose([row[2] for row in decoded],
                                       [row[2] for row in from_file], atol=1e-6)
    with pytest.raises(ValueError,
                       match=r"input shape \(32, 32, 1\); got shapes \[\(28, 28, 1\)\]"):
        predicting.predict(model, np.zeros((28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match="no images given"):
        predicting.predict(model, [])


def test_predict_errors_are_one_line_each(digits_run, tmp_path):
    weights_file = str(digits_run / "weights.npz")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    meta, arrays = weights.read_weights(weights_file)
    np.savez(tmp_path / "incomplete.npz", **{key: value for key, value in arrays.items()
                                              if key != "f6/1"},
             __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8))
    cases = [
        (["--model", "lenet5", "--weights", weights_file, tmp_path / "gone.png"],
         f"No such image: {tmp_path / 'gone.png'}"),
        (["--model", "lenet5", "--weights", weights_file, broken],
         f"{broken} is not an image that PIL can read."),
        (["--model", "lenet4", "--weights", weights_file, digits_run / "digit.png"],
         "Unknown model name 'lenet4'. Closest names: lenet5"),
        (["--model", "alexnet", "--weights", weights_file, digits_run / "digit.png"],
         f"{weights_file} holds weights of lenet5 (the recipe.json beside it says so), "
         "not of alexnet."),
        (["--model", "lenet5", "--weights", tmp_path / "incomplete.npz", digits_run / "digit.png"],
         "1 model weights not in the file: f6/1"),
        (["--model", "lenet5", "--weights", weights_file, digits_run / "digit.png", "--top", 0],
         "--top must be a positive integer; got 0."),
    ]
    for argv, message in cases:
        status, out, err = run_cli("predict", *argv)
        assert status == 2 and out == "", (argv, out)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("keras-backbones predict: error: ") and message in err, err


# --- keras-backbones weights NAME -------------------------------------------------------------

def test_weights_lists_the_published_checkpoints(monkeypatch):
    entries = (checkpoint(tag="IMAGENET1K_V2", resize_size=232, crop_pct=0.965, top1=80.858,
                          top5=95.434, eval_size=224, license="BSD-3-Clause",
                          file_size_mib=97.781),
               checkpoint(source="timm", tag="a1_in1k", default=False, resize_size=235,
                          crop_pct=0.95, interpolation="bicubic", top1=81.22, top5=None,
                          eval_size=288, license="apache-2.0",
                          url="https://huggingface.co/timm/resnet50.a1_in1k/resolve/main/"
                              "model.safetensors"))
    monkeypatch.setattr(pretrained, "checkpoints",
                        lambda variant: entries if variant == "resnet50" else ())
    status, out, _ = run_cli("weights", "resnet50")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "resnet50: 2 published checkpoints (* the default: --weights imagenet)"
    header, default, other = lines[1:]
    assert header.split() == ["checkpoint", "top-1", "top-5", "@", "classes", "input", "resize",
                              "crop_pct", "interpolation", "license", "MiB", "url"]
    assert default.split() == ["*", "torchvision:IMAGENET1K_V2", "80.86", "95.43", "224", "1000",
                               "224x224", "232", "0.965", "bilinear", "BSD-3-Clause", "97.78",
                               entries[0].url]
    assert other.split() == ["timm:a1_in1k", "81.22", "-", "288", "1000", "224x224", "235", "0.95",
                             "bicubic", "apache-2.0", "-", entries[1].url]


def test_weights_says_why_a_variant_has_none_and_refuses_unknown_names(monkeypatch):
    monkeypatch.setattr(pretrained, "checkpoints", lambda variant: ())
    monkeypatch.setattr(pretrained, "without_checkpoints",
                        lambda: {"lenet5": "no reference publishes LeNet-5 weights"})
    assert run_cli("weights", "lenet5")[:2] == (
        0, "lenet5 has no published checkpoint: no reference publishes LeNet-5 weights\n")
    status, _, err = run_cli("weights", "resnet5O")
    assert status == 2 and "Unknown model name 'resnet5O'. Closest names: resnet50" in err


def test_weights_prints_the_tables_entries():
    status, out, _ = run_cli("weights", "resnet50")
    published = pretrained.checkpoints("resnet50")
    lines = out.splitlines()
    assert status == 0 and len(lines) == 2 + len(published)
    assert lines[2].split()[:6] == ["*", "torchvision:IMAGENET1K_V2", "80.86", "95.43", "224",
                                    "1000"]
    assert {line.split()[0] for line in lines[3:]} == {c.name for c in published[1:]}
    # the variant's name stands for its default checkpoint's preprocessing
    assert images.eval_transform("resnet50").resize == (232, 232)
