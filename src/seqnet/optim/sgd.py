"""``optim=sgd``: ``torch.optim.SGD``."""

from dataclasses import dataclass

from seqnet.optim.base import OptimConfig, register_optimizer


@dataclass
class SGDConfig(OptimConfig):
    _target_: str = "torch.optim.SGD"
    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False


register_optimizer("sgd", SGDConfig)
