"""What the tests share: the reference parameter table, representative variants, small inputs."""

import csv
import pathlib
import re

import numpy as np

from keras_backbones import registry

ROOT = pathlib.Path(__file__).resolve().parent.parent
PARAMS_TSV = ROOT / "tests" / "data" / "params.tsv"
SHARED_PARAMS_TSV = ROOT.parent / "shared" / "reference" / "params.tsv"

# Input side used for the quick checks: small, but at least the network's minimum.
SMALL_SIZE = {"AlexNet": 96}
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


def families():
    """{family: [variant names in registration order]}."""
    out = {}
    for name in registry.list_models():
        out.setdefault(registry.get_spec(name).family, []).append(name)
    return out


def representatives():
    """One variant per family: the first registered (each family registers its smallest first)."""
    return [names[0] for names in families().values()]


def small_shape(name):
    spec = registry.get_spec(name)
    height, width, channels = spec.preprocessing.input_size
    side = SMALL_SIZE.get(spec.family, min(DEFAULT_SMALL_SIZE, height))
    return (side, side, channels)


def random_images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, *shape)).astype(np.float32)
