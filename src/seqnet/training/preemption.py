"""Preemption and time-outs: finish the current step, write a checkpoint, then exit.

The handlers are installed when ``train()`` starts, before its set-up: a signal during set-up
stops the run before its first step, with one line and the same exit status.

A cluster that preempts a job (or whose time limit approaches) sends SIGTERM or SIGUSR1; Python
would die at once, losing everything since the last periodic checkpoint. While training,
``StopSignals`` only records the signal; the loop notices it at the end of the step, writes
``checkpoints/last.pt`` and raises ``Preempted``. The entry point then hands over: under
submitit, to submitit's own handler for that signal, which requeues the job (its checkpointing
protocol; the requeued job resumes with ``ckpt_path=auto`` from the same run directory);
otherwise the process exits with status 128 + the signal number, as a process ended by the
signal would, so schedulers and scripts see that the run did not finish.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

log = logging.getLogger(__name__)

#: Signals that ask a training job to checkpoint and stop. submitit's preemption signal (SIGUSR2,
#: submitit's default, which the slurm launcher config keeps) is added while it has a handler.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

Handler = Callable[[int, FrameType | None], Any] | int | None


class Preempted(Exception):
    """Training stopped on a signal after writing its checkpoint."""

    def __init__(
        self,
        signum: int,
        step: int,
        checkpoint: Path | None,
        previous: Handler,
        message: str | None = None,
    ) -> None:
        self.signum, self.step, self.checkpoint, self.previous = signum, step, checkpoint, previous
        name = signal.Signals(signum).name
        super().__init__(
            message
            or f"stopped by {name} after step {step}; checkpoint written to {checkpoint}. "
            "Resume in the same run directory with ckpt_path=auto"
        )

    def hand_over(self) -> NoReturn:
        """Let the handler that was there before (submitit's requeue) act, then exit."""
        if callable(self.previous):
            self.previous(self.signum, None)  # submitit: requeues the job and exits
        sys.exit(128 + self.signum)


class StopSignals:
    """A context manager that records stop signals instead of dying on them."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Handler] = {}

    @staticmethod
    def signals() -> list[int]:
        found = list(STOP_SIGNALS)
        submitit_signal = signal.SIGUSR2  # submitit's default; it installs a handler for it
        if callable(signal.getsignal(submitit_signal)) and submitit_signal not in found:
            found.append(submitit_signal)
        return found

    def __enter__(self) -> StopSignals:
        # Handlers can only be installed from the main thread (train() called in a thread
        # simply keeps the default behaviour).
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals():
                self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            log.warning(
                "received %s: stopping after this step with a checkpoint",
                signal.Signals(signum).name,
            )
            self.received = signum

    @property
    def requested(self) -> bool:
        return self.received is not None

    def preempted(self, step: int, checkpoint: Path) -> Preempted:
        assert self.received is not None
        return Preempted(self.received, step, checkpoint, self._previous.get(self.received))

    def preempted_in_setup(self, step: int, resumed_from: Path | None) -> Preempted:
        """A stop signal received while the run was set up, before its first step: nothing of
        this run was checkpointed, and the checkpoint it resumes from (if any) is unchanged."""
        assert self.received is not None
        name = signal.Signals(self.received).name
        if resumed_from is None:
            what = "no checkpoint was written (the run had none yet). Run the same command again "
            what += "to start it"
        else:
            what = f"the checkpoint it resumes from ({resumed_from}) is unchanged. Run the same "
            what += "command again to resume it"
        message = f"stopped by {name} during set-up, before training step {step}; {what}"
        return Preempted(self.received, step, None, self._previous.get(self.received), message)
