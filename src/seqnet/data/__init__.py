"""Tasks: the interface and its registry (``task``), the shared parts (seeds, fixed splits,
generated data, the on-disk cache, losses and metrics by kind of target), and ``tasks``: one file
per ``data=NAME``."""

from seqnet.data import tasks  # noqa: F401  (each task module registers itself)
from seqnet.data.task import (
    TASK_REGISTRY,
    Batch,
    DataConfig,
    Decoded,
    Task,
    TaskSpec,
    build_task,
    register_task,
)

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
