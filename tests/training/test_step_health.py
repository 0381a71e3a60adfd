"""What ``train`` does with unhealthy steps: non-finite steps are skipped (then training stops,
keeping the last good checkpoint), a jump of the gradient norm is a warning, and clipping
bounds the update (the norm before and after clipping is logged)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.runs import TRAIN_STEPS, assert_state_equal, last_ckpt, nan_loss_on, scalars, tiny
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import TrainingDiverged
from seqnet.models import build_model
from seqnet.training.checkpoint import load_checkpoint
from seqnet.training.loop import train

# ---------------------------------------------------------------------------- non-finite


@pytest.mark.slow
def test_nonfinite_steps_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NaN on the last three of six steps: the weights stay those after step 3."""
    clean = train(tiny(tmp_path, "clean", "trainer.max_steps=3"))
    monkeypatch.setattr(AddingProblem, "loss", nan_loss_on({3, 4, 5}))
    metrics = train(tiny(tmp_path, "nan"))

    assert metrics["nonfinite_steps"] == 3
    assert metrics["step"] == 6
    assert metrics["val/loss"] == clean["val/loss"]
    a, b = last_ckpt(tmp_path / "clean"), last_ckpt(tmp_path / "nan")
    assert_state_equal(a["model"], b["model"])
    assert_state_equal(a["optimizer"], b["optimizer"])
    assert b["nonfinite_steps"] == 3

    tags = scalars(tmp_path / "nan")
    counts = dict(tags["train/nonfinite_steps"])  # the last value logged at each step
    assert counts == {1: 0.0, 2: 0.0, 3: 0.0, 4: 1.0, 5: 2.0, 6: 3.0}
    assert all(np.isnan(v) for s, v in tags["train/loss"] if s > 3)


def test_nonfinite_limit_counts_steps_in_a_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AddingProblem, "loss", nan_loss_on({1, 3, 5}))
    metrics = train(tiny(tmp_path, "run", "trainer.max_nonfinite_steps=2"))
    assert metrics["nonfinite_steps"] == 3
    assert metrics["step"] == 6


@pytest.mark.slow
def test_too_many_nonfinite_steps_stop_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train(tiny(tmp_path, "clean", "trainer.max_steps=3"))
    monkeypatch.setattr(AddingProblem, "loss", nan_loss_on(range(3, 100)))
    run_dir = tmp_path / "nan"
    ckpt_file = run_dir / "checkpoints" / "last.pt"
    with pytest.raises(TrainingDiverged) as excinfo:
        train(tiny(tmp_path, "nan", "trainer.max_steps=20", "trainer.max_nonfinite_steps=3"))
    message = str(excinfo.value)
    assert "NaN/inf for 3 steps in a row (up to step 6)" in message
    assert f"The last good checkpoint is kept at {ckpt_file}." in message

    kept = load_checkpoint(ckpt_file)
    assert kept["step"] == 3
    assert_state_equal(kept["model"], last_ckpt(tmp_path / "clean")["model"])
    tags = scalars(run_dir)
    assert dict(tags["train/nonfinite_steps"])[6] == 3.0
    assert not (run_dir / "metrics.json").exists()


def test_huge_learning_rate_diverges(tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged) as excinfo:
        train(tiny(tmp_path, "run", "optim=sgd", "optim.lr=1e30", "trainer.max_nonfinite_steps=2"))
    message = str(excinfo.value)
    assert "NaN/inf for 2 steps in a row (up to step 3)" in message
    assert "(none written yet)" in message
    assert "optim.lr" in message


# ---------------------------------------------------------------------------- jumps and clipping


def test_gradient_jump_warns_and_is_logged(make_cfg, tmp_path, monkeypatch, caplog):
    calls = {"n": 0}
    original = AddingProblem.loss

    def loss_with_spike(self, pred, y):
        calls["n"] += 1
        loss = original(self, pred, y)
        return loss * 1e5 if calls["n"] == 4 else loss  # the 4th update's gradient x 1e5

    monkeypatch.setattr(AddingProblem, "loss", loss_with_spike)
    with caplog.at_level(logging.WARNING, logger="seqnet.training.step_health"):
        train(make_cfg("model=rnn", "grad_log.every_n_steps=0"))
    warnings = [r.getMessage() for r in caplog.records if "jumped" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("step 4: gradient norm jumped from ")
    assert "consider trainer.clip_grad_norm=1.0" in warnings[0]
    norms = dict(scalars(tmp_path / "run")["train/grad_norm"])
    assert norms[4] / norms[3] > 1e4
    assert f"{norms[4]:.3g}" in warnings[0]


def test_clipping_logs_the_norm_before_and_after(tmp_path: Path) -> None:
    """trainer.clip_grad_norm=c: the clipped norm is min(norm, c) at every step, the clipped
    fraction the share of steps clipped so far, and the count is in the metrics and the
    checkpoint. (Without clipping the clipped norm is the norm: tests/tblog/test_scalars.py.)"""
    clip = 0.01
    metrics = train(tiny(tmp_path, "run", f"trainer.clip_grad_norm={clip}"))
    tags = scalars(tmp_path / "run")
    assert [s for s, _ in tags["train/grad_norm_clipped"]] == TRAIN_STEPS
    pre = [v for _, v in tags["train/grad_norm"]]
    post = [v for _, v in tags["train/grad_norm_clipped"]]
    assert post == [pytest.approx(min(p, clip), rel=1e-6) for p in pre]
    clipped = np.cumsum([p > clip for p in pre])
    fraction = [v for _, v in tags["train/clipped_fraction"]]
    assert fraction == pytest.approx(clipped / np.arange(1, 7))
    assert metrics["clipped_steps"] == clipped[-1] == last_ckpt(tmp_path / "run")["clipped_steps"]
    assert clipped[-1] > 0


def test_clipping_bounds_the_update(tmp_path: Path) -> None:
    """With SGD (no momentum) one clipped step moves the weights by exactly lr * clip."""
    lr, clip = 1e4, 1e-6
    cfg = tiny(
        tmp_path,
        "run",
        "optim=sgd",
        f"optim.lr={lr}",
        f"trainer.clip_grad_norm={clip}",
        "trainer.max_steps=1",
    )
    train(cfg)
    torch.manual_seed(cfg.seed)  # the loop seeds, then builds the model: the same initial weights
    initial = build_model(cfg.model, AddingProblem.spec).state_dict()
    final = last_ckpt(tmp_path / "run")["model"]
    delta = torch.cat([(final[k].double() - initial[k].double()).flatten() for k in initial])
    grad_norm = scalars(tmp_path / "run")["train/grad_norm"][0][1]
    # clip_grads_with_norm_ scales by clip / (norm + 1e-6).
    expected = lr * clip * grad_norm / (grad_norm + 1e-6)
    assert float(delta.norm()) == pytest.approx(expected, rel=1e-3)
