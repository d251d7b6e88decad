"""What the tests share: the reference parameter table, representative variants, small inputs."""

import csv
import hashlib
import pathlib
import re

import numpy as np
import pytest

from keras_backbones import registry

ROOT = pathlib.Path(__file__).resolve().parent.parent
PARAMS_TSV = ROOT / "tests" / "data" / "params.tsv"

# Input side used for the quick checks: small, but at least the network's minimum.
# Inception-v3's auxiliary classifier (in the model by default, as torchvision's) needs its
# 299x299 input. Inception-v4 and Inception-ResNet take 75x75, where their unpadded
# convolutions leave 1x1 at stride 32; at 139x139, 3x3: feature maps near side / stride.
SMALL_SIZE = {"AlexNet": 96, "Inception-v3": 299, "Inception-v4": 139, "Inception-ResNet-v1": 139,
              "Inception-ResNet-v2": 139}
DEFAULT_SMALL_SIZE = 64


def parse_variant(text):
    """'googlenet (aux_logits=False)' -> ('googlenet', {'aux_logits': False})."""
    match = re.fullmatch(r"\s*([\w.]+)\s*(?:\((.*)\))?\s*", text)
    name, args = match.group(1), match.group(2)
    kwargs = {}
    for item in filter(None, (a.strip() for a in (args or "").split(","))):
        key, value = (s.strip() for s in item.split("="))
        kwargs[key] = eval(value, {"__builtins__": {}}, {"True": True, "False": False})  # literals only
    return name, kwargs


def reference_rows():
    """Rows of params.tsv: dicts with variant, name, kwargs, family, params (int or None)."""
    lines = [l for l in PARAMS_TSV.read_text().splitlines() if l and not l.startswith("#")]
    rows = []
    for row in csv.DictReader(lines, delimiter="\t"):
        name, kwargs = parse_variant(row["variant"])
        rows.append({"variant": row["variant"], "name": name, "kwargs": kwargs,
                     "family": row["family"], "params": int(row["params"]) if row["params"] else None})
    return rows


def reference_params(name, kwargs=None):
    for row in reference_rows():
        if row["name"] == name and row["kwargs"] == (kwargs or {}):
            return row
    return None


def registered_variant_row(name):
    """The params.tsv row of a registered variant: listed by its name, or by its name and the
    default arguments it is registered with."""
    return reference_params(name) or reference_params(name, registry.get_spec(name).kwargs)


def families():
    """{family: [variant names in registration order]}."""
    out = {}
    for name in registry.list_models():
        out.setdefault(registry.get_spec(name).family, []).append(name)
    return out


# A family's representative for the expensive checks, where the first registered is not its
# smallest.
REPRESENTATIVE = {"Wide ResNet": "wrn28_10", "ECA-Net": "eca_resnet18"}


def representatives():
    """One variant per family: the first registered (each family registers its smallest first)."""
    return [REPRESENTATIVE.get(family, names[0]) for family, names in families().items()]


# The families users put on phones: every variant converts to full int8
# (tests/models/test_mobilenet.py), at the reference's own initialization.
MOBILE_FAMILIES = ("MobileNetV1", "MobileNetV2", "MobileNetV3", "MobileNetV4", "MNASNet",
                   "EfficientNet", "EfficientNetV2", "ShuffleNetV1", "ShuffleNetV2", "GhostNet",
                   "EffNet")


def is_mobile(name):
    return registry.get_spec(name).family in MOBILE_FAMILIES or name == "eca_mobilenet_v2"


def ready_to_quantize(model, name):
    """The state the quantization checks convert a model in. The mobile families keep their
    reference's initialization, which keeps activations at a usable scale (its layer scales
    letting the signal through); the others get He-normal kernels (see redraw_kernels)."""
    if is_mobile(name):
        return signal_carrying_layer_scales(model)
    return redraw_kernels(model)


# Layers of these families are theirs alone, though their module is another family's: the
# attention layers of ECA and CBAM (ResNet's module), the scaled residual branch (Rescaling)
# of Inception-ResNet (Inception's).
DISTINCT_OPS = ("eca_resnet18", "cbam_resnet18", "inception_resnet_v1")


