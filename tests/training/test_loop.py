"""The training loop end to end (``seqnet.training.loop.train``): the files a run writes, the
reported metric recomputed from the saved model, and determinism. (Its TensorBoard output:
tests/tblog/; checkpoints and resume: test_checkpoint.py, test_resume.py; unhealthy steps:
test_step_health.py; configuration errors: test_checks.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.runs import MODELS, assert_state_equal, last_ckpt, scalars, tiny
from seqnet.data.tasks.adding import AddingProblem
from seqnet.gradients import batch_fingerprint, load_gradients
from seqnet.models import build_model
from seqnet.training.checkpoint import REQUIRED_KEYS
from seqnet.training.loop import train


@pytest.mark.parametrize("name", MODELS)
def test_run_writes_metrics_checkpoint_and_gradients(runs, name: str) -> None:
    cfg, metrics, run_dir = runs[name]
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == metrics
    assert set(saved) == {
        "val/loss",
        "val/mse",
        "val/baseline_ratio",
        "step",
        "nonfinite_steps",
        "clipped_steps",
    }
    assert (saved["step"], saved["nonfinite_steps"], saved["clipped_steps"]) == (6, 0, 0)
    assert saved["val/mse"] == saved["val/loss"]
    assert saved["val/baseline_ratio"] == saved["val/mse"] / (1 / 6)

    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.pt"]
    ckpt = last_ckpt(run_dir)
    assert set(REQUIRED_KEYS) <= set(ckpt)
    assert ckpt["step"] == 6
    assert ckpt["config"]["model"]["name"] == name
    assert ckpt["config"]["model"]["hidden_size"] == 16

    # The reported val/loss is the MSE of the saved model on the validation set, recomputed here.
    task = AddingProblem(seq_len=12, batch_size=8, val_size=32, val_seed=1234)
    model = build_model(cfg.model, task.spec)
    model.load_state_dict(ckpt["model"])
    model.eval()
    x, y = task.val_set()
    with torch.no_grad():
        pred = model(x)[0].squeeze(-1)
    assert metrics["val/loss"] == pytest.approx(float(((pred.double() - y) ** 2).mean()), rel=1e-6)

    steps, norms, meta = load_gradients(run_dir / "gradients.npz")
    assert steps.tolist() == [0, 3, 6]
    states = ["h_l0", "c_l0"] if name == "lstm" else ["h_l0"]
    assert sorted(norms) == sorted(["x", *states])
    for q in norms:
        assert norms[q].shape == (3, 12)
        assert bool(np.isfinite(norms[q]).all())
        assert bool((norms[q] > 0).all())
    probe = batch_fingerprint(tuple(t[:8] for t in task.val_set()))  # grad_log.batch_size=8
    assert meta == {"dtype": "float32", "loss": "last", "probe": probe}


# ---------------------------------------------------------------------------- determinism


@pytest.mark.slow
def test_same_seed_same_run_different_seed_different_run(runs, tmp_path: Path) -> None:
    _, metrics, first = runs["lstm"]
    second_metrics = train(tiny(tmp_path, "again", "model=lstm"))
    other_metrics = train(tiny(tmp_path, "other", "model=lstm", "seed=43"))
    second, other = tmp_path / "again", tmp_path / "other"

    assert scalars(first)["train/loss"] == scalars(second)["train/loss"]
    assert scalars(first)["val/loss"] == scalars(second)["val/loss"]
    assert second_metrics == metrics
    assert_state_equal(last_ckpt(first)["model"], last_ckpt(second)["model"])
    assert_state_equal(last_ckpt(first)["optimizer"], last_ckpt(second)["optimizer"])

    losses = [v for _, v in scalars(first)["train/loss"]]
    other_losses = [v for _, v in scalars(other)["train/loss"]]
    assert all(a != b for a, b in zip(losses, other_losses, strict=True))
    assert other_metrics["val/loss"] != metrics["val/loss"]
