"""Checkpoints: what ``last.pt`` holds, atomic writes with the usual permissions, and one-line
errors for a checkpoint that is missing, a folder, corrupt or not seqnet's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from helpers.runs import tiny
from seqnet.errors import CheckpointError
from seqnet.training import checkpoint as checkpoint_module
from seqnet.training.checkpoint import load_checkpoint, save_checkpoint
from seqnet.training.loop import train


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
        "bidirectional": False,
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
    # Written through a temporary file, yet with the usual permissions (not mkstemp's 0600),
    # as the gradients file is.
    umask = os.umask(0)
    os.umask(umask)
    for written in ("checkpoints/last.pt", "gradients.npz"):
        assert (tmp_path / "run" / written).stat().st_mode & 0o777 == 0o666 & ~umask, written


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
