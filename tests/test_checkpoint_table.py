"""The table of published checkpoints (keras_backbones/pretrained/checkpoints.json, written by
tools/checkpoint_table.py): every registered variant with a code reference has a checkpoint or
the reason it has none, and every entry is one the loader can use. The parity-marked test
regenerates the table from the installed torchvision and timm: it must be current."""

import dataclasses
import json
import math
import os
import re
import subprocess
import sys

import pytest

from keras_backbones import registry
from keras_backbones.pretrained import table
from tests import support

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "tools", "checkpoint_table.py")
# Every Checkpoint field but `variant`, as the JSON holds them.
FIELDS = {f.name for f in dataclasses.fields(table.Checkpoint)} - {"variant"}
ORIGINS = {"file", "accuracy", "preprocessing", "classes", "license", "default"}
INTERPOLATIONS = {"bilinear", "bicubic", "nearest"}


def _data():
    with open(table.TABLE, encoding="utf-8") as f:
        return json.load(f)


def _family_maps(variant):
    spec = registry.get_spec(variant)
    return getattr(sys.modules[spec.builder.__module__], "CHECKPOINTS", {})


def test_every_variant_with_a_code_reference_has_a_checkpoint_or_a_reason():
    data = _data()
    listed, without = data["checkpoints"], data["without"]
    for variant in registry.list_models():
        has_code = registry.get_spec(variant).reference[0] != "paper"
        assert (variant in listed) != (variant in without), \
            f"{variant}: in {'both' if variant in listed else 'neither'} of checkpoints/without"
        if not has_code:
            assert variant not in listed, f"{variant}'s reference is a paper: whose weights?"
        if variant in without:
            assert without[variant].strip(), f"{variant}: no reason given"
    unknown = (set(listed) | set(without)) - set(registry.list_models())
    assert not unknown, f"the table names unregistered variants: {sorted(unknown)}"


def _problems(variant, entries):
    """What is wrong with a variant's entries, as sentences (empty: nothing)."""
    problems = []
    defaults = [i for i, entry in enumerate(entries) if entry["default"]]
    if defaults != [0]:
        problems.append(f"default at {defaults}: exactly one, and first")
    names = [f"{e['source']}:{e['tag']}" for e in entries]
    if len(set(names)) != len(names):
        problems.append(f"repeated names in {names}")
    maps = _family_maps(variant)
    for name, entry in zip(names, entries):
        def bad(what, entry=entry):
            problems.append(f"{name}: {what}")

        if set(entry) != FIELDS:
            bad(f"fields {sorted(set(entry) ^ FIELDS)} differ from Checkpoint's")
            continue
        if entry["converter"] not in maps:
            bad(f"converter {entry['converter']!r} is not one of {sorted(maps)}")
        if not entry["url"].startswith("https://"):
            bad(f"url {entry['url']!r} is not https")
        if entry["file_format"] not in ("pth", "safetensors") or \
                entry["url"].endswith(".safetensors") != (entry["file_format"] == "safetensors"):
            bad(f"file_format {entry['file_format']!r} for {entry['url']}")
        if entry["sha256"] is not None and not re.fullmatch(r"[0-9a-f]{8,64}", entry["sha256"]):
            bad(f"sha256 {entry['sha256']!r} is not lower-case hex")
        if not (isinstance(entry["classes"], int) and entry["classes"] > 0):
            bad(f"classes {entry['classes']!r}")
        height, width = entry["input_size"]
        if not (isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0):
            bad(f"input_size {entry['input_size']!r}")
        if not (0 < entry["crop_pct"] <= 1 and entry["resize_size"] >= min(height, width)):
            bad(f"crop_pct {entry['crop_pct']}, resize_size {entry['resize_size']}")
        if entry["interpolation"] not in INTERPOLATIONS:
            bad(f"interpolation {entry['interpolation']!r} not in {sorted(INTERPOLATIONS)}")
        if len(entry["mean"]) != 3 or len(entry["std"]) != 3 or min(entry["std"]) <= 0:
            bad(f"mean {entry['mean']}, std {entry['std']}")
        if entry["channel_order"] not in ("RGB", "BGR"):
            bad(f"channel_order {entry['channel_order']!r}")
        if entry.get("crop_mode", "center") not in ("center", "squash"):
            bad(f"crop_mode {entry['crop_mode']!r}")
        for key in ("top1", "top5"):
            value = entry[key]
            if value is not None and not (0 < value <= 100 and math.isfinite(value)):
                bad(f"{key} {value!r}")
        if entry["top1"] is not None and entry["top5"] is not None and \
                entry["top1"] > entry["top5"]:
            bad(f"top1 {entry['top1']} > top5 {entry['top5']}")
        if (entry["top1"] is None) != (entry["eval_size"] is None):
            bad("an accuracy without its evaluation size, or the reverse")
        if not all(isinstance(prefix, str) and prefix for prefix in entry["drop"]):
            bad(f"drop {entry['drop']!r}")
        if not entry["license"]:
            bad("no license")
        if not ORIGINS <= set(entry["origin"]):
            bad(f"origin lacks {sorted(ORIGINS - set(entry['origin']))}")
    return problems


