"""``optim=rmsprop``: ``torch.optim.RMSprop``."""

from dataclasses import dataclass

from seqnet.optim.base import OptimConfig, register_optimizer


@dataclass
class RMSpropConfig(OptimConfig):
    _target_: str = "torch.optim.RMSprop"
    alpha: float = 0.99
    eps: float = 1e-8
    momentum: float = 0.0


register_optimizer("rmsprop", RMSpropConfig)
