"""Data-parallel training under torchrun: two CPU processes over loopback train like one."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_RUN, compose_config
from helpers.processes import seqnet_env
from helpers.runs import hparams_sessions, last_ckpt, only_child, scalars
from seqnet.gradients import load_gradients
from seqnet.training.loop import train


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_give_the_loss_curve_of_one(tmp_path: Path) -> None:
    # char_lm: truncated BPTT, each rank carries the state of its own streams (rows).
    args = [*TINY_RUN, "data=char_lm", "data.batch_size=8", "data.seq_len=12", "trainer.threads=1"]
    torchrun = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}",
    ]  # fmt: skip
    result = subprocess.run(
        [*torchrun, "-m", "seqnet.train", *args, "paths.output_dir=out"],
        cwd=tmp_path,
        env=seqnet_env(GLOO_SOCKET_IFNAME="lo"),  # loopback only
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    run_dir = only_child(tmp_path / "out" / "runs")  # one run directory for both ranks
    assert sorted(p.name for p in run_dir.iterdir()) == [
        ".hydra", ".seqnet-run.json", ".seqnet-run.lock", "checkpoints", "gradients.npz",
        "metrics.json", "tb",
        "train.log",
    ]  # fmt: skip
    assert len(list((run_dir / "tb").iterdir())) == 1  # rank 0 logs
    assert len(hparams_sessions(run_dir)) == 1
    assert result.stdout.count("run directory:") == 1  # rank 0 reports

    one = train(compose_config([*args, f"paths.run_dir={tmp_path / 'one'}"]))
    two = json.loads((run_dir / "metrics.json").read_text())
    assert two["val/loss"] == pytest.approx(one["val/loss"], rel=1e-5)
    curve, reference = (scalars(d)["train/loss"] for d in (run_dir, tmp_path / "one"))
    assert [s for s, _ in curve] == [s for s, _ in reference] == list(range(1, 7))
    np.testing.assert_allclose([v for _, v in curve], [v for _, v in reference], rtol=1e-5)
    a, b = last_ckpt(run_dir), last_ckpt(tmp_path / "one")
    for name in b["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], rtol=1e-5, atol=1e-6)
    # The checkpoint holds every stream's carried state, gathered from both ranks.
    for mine, reference in zip(a["carried_state"], b["carried_state"], strict=True):
        assert mine.shape == reference.shape == (1, 8, 16)
        torch.testing.assert_close(mine, reference, rtol=1e-5, atol=1e-6)
    steps, norms, _ = load_gradients(run_dir / "gradients.npz")
    ref_steps, ref_norms, _ = load_gradients(tmp_path / "one" / "gradients.npz")
    assert steps.tolist() == ref_steps.tolist() == [0, 3, 6]
    for q in ref_norms:
        np.testing.assert_allclose(norms[q], ref_norms[q], rtol=1e-5)


def torchrun_command(module: str = "torch.distributed.run") -> list[str]:
    return [
        sys.executable, "-m", module, "--nproc_per_node=2", "--master_addr=127.0.0.1",
        f"--master_port={free_port()}", "-m", "seqnet.train",
    ]  # fmt: skip


@pytest.mark.slow
def test_a_preempted_two_rank_run_resumes_bit_for_bit(tmp_path: Path) -> None:
    """Two CPU ranks with dropout (each rank draws its own masks): SIGTERM to seqnet-torchrun
    stops both after a step, with a checkpoint and exit status 143 as for one process; the
    same command resumes, and the run ends bit for bit where an uninterrupted one ends."""
    args = [
        *TINY_RUN, "data.seq_len=12", "data.batch_size=8", "data.val_size=32",
        "model.num_layers=2", "model.dropout=0.1", "trainer.threads=1",
        "trainer.max_steps=400", "trainer.ckpt_every_n_steps=10", "trainer.val_every_n_steps=100",
        "trainer.log_every_n_steps=10", "grad_log.every_n_steps=0",
    ]  # fmt: skip
    env = seqnet_env(GLOO_SOCKET_IFNAME="lo")
    run_dir = tmp_path / "run"
    interrupted = [*torchrun_command("seqnet.cli.torchrun"), *args, "ckpt_path=auto"]
    interrupted.append(f"hydra.run.dir={run_dir}")
    process = subprocess.Popen(
        interrupted, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 240
    while not (run_dir / "checkpoints" / "last.pt").exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "Traceback" not in err
    stopped_at = last_ckpt(run_dir)["step"]
    assert 10 <= stopped_at < 400
    assert len(last_ckpt(run_dir)["rank_rng"]) == 2  # every rank's generator

    resumed = subprocess.run(interrupted, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    full_dir = tmp_path / "full"
    full = subprocess.run([*torchrun_command(), *args, f"hydra.run.dir={full_dir}"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert full.returncode == 0, full.stderr[-3000:]
    a, b = last_ckpt(run_dir), last_ckpt(full_dir)
    assert a["step"] == b["step"] == 400
    for name, weight in b["model"].items():
        assert torch.equal(a["model"][name], weight), name
    assert json.loads((run_dir / "metrics.json").read_text()) == json.loads(
        (full_dir / "metrics.json").read_text()
    )
