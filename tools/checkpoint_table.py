"""Writes keras_backbones/pretrained/checkpoints.json: every checkpoint the references publish
for each registered variant, with the facts that go with it and where each was read.

    python tools/checkpoint_table.py                  # regenerate the table
    python tools/checkpoint_table.py --verify         # and check that the files' tensors map

It reads the installed torchvision and timm (the parity extra) and the official repositories'
facts typed in below (`OFFICIAL`, `WITHOUT`), each with the file it was read from:

- Which variants: every registered one. A variant's family module says which sources it can
  read (its `CHECKPOINTS` keys); `converter` is the key whose map reads the file's names.
- torchvision (variants it references): `get_model_weights(name)`, each member measured on
  ImageNet-1K: its url, the sha256 prefix torch.hub checks (the file name's `-<hex>.`),
  `meta["_metrics"]["ImageNet-1K"]`, `len(meta["categories"])` and `transforms()` (measured at
  its crop size). `meta["_file_size"]`: file_size_mib (MiB, as published).
- timm (variants it references, and torchvision-referenced variants of a family that reads
  timm, where timm has a model of the same name): `list_pretrained(model + ".*")` and each
  tag's pretrained cfg. timm downloads `model.safetensors` from the cfg's hf_hub_id first
  (timm/models/_hub.py: load_state_dict_from_hf, `_get_safe_alternatives`), else the cfg's url;
  resize_size is floor(input_size / crop_pct), as timm's eval transform computes it
  (timm/data/transforms_factory.py: transforms_imagenet_eval). Hugging Face publishes the
  sha256 only in a download's X-Linked-Etag header: None here. Accuracy: timm's results CSV,
  the rows this table needs in tools/data/timm_results_imagenet.csv (its header says from which
  commit); tags it does not list (newer tags, ImageNet-12k/22k heads) have none.
  A cfg's crop_mode other than "center" (timm's "squash": both sides resized to resize_size)
  has no field of its own: `origin["preprocessing"]` says so.
- Tags without a classifier (num_classes 0: DINO, DINOv3, MAE, SEER, in21k files without
  their head) and torchvision members not measured on ImageNet-1K (VGG16's
  IMAGENET1K_FEATURES) are left out: the table lists classifiers.
- `--verify` (not in CI: it builds every reference model) builds, for one variant per layout
  (family, converter, classes, dropped prefixes, auxiliary classifiers) -- or for every variant
  with `--every-variant` -- the reference at random init in the layout of the published file,
  saves its state dict, and imports it with `weights.import_checkpoint` into the registered
  model: the file's tensor names and shapes must map. Checkpoints found not to map are in
  `UNLOADABLE`, with why; the check reports any that fail and are not listed, or are listed
  and now load.

torchvision and timm load triton, which crashes a process that imported TensorFlow first: the
script imports them before anything else, and tests run it in a process of its own.
"""

import argparse
import collections
import csv
import dataclasses
import gc
import importlib.metadata
import inspect
import json
import math
import os
import pathlib
import re
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "keras_backbones" / "pretrained" / "checkpoints.json"
TIMM_RESULTS = pathlib.Path(__file__).resolve().parent / "data" / "timm_results_imagenet.csv"
TIMM_RESULTS_SOURCE = ("huggingface/pytorch-image-models results/results-imagenet.csv "
                       "@0173a139a2c66db3a41ebfe1d8ac4fb02483642e")

TORCHVISION_DOCS = "https://docs.pytorch.org/vision/stable/models.html"
TORCHVISION_LICENSE = (
    "torchvision's LICENSE (BSD 3-Clause); its docs (" + TORCHVISION_DOCS + "): weights 'may "
    "have their own licenses or terms ... derived from the dataset used for training'")
NO_CODE = "no code reference publishes weights"

