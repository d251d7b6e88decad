"""Weights by name against a server on 127.0.0.1 (tests/conftest.py: checkpoint_server) that
publishes torchvision and timm checkpoints at random init, in each source's file format and
URL layout: the real download, hash check, cache and conversion code runs, and the logits
are compared with the reference's (the parity tolerance)."""

import hashlib
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_backbones import parity, pretrained, registry, weights
from keras_backbones.pretrained import download
from tests import support

pytestmark = pytest.mark.parity  # the reference side needs torch, torchvision and timm

SIZE = 64  # logits compared at 64x64: the conversion itself is size-independent

# Written by the reference side (a child process: torch is never imported beside TensorFlow).
REFERENCE_SIDE = textwrap.dedent("""
    import io, json, sys
    import numpy as np, torch
    from safetensors.torch import save
    from timm.models import adapt_input_conv
    import timm
    from keras_backbones.parity import build_reference, randomize_norms
    out, size = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    arrays = {}
    def logits(model, images):
        with torch.no_grad():
            return model(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()).numpy()
    # torchvision's resnet18, saved as torchvision publishes it (torch.save of a state dict)
    torch.manual_seed(0)
    model = build_reference("torchvision", "resnet18").eval()
    randomize_norms(model, 0)
    state = model.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    open(f"{out}/resnet18.pth", "wb").write(buffer.getvalue())
    arrays["rgb"] = rng.standard_normal((2, size, size, 3)).astype(np.float32)
    arrays["resnet18"] = logits(model, arrays["rgb"])
    # timm's adaptation of the same weights to one input channel, and to five
    grey = timm.create_model("resnet18", in_chans=1).eval()
    grey.load_state_dict({**state, "conv1.weight": adapt_input_conv(1, state["conv1.weight"])})
    arrays["grey"] = rng.standard_normal((2, size, size, 1)).astype(np.float32)
    arrays["resnet18_grey"] = logits(grey, arrays["grey"])
    arrays["stem5"] = adapt_input_conv(5, state["conv1.weight"]).numpy()
    arrays["stem"] = state["conv1.weight"].numpy()
    # timm's regnetx_002, saved as the Hugging Face hub holds it (model.safetensors)
    torch.manual_seed(1)
    model = build_reference("timm", "regnetx_002").eval()
    randomize_norms(model, 1)
    open(f"{out}/regnetx_002.safetensors", "wb").write(
        save({k: v.contiguous() for k, v in model.state_dict().items()}))
    arrays["regnetx_002"] = logits(model, arrays["rgb"])
    np.savez(f"{out}/reference.npz", **arrays)
""")

TORCHVISION_URL = "https://download.pytorch.org/models/resnet18-{sha256}.pth"
TIMM_URL = "https://huggingface.co/timm/regnetx_002.pycls_in1k/resolve/main/model.safetensors"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """{name: bytes of the files, "reference": the reference's inputs and logits}."""
    out = tmp_path_factory.mktemp("published")
    subprocess.run([sys.executable, "-c", REFERENCE_SIDE, str(out), str(SIZE)], check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)
    return {"resnet18": (out / "resnet18.pth").read_bytes(),
            "regnetx_002": (out / "regnetx_002.safetensors").read_bytes(),
            "reference": dict(np.load(out / "reference.npz"))}


@pytest.fixture
def table(published, checkpoint_server, monkeypatch):
    """The table, with the test's files in place of the published ones (the same URL layout;
    the torchvision file's name carries its own hash prefix, as torchvision's do)."""
    return support.publish(checkpoint_server, monkeypatch, [
        (support.published_checkpoint("resnet18", "torchvision", "IMAGENET1K_V1",
                                      TORCHVISION_URL, content=published["resnet18"],
                                      converter="torchvision"), published["resnet18"], False),
        (support.published_checkpoint("regnetx_002", "timm", "pycls_in1k", TIMM_URL,
                                      content=published["regnetx_002"], converter="timm",
                                      lfs=True), published["regnetx_002"], True)])


def _logits(model, images):
    return np.asarray(model(images, training=False))


def _close(ours, reference):
    assert np.max(np.abs(ours - reference)) <= parity.tolerance(reference)


def _cache_files():
    root = download.cache_dir()
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, files in os.walk(root) for f in files)