# Between them, every kind of layer with weights: convolutions plain and grouped (RegNetX),
# depthwise (MobileNetV2), dense layers and attention (ViT), a relative position bias table
# (Swin). Float16 and dynamic-range TFLite store these weights differently; the ops stay.
WEIGHT_STORAGE_CASES = ("regnetx_002", "mobilenet_v2", "vit_tiny_patch16_224",
                        "swin_tiny_patch4_window7_224")


# AlexNet's and VGG's 4096-wide hidden classifier layers hold most of their weights (102M of
# VGG-11's 133M): the conversion checks (TFLite, ONNX) convert these families without them, as
# they are used for features (include_top=False): those layers are Dense layers, as every
# family's logits, and their adaptive pooling and flattening convert in tests/layers.
HIDDEN_CLASSIFIER_FAMILIES = ("AlexNet", "VGG")


def conversion_options(name):
    """The constructor options of a conversion check of `name`: 10 logits, or the pooled
    features of a family whose classifier is mostly hidden layers."""
    if registry.get_spec(name).family in HIDDEN_CLASSIFIER_FAMILIES:
        return dict(include_top=False, pooling="avg")
    return dict(classes=10, classifier_activation=None)


def module_representatives():
    """One variant per builder module, its smallest family representative (families of one
    module share their layers), and the families with layers of their own: where a check is
    about converting or serializing the layers (ONNX, tf-keras's round trips), not about each
    family's arrangement of them."""
    chosen = {}
    for name in sorted(representatives(), key=_reference_count):
        chosen.setdefault(registry.get_spec(name).builder.__module__, name)
    return [*chosen.values(), *(n for n in DISTINCT_OPS if n in representatives())]


def _reference_count(name):
    row = registered_variant_row(name)
    return (row or {}).get("params") or registry.get_spec(name).paper_params or 0


def small_shape(name):
    spec = registry.get_spec(name)
    height, width, channels = spec.preprocessing.input_size
    side = SMALL_SIZE.get(spec.family, min(DEFAULT_SMALL_SIZE, height))
    return (side, side, channels)


def inference_ops(model):
    """{(TensorFlow op type, padding)} of a model's inference call at batch 1, as traced."""
    import tensorflow as tf

    graph = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec((1, *model.input_shape[1:]))).graph
    return {(op.type, op.get_attr("padding").decode() if "padding" in op.node_def.attr else "")
            for op in graph.get_operations()
            if op.type not in ("Placeholder", "Const", "ReadVariableOp", "Identity", "NoOp")}


def identical_initial_weights(model):
    """Pairs of weights (layer/index) that start from the same random values: layers given
    one unseeded initializer instance draw the same values (tf-keras warns "The initializer
    ... is unseeded and being called multiple times"). Constant initializations (zeros, ones,
    layer scales) are not draws and are left out; the first 16 values identify a draw."""
    import tensorflow as tf  # here: parity tests import torch before TensorFlow

    seen, pairs = {}, []
    for layer in model.layers:
        for index, weight in enumerate(layer.weights):
            head = np.asarray(tf.reshape(tf.convert_to_tensor(weight), [-1])[:16])
            if head.size < 2 or np.all(head == head[0]):
                continue
            key = (tuple(weight.shape), head.tobytes())
            if key in seen:
                pairs.append((seen[key], f"{layer.name}/{index}"))
            seen.setdefault(key, f"{layer.name}/{index}")
    return pairs


def redraw_kernels(model, seed=0):
    """Re-draws every conv/dense kernel from He normal (fan_in), keeping activations near unit
    scale. For the int8 checks: at LeNet's 1998 initialization the logits are ~1e-5, which
    int8 rounds to zero in any converter; quantization is tested on signals, not on that."""
    from keras_backbones.backend import keras

    rng = np.random.default_rng(seed)
    depthwise = {id(w) for layer in _all_layers(model)
                 if isinstance(layer, keras.layers.DepthwiseConv2D) for w in layer.weights}
    for weight in model.weights:
        short_name = weight.name.split("/")[-1].split(":")[0]
        if short_name == "cls_token":
            # timm starts ViT's class token at N(0, 1e-6), below int8's step next to the patch
            # tokens (LayerNorm then amplifies the rounding); a trained one is not that small.
            weight.assign(rng.normal(0.0, 1.0, size=tuple(weight.shape)).astype(np.float32))
        elif short_name in ("kernel", "depthwise_kernel") and len(weight.shape) >= 2:
            shape = tuple(weight.shape)
            # Keras 3 names a depthwise kernel "kernel" too: told apart by its layer.
            fan_in = (int(np.prod(shape[:2])) if id(weight) in depthwise
                      else int(np.prod(shape[:-1])))
            weight.assign(rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32))
    return model