# The files of the official repositories, read from each repository (file named in `origin`).
HARDNET = "official:PingoLH/Pytorch-HarDNet"
CADENE = "Cadene/pretrained-models.pytorch"
_HARDNET_ORIGIN = {
    "file": "PingoLH/Pytorch-HarDNet hardnet.py: HarDNet(pretrained=True) loads this URL with "
            "torch.hub (the sha256 prefix in its name)",
    "accuracy": "PingoLH/Pytorch-HarDNet README.md, Results (top-1 only)",
    "preprocessing": "PingoLH/Pytorch-HarDNet imagenet/main.py: Resize(256), CenterCrop(224), "
                     "ImageNet mean/std",
    "classes": "PingoLH/Pytorch-HarDNet hardnet.py: nn.Linear(ch, 1000)",
    "license": "PingoLH/Pytorch-HarDNet LICENSE (MIT)",
    "default": "the repository's one file for the variant",
}
_CADENE_ORIGIN = {
    "file": "Cadene/pretrained-models.pytorch pretrainedmodels/models/bninception.py: "
            "pretrained_settings['bninception']['imagenet']['url'] (http only)",
    "accuracy": "Cadene/pretrained-models.pytorch README.md, Accuracy on validation set "
                "(BNInception, our porting)",
    "preprocessing": "bninception.py pretrained_settings: BGR, input_range [0, 255], mean "
                     "[104, 117, 128], std [1, 1, 1]; pretrainedmodels/utils.py TransformImage: "
                     "Resize(floor(224 / 0.875)), CenterCrop(224); here in RGB and [0, 1] units",
    "classes": "bninception.py pretrained_settings: num_classes 1000",
    "license": "Cadene/pretrained-models.pytorch LICENSE (BSD 3-Clause)",
    "default": "the repository's one file for the variant",
}
_IMAGENET = {"input_size": [224, 224], "resize_size": 256, "crop_pct": 0.875,
             "interpolation": "bilinear", "mean": [0.485, 0.456, 0.406],
             "std": [0.229, 0.224, 0.225], "classes": 1000, "license": "mit", "top5": None,
             "eval_size": 224, "file_format": "pth", "channel_order": "RGB",
             "crop_mode": "center"}
OFFICIAL = {
    **{variant: {**_IMAGENET, "source": HARDNET, "url": f"https://ping-chao.com/hardnet/{file}",
                 "top1": top1, "origin": _HARDNET_ORIGIN}
       for variant, file, top1 in [("hardnet39ds", "hardnet39ds-0e6c6fa9.pth", 72.1),
                                   ("hardnet68ds", "hardnet68ds-632474d2.pth", 74.3),
                                   ("hardnet68", "hardnet68-5d684880.pth", 76.5),
                                   ("hardnet85", "hardnet85-a28faa00.pth", 78.0)]},
    # Trained with Caffe on BGR images in [0, 255]: the converter reverses the stem's input
    # channels, so the model takes RGB; mean and std in the registry's RGB [0, 1] units.
    "inception_v2": {
        **_IMAGENET, "source": CADENE,
        "url": "http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth",
        "mean": [128 / 255, 117 / 255, 104 / 255], "std": [1 / 255] * 3, "top1": 73.522,
        "top5": 91.56, "license": "bsd-3-clause", "channel_order": "BGR", "crop_mode": "center",
        "origin": _CADENE_ORIGIN},
}

_GOOGLE_DRIVE = ("publishes its ImageNet weights only behind Google Drive / Baidu Pan "
                 "confirmation pages (no stable direct file URL)")
WITHOUT = {
    **{f"eca_resnet{depth}": f"BangguWu/ECANet README.md {_GOOGLE_DRIVE}"
       for depth in (18, 34, 50, 101, 152)},
    "eca_mobilenet_v2": f"BangguWu/ECANet README.md {_GOOGLE_DRIVE}",
    "cbam_resnet50": "Jongchan/attention-module README.md publishes its ResNet50+CBAM "
                     "checkpoint only on Google Drive (no stable direct file URL)",
    **{f"cbam_resnet{depth}": "Jongchan/attention-module publishes ImageNet weights only for "
                              "ResNet50+CBAM" for depth in (18, 34, 101)},
    **{name: "megvii-model/ShuffleNet-Series README.md publishes its trained models only in a "
             "OneDrive folder (no stable direct file URL)"
       for name in [f"shufflenet_v1_g{g}_x{w}" for g in (3, 8)
                    for w in ("0_5", "1_0", "1_5", "2_0")]},
}

