"""One live owner per run folder, with real processes and signals: a second run is refused
while the first holds the folder (naming it), the same SLURM job id is a requeue only once the
folder is free, a run killed during set-up leaves its folder free for the same command, a
finished run relaunched with other settings is refused before Hydra rewrites its record, and
the temporary files of a write cut off by a kill are removed by the folder's next owner. The
processes are few and tiny (each costs a Python start-up): one finished run is shared."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import TINY
from helpers.processes import run_train, seqnet_env, seqnet_train, start_train
from helpers.runs import last_ckpt, scalars, snapshot

pytestmark = pytest.mark.slow

#: Tiny steps, few files: checkpoints every 10 steps, no gradient profiles.
BASE = [
    *TINY,
    "trainer.ckpt_every_n_steps=10",
    "trainer.val_every_n_steps=10",
    "grad_log.every_n_steps=0",
    "trainer.threads=1",
]
OWNER = ".seqnet-run.json"


def wait_until(condition, process: subprocess.Popen, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.02)


def owned_by(run_dir: Path, process: subprocess.Popen) -> bool:
    try:
        return json.loads((run_dir / OWNER).read_text()).get("pid") == process.pid
    except (OSError, ValueError):
        return False


def in_use_line(run_dir: Path, pid: int) -> str:
    record = json.loads((run_dir / OWNER).read_text())
    host = socket.gethostname()
    return (
        f"seqnet-train: error: run folder '{run_dir}' is in use by another run (pid {pid} on "
        f"host {host}, started {record['claimed']}); wait until it ends or stop it (kill {pid} "
        f"on {host}), or write this run into another folder: another paths.run_dir (or none, "
        "for a new timestamped folder)"
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished run (6 steps, ``ckpt_path=auto``) for the module: a test that changes it
    copies it; the finished-run test relaunches it in place (and changes nothing)."""
    root = tmp_path_factory.mktemp("finished")
    run_train(root, *BASE, f"hydra.run.dir={root / 'D'}", "ckpt_path=auto")
    return root / "D"


def copy_of(finished: Path, tmp_path: Path) -> Path:
    run_dir = tmp_path / "D"
    shutil.copytree(finished, run_dir)
    return run_dir


def test_a_second_run_into_a_held_folder_is_refused_even_with_the_same_slurm_job_id(
    finished: Path, tmp_path: Path
) -> None:
    """Two resumes of one folder started together, both under SLURM job 4242: the second is
    refused while the first holds the folder (the job id is no claim on a live owner's folder),
    and the first's stale temporary files are removed when it takes the folder. Once the first
    is gone (SIGTERM: a preemption, exit status 143), the same job requeued resumes there."""
    run_dir = copy_of(finished, tmp_path)
    stale = run_dir / "checkpoints" / ".last.pt.0123456789ab.tmp"  # as a kill mid-write leaves
    stale.write_bytes(bytes(1_000_000))
    env = seqnet_env(SLURM_JOB_ID="4242")
    resume = [*BASE, f"hydra.run.dir={run_dir}", "ckpt_path=auto"]
    first = start_train(tmp_path, *resume, "trainer.max_steps=100000", "optim.lr=0.01", env=env)
    wait_until(lambda: owned_by(run_dir, first), first, "the first run's claim")
    assert not stale.exists()

    second = subprocess.run(
        [sys.executable, "-m", "seqnet.train", *resume, "trainer.max_steps=60", "optim.lr=1e-4"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert second.returncode == 1, second.stderr[-3000:]
    assert second.stderr.splitlines() == [in_use_line(run_dir, first.pid)]
    os.kill(first.pid, signal.SIGTERM)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM, err[-3000:]
    # Everything in the folder is the first run's: its record, its checkpoint, each step once.
    assert "optim.lr=0.01" in OmegaConf.load(run_dir / ".hydra" / "overrides.yaml")
    stopped = last_ckpt(run_dir)
    assert stopped["config"]["optim"]["lr"] == 0.01
    steps = [s for s, _ in scalars(run_dir)["train/loss"]]
    assert steps == list(range(1, len(steps) + 1))
    assert len(list((run_dir / "tb").iterdir())) == 2  # the first launch and its continuation
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.pt"]

    requeued = subprocess.run(
        [sys.executable, "-m", "seqnet.train", *resume, "optim.lr=0.01",
         f"trainer.max_steps={stopped['step'] + 2}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    assert last_ckpt(run_dir)["step"] == stopped["step"] + 2
    log = (run_dir / "train.log").read_text()
    assert f"resuming from {run_dir / 'checkpoints' / 'last.pt'} at step {stopped['step']}" in log


def test_a_run_killed_during_set_up_leaves_its_folder_to_the_same_command(tmp_path):
    """kill -9 after the run took its folder, before its first checkpoint: the kernel freed the
    lock, and the same command reclaims the folder (no "belongs to another run")."""
    signum = signal.SIGKILL
    run_dir = tmp_path / "D"
    # The first checkpoint would come only at the end: the signal surely comes before it.
    command = [*BASE, f"hydra.run.dir={run_dir}", "trainer.ckpt_every_n_steps=1000"]
    first = start_train(tmp_path, *command)
    wait_until((run_dir / OWNER).exists, first, "the claim of the folder")
    os.kill(first.pid, signum)
    _, err = first.communicate(timeout=120)
    assert first.returncode in (-signum, 128 + signum), err[-3000:]
    assert not (run_dir / "checkpoints").exists()

    again = seqnet_train(tmp_path, *command)

    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 6
    assert [s for s, _ in scalars(run_dir)["train/loss"]] == list(range(1, 7))


def test_sigterm_during_set_up_exits_as_preempted_without_a_checkpoint(tmp_path):
    """The stop signals are caught from the start of train(): SIGTERM while the task is built
    (sent from inside the set-up here) is a preemption, exit status 143 and one line."""
    run_dir = tmp_path / "D"
    args = [*BASE, f"hydra.run.dir={run_dir}"]
    script = (
        "import os, signal, sys\n"
        "from seqnet.training import loop\n"
        "build = loop.build_task_and_model\n"
        "def interrupted(*a):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return build(*a)\n"
        "loop.build_task_and_model = interrupted\n"
        f"sys.argv = ['seqnet-train', *{args!r}]\n"
        "from seqnet.train import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=seqnet_env(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 128 + signal.SIGTERM, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert (
        "seqnet-train: stopped by SIGTERM during set-up, before training step 0; no checkpoint "
        "was written (the run had none yet). Run the same command again to start it"
    ) in result.stderr.splitlines()
    assert not (run_dir / "checkpoints").exists()
    assert json.loads((run_dir / OWNER).read_text())["pid"] != os.getpid()  # the run took it


def test_a_finished_run_relaunched_with_other_settings_is_refused_before_hydra_writes(
    finished: Path,
) -> None:
    run_dir = finished
    command = [*BASE, f"hydra.run.dir={run_dir}", "ckpt_path=auto"]
    before = snapshot(run_dir)

    changed = seqnet_train(run_dir.parent, *command, "data.seq_len=200", "optim.lr=0.5")

    assert changed.returncode == 1
    assert changed.stderr.splitlines() == [
        f"seqnet-train: error: run folder '{run_dir}' holds a finished run (step 6) trained "
        "with other settings (data.seq_len: 12 -> 200, optim.lr: 0.001 -> 0.5); nothing was "
        "changed. Rerun it with its own settings to see its metrics, continue it with a larger "
        "trainer.max_steps, or train these settings in another folder: another paths.run_dir "
        "(or none, for a new timestamped folder)"
    ]
    assert snapshot(run_dir) == before  # .hydra/ still records the run that is there
    # The same command again reports the finished run: it takes the folder for a moment (the
    # owner file says so) and changes nothing else but the log.
    again = run_train(run_dir.parent, *command)
    assert "after 6 steps" in again.stdout
    after = snapshot(run_dir)
    assert after.pop("train.log").startswith(before.pop("train.log"))
    assert json.loads(after.pop(OWNER))["pid"] != json.loads(before.pop(OWNER))["pid"]
    assert after == before