def randomize_batch_norms(model, seed=0):
    """Every BatchNormalization, inside block layers too, given random statistics and affine
    parameters: at their defaults (mean 0, variance 1, gamma 1, beta 0) a BatchNormalization is
    nearly the identity, and a check that drops or misplaces one passes anyway."""
    from keras_backbones import benchmark

    return benchmark.randomize_batch_norms(model, seed)


def batch_norms(model):
    """The model's built BatchNormalization layers, those held by block layers included."""
    from keras_backbones import benchmark

    return benchmark.batch_norms(model)


def auto_named_weight_layers(model):
    """The names of `model`'s layers that hold weights under a name Keras made up (the class
    name in snake case, numbered): the portable format keys weights by layer name, and another
    build in the same process would number such a layer otherwise."""
    def snake(name):  # Keras's to_snake_case
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
        return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()

    return [layer.name for layer in model.layers if layer.weights and
            re.fullmatch(rf"{re.escape(snake(type(layer).__name__))}(_\d+)?", layer.name)]


def signal_carrying_layer_scales(model):
    """Sets to 1 every LayerScale that does not feed a residual sum. For the int8 checks: timm
    starts MobileNetV4's hybrids at 1e-5 on every block, the strided ones (no residual) too,
    so at initialization each stage scales the signal itself by 1e-5 and the logits come out
    ~1e-15, which int8 rounds to a constant. On the residual branches 1e-5 only makes a block
    start near the identity, as it is meant to."""
    from keras_backbones.layers import LayerScale

    # The mobile blocks name their layers `{block}_layer_scale` and `{block}_add` (_mobile.py).
    names = {layer.name for layer in _all_layers(model)}
    for layer in _all_layers(model):
        if isinstance(layer, LayerScale) and \
                layer.name.replace("_layer_scale", "_add") not in names:
            layer.gamma.assign(np.ones(tuple(layer.gamma.shape), np.float32))
    return model


def layers_of(model, cls):
    """The model's top-level layers of class `cls`, in order."""
    return [layer for layer in model.layers if isinstance(layer, cls)]


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested model or a block layer holding sublayers
            yield from _all_layers(layer)


# Keras layers hold reference cycles, so a test's models are freed by Python's cyclic garbage
# collector; but a full collection walks every object of the process, seconds in a worker
# that has run hundreds of tests (a third of the suite's time when run after each test).
# Collect only when the process's peak memory has grown by this much since the last time.
COLLECT_AFTER_GROWTH_KIB = 1 << 20  # 1 GiB (ru_maxrss is in KiB on Linux)
_peak_at_last_collection = [0]


@pytest.fixture(autouse=True)
def fresh_session():
    """Each model and layer test starts from a clean Keras state, float32 and the same random
    seed (the autouse fixture of tests/models and tests/layers, through their conftest.py):
    a test's random weights do not depend on which tests its worker ran before it."""
    import resource

    from keras_backbones.backend import clear_session, keras, set_dtype_policy

    clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield
    set_dtype_policy("float32")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    collect = peak - _peak_at_last_collection[0] > COLLECT_AFTER_GROWTH_KIB
    clear_session(free_memory=collect)
    if collect:
        _peak_at_last_collection[0] = peak


def random_images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, *shape)).astype(np.float32)



def needs_torch(reason):
    """Skips a test where torch (the parity extra) is missing. CI sets
    KERAS_BACKBONES_REQUIRE_TORCH=1, under which tests/conftest.py stops the run instead: a CI
    run must not pass by skipping these."""
    import importlib.util

    return pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                              reason=f"needs torch (the parity extra): {reason}")


# --- numerical parity (tests/parity/test_parity*.py: one file per family or issue) -----------

NON_SQUARE = (160, 192)


# Tests that hold several GB at their peak (a parity case keeps the reference's checkpoint, the
# Keras model and their logits; converting a network of tens of millions of weights to int8
# takes up to 12 GB) run one at a time, on one xdist worker (`--dist loadgroup`): two side by
# side, on top of what each worker process keeps from the tests before, filled a 24 GiB machine.
LARGE_MEMORY = pytest.mark.xdist_group("large_memory")
LARGE_PARAMS = 20_000_000


