"""``optim=adam``: ``torch.optim.Adam``."""

from dataclasses import dataclass, field

from seqnet.optim.base import OptimConfig, register_optimizer


@dataclass
class AdamConfig(OptimConfig):
    _target_: str = "torch.optim.Adam"
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8


register_optimizer("adam", AdamConfig)
