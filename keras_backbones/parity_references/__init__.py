"""The reference networks that torchvision and timm do not publish, for `keras-backbones
parity` and the parity tests: official repositories not on PyPI, papers without code, and
reference options that their builders do not take by name.

One module per family, each with `build(source, name, options)`: the torch module of the
registered variant's reference (`registry.get_spec(name).reference`), or None where it has
none. They import torch (and torchvision, timm), so they run only in the reference child
process of `keras_backbones.parity`; importing this package imports none of them.
"""

import importlib

# Asked in this order; the first that builds the reference wins.
FAMILIES = ("resnet", "convnext", "hardnet", "inception", "mobile", "shufflenet", "squeezenet",
            "swin", "vit")


def build(source, name, options):
    """The reference of the registered variant `name` (with `options`), or None."""
    for family in FAMILIES:
        built = importlib.import_module(f"{__name__}.{family}").build(source, name, options)
        if built is not None:
            return built
    return None