# Checkpoints whose files `--verify --every-variant` found not to map onto the registered
# model, and why (timm 1.0.31, torchvision 0.29.1; the converter of keras_backbones.weights).
_EPSILON = ("timm's efficientnet_b5 normalizes with BatchNorm epsilon 1e-5, the registered "
            "efficientnet_b5 (torchvision's) with 1e-3: the converter refuses the file")
_NO_AUXILIARY = ("the file has no auxiliary classifier, which the registered inception_v3 "
                 "builds (aux_logits=True) and the converter must fill")
UNLOADABLE = {
    "efficientnet_b5": {"timm:sw_in12k": _EPSILON, "timm:sw_in12k_ft_in1k": _EPSILON},
    "inception_v2": {
        f"{CADENE}:bn_inception-52deb4733.pth":
            "ported from Caffe under PyTorch 0.2, the file stores every BatchNorm tensor as "
            "(1, C): the converter refuses the shapes (and it is served over http only)"},
    "inception_v3": {f"timm:{tag}": _NO_AUXILIARY
                     for tag in ("gluon_in1k", "tf_adv_in1k", "tf_in1k")},
}

# The auxiliary classifiers a published file holds, where its reference builds them for its
# weights: torchvision's googlenet and inception_v3 builders set aux_logits=True to load them
# (timm's inception_v3.tv_in1k is torchvision's file). Dropped where the registered variant
# builds no auxiliary classifier to load them into.
AUXILIARY = {("torchvision", "googlenet"): ("aux1.", "aux2."),
             ("torchvision", "inception_v3"): ("AuxLogits.",),
             ("timm", "inception_v3.tv_in1k"): ("AuxLogits.",)}


@dataclasses.dataclass
class Table:
    checkpoints: dict  # {variant: [entry, ...]} (entry: every Checkpoint field but variant)
    without: dict  # {variant: reason}
    left_out: list  # [(variant, "source:tag", reason)]: published, but not a classifier

    def as_json(self):
        return {"generated_by": generated_by(), "checkpoints": self.checkpoints,
                "without": self.without}


def version(package):
    return f"{package} {importlib.metadata.version(package)}"


def generated_by():
    return f"tools/checkpoint_table.py ({version('torchvision')}, {version('timm')})"


def import_references():
    """torchvision and timm, which must come before TensorFlow in a process: they load triton,
    which crashes the process where TensorFlow was imported first."""
    if "torchvision" not in sys.modules and "tensorflow" in sys.modules:
        raise RuntimeError("The checkpoint table reads torchvision and timm, which crash a "
                           "process that imported TensorFlow first: run "
                           "tools/checkpoint_table.py in a process of its own.")
    import timm  # noqa: F401
    import torchvision  # noqa: F401


def family_maps(spec):
    return getattr(sys.modules[spec.builder.__module__], "CHECKPOINTS", {})


def _builds_auxiliary(spec):
    parameter = inspect.signature(spec.builder).parameters.get("aux_logits")
    return bool(spec.kwargs.get("aux_logits", parameter.default if parameter else False))


def _drop(spec, key):
    return [] if _builds_auxiliary(spec) else list(AUXILIARY.get(key, ()))


# --- torchvision ---------------------------------------------------------------------------

