"""The package's layers import only downwards (ARCHITECTURE.md, "Layers of the package"):
read from the source, so a new import that crosses a boundary fails here with its file."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_backbones"

# What each part may import (besides itself). Imports inside functions count too: a late
# import is still a dependency.
ALLOWED = {
    "backend": set(),
    "files": set(),
    "initializers": {"backend"},
    "stats": {"backend"},
    "layers": {"backend", "initializers"},
    "fusion": {"backend", "layers"},  # BatchNormalization folded for inference: any Keras model
    # registry, weights, pretrained and models form one tier: the registry imports the models
    # to register them (on first use), the models register themselves, name their checkpoints
    # and load their published weights (pretrained: the table, downloads, conversion).
    "registry": {"backend", "files", "models", "pretrained", "stats", "weights"},
    "weights": {"backend", "files", "registry", "torch_pickle"},
    "torch_pickle": set(),  # PyTorch's file formats read with NumPy alone
    "pretrained": {"backend", "data", "files", "registry", "weights"},
    "models": {"backend", "initializers", "layers", "pretrained", "registry", "weights"},
    "data": {"backend", "registry"},
    "training": {"backend", "data", "files", "layers", "registry", "weights"},
    "export": {"backend", "data", "files", "fusion", "layers", "pretrained", "registry",
               "training.recipe", "weights"},
    "parity": {"backend", "parity_references", "registry", "weights"},
    "parity_references": set(),  # the reference networks: torch only, never TensorFlow
    "benchmark": {"backend", "export", "fusion", "peers", "registry", "stats"},
    # the other runtimes a user could pick (PyTorch in a child process, onnxruntime)
    "peers": {"backend", "export", "fusion", "parity", "parity_references", "registry"},
    "cli": {"backend", "benchmark", "data", "docs", "export", "parity", "pretrained", "registry",
            "training", "weights"},
    # the documentation site's generated pages: what the registry, the checkpoint table, the
    # recipes and the command line know (the API pages import the modules they document)
    "docs": {"cli", "pretrained", "registry", "training.recipe"},
    "__init__": {"registry", "models", "pretrained"},
}


def part(module):
    """The part of the package a dotted module name belongs to (`keras_backbones.layers.x`
    -> "layers"); "training.recipe" where export's one allowed training module is meant."""
    names = module.split(".")[1:]
    if not names:
        return "__init__"
    if names[:2] == ["training", "recipe"]:
        return "training.recipe"
    return names[0]


def imports(path):
    """(line, imported module, imported names) of every keras_backbones import in `path`."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                node.module.split(".")[0] == "keras_backbones":
            if node.module == "keras_backbones":  # from keras_backbones import layers
                for alias in node.names:
                    yield node.lineno, f"keras_backbones.{alias.name}", []
            else:
                yield node.lineno, node.module, [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "keras_backbones":
                    yield node.lineno, alias.name, []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests"):
            yield node.lineno, node.module, []


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_what_its_layer_may(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    source = "__init__" if parts == ("__init__",) else parts[0]
    allowed = ALLOWED[source] | {source}
    wrong = []
    for line, imported, names in imports(path):
        if imported.startswith("tests"):
            wrong.append(f"line {line}: the product imports the tests ({imported})")
            continue
        target = part(imported)
        if target == "training" and "training.recipe" in allowed and imported.endswith(
                ".training") and names == ["recipe"]:
            target = "training.recipe"  # from keras_backbones.training import recipe
        if target not in allowed and target.split(".")[0] != source:
            wrong.append(f"line {line}: {source} imports {imported}")
        # A private name of another module is that module's business; a private module
        # (models/_builder.py) serves its own package only.
        for name in names:
            if name.startswith("_") and not name.startswith("__"):
                folder = PACKAGE.parent.joinpath(*imported.split("."))
                private_module = (folder / f"{name}.py").exists()
                if not (private_module and folder == path.parent):
                    wrong.append(f"line {line}: imports the private {imported}.{name}")
        if imported.split(".")[-1].startswith("_") and \
                PACKAGE.parent.joinpath(*imported.split(".")[:-1]) != path.parent:
            wrong.append(f"line {line}: imports {imported}, private to its package")
    assert not wrong, "\n".join(wrong)
