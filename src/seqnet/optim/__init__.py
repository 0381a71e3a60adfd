"""Optimizers: ``optim=<name>`` picks a registered optimizer config, one file per optimizer in this
package (its config dataclass, which holds every default, and one registration line). Importing
the package imports every module in it, so a new optimizer is a new file here (and its YAML in
``configs/optim/``). Beside them: ``checks`` (the value checks every optimizer config gets) and
``schedulers`` (the ``scheduler=<name>`` configs)."""

from importlib import import_module
from pkgutil import iter_modules

from seqnet.optim.base import OPTIMIZER_REGISTRY, OptimConfig, register_optimizer

__all__ = ["OPTIMIZER_REGISTRY", "OptimConfig", "register_optimizer"]

for _module in sorted(m.name for m in iter_modules(__path__)):
    import_module(f"{__name__}.{_module}")