def memory_marks(name, kwargs=None):
    """[LARGE_MEMORY] for a variant of more than LARGE_PARAMS weights, else []."""
    row = reference_params(name, kwargs)
    return [LARGE_MEMORY] if row and (row["params"] or 0) > LARGE_PARAMS else []


# The family representatives whose TFLite conversion (float32 and int8, each from an export of
# its own where the int8 graph is traced differently) takes 20-40 s here on two busy workers:
# graphs of hundreds of layers, whose size and not the input's sets the converter's time
# (measured on DenseNet-121 alone: export 5 s, float conversion 8 s, int8 7 s).
SLOW_TO_CONVERT = ("inception_resnet_v2", "inception_v4", "inception_v3", "inception_resnet_v1",
                   "inception_v2", "densenet121", "swin_tiny_patch4_window7_224")


def conversion_marks(name):
    """The marks of a family's TFLite conversion check: memory_marks, and allow_slow where
    the graph is one of SLOW_TO_CONVERT."""
    slow = [pytest.mark.allow_slow("a graph of hundreds of layers: the converter's time")
            ] if name in SLOW_TO_CONVERT else []
    return [*memory_marks(name), *slow]


def _parity_marks():
    return [pytest.mark.parity, needs_torch("the references are PyTorch models"), LARGE_MEMORY]


PARITY_MARKS = _parity_marks()


def extended(case):
    """A parity case outside CI's budget: a larger variant whose blocks a smaller variant's
    case already checks (deselected by default; `pytest -m parity` runs it)."""
    return pytest.param(case, marks=pytest.mark.extended, id=parity_case_id(case))


def parity_case_id(case):
    name, options, _ = case
    return name + "".join(f"-{k}={v}" for k, v in options.items())


def assert_parity(name, options, non_square):
    """A parity case: (variant, constructor options, also at the non-square size). The
    reference runs in a child process (keras_backbones.parity_references, else torchvision/timm
    by name) at random init with randomized norm statistics; eval logits must agree to
    1e-4 * max(1, |ref|)."""
    from keras_backbones import parity

    default = registry.get_spec(name).preprocessing.input_size[:2]
    sizes = [default, NON_SQUARE] if non_square else [default]
    for result in parity.compare(name, sizes, options=options):
        assert result.ok, (f"{name} {options} at {result.size}: max |diff| "
                           f"{result.max_abs_diff:.3g} > {result.tolerance:.3g}")


# --- Published checkpoints, served by the test (tests/conftest.py: checkpoint_server) --------

def published_checkpoint(variant, source, tag, url, *, content, converter, lfs=False):
    """A table entry for `content` (a checkpoint file's bytes) at `url`, in its source's URL
    layout: with the sha256 prefix that torchvision writes in its file names, or with none
    where Hugging Face publishes it in the download's X-Linked-Etag (lfs=True)."""
    from keras_backbones.pretrained import Checkpoint

    pre = registry.get_spec(variant).preprocessing
    sha256 = None if lfs else hashlib.sha256(content).hexdigest()[:8]
    return Checkpoint(
        variant=variant, source=source, tag=tag, default=True, url=url.format(sha256=sha256),
        file_format=url.rsplit(".", 1)[-1], sha256=sha256, converter=converter, classes=1000,
        input_size=pre.input_size[:2], resize_size=int(pre.input_size[0] / pre.crop_pct),
        crop_pct=pre.crop_pct, interpolation=pre.interpolation, mean=pre.mean, std=pre.std,
        top1=None, top5=None, eval_size=None, license="test", origin={"all": "the test"})


def publish(server, monkeypatch, files):
    """Serves [(checkpoint, content, lfs)] on `server` and makes them the table's entries
    (each its variant's default): {variant: (checkpoint,)}."""
    from keras_backbones import pretrained

    entries = {}
    for checkpoint, content, lfs in files:
        server.add(checkpoint.url, content, lfs=lfs)
        entries[checkpoint.variant] = (checkpoint,)
    monkeypatch.setattr(pretrained, "checkpoints", lambda variant: entries.get(variant, ()))
    return entries
