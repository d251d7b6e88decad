"""One module per family. Importing this package registers every variant: each module here
whose name does not start with an underscore is a family module, found by listing the folder
(a new family is registered by adding its file)."""

import importlib
import pkgutil

__all__ = []
for _module in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
    _family = importlib.import_module(f"{__name__}.{_module}")
    globals().update({name: getattr(_family, name) for name in _family.__all__})
    __all__ += _family.__all__

# Generic builders renamed for one naming rule (the family's name; where a variant's
# constructor has it, that constructor is the builder): the old names still work, with a
# DeprecationWarning.
RENAMED = {"EfficientNetNet": "EfficientNet", "EfficientNetV2Net": "EfficientNetV2",
           "MNASNetNet": "MNASNet", "VGGNet": "VGG", "MobileNetV1Net": "MobileNetV1",
           "MobileNetV2Net": "MobileNetV2", "MobileNetV3Net": "MobileNetV3"}


def __getattr__(name):
    if name in RENAMED:
        import warnings

        warnings.warn(f"keras_backbones.{name} is now keras_backbones.{RENAMED[name]}.",
                      DeprecationWarning, stacklevel=2)
        return globals()[RENAMED[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
