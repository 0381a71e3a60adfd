"""The training progress bar: step, loss and steps/s."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


def training_progress(enabled: bool = True) -> Progress:
    """A rich progress bar; update it with ``advance`` and the ``loss`` field."""
    return Progress(
        TextColumn("[bold]train"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.4g}"),
        TextColumn("{task.fields[rate]:.1f} steps/s"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )
