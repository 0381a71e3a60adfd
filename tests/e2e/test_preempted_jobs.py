"""Preempted jobs, as a scheduler preempts them: SIGTERM to a training process, then the same
configuration resumes its own folder; submitit's signal to a local job, which submitit requeues
and which resumes from its checkpoint. Both end bit for bit where an uninterrupted run ends."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from conftest import TINY, compose_config
from helpers.processes import start_train
from helpers.runs import (
    assert_same_run,
    hparams_sessions,
    last_ckpt,
    only_child,
)
from seqnet.training.loop import train

pytestmark = pytest.mark.slow


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
