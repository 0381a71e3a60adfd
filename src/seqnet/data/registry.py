"""Task registry: ``data=<name>`` builds a registered task; nothing else can be built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, TypeVar

import torch
from omegaconf import MISSING, DictConfig, OmegaConf

from seqnet.data.base import Task


@dataclass
class DataConfig:
    """Fields every task config has; a task's own config subclasses this."""

    name: str = MISSING
    seq_len: int = 50
    batch_size: int = 64
    val_size: int = 1024
    # The validation set (and the gradient probe batch drawn from it) has its own seed, so runs
    # with different training seeds are measured on the same sequences.
    val_seed: int = 1234


class TaskEntry(NamedTuple):
    cls: type[Task]
    config: type[DataConfig]


TASK_REGISTRY: dict[str, TaskEntry] = {}
T = TypeVar("T", bound=type[Task])


def register_task(name: str, config: type[DataConfig]) -> Callable[[T], T]:
    """Class decorator: make ``data=<name>`` build this task, validated by ``config``."""

    def decorate(cls: T) -> T:
        if name in TASK_REGISTRY:
            raise ValueError(f"task {name!r} is already registered by {TASK_REGISTRY[name].cls}")
        TASK_REGISTRY[name] = TaskEntry(cls, config)
        return cls

    return decorate


def build_task(cfg: DictConfig | dict[str, Any], device: torch.device | str = "cpu") -> Task:
    """Build the task named ``cfg.name`` with the remaining fields as constructor arguments."""
    params = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    assert isinstance(params, dict)
    name = params.pop("name", None)
    if name not in TASK_REGISTRY:
        raise KeyError(
            f"unknown task {name!r}; registered tasks: {', '.join(sorted(TASK_REGISTRY))}"
        )
    entry = TASK_REGISTRY[name]
    known = {f.name for f in fields(entry.config)} - {"name"}
    unknown = set(params) - known
    if unknown:
        raise KeyError(f"task {name!r} has no option(s) {sorted(unknown)}; known: {sorted(known)}")
    return entry.cls(**params, device=device)