def torchvision_entries(spec, left_out):
    import torch.hub
    import torchvision

    name = spec.reference[1]
    enum = torchvision.models.get_model_weights(name)
    builder = torchvision.models.get_model_builder(name)
    # googlenet and inception_v3 build with transform_input=True for their weights: the
    # network maps ImageNet-normalized input to (x - 0.5) / 0.5 of [0, 1] pixels. The
    # registered models leave that to preprocessing, so these files' mean/std are 0.5.
    transform_input = '"transform_input", True' in inspect.getsource(builder)
    maps = family_maps(spec)
    converter = "torchvision:published" if "torchvision:published" in maps else "torchvision"
    entries = []
    for weights in enum:
        where = f"{enum.__name__}.{weights.name}"
        metrics = weights.meta["_metrics"].get("ImageNet-1K", {})
        if not weights.meta.get("categories") or any(
                math.isnan(metrics.get(k, math.nan)) for k in ("acc@1", "acc@5")):
            left_out.append((spec.name, f"torchvision:{weights.name}",
                             "no classifier measured on ImageNet-1K"))
            continue
        transforms = weights.transforms()
        crop, resize = transforms.crop_size[0], transforms.resize_size[0]
        mean, std = list(transforms.mean), list(transforms.std)
        preprocessing = f"{where}.transforms()"
        if transform_input:
            mean, std = [0.5] * 3, [0.5] * 3
            preprocessing += (f" composed with transform_input=True (torchvision.models.{name}"
                              " sets it for weights): (x - 0.5) / 0.5")
        entries.append({
            "source": "torchvision", "tag": weights.name, "default": weights is enum.DEFAULT,
            "url": weights.url, "file_format": "pth",
            "sha256": torch.hub.HASH_REGEX.search(weights.url.rsplit("/", 1)[1]).group(1),
            "converter": converter, "classes": len(weights.meta["categories"]),
            "input_size": [crop, crop], "resize_size": resize, "crop_pct": crop / resize,
            "interpolation": transforms.interpolation.value, "mean": mean, "std": std,
            "top1": metrics["acc@1"], "top5": metrics["acc@5"], "eval_size": crop,
            "license": weights.meta.get("license", "bsd-3-clause"),
            "origin": {
                "file": f"{where}.url; sha256: its name's prefix, which torch.hub checks",
                "accuracy": f"{where}.meta['_metrics']['ImageNet-1K'], at the crop size",
                "preprocessing": preprocessing + "; crop_pct = crop_size / resize_size",
                "classes": f"{where}.meta['categories']",
                "license": f"{where}.meta['license']" if "license" in weights.meta
                else TORCHVISION_LICENSE,
                "default": f"{enum.__name__}.DEFAULT",
                "converter": f"the {spec.family} family's CHECKPOINTS[{converter!r}]",
            },
            "drop": _drop(spec, ("torchvision", name)), "channel_order": "RGB",
            "crop_mode": "center",
            "file_size_mib": weights.meta.get("_file_size"),
        })
    return entries


# --- timm ----------------------------------------------------------------------------------

def timm_model(spec):
    """The timm model whose tags the variant reads, or None."""
    import timm

    source, name = spec.reference
    reads_timm = "timm" in family_maps(spec)
    if source == "timm" and not reads_timm:
        raise ValueError(f"{spec.name}: its reference is timm's {name}, but its family's "
                         "CHECKPOINTS has no 'timm' map")
    if source == "timm" or (source == "torchvision" and reads_timm and timm.list_models(name)):
        return name
    return None