def test_named_checkpoint_is_downloaded_converted_once_and_equals_the_reference(
        table, published, checkpoint_server):
    reference = published["reference"]
    model = registry.create_model("resnet18", weights="imagenet", input_shape=(SIZE, SIZE, 3),
                                  classifier_activation=None)
    _close(_logits(model, reference["rgb"]), reference["resnet18"])
    url = table["resnet18"][0].url
    assert _cache_files() == [os.path.join("downloads", "download.pytorch.org", "models",
                                           os.path.basename(url)),
                              os.path.join("weights", "resnet18", "torchvision-IMAGENET1K_V1.npz")]
    umask = os.umask(0)
    os.umask(umask)
    for name in _cache_files():  # readable as any file the user makes
        assert os.stat(os.path.join(download.cache_dir(), name)).st_mode & 0o777 == 0o666 & ~umask
    requests = len(checkpoint_server.requests)
    again = registry.create_model("resnet18", weights="torchvision:IMAGENET1K_V1",
                                  input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    assert len(checkpoint_server.requests) == requests  # from the cache, no request
    _close(_logits(again, reference["rgb"]), reference["resnet18"])


def test_a_plain_url_is_downloaded_without_the_mirror(table, published, checkpoint_server,
                                                       monkeypatch):
    monkeypatch.delenv("KERAS_BACKBONES_MIRROR")
    url = checkpoint_server.url + "/models/" + os.path.basename(table["resnet18"][0].url)
    model = registry.create_model("resnet18", weights=url, input_shape=(SIZE, SIZE, 3),
                                  classifier_activation=None)
    _close(_logits(model, published["reference"]["rgb"]), published["reference"]["resnet18"])


def test_hugging_face_file_is_checked_against_its_linked_etag(table, published,
                                                              checkpoint_server):
    model = registry.create_model("regnetx_002", weights="timm:pycls_in1k",
                                  input_shape=(SIZE, SIZE, 3), classifier_activation=None)
    _close(_logits(model, published["reference"]["rgb"]), published["reference"]["regnetx_002"])
    assert any(path.startswith("/lfs-storage/") for path in checkpoint_server.requests)


@pytest.mark.parametrize("variant", ["resnet18", "regnetx_002"])
def test_a_tampered_file_is_refused_naming_both_hashes(variant, table, published,
                                                      checkpoint_server):
    entry = table[variant][0]
    tampered = bytearray(published[variant])
    tampered[len(tampered) // 2] ^= 0xFF
    published_hash = (entry.sha256 if entry.sha256 else
                      hashlib.sha256(published[variant]).hexdigest())
    checkpoint_server.add(entry.url, bytes(tampered), lfs=entry.sha256 is None,
                          etag=published_hash)
    with pytest.raises(download.DownloadError) as error:
        registry.create_model(variant, weights="imagenet")
    assert hashlib.sha256(tampered).hexdigest() in str(error.value)
    assert published_hash in str(error.value)
    assert _cache_files() == []


def test_an_interrupted_download_leaves_nothing(table, checkpoint_server):
    url = table["resnet18"][0].url
    checkpoint_server.truncate(url)
    with pytest.raises(download.DownloadError, match="nothing was kept"):
        registry.create_model("resnet18", weights="imagenet")
    assert _cache_files() == []


def test_offline_error_names_the_url_and_where_to_put_the_file(table, monkeypatch):
    monkeypatch.setenv("KERAS_BACKBONES_MIRROR", "http://127.0.0.1:9")  # nothing listens
    url = table["resnet18"][0].url
    with pytest.raises(download.DownloadError) as error:
        registry.create_model("resnet18", weights="imagenet")
    message = str(error.value)
    assert "http://127.0.0.1:9/models/" in message
    assert download.cached_path(url) in message


def test_a_file_put_in_the_cache_by_hand_is_used_after_its_hash_check(table, published,
                                                                      checkpoint_server,
                                                                      monkeypatch):
    monkeypatch.setenv("KERAS_BACKBONES_MIRROR", "http://127.0.0.1:9")
    path = download.cached_path(table["resnet18"][0].url)
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(published["resnet18"])
    registry.create_model("resnet18", weights="imagenet")
    with open(path, "ab") as f:  # a corrupt copy: refused and deleted
        f.write(b"x")
    os.remove(pretrained.converted_path("resnet18", table["resnet18"][0]))
    with pytest.raises(download.DownloadError, match="does not match"):
        registry.create_model("resnet18", weights="imagenet")
    assert not os.path.exists(path)


def test_other_classes_keep_all_but_the_classifier(table, published, caplog):
    full = registry.create_model("resnet18", weights="imagenet")
    converted = {f"{layer.name}/{i}": w.numpy() for layer in full.layers
                 for i, w in enumerate(layer.weights)}
    with caplog.at_level(logging.WARNING, logger="keras_backbones"):
        model = registry.create_model("resnet18", weights="imagenet", classes=10)
    assert "all but the classifier" in caplog.text and "1000" in caplog.text
    for layer in model.layers:
        for i, weight in enumerate(layer.weights):
            same = np.array_equal(weight.numpy(), converted[f"{layer.name}/{i}"])
            assert same == (layer.name != "logits"), layer.name
    for options in ({"include_top": False, "pooling": "avg"}, {"features_only": True}):
        headless = registry.create_model("resnet18", weights="imagenet", **options)
        kernel = headless.get_layer("stem_conv").weights[0].numpy()
        assert np.array_equal(kernel, converted["stem_conv/0"])


def test_one_input_channel_is_adapted_as_timm_does(table, published):
    reference = published["reference"]
    model = registry.create_model("resnet18", weights="imagenet", input_shape=(SIZE, SIZE, 1),
                                  classifier_activation=None)
    _close(_logits(model, reference["grey"]), reference["resnet18_grey"])
    stem = reference["stem"].transpose(2, 3, 1, 0)  # OIHW -> HWIO
    np.testing.assert_allclose(weights.adapt_input_kernel(stem, 5),
                               reference["stem5"].transpose(2, 3, 1, 0), rtol=1e-6)


def test_names_that_are_not_published_are_errors_that_list_what_is(table):
    with pytest.raises(ValueError, match="torchvision:IMAGENET1K_V1"):
        registry.create_model("resnet18", weights="torchvision:IMAGENET1K_V9")
    with pytest.raises(ValueError, match="no published ImageNet weights"):
        registry.create_model("lenet5", weights="imagenet")


def test_export_takes_a_published_checkpoint_with_its_labels_and_preprocessing(table):
    from keras_backbones.export import deployable

    model = registry.create_model("resnet18", weights="imagenet")
    assert model.checkpoint == table["resnet18"][0]  # predict's preprocessing
    ready = deployable.load("resnet18", "imagenet")
    assert ready.labels[0] == "tench" and len(ready.labels) == 1000
    assert ready.image_size == (224, 224) and ready.recipe is None
    np.testing.assert_array_equal(ready.model.get_weights()[0], model.get_weights()[0])
