"""Run folders as seqnet-train and seqnet.run make them: named after the overrides in the order
given (experiment= and debug= included); paths.run_dir chooses the folder and every file of the
run goes there (.hydra/ and train.log too); launches whose names differ only in left-out keys get
their own folders, a long override list still gets one, and an explicit folder that another run
owns is refused before Hydra writes into it (a one-line error from the command, an exception
from the library)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import seqnet
from conftest import TINY
from helpers.processes import run_train, seqnet_train
from helpers.runs import snapshot
from seqnet.config import CONFIG_DIR
from seqnet.errors import ConfigError
from seqnet.resolvers import MAX_NAME_BYTES, check_one_run_folder
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


def hydra_run_dir(*overrides: str) -> Path:
    """``hydra.run.dir`` as seqnet-train resolves it for ``overrides`` (claiming the folder)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return Path(compose("train", list(overrides), return_hydra_config=True).hydra.run.dir)


def test_a_folder_name_keeps_the_given_order_and_what_changes_the_training(tmp_path):
    """Once sorted (model=lstm_layernorm after the model.* keys, first to be cut) and without
    experiment= and debug= (an experiment's run looked like a default one)."""
    given = ["model=lstm_layernorm", "model.hidden_size=8", "experiment=adding_long", "debug=fast"]
    folder = hydra_run_dir(*given, f"paths.output_dir={tmp_path}", "trainer.progress_bar=false")
    assert folder.parent == tmp_path / "runs"
    assert folder.name[20:] == ",".join(given)  # after <timestamp>_; left-out keys left out


def test_paths_run_dir_is_hydras_folder_too(tmp_path):
    """Once Hydra named its own folder after the value (slashes and all), beside paths.run_dir."""
    assert hydra_run_dir(f"paths.run_dir={tmp_path}/viapaths") == tmp_path / "viapaths"
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", [f"paths.run_dir={tmp_path}/b"])
    with pytest.raises(ConfigError) as excinfo:  # hydra.run.dir=a beside it: two folders
        check_one_run_folder(cfg, str(tmp_path / "a"))
    assert str(excinfo.value) == (
        f"paths.run_dir={tmp_path}/b and Hydra's folder {tmp_path}/a are two folders, and a run "
        "writes into one: choose a run's folder with paths.run_dir alone (no hydra.run.dir)"
    )


@pytest.mark.slow
def test_a_run_into_paths_run_dir_writes_every_file_there(tmp_path):
    run_train(tmp_path, *TINY, "trainer.max_steps=2", "paths.run_dir=outputs/runs/viapaths")
    assert [p.name for p in (tmp_path / "outputs" / "runs").iterdir()] == ["viapaths"]
    folder = tmp_path / "outputs" / "runs" / "viapaths"
    assert sorted(p.name for p in folder.iterdir()) == [
        ".hydra",
        run_folder.OWNER_FILE,
        run_folder.LOCK_FILE,
        "checkpoints",
        "gradients.npz",
        "metrics.json",
        "tb",
        "train.log",
    ]
    assert json.loads((folder / "metrics.json").read_text())["step"] == 2
    assert "finished at step 2" in (folder / "train.log").read_text()


@pytest.mark.parametrize("front_end", ["seqnet-train", "seqnet.run"])
def test_a_folder_another_run_owns_is_refused_before_hydra_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], front_end
) -> None:
    owned = tmp_path / "owned"
    run_folder.claim(owned)  # this process holds it for the duration of the test
    before = snapshot(owned)
    expected = f"run folder '{owned}' is in use by another run (pid {os.getpid()} on host "
    if front_end == "seqnet-train":
        result = seqnet_train(tmp_path, *TINY, f"paths.run_dir={owned}", "model=gru")
        assert result.returncode == 1
        (line,) = result.stderr.splitlines()  # one line, no traceback
        assert line.startswith(f"seqnet-train: error: {expected}")
        # The advice names the way that works: paths.run_dir.
        assert line.endswith(
            "or write this run into another folder: another paths.run_dir (or none, for a new "
            "timestamped folder)"
        )
    else:
        monkeypatch.chdir(tmp_path)
        with pytest.raises(ConfigError) as excinfo:
            seqnet.run([*TINY, f"paths.run_dir={owned}"])
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
    assert run_dir.name[20:].startswith("model=lstm,model.hidden_size=8,")  # the given order
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 20
    recorded = (run_dir / ".hydra" / "overrides.yaml").read_text()
    assert all(override in recorded for override in many)  # the full list is kept
