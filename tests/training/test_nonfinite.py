"""Non-finite numbers never pass for good ones: a checkpoint is never written with NaN/inf
weights or optimizer state, a checkpoint that holds them is refused by name, and a run whose
loss grows to finite garbage is warned about as diverged. (Non-finite optim settings are also
refused before any work, by check_config.)"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch

from helpers.runs import last_ckpt, tiny
from seqnet.errors import CheckpointError, TrainingDiverged
from seqnet.training import loop
from seqnet.training.loop import train


@pytest.fixture
def unchecked_lr(monkeypatch: pytest.MonkeyPatch) -> None:
    """optim.lr=inf as a run got it before settings were checked (check_config refuses it now):
    one step of it turns every weight into NaN, the state that must never be checkpointed."""
    monkeypatch.setattr(loop, "check_config", lambda cfg: None)


@pytest.mark.usefixtures("unchecked_lr")
def test_weights_that_become_nan_are_never_checkpointed(tmp_path: Path) -> None:
    with pytest.raises(TrainingDiverged) as excinfo:
        train(tiny(tmp_path, "run", "optim.lr=inf"))
    assert str(excinfo.value) == (
        "after step 3 the model's weights are not finite (3313 of 3313 values are NaN or inf, "
        "in encoder.weight, encoder.bias, core.weight_ih_l0, ...), so no checkpoint was "
        "written; the last good checkpoint is kept at (none written yet). Try a lower optim.lr "
        "or trainer.clip_grad_norm=1.0"
    )
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.usefixtures("unchecked_lr")
def test_a_good_checkpoint_is_kept_when_the_weights_go_bad_later(tmp_path: Path) -> None:
    train(tiny(tmp_path, "run", "trainer.max_steps=3"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    good = ckpt.read_bytes()
    more = ["trainer.max_steps=6", "optim.lr=inf", "ckpt_path=auto"]
    with pytest.raises(TrainingDiverged) as excinfo:
        train(tiny(tmp_path, "run", *more))
    assert str(excinfo.value).startswith("after step 6 the model's weights are not finite")
    assert str(excinfo.value).endswith(f"the last good checkpoint is kept at {ckpt}. Try a "
                                       "lower optim.lr or trainer.clip_grad_norm=1.0")  # fmt: skip
    assert ckpt.read_bytes() == good
    assert all(torch.isfinite(v).all() for v in last_ckpt(tmp_path / "run")["model"].values())


@pytest.mark.parametrize("where", ["elsewhere", "in_place_at_max_steps"])
def test_a_checkpoint_with_nan_weights_is_refused_by_name(runs, tmp_path: Path, where) -> None:
    source = runs["lstm"][2]
    folder = tmp_path / "copy"
    shutil.copytree(source, folder)
    ckpt = folder / "checkpoints" / "last.pt"
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["model"]["core.weight_hh_l0"][3, 5] = float("nan")
    checkpoint["optimizer"]["state"][1]["exp_avg"][0] = float("inf")
    torch.save(checkpoint, ckpt)
    run = "new" if where == "elsewhere" else "copy"
    ckpt_path = f"ckpt_path={ckpt}" if where == "elsewhere" else "ckpt_path=auto"
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, run, ckpt_path))
    assert str(excinfo.value) == (
        f"checkpoint '{ckpt}' holds non-finite numbers (model core.weight_hh_l0: 1 of 1024 "
        "values; optimizer state 1 exp_avg: 1 of 32 values); it cannot be resumed: resume "
        "from an earlier checkpoint, or start afresh"
    )
    assert not (tmp_path / "new").exists()


def test_a_loss_grown_to_finite_garbage_is_warned_about_as_divergence(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="seqnet.training")
    metrics = train(tiny(tmp_path, "run", "optim.lr=1e5"))
    assert 1e6 < metrics["val/loss"] < float("inf")  # finite, and far worse than untrained
    warnings = [r.getMessage() for r in caplog.records if "diverged" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("step 3: val/loss ")
    assert warnings[0].endswith(
        " the training loss at step 1: the model diverged (its weights are finite but "
        "meaningless). Try a lower optim.lr (this run: 100000.0) or trainer.clip_grad_norm=1.0"
    )
