"""Model registry: ``model=<name>`` builds a registered model; a config or checkpoint can build
nothing else. A new model is one file (its config dataclass + ``@register_model`` class), one
import line in ``seqnet/models/__init__.py`` and one YAML in ``configs/model/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, TypeVar

from omegaconf import MISSING, DictConfig, OmegaConf

from seqnet.data.base import TaskSpec
from seqnet.models.sequence_model import SequenceModel


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


class ModelEntry(NamedTuple):
    cls: type[SequenceModel]
    config: type[ModelConfig]


MODEL_REGISTRY: dict[str, ModelEntry] = {}
M = TypeVar("M", bound=type[SequenceModel])


def register_model(name: str, config: type[ModelConfig]) -> Callable[[M], M]:
    """Class decorator: make ``model=<name>`` build this class, validated by ``config``."""

    def decorate(cls: M) -> M:
        if name in MODEL_REGISTRY:
            raise ValueError(f"model {name!r} is already registered by {MODEL_REGISTRY[name].cls}")
        MODEL_REGISTRY[name] = ModelEntry(cls, config)
        return cls

    return decorate


def build_model(cfg: DictConfig | dict[str, Any], spec: TaskSpec) -> SequenceModel:
    """Build the model named ``cfg.name`` for a task of shape ``spec``."""
    params = (
        OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        if isinstance(cfg, DictConfig)
        else dict(cfg)
    )
    assert isinstance(params, dict)
    name = params.pop("name", None)
    if name not in MODEL_REGISTRY:
        raise KeyError(
            f"unknown model {name!r}; registered models: {', '.join(sorted(MODEL_REGISTRY))}"
        )
    entry = MODEL_REGISTRY[name]
    known = {f.name for f in fields(entry.config)} - {"name"}
    unknown = set(params) - known
    if unknown:
        raise KeyError(f"model {name!r} has no option(s) {sorted(unknown)}; known: {sorted(known)}")
    return entry.cls(spec, **params)
