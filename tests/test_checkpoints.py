"""Checkpoints and resume through ``train``: bit-exact continuation, the checkpoint's
contents, atomic writes, and one-line errors for checkpoints that cannot be resumed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from seqnet.errors import CheckpointError
from seqnet.gradients import load_gradients
from seqnet.training import checkpoint as checkpoint_module
from seqnet.training.checkpoint import load_checkpoint, save_checkpoint
from seqnet.training.loop import train
from train_runs import (
    assert_state_equal,
    last_ckpt,
    scalars,
    tiny,
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        # Dropout between two layers draws from the global generator: the RNG state must resume.
        ["model=lstm", "model.num_layers=2", "model.dropout=0.3"],
        ["model=gru", "optim=sgd", "optim.momentum=0.9"],
    ],
    ids=["lstm_dropout_adam", "gru_sgd_momentum"],
)
def test_resume_equals_uninterrupted_run(tmp_path: Path, model: list[str]) -> None:
    full = train(tiny(tmp_path, "full", *model))
    half = train(tiny(tmp_path, "half", *model, "trainer.max_steps=3"))
    assert half["step"] == 3
    half_ckpt = tmp_path / "half" / "checkpoints" / "last.pt"
    half_bytes = half_ckpt.read_bytes()
    resumed = train(tiny(tmp_path, "resumed", *model, f"ckpt_path={half_ckpt}"))

    a, b = last_ckpt(tmp_path / "full"), last_ckpt(tmp_path / "resumed")
    assert a["step"] == b["step"] == 6
    assert_state_equal(a["model"], b["model"])
    assert_state_equal(a["optimizer"], b["optimizer"])
    assert_state_equal(a["rng"], b["rng"])
    assert resumed == full
    # The resumed run logs only its own steps, with the losses of the uninterrupted run.
    assert (
        scalars(tmp_path / "resumed")["train/loss"] == scalars(tmp_path / "full")["train/loss"][3:]
    )
    assert half_ckpt.read_bytes() == half_bytes  # resuming never writes into the old run
    # The resumed run's gradient file holds the whole history, as the uninterrupted one does.
    full_steps, full_norms, _ = load_gradients(tmp_path / "full" / "gradients.npz")
    steps, norms, _ = load_gradients(tmp_path / "resumed" / "gradients.npz")
    assert steps.tolist() == full_steps.tolist() == [0, 3, 6]
    assert norms.keys() == full_norms.keys()
    for q in norms:
        np.testing.assert_array_equal(norms[q], full_norms[q])


def test_checkpoint_contents(tmp_path: Path) -> None:
    train(tiny(tmp_path, "run", "trainer.max_steps=3"))
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert set(ckpt) >= {"model", "optimizer", "step", "rng", "config"}
    assert ckpt["step"] == 3
    assert ckpt["config"]["trainer"]["max_steps"] == 3
    assert ckpt["config"]["model"] == {
        "name": "lstm",
        "hidden_size": 16,
        "num_layers": 1,
        "dropout": 0.0,
        "encoder_size": 32,
        "forget_bias": 1.0,
        "chrono_tmax": None,
        "zoneout": 0.0,
        "recurrent_init": "default",
        "backend": "auto",
        "compile": False,
    }
    assert ckpt["config"]["paths"]["run_dir"] == str(tmp_path / "run")
    assert isinstance(ckpt["rng"]["torch"], torch.Tensor)
    assert ckpt["model"].keys() == {
        "encoder.weight",
        "encoder.bias",
        "core.weight_ih_l0",
        "core.weight_hh_l0",
        "core.bias_ih_l0",
        "core.bias_hh_l0",
        "head.linear.weight",
        "head.linear.bias",
    }
    assert len(ckpt["optimizer"]["state"]) == 8
    assert int(ckpt["optimizer"]["state"][0]["step"]) == 3
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["last.pt"]
    # Written through a temporary file, yet with the usual permissions (not mkstemp's 0600).
    umask = os.umask(0)
    os.umask(umask)
    mode = (tmp_path / "run" / "checkpoints" / "last.pt").stat().st_mode & 0o777
    assert mode == 0o666 & ~umask


def test_resume_at_the_end_trains_nothing(runs, tmp_path: Path) -> None:
    _, metrics, first = runs["lstm"]
    again = train(tiny(tmp_path, "again", f"ckpt_path={first / 'checkpoints' / 'last.pt'}"))
    assert again == metrics
    assert "train/loss" not in scalars(tmp_path / "again")


def test_save_checkpoint_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "checkpoints" / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(3)}, "step": 1})
    original = path.read_bytes()

    def crash(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"model": {"w": torch.zeros(3)}, "step": 2})
    assert path.read_bytes() == original
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "model.hidden_size=32",
            "holds a different model (hidden_size differ); resume with the checkpoint's "
            "settings: model.hidden_size=16",
        ),
        ("model=gru", "holds a different model"),
        (
            "optim=sgd",
            "was trained with torch.optim.Adam, this run asks for torch.optim.SGD",
        ),
    ],
)
def test_resume_with_another_model_fails_before_any_work(
    runs, tmp_path: Path, override: str, message: str
) -> None:
    ckpt = runs["lstm"][2] / "checkpoints" / "last.pt"
    before = ckpt.read_bytes()
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", override, f"ckpt_path={ckpt}"))
    assert message in str(excinfo.value)
    assert str(ckpt) in str(excinfo.value)
    assert not (tmp_path / "new").exists()  # no tb/, no checkpoints/, nothing
    assert ckpt.read_bytes() == before


def test_resume_from_missing_checkpoint(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "last.pt"
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={missing}"))
    assert str(excinfo.value) == f"checkpoint {str(missing)!r} does not exist"
    assert not (tmp_path / "new").exists()


def test_resume_from_a_run_folder_suggests_its_checkpoint(runs, tmp_path: Path) -> None:
    folder = runs["lstm"][2]
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={folder}"))
    assert f"did you mean ckpt_path={folder / 'checkpoints' / 'last.pt'}?" in str(excinfo.value)
    assert not (tmp_path / "new").exists()


CORRUPT = {
    "binary_garbage": bytes(range(256)) * 4,
    "empty": b"",
    # Short text files, e.g. a log or notes saved as .pt: the unpickler reads them as opcodes.
    "text_hello": b"hello",
    "text_line": b"abc\n",
    "zip_header_only": b"PK\x03\x04" + bytes(100),
}


@pytest.mark.parametrize("payload", [*CORRUPT, "truncated_checkpoint"])
def test_resume_from_corrupt_checkpoint(runs, tmp_path: Path, payload: str) -> None:
    corrupt = tmp_path / "corrupt.pt"
    if payload == "truncated_checkpoint":  # a copy cut short
        whole = (runs["lstm"][2] / "checkpoints" / "last.pt").read_bytes()
        data = whole[: len(whole) // 2]
    else:
        data = CORRUPT[payload]
    corrupt.write_bytes(data)
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={corrupt}"))
    assert str(excinfo.value).startswith(
        f"checkpoint {str(corrupt)!r} is corrupt or not a seqnet checkpoint"
    )
    assert not (tmp_path / "new").exists()
    assert corrupt.read_bytes() == data


def test_resume_from_a_foreign_torch_file(tmp_path: Path) -> None:
    foreign = tmp_path / "weights.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, foreign)
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={foreign}"))
    assert "is not a seqnet checkpoint: expected keys" in str(excinfo.value)
    assert "found ['state_dict']" in str(excinfo.value)
    assert not (tmp_path / "new").exists()
