"""Run folders as seqnet-train and seqnet.run make them: launches whose names differ only in
left-out keys get their own folders, a long override list still gets one, and an explicit
hydra.run.dir that another run owns is refused before Hydra writes into it (a one-line error
from the command, an exception from the library)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import seqnet
from conftest import TINY
from helpers.processes import seqnet_train
from helpers.runs import snapshot
from seqnet.errors import ConfigError
from seqnet.resolvers import MAX_NAME_BYTES
from seqnet.training import run_folder

FAST = ["debug=fast", "trainer.progress_bar=false"]


@pytest.mark.slow
def test_launches_that_differ_only_in_left_out_keys_get_their_own_folders(tmp_path):
    """The folder name leaves trainer.device out; two launches with the same name (the same
    second, forced here by giving the name) write into two folders."""
    name = "hydra.run.dir='${seqnet.claim_run_dir:outputs/runs/same,${ckpt_path}}'"
    for device in ("cpu", "auto"):
        result = seqnet_train(
            tmp_path, *FAST, "trainer.max_steps=2", name, f"trainer.device={device}"
        )
        assert result.returncode == 0, result.stderr
    runs = tmp_path / "outputs" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["same", "same_2"]
    for folder, device in ((runs / "same", "cpu"), (runs / "same_2", "auto")):
        assert f"trainer.device={device}" in (folder / ".hydra" / "overrides.yaml").read_text()
        assert json.loads((folder / "metrics.json").read_text())["step"] == 2


@pytest.mark.parametrize("front_end", ["seqnet-train", "seqnet.run"])
def test_a_folder_another_run_owns_is_refused_before_hydra_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], front_end
) -> None:
    owned = tmp_path / "owned"
    run_folder.claim(owned)  # this process holds it for the duration of the test
    before = snapshot(owned)
    expected = f"run folder '{owned}' is in use by another run (pid {os.getpid()} on host "
    if front_end == "seqnet-train":
        result = seqnet_train(tmp_path, *TINY, f"hydra.run.dir={owned}", "model=gru")
        assert result.returncode == 1
        (line,) = result.stderr.splitlines()  # one line, no traceback
        assert line.startswith(f"seqnet-train: error: {expected}")
        assert line.endswith("or none, for a new timestamped folder)")
    else:
        monkeypatch.chdir(tmp_path)
        with pytest.raises(ConfigError) as excinfo:
            seqnet.run([*TINY, f"hydra.run.dir={owned}"])
        assert str(excinfo.value).startswith(expected)
        assert expected not in capfd.readouterr().err  # raised, not also printed
    assert snapshot(owned) == before  # no .hydra/, no train.log, no tb/
    run_folder.release(owned)


@pytest.mark.slow
def test_a_run_with_many_overrides_gets_a_folder(tmp_path):
    """Once a traceback: the folder name passed the file system's 255 bytes (Errno 36)."""
    many = [
        "model=lstm",
        "model.hidden_size=8",
        "model.forget_bias=1.0",
        "model.dropout=0.0",
        "data.seq_len=20",
        "data.batch_size=8",
        "data.val_size=64",
        "trainer.log_every_n_steps=1",
        "trainer.val_every_n_steps=1",
        "trainer.clip_grad_norm=1.0",
        "trainer.max_nonfinite_steps=5",
        "optim.lr=0.001",
        "grad_log.dtype=float64",
        "seed=12345",
    ]
    result = seqnet_train(tmp_path, *many, *FAST)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    assert len(run_dir.name.encode()) <= 20 + MAX_NAME_BYTES
    assert run_dir.name[20:].startswith("data.batch_size=8,data.seq_len=20,")
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 20
    recorded = (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert all(override in recorded for override in many)  # the full list is kept
