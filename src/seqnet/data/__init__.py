"""Tasks: the interface, its registry, and one file per task (each registers itself on import)."""

from seqnet.data import adding  # noqa: F401  (registers "adding"; add new task modules here)
from seqnet.data.base import Batch, Decoded, Task, TaskSpec
from seqnet.data.registry import TASK_REGISTRY, DataConfig, build_task, register_task

__all__ = [
    "TASK_REGISTRY",
    "Batch",
    "DataConfig",
    "Decoded",
    "Task",
    "TaskSpec",
    "build_task",
    "register_task",
]
