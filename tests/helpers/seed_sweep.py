"""A seeded sweep, made once per test session for the analysis tests: 2 models x 3 seeds, as a
user launches it (the ``seed_sweep`` fixture of conftest.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.processes import seqnet_env

#: A tiny adding problem: profiles at steps 0, 3, 6 of 12 timesteps, validation every 3 steps.
SWEEP_OVERRIDES = [
    "model=lstm,gru",
    "seed=range(3)",
    "model.hidden_size=8",
    "data.seq_len=12",
    "data.batch_size=8",
    "data.val_size=16",
    "trainer.max_steps=6",
    "trainer.val_every_n_steps=3",
    "trainer.ckpt_every_n_steps=6",
    "trainer.progress_bar=false",
    "grad_log.every_n_steps=3",
    "grad_log.batch_size=8",
]
MODELS, SEEDS = ("lstm", "gru"), (0, 1, 2)


def run_sweep(output_dir: Path, *overrides: str) -> Path:
    """``seqnet-train -m`` with ``overrides`` into ``output_dir``; returns the sweep folder."""
    command = [sys.executable, "-m", "seqnet.train", "-m", *overrides]
    command.append(f"paths.output_dir={output_dir}")
    result = subprocess.run(
        command, cwd=output_dir.parent, env=seqnet_env(), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    (sweep,) = (output_dir / "multirun").iterdir()
    return sweep


def job(sweep: Path, model: str, seed: int) -> Path:
    return sweep / f"model={model},seed={seed}"