def timm_results():
    with open(TIMM_RESULTS, encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {row["model"]: row for row in rows}


def _hub_url(hf_hub_id, filename):
    repo, _, revision = hf_hub_id.partition("@")
    return f"https://huggingface.co/{repo}/resolve/{revision or 'main'}/{filename}"


def _timm_file(cfg):
    """(url, file_format, sha256, origin) of the file timm downloads first for `cfg`."""
    from timm.models import _hub

    if cfg.hf_hub_id:
        filename = cfg.hf_hub_filename or _hub.HF_WEIGHTS_NAME
        if not filename.endswith(".safetensors"):
            filename = next(iter(_hub._get_safe_alternatives(filename)), filename)
        return (_hub_url(cfg.hf_hub_id, filename),
                "safetensors" if filename.endswith(".safetensors") else "pth", None,
                f"hf_hub_id {cfg.hf_hub_id!r}: the file timm loads first (_hub.py "
                "load_state_dict_from_hf); Hugging Face serves its sha256 as X-Linked-Etag "
                "at download")
    match = re.search(r"-([a-f0-9]+)\.", cfg.url.rsplit("/", 1)[1])
    return (cfg.url, "pth", match and match.group(1),
            "url (no hf_hub_id)" + ("; sha256: the prefix in its name" if match else ""))


# timm's eval crop modes that Checkpoint.crop_mode (and load_image) know.
CROP_MODES = ("center", "squash")


def timm_entries(spec, model, results, left_out):
    import timm

    default_tag = timm.models.get_pretrained_cfg(model).tag
    entries = []
    for name in timm.list_pretrained(model + ".*"):
        cfg = timm.models.get_pretrained_cfg(name)
        where = f"get_pretrained_cfg({name!r})"
        if not cfg.num_classes:
            left_out.append((spec.name, f"timm:{cfg.tag}", "no classifier (num_classes 0)"))
            continue
        url, file_format, sha256, file_origin = _timm_file(cfg)
        height, width = cfg.input_size[1:]
        row = results.get(name)
        preprocessing = f"{where}: input_size, crop_pct, interpolation, mean, std; " \
                        "resize_size = floor(input_size / crop_pct)"
        if cfg.crop_mode not in CROP_MODES:
            raise ValueError(f"{name}: crop_mode {cfg.crop_mode!r}; the table knows "
                             f"{', '.join(CROP_MODES)}.")
        preprocessing += f"; crop_mode {cfg.crop_mode!r}"
        key = ("timm", name)
        entries.append({
            "source": "timm", "tag": cfg.tag,
            "default": spec.reference[0] == "timm" and cfg.tag == default_tag,
            "url": url, "file_format": file_format, "sha256": sha256,
            "converter": "timm", "classes": cfg.num_classes,
            "input_size": [height, width], "resize_size": math.floor(height / cfg.crop_pct),
            "crop_pct": cfg.crop_pct, "interpolation": cfg.interpolation,
            "mean": list(cfg.mean), "std": list(cfg.std), "crop_mode": cfg.crop_mode,
            "top1": float(row["top1"]) if row else None,
            "top5": float(row["top5"]) if row else None,
            "eval_size": int(row["img_size"]) if row else None,
            "license": cfg.license or "not stated",
            "origin": {
                "file": f"{where}: {file_origin}",
                "accuracy": f"{TIMM_RESULTS_SOURCE}, row {name}" if row
                else f"not in {TIMM_RESULTS_SOURCE}",
                "preprocessing": preprocessing,
                "classes": f"{where}.num_classes",
                "license": f"{where}.license" if cfg.license else f"{where} states none",
                "default": f"get_pretrained_cfg({model!r}).tag is {default_tag!r}" + (
                    "" if spec.reference[0] == "timm" else
                    f"; {spec.name}'s reference is torchvision"),
                "converter": f"the {spec.family} family's CHECKPOINTS['timm']",
            },
            "drop": _drop(spec, key), "channel_order": "RGB", "file_size_mib": None,
        })
    return entries


# --- the official repositories -------------------------------------------------------------

def official_entries(spec):
    fields = OFFICIAL.get(spec.name)
    if fields is None:
        return []
    if fields["source"] not in family_maps(spec):
        raise ValueError(f"{spec.name}: its family's CHECKPOINTS has no {fields['source']!r} map")
    filename = fields["url"].rsplit("/", 1)[1]
    match = re.search(r"-([a-f0-9]+)\.", filename)
    return [{**fields, "tag": filename, "default": True, "sha256": match and match.group(1),
             "converter": fields["source"], "drop": [], "file_size_mib": None}]


# --- the table -----------------------------------------------------------------------------

def _ordered(spec, entries):
    """The default first, then the reference's own source, then the others, by tag."""
    own = spec.reference[0]
    return sorted(entries, key=lambda e: (not e["default"], e["source"] != own, e["source"],
                                          e["tag"]))


def build_table(unloadable=None):
    """The table; `unloadable` ({variant: {name: why}}, default UNLOADABLE): left out."""
    import_references()
    from keras_backbones import registry

    unloadable = UNLOADABLE if unloadable is None else unloadable
    results = timm_results()
    checkpoints, without, left_out = {}, {}, []
    for variant in registry.list_models():
        spec = registry.get_spec(variant)
        source, name = spec.reference
        entries = []
        if source == "torchvision":
            entries += torchvision_entries(spec, left_out)
        model = timm_model(spec)
        if model:
            entries += timm_entries(spec, model, results, left_out)
        entries += official_entries(spec)
        refused = unloadable.get(variant, {})
        entries = [e for e in entries if f"{e['source']}:{e['tag']}" not in refused]
        if entries:
            if not any(e["default"] for e in entries):  # the reference's default is refused
                entries[0]["default"] = True
            checkpoints[variant] = _ordered(spec, entries)
        elif refused:
            without[variant] = "; ".join(f"{n}: {why}" for n, why in sorted(refused.items()))
        elif source == "paper":
            without[variant] = NO_CODE
        elif variant in WITHOUT:
            without[variant] = WITHOUT[variant]
        elif model:
            without[variant] = f"{version('timm')} publishes no weights for {model}"
        else:
            raise ValueError(f"{variant}: no checkpoint and no reason (reference {source} "
                             f"{name!r}): add one to OFFICIAL or WITHOUT")
    return Table(checkpoints, without, left_out)


def render(table):
    return json.dumps(table.as_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def summary(table, total):
    count = sum(len(entries) for entries in table.checkpoints.values())
    sources = collections.Counter(e["source"].split(":")[0] for entries in
                                  table.checkpoints.values() for e in entries)
    return (f"{len(table.checkpoints)} of {total} variants have named weights: {count} "
            f"checkpoints ({', '.join(f'{s} {n}' for s, n in sorted(sources.items()))}); "
            f"{len(table.without)} without; {len(table.left_out)} published files left out "
            "(not classifiers)")


# --- the structural check (--verify) -------------------------------------------------------

def _legacy_densenet_names(state):
    """torchvision's DenseNet names as its published files have them ("norm.1", not "norm1")."""
    return {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
            for k, v in state.items()}


def _caffe_port_norms(module, state):
    """Cadene's bn_inception file, ported from Caffe under PyTorch 0.2, stores every BatchNorm
    tensor as (1, C)."""
    import torch

    norms = {name for name, m in module.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    return {k: v.reshape(1, -1) if k.rsplit(".", 1)[0] in norms and v.ndim == 1 else v
            for k, v in state.items()}


def auxiliary(spec, entry):
    """The auxiliary classifiers `entry`'s file holds (AUXILIARY)."""
    model = spec.reference[1] if entry["source"] == "torchvision" else (
        f"{timm_model(spec)}.{entry['tag']}" if entry["source"] == "timm" else None)
    return AUXILIARY.get((entry["source"], model), ())


def reference_state(spec, entry):
    """The state dict of the reference at random init, in the layout of `entry`'s file."""
    import torch

    from keras_backbones import parity_references

    torch.manual_seed(0)
    name = spec.reference[1]
    extra = {"aux_logits": True} if auxiliary(spec, entry) else {}
    if entry["source"] == "torchvision":
        import torchvision
        if extra:  # the aux heads' truncated-normal init is slow, and random init will do
            extra["init_weights"] = False
        module = torchvision.models.get_model(name, weights=None, num_classes=entry["classes"],
                                              **extra)
    elif entry["source"] == "timm":
        import timm
        module = timm.create_model(timm_model(spec), pretrained=False,
                                   num_classes=entry["classes"], **extra)
    else:
        module = parity_references.build(entry["source"], name, {})
    state = {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}
    if entry["converter"] == "torchvision:published":
        state = _legacy_densenet_names(state)
    if entry["source"] == CADENE:
        state = _caffe_port_norms(module, state)
    del module
    return {k: v for k, v in state.items() if not k.startswith(tuple(entry["drop"]))}


def check(variant, entry, directory):
    """None if `entry`'s file layout imports into the registered variant, else why not."""
    from safetensors.torch import save_file

    from keras_backbones import registry, weights
    from keras_backbones.backend import clear_session

    spec = registry.get_spec(variant)
    path = os.path.join(directory, "reference.safetensors")
    save_file(reference_state(spec, entry), path)
    gc.collect()
    try:
        model = registry.create_model(variant, classes=entry["classes"])
        weights.import_checkpoint(model, path, variant=variant, source=entry["converter"])
        return None
    except (weights.WeightsError, ValueError) as error:
        return str(error)
    finally:
        model = None
        os.remove(path)
        clear_session()
        gc.collect()


def layouts(every_variant):
    """[[(variant, entry), ...], ...]: every published checkpoint, grouped by what decides
    whether its file maps: family (or variant), converter, classes, dropped prefixes and
    auxiliary classifiers. Those in UNLOADABLE are checked one by one."""
    from keras_backbones import registry

    groups = {}
    for variant, entries in build_table(unloadable={}).checkpoints.items():
        spec = registry.get_spec(variant)
        for entry in entries:
            name = f"{entry['source']}:{entry['tag']}"
            key = (variant if every_variant else spec.family, entry["converter"],
                   entry["classes"], tuple(entry["drop"]), auxiliary(spec, entry),
                   name if name in UNLOADABLE.get(variant, {}) else None)
            groups.setdefault(key, []).append((variant, entry))
    return list(groups.values())


def verify(every_variant):
    """Checks one checkpoint of each layout; returns whether the results agree with
    UNLOADABLE (every checkpoint of a failing layout listed, no other)."""
    failed, groups = {}, layouts(every_variant)
    with tempfile.TemporaryDirectory() as directory:
        for group in groups:
            variant, entry = group[0]
            problem = check(variant, entry, directory)
            print(f"{'FAIL' if problem else 'ok  '} {variant} {entry['source']}:{entry['tag']} "
                  f"({entry['converter']}, {entry['classes']} classes; {len(group)} in its "
                  "layout)" + (f": {problem[:300]}" if problem else ""), flush=True)
            for member, member_entry in group if problem else ():
                failed.setdefault(member, {})[
                    f"{member_entry['source']}:{member_entry['tag']}"] = problem
    listed = {(v, n) for v, names in UNLOADABLE.items() for n in names}
    found = {(v, n) for v, names in failed.items() for n in names}
    print(f"verify: {len(groups)} layouts checked, {sum(len(g) for g in groups)} checkpoints; "
          f"{len(found)} checkpoints in failing layouts; failing but not in UNLOADABLE: "
          f"{sorted(found - listed) or 'none'}; in UNLOADABLE but loading: "
          f"{sorted(listed - found) or 'none'}")
    return found == listed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verify", action="store_true",
                        help="build the references and check that their tensors map")
    parser.add_argument("--every-variant", action="store_true",
                        help="with --verify: check every variant, not one per family")
    parser.add_argument("--out", type=pathlib.Path, default=TABLE)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import_references()
    from keras_backbones import registry

    if args.verify and not verify(args.every_variant):
        return 1
    table = build_table()
    args.out.write_text(render(table), encoding="utf-8")
    print(f"{args.out}: {summary(table, len(registry.list_models()))}")
    for variant, name, reason in table.left_out:
        print(f"  left out: {variant} {name}: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
