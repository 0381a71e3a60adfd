"""Truncated backpropagation through time: the recurrent state carried from one training batch
to the next, for tasks whose consecutive batches continue the same sequences
(``Task.continues_stream``, e.g. ``char_lm``'s parallel streams of text).

The state is detached at every batch boundary, so gradients stop there (the truncation), and it
is saved in checkpoints, so a resumed run continues the streams bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from seqnet.data import Task

State = Tensor | tuple[Tensor, ...]


def map_state(fn: Callable[[Tensor], Tensor], state: State) -> State:
    """``fn`` applied to the state's tensor, or to each tensor of an LSTM's (h, c)."""
    return fn(state) if isinstance(state, Tensor) else tuple(fn(s) for s in state)


def detach_state(state: State) -> State:
    return map_state(Tensor.detach, state)


class CarriedState:
    """The final state of the last training batch, kept when the next batch continues it."""

    def __init__(self, task: Task, device: Any = None) -> None:
        self.task, self.device = task, device
        self.state: State | None = None

    def restore(self, saved: State | None) -> None:
        """The state a checkpoint saved (this rank's rows), on this run's device."""
        self.state = None if saved is None else map_state(lambda s: s.to(self.device), saved)

    def initial(self, step: int) -> State | None:
        """The initial state of training batch ``step`` (None: zeros)."""
        return self.state if self.task.continues_stream(step) else None

    def keep(self, step: int, state: State | None) -> None:
        """Keep the final ``state`` of batch ``step`` (detached) if batch ``step + 1`` goes on
        from it; None drops it (after a NaN/inf step, whose state would poison the next)."""
        keep = state is not None and self.task.continues_stream(step + 1)
        self.state = detach_state(state) if keep else None
