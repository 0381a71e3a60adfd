"""Preemption in this process: a signal stops training after the current step with a
checkpoint, and the same run resumes from its own folder (ckpt_path=auto) bit for bit where an
uninterrupted run ends; the hand-over to submitit; a finished run is never overwritten. (A
signal to a training process and submitit's requeue: tests/e2e/test_preempted_jobs.py.)"""

from __future__ import annotations

import itertools
import os
import signal
from pathlib import Path

import pytest

from conftest import TINY, compose_config
from helpers.runs import (
    assert_same_run,
    hparams_sessions,
    last_ckpt,
    scalars,
    snapshot,
)
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import TrainingDiverged
from seqnet.train import check_metric
from seqnet.training.loop import train
from seqnet.training.preemption import Preempted, StopSignals


def signal_on_step(step: int, signum: int):
    """AddingProblem.loss that sends ``signum`` to this process during training step ``step``."""
    original, calls = AddingProblem.loss, itertools.count()

    def loss(self, pred, y):
        if next(calls) == step:
            os.kill(os.getpid(), signum)
        return original(self, pred, y)

    return loss


def test_signal_checkpoints_the_current_step_and_auto_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = train(compose_config([*TINY, f"paths.run_dir={tmp_path / 'full'}"]))
    cfg = compose_config([*TINY, "ckpt_path=auto", f"paths.run_dir={tmp_path / 'run'}"])
    with monkeypatch.context() as patch:
        patch.setattr(AddingProblem, "loss", signal_on_step(3, signal.SIGUSR1))
        with pytest.raises(Preempted) as stopped:
            train(cfg)
    assert str(stopped.value) == (
        f"stopped by SIGUSR1 after step 4; checkpoint written to "
        f"{tmp_path / 'run' / 'checkpoints' / 'last.pt'}. "
        "Resume in the same run directory with ckpt_path=auto"
    )
    assert last_ckpt(tmp_path / "run")["step"] == 4  # not a multiple of ckpt_every_n_steps=3
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL  # handlers restored

    assert train(cfg) == full  # the same command again continues the run in its folder
    assert_same_run(tmp_path / "run", tmp_path / "full")
    assert len(hparams_sessions(tmp_path / "run")) == 1
    losses = scalars(tmp_path / "run")["train/loss"]
    assert [s for s, _ in losses] == list(range(1, 7))  # each step logged once
    assert losses == scalars(tmp_path / "full")["train/loss"]


def test_hand_over_calls_the_previous_handler_then_exits(tmp_path: Path) -> None:
    calls = []
    stopped = Preempted(signal.SIGUSR2, 5, tmp_path / "last.pt", lambda *a: calls.append(a))
    with pytest.raises(SystemExit) as exited:
        stopped.hand_over()
    assert calls == [(signal.SIGUSR2, None)]  # submitit's handler: requeue
    assert exited.value.code == 128 + signal.SIGUSR2
    with pytest.raises(SystemExit) as exited:
        Preempted(signal.SIGTERM, 5, tmp_path / "last.pt", signal.SIG_DFL).hand_over()
    assert exited.value.code == 143  # as if killed by SIGTERM: the run is not finished


def test_submitit_signal_is_caught_only_where_submitit_handles_it() -> None:
    assert StopSignals.signals() == [signal.SIGTERM, signal.SIGUSR1]
    previous = signal.signal(signal.SIGUSR2, lambda *a: None)
    try:
        assert StopSignals.signals() == [signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_auto_starts_fresh_and_never_overwrites_a_finished_run(tmp_path: Path) -> None:
    cfg = compose_config([*TINY, "ckpt_path=auto", f"paths.run_dir={tmp_path / 'run'}"])
    first = train(cfg)  # no checkpoint yet: a fresh run
    assert first["step"] == 6
    before = snapshot(tmp_path / "run")

    assert train(cfg) == first  # finished: nothing to do, nothing written
    assert snapshot(tmp_path / "run") == before
    # (A fresh run never enters a run's folder: tests/training/test_run_folder.py.)


def test_a_nonfinite_final_loss_fails_a_sweep_job() -> None:
    check_metric({"val/loss": 0.5})
    with pytest.raises(TrainingDiverged, match=r"final val/loss is nan; the model diverged"):
        check_metric({"val/loss": float("nan")})
