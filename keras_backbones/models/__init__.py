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
