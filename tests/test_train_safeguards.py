"""What ``train`` guards against: non-finite steps (skipped, then stopped), clipping, and
configuration errors before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import ConfigError, TrainingDiverged
from seqnet.models import build_model
from seqnet.training.checkpoint import load_checkpoint
from seqnet.training.loop import train
from train_runs import (
    TRAIN_STEPS,
    assert_state_equal,
    last_ckpt,
    nan_loss_on,
    scalars,
    tiny,
)

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


# ---------------------------------------------------------------------------- clipping


def test_gradient_clipping(tmp_path: Path) -> None:
    metrics = train(tiny(tmp_path, "run", "trainer.clip_grad_norm=1e-6"))
    assert metrics["clipped_steps"] == 6
    tags = scalars(tmp_path / "run")
    assert [s for s, _ in tags["train/grad_norm_clipped"]] == TRAIN_STEPS
    assert [v for _, v in tags["train/grad_norm_clipped"]] == pytest.approx([1e-6] * 6, rel=1e-6)
    assert all(v > 1e-3 for _, v in tags["train/grad_norm"])
    assert [v for _, v in tags["train/clipped_fraction"]] == [1.0] * 6
    assert last_ckpt(tmp_path / "run")["clipped_steps"] == 6


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


# ---------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "trainer.device=tpu",
            "trainer.device='tpu' is not a device; use one of auto, cpu, cuda, cuda:N",
        ),
        (
            "trainer.clip_grad_norm=-1",
            "trainer.clip_grad_norm=-1.0 must be > 0, or null to turn clipping off",
        ),
        ("trainer.clip_grad_norm=0", "trainer.clip_grad_norm=0.0 must be > 0"),
        (
            "grad_log.batch_size=64",
            "grad_log.batch_size=64 is larger than the validation set (data.val_size=32) it is "
            "drawn from; lower it or raise val_size",
        ),
        ("trainer.max_steps=0", "trainer.max_steps=0 must be a positive integer"),
        ("optim.lr=-0.001", "optim.lr=-0.001 must be >= 0"),
        ("grad_log.every_n_steps=-1", "grad_log.every_n_steps=-1 must be >= 0 (0 = off)"),
        (
            "data.seq_len=1",
            "the adding problem needs data.seq_len >= 2 (one marker per half), got 1",
        ),
        (
            "model.dropout=0.2",
            "model.dropout=0.2 acts only between recurrent layers, and model.num_layers=1 has "
            "none: set model.num_layers >= 2 or model.dropout=0",
        ),
    ],
)
def test_config_errors_before_any_work(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        train(tiny(tmp_path, "run", override))
    assert message in str(excinfo.value)
    run_dir = tmp_path / "run"
    assert not (run_dir / "tb").exists()
    assert not run_dir.exists()


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_on_a_machine_without_cuda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: str
) -> None:
    # Patched so that the test means the same on a GPU machine as on this CPU one.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError) as excinfo:
        train(tiny(tmp_path, "run", f"trainer.device={device}"))
    assert str(excinfo.value) == (
        f"trainer.device={device} but CUDA is not available on this machine; "
        "use trainer.device=cpu or trainer.device=auto"
    )
    assert not (tmp_path / "run" / "tb").exists()
    assert not (tmp_path / "run").exists()
