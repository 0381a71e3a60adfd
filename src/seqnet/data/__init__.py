"""Tasks: the interface, its registry, and one file per task (each registers itself on import)."""

# Each task module registers itself on import; add new task modules here.
from seqnet.data import (  # noqa: F401
    adding,
    char_lm,
    copy_memory,
    digit_caption,
    digits,
    mackey_glass,
    mnist1d,
    seq2seq,
    seq_digits,
    sine_gen,
)
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
