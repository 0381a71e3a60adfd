"""Tasks: the interface, its registry, and one file per task (each registers itself on import)."""

# Each task module registers itself on import; add new task modules here.
from seqnet.data import adding, copy_memory, mackey_glass, mnist1d, seq_digits  # noqa: F401
from seqnet.data.base import Batch, Task, TaskSpec
from seqnet.data.registry import TASK_REGISTRY, DataConfig, build_task, register_task

__all__ = [
    "TASK_REGISTRY",
    "Batch",
    "DataConfig",
    "Task",
    "TaskSpec",
    "build_task",
    "register_task",
]
