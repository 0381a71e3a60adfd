"""Config fields shared by several models: each model's config takes the group of options that
applies to it, so an option that does not apply is not a key of its config (Hydra refuses it by
name: ``model=gru model.chrono_tmax=100``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from seqnet.models.registry import ModelConfig


class RecurrentInit(Enum):
    default = "default"  # PyTorch's U(-1/sqrt(H), 1/sqrt(H))
    orthogonal = "orthogonal"  # a random orthogonal matrix per gate block of weight_hh
    identity = "identity"  # the identity in every gate block


class Backend(Enum):
    auto = "auto"  # the engine where an option needs it or where it is faster on the device
    fused = "fused"  # PyTorch's fused kernel (cuDNN, oneDNN)
    stepped = "stepped"  # seqnet's step-by-step engine, same parameters


@dataclass
class EngineConfig(ModelConfig):
    """The option of every model that runs on the step-by-step engine (the variants; rnn, lstm
    and gru where ``backend`` or zoneout puts them there)."""

    # torch.compile each cell's step for training (the probes run eager): on an H200 an LSTM
    # training step took 0.84x of the eager step's time, after a first step of 3.9 s; on the
    # 2-core development CPU 1.3-1.5x of the whole-sequence kernel's that it replaces (slower).
    # It changes nothing where a model runs on a fused kernel.
    compile: bool = False


@dataclass
class GatedConfig(EngineConfig):
    """Options of the LSTM and GRU families."""

    # Krueger et al. 2017: probability that a unit keeps its previous state at a training step
    # (every state: h, and c for LSTMs); evaluation uses the expectation. In [0, 1).
    zoneout: float = 0.0
    recurrent_init: RecurrentInit = RecurrentInit.default


@dataclass
class LSTMFamilyConfig(GatedConfig):
    """Options of the LSTM family (models with a forget gate)."""

    # Initial forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015): set once, in bias_ih.
    forget_bias: float = 1.0
    # Chrono initialisation (Tallec and Ollivier 2018): forget bias log(U[1, T_max - 1]), input
    # bias its negative; replaces forget_bias. null = off; e.g. the task's sequence length.
    chrono_tmax: int | None = None


@dataclass
class ScanConfig(ModelConfig):
    """Options of the models trained with a scan (minGRU, minLSTM)."""

    # torch.compile the scan's elementwise math (training only; the probes run eager): training
    # steps 1.1x faster for minGRU on CPU here, after a one-off compile of a few seconds.
    compile: bool = False
