"""Task registry: ``data=<name>`` builds a registered task; nothing else can be built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from omegaconf import MISSING, DictConfig

from seqnet.data.base import Task
from seqnet.registry import Registry

T = TypeVar("T", bound=type[Task])


@dataclass
class DataConfig:
    """Fields every task config has; a task's own config subclasses this and adds only the keys
    that apply to it (``seq_len`` for a generated task, not for a fixed data set), so Hydra
    refuses the others by name."""

    name: str = MISSING
    batch_size: int = 64


TASK_REGISTRY: Registry[type[Task]] = Registry("task")


def register_task(name: str, config: type[DataConfig]) -> Callable[[T], T]:
    """Class decorator: make ``data=<name>`` build this task, validated by ``config``."""
    return TASK_REGISTRY.register(name, config)


def build_task(cfg: DictConfig | dict[str, Any], device: torch.device | str = "cpu") -> Task:
    """Build the task named ``cfg.name`` with the remaining fields as constructor arguments."""
    cls, params = TASK_REGISTRY.resolve(cfg)
    return cls(**params, device=device)
