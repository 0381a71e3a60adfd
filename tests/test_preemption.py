"""Preemption: a signal stops training after the current step with a checkpoint; the same run
resumes from its own folder (ckpt_path=auto, by hand or through submitit's requeue) and ends
bit for bit where an uninterrupted run ends; a finished run is never overwritten."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY, compose_config
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import TrainingDiverged
from seqnet.gradients import load_gradients
from seqnet.train import check_metric
from seqnet.training.loop import train
from seqnet.training.preemption import Preempted, StopSignals
from seqnet.training.run_folder import RunFolderTaken
from subprocesses import hparams_sessions, only_child, scalar_series, start_train
from train_runs import assert_state_equal, last_ckpt, snapshot

#: A run long enough to be caught mid-training by a signal, in tiny steps.
LONG = [
    *TINY,
    "trainer.max_steps=300",
    "trainer.val_every_n_steps=100",
    "trainer.ckpt_every_n_steps=10",
    "trainer.log_every_n_steps=10",
    "grad_log.every_n_steps=100",
    "trainer.threads=1",  # the same arithmetic in this process and in the subprocesses
]


@pytest.fixture(autouse=True)
def keep_thread_count() -> Iterator[None]:
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def assert_same_run(run_dir: Path, reference: Path) -> None:
    """Same final checkpoint (weights, optimizer, step, RNG) and gradient history, bit for bit."""
    a, b = last_ckpt(run_dir), last_ckpt(reference)
    assert a["step"] == b["step"]
    for key in ("model", "optimizer", "rng"):
        assert_state_equal(a[key], b[key])
    steps, norms, _ = load_gradients(run_dir / "gradients.npz")
    ref_steps, ref_norms, _ = load_gradients(reference / "gradients.npz")
    assert steps.tolist() == ref_steps.tolist()
    for q in ref_norms:
        np.testing.assert_array_equal(norms[q], ref_norms[q])


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
    losses = scalar_series(tmp_path / "run")["train/loss"]
    assert [s for s, _ in losses] == list(range(1, 7))  # each step logged once
    assert losses == scalar_series(tmp_path / "full")["train/loss"]


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

    fresh = compose_config([*TINY, f"paths.run_dir={tmp_path / 'run'}"])
    with pytest.raises(RunFolderTaken) as refused:  # a fresh run never enters a run's folder
        train(fresh)
    assert "belongs to another run" in str(refused.value)
    assert snapshot(tmp_path / "run") == before


def test_a_nonfinite_final_loss_fails_a_sweep_job() -> None:
    check_metric({"val/loss": 0.5})
    with pytest.raises(TrainingDiverged, match=r"final val/loss is nan; the model diverged"):
        check_metric({"val/loss": float("nan")})


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def interrupt(pid: int, signum: int) -> None:
    """Deliver ``signum`` while the process is surely mid-training: stopped, signalled, resumed."""
    os.kill(pid, signal.SIGSTOP)
    os.kill(pid, signum)
    os.kill(pid, signal.SIGCONT)


@pytest.mark.slow
def test_sigterm_to_a_training_process_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process = start_train(tmp_path, *LONG, "ckpt_path=auto", f"hydra.run.dir={run_dir}")
    wait_for(run_dir / "checkpoints" / "last.pt", process)
    interrupt(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=120)

    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    stopped_at = last_ckpt(run_dir)["step"]
    assert 10 <= stopped_at < 300
    assert (
        f"seqnet-train: stopped by SIGTERM after step {stopped_at}; checkpoint written to "
        f"{run_dir / 'checkpoints' / 'last.pt'}" in err
    )
    assert "Traceback" not in err and not (run_dir / "metrics.json").exists()

    # Resume by running the same configuration again, here in-process.
    resumed = train(compose_config([*LONG, "ckpt_path=auto", f"paths.run_dir={run_dir}"]))
    full = train(compose_config([*LONG, f"paths.run_dir={tmp_path / 'full'}"]))
    assert resumed == full
    assert_same_run(run_dir, tmp_path / "full")
    assert len(hparams_sessions(run_dir)) == 1


def submitit_task(folder: Path) -> int:
    """The pid of the submitit task process running from ``folder`` (its job's .submitit/)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"submitit.core._submit" in cmdline and any(str(folder).encode() in c for c in cmdline):
            return int(proc.name)
    raise AssertionError("no submitit task process found")


@pytest.mark.slow
def test_submitit_local_job_is_requeued_after_preemption_and_resumes(tmp_path: Path) -> None:
    args = ["-m", "hydra/launcher=submitit_local", "ckpt_path=auto", *LONG]
    launcher = start_train(tmp_path, *args, "paths.output_dir=out")
    wait_for(tmp_path / "out" / "multirun", launcher)
    sweep = only_child(tmp_path / "out" / "multirun")
    run_dir = sweep / "0"  # one job, nothing swept: its number
    wait_for(run_dir / "checkpoints" / "last.pt", launcher)
    # submitit's preemption/time-out signal (SIGUSR2): checkpoint, then submitit requeues.
    interrupt(submitit_task(sweep / ".submitit"), signal.SIGUSR2)
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode == 0, err[-3000:]

    log = (run_dir / "train.log").read_text()
    assert "received SIGUSR2: stopping after this step with a checkpoint" in log
    resumed_at = int(log.split("checkpoints/last.pt at step ")[1].split()[0])
    assert 10 <= resumed_at < 300  # the requeued job resumed from its own checkpoint
    assert "Requeued job" in "".join(p.read_text() for p in sweep.rglob(".submitit/*/*_log.*"))

    train(compose_config([*LONG, f"paths.run_dir={tmp_path / 'full'}"]))
    assert_same_run(run_dir, tmp_path / "full")
    assert len(hparams_sessions(run_dir)) == 1
