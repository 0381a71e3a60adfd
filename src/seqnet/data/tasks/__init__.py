"""The built-in tasks, one file per ``data=NAME``. Importing this package imports every module in
it, so each registers itself: a new task is a new file here (and its YAML in ``configs/data/``),
with no list to extend."""

from importlib import import_module
from pkgutil import iter_modules

for _module in sorted(m.name for m in iter_modules(__path__)):
    import_module(f"{__name__}.{_module}")
