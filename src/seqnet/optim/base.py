"""The optimizer registry: ``register_optimizer(name, config)`` makes ``optim=<name>`` a choice,
type-checked against ``config``, whose ``_target_`` names the optimizer class."""

from __future__ import annotations

from dataclasses import dataclass

from hydra.utils import get_class
from omegaconf import MISSING

from seqnet.registry import Entry, Registry


@dataclass
class OptimConfig:
    """Fields every optimizer config has; an optimizer's own config subclasses this."""

    _target_: str = MISSING
    # The optimizer's parameters exist only after the model is built.
    _partial_: bool = True
    lr: float = 1e-3
    weight_decay: float = 0.0


OPTIMIZER_REGISTRY: Registry[type] = Registry("optimizer")


def register_optimizer(name: str, config: type[OptimConfig]) -> None:
    """Make ``optim=<name>`` build ``config._target_`` (a ``torch.optim.Optimizer`` class) with
    the config's fields, validated by ``config``."""
    if name in OPTIMIZER_REGISTRY:
        raise ValueError(f"optimizer {name!r} is already registered by {OPTIMIZER_REGISTRY[name]}")
    OPTIMIZER_REGISTRY[name] = Entry(get_class(config._target_), config)