def test_every_entry_is_well_formed():
    problems = {variant: found for variant, entries in _data()["checkpoints"].items()
                if (found := _problems(variant, entries))}
    assert not problems, "\n".join(f"{variant}: {'; '.join(found)}"
                                   for variant, found in problems.items())


def test_well_formedness_check_catches_a_bad_entry():
    """_problems is not vacuous: a spoiled copy of a real entry is named for each fault."""
    entry = dict(_data()["checkpoints"]["resnet50"][0])
    spoiled = {**entry, "default": False, "converter": "keras", "url": "ftp://x/y.pth",
               "sha256": "ABC", "classes": 0, "mean": [0.5], "interpolation": "area"}
    problems = " ".join(_problems("resnet50", [spoiled]))
    for fault in ("default", "converter", "url", "sha256", "classes", "mean", "interpolation"):
        assert fault in problems, f"{fault} not caught: {problems}"


def test_the_table_loads_as_checkpoints():
    data = _data()
    for variant, entries in data["checkpoints"].items():
        loaded = table.checkpoints(variant)
        assert [c.name for c in loaded] == [f"{e['source']}:{e['tag']}" for e in entries]
        assert loaded[0].default and loaded[0].variant == variant
        assert all(isinstance(c.input_size, tuple) and isinstance(c.mean, tuple) for c in loaded)
    assert table.without_checkpoints() == data["without"]
    assert table.checkpoints("no_such_variant") == ()


def test_defaults_are_the_references_own():
    """`weights="imagenet"` is the reference's default: torchvision's DEFAULT for the variants
    it references, timm's first tag for timm's (both read when the table was made)."""
    for variant, entries in _data()["checkpoints"].items():
        source = registry.get_spec(variant).reference[0]
        if source in ("torchvision", "timm"):
            assert entries[0]["source"] == source, \
                f"{variant}: default from {entries[0]['source']}, its reference is {source}"


@pytest.mark.parity
@support.needs_torch("the table is read from torchvision and timm")
def test_the_table_is_current(tmp_path):
    """Regenerated from the installed torchvision and timm, the table is the one shipped. In a
    process of its own: torchvision and timm crash one that imported TensorFlow first."""
    out = tmp_path / "checkpoints.json"
    done = subprocess.run([sys.executable, TOOL, "--out", str(out)], cwd=ROOT, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    fresh, shipped = json.loads(out.read_text(encoding="utf-8")), _data()
    if fresh["generated_by"] != shipped["generated_by"]:
        pytest.skip(f"the table was made by {shipped['generated_by']}; installed: "
                    f"{fresh['generated_by']} (regenerate it with tools/checkpoint_table.py)")
    def facts(data, variant):
        return data["checkpoints"].get(variant), data["without"].get(variant)

    variants = {*fresh["checkpoints"], *fresh["without"], *shipped["checkpoints"],
                *shipped["without"]}
    stale = sorted(v for v in variants if facts(fresh, v) != facts(shipped, v))
    assert not stale, f"checkpoints.json is stale for {stale}: run tools/checkpoint_table.py"
    assert out.read_text(encoding="utf-8") == open(table.TABLE, encoding="utf-8").read(), \
        "checkpoints.json is not as tools/checkpoint_table.py writes it: run it"
