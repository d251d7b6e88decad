"""Imports: every public submodule of the package imports as the first import of a fresh
interpreter (the package's lazy attributes once looped `import keras_backbones.layers` back
into itself), `import keras_backbones` alone does not import TensorFlow, and the lazy
attributes resolve the public constructors and nothing else."""

import concurrent.futures
import pkgutil
import subprocess
import sys

import keras_backbones
from tests import support

PUBLIC_SUBMODULES = sorted(m.name for m in pkgutil.iter_modules(keras_backbones.__path__)
                           if not m.name.startswith("_"))


def run_python(code):
    """Runs `code` in a fresh interpreter from the repository root: (exit code, output)."""
    done = subprocess.run([sys.executable, "-c", code], cwd=support.ROOT, capture_output=True,
                          text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


FIRST_IMPORTS = [
    *(f"import keras_backbones.{name}" for name in PUBLIC_SUBMODULES),
    # `from package import name` asks the package's __getattr__ before importing the module.
    "from keras_backbones import layers",
]


def test_every_submodule_imports_first():
    # Each in an interpreter of its own (most import TensorFlow: seconds), a few at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(FIRST_IMPORTS, pool.map(run_python, FIRST_IMPORTS)))
    failures = {statement: output[-2000:] for statement, (code, output) in results.items() if code}
    assert not failures, "\n\n".join(f"{s}:\n{output}" for s, output in failures.items())


def test_the_package_alone_does_not_import_tensorflow():
    code, output = run_python("import sys, keras_backbones; keras_backbones.__version__; "
                              "print(sorted(m for m in sys.modules if m.startswith('tensorflow')"
                              " or m.startswith('keras_backbones.')))")
    assert code == 0 and output.strip() == "[]", output[-3000:]


def test_lazy_attributes_are_the_constructors_and_registry_functions():
    from keras_backbones import models, registry

    assert keras_backbones.ResNet50 is models.ResNet50
    assert keras_backbones.create_model is registry.create_model
    for name in ("NoSuchModel", "no.such", "_private", ""):
        assert not hasattr(keras_backbones, name), name
    assert {"ResNet50", "create_model", "list_models"} <= set(dir(keras_backbones))


def test_the_export_package_names_its_modules():
    """Its docstring says what each module does (it once said SavedModels came 'later')."""
    import keras_backbones.export as export

    modules = [m.name for m in pkgutil.iter_modules(export.__path__)]
    assert modules and [m for m in modules if f"`{m}`" not in export.__doc__] == []
    assert "later" not in export.__doc__
