"""The registered models, one file per ``model=NAME``: its cell (or fused core), its config and
its registration. Importing this package imports every module in it, so each registers itself:
a new model is a new file here (and its YAML in ``configs/model/``), with no list to extend."""

from importlib import import_module
from pkgutil import iter_modules

for _module in sorted(m.name for m in iter_modules(__path__)):
    import_module(f"{__name__}.{_module}")
