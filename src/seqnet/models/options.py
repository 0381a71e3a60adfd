"""Model options, each declared once, in a dataclass that holds its default.

A cell's own options are a small dataclass (``Cell.Options``: ``LSTMOptions``, ...) that its
constructor fills from keywords; a core's options (``compile``, and ``backend`` for the fused
cores) are ``EngineOptions`` and ``FusedOptions``. A model's config is these dataclasses put
together with ``ModelConfig`` (``LSTMConfig(LSTMOptions, FusedConfig)``), so an option that does
not apply to a model is not a key of its config (Hydra refuses it by name:
``model=gru model.chrono_tmax=100``) and its default is written in exactly one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any

from omegaconf import MISSING

from seqnet.registry import plain


@dataclass
class ModelConfig:
    """Fields every model config has; a model's own config subclasses this."""

    name: str = MISSING
    hidden_size: int = 128
    num_layers: int = 1
    # Dropout between recurrent layers (as torch.nn.LSTM's dropout); needs num_layers >= 2.
    dropout: float = 0.0
    # Output size of the input encoder: a linear layer for real inputs (null: feed the inputs
    # to the recurrent core unchanged), an embedding for token inputs.
    encoder_size: int | None = 32
    # Each recurrent layer also reads the sequence backwards, with a second cell of its own, as
    # torch.nn.LSTM(bidirectional=True): a layer's output is the two directions' states side by
    # side and its final states are (num_layers * 2, batch, hidden). For the many-to-one and the
    # aligned many-to-many tasks and the encoder of an encoder-decoder; refused for causal ones.
    bidirectional: bool = False


class RecurrentInit(Enum):
    default = "default"  # PyTorch's U(-1/sqrt(H), 1/sqrt(H))
    orthogonal = "orthogonal"  # a random orthogonal matrix per gate block of weight_hh
    identity = "identity"  # the identity in every gate block


class Backend(Enum):
    auto = "auto"  # the engine where an option needs it or where it is faster on the device
    fused = "fused"  # PyTorch's fused kernel (cuDNN, oneDNN)
    stepped = "stepped"  # seqnet's step-by-step engine, same parameters


class Nonlinearity(Enum):
    tanh = "tanh"
    relu = "relu"


@dataclass
class NoOptions:
    """The options of a cell that has none of its own."""


@dataclass
class GatedOptions:
    """Options of the LSTM and GRU families."""

    # Krueger et al. 2017: probability that a unit keeps its previous state at a training step
    # (every state: h, and c for LSTMs); evaluation uses the expectation. In [0, 1).
    zoneout: float = 0.0
    recurrent_init: RecurrentInit = RecurrentInit.default


@dataclass
class ForgetGateOptions:
    """Options of the cells with a forget gate (the LSTM family, minLSTM)."""

    # Initial forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015): set once, in bias_ih.
    forget_bias: float = 1.0
    # Chrono initialisation (Tallec and Ollivier 2018): forget bias log(U[1, T_max - 1]), input
    # bias its negative; replaces forget_bias. null = off; e.g. the task's sequence length.
    chrono_tmax: int | None = None


@dataclass
class LSTMOptions(ForgetGateOptions, GatedOptions):
    """Options of the LSTM family."""


@dataclass
class EngineOptions:
    """The option of every core that runs on seqnet's engine (the variants; rnn, lstm and gru
    where ``backend`` or zoneout puts them there)."""

    # torch.compile what the core trains with: each cell's step, or a scan model's scan (the
    # gradient probes always run eager). Whether it pays depends on the device: see the docs'
    # performance page. It changes nothing where a model runs on a fused kernel.
    compile: bool = False


@dataclass
class FusedOptions:
    """The option of the cores that wrap PyTorch's fused layers (rnn, lstm, gru)."""

    # auto: the fused kernel, or the engine where an option needs it (zoneout) or where the
    # engine was measured faster on the device; fused; stepped (the engine, same parameters).
    backend: Backend = Backend.auto


@dataclass
class EngineConfig(EngineOptions, ModelConfig):
    """The config of a model that runs on the engine: ``ModelConfig`` plus ``compile``."""


@dataclass
class FusedConfig(FusedOptions, EngineConfig):
    """The config of a model on a fused core: ``EngineConfig`` plus ``backend``."""


def option_names(*schemas: type) -> set[str]:
    """The field names of the option dataclasses ``schemas``."""
    return {f.name for schema in schemas for f in dataclasses.fields(schema)}


def fill_options(schema: type, given: dict[str, Any], owner: str) -> dict[str, Any]:
    """``given`` with the defaults of the dataclass ``schema`` for the options it leaves out, as
    plain values; a ``ValueError`` naming ``owner`` and its options for a name it lacks."""
    known = option_names(schema)
    unknown = sorted(set(given) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise ValueError(f"{owner} has no option(s) {unknown}; its options: {listed}")
    filled = dataclasses.asdict(schema(**given))
    return {name: plain(value) for name, value in filled.items()}
