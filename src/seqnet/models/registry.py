"""Model registry: ``model=<name>`` builds a registered model; a config or checkpoint can build
nothing else. A new model is one file (its config dataclass + ``@register_model`` class), one
import line in ``seqnet/models/__init__.py`` and one YAML in ``configs/model/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import MISSING, DictConfig

from seqnet.data.base import TaskSpec
from seqnet.models.sequence_model import SequenceModel
from seqnet.registry import Registry

M = TypeVar("M", bound=type[SequenceModel])


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


MODEL_REGISTRY: Registry[type[SequenceModel]] = Registry("model")


def register_model(name: str, config: type[ModelConfig]) -> Callable[[M], M]:
    """Class decorator: make ``model=<name>`` build this class, validated by ``config``."""
    return MODEL_REGISTRY.register(name, config)


def build_model(cfg: DictConfig | dict[str, Any], spec: TaskSpec) -> SequenceModel:
    """Build the model named ``cfg.name`` for a task of shape ``spec``."""
    cls, params = MODEL_REGISTRY.resolve(cfg)
    return cls(spec, **params)
