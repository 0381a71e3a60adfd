"""One run per folder: names taken by another run get _2, _3, ... (also when claimed at the same
moment, and for sweep jobs); the ranks and requeues of one job share theirs; train() refuses an
explicit folder another run owns before writing anything, and lets its continuation in; long
override lists fit a folder name. (Through seqnet-train and seqnet.run:
tests/e2e/test_run_folders.py.)"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import TINY, compose_config
from helpers.runs import snapshot
from seqnet.errors import ConfigError
from seqnet.resolvers import MAX_NAME_BYTES, _job_folder, fit_folder_name
from seqnet.training import run_folder
from seqnet.training.loop import train


@pytest.fixture(autouse=True)
def release_claims() -> Iterator[None]:
    """The locks this test's claims took are given back (a process holds them until it ends)."""
    yield
    from seqnet.training import folder_lock

    for folder in list(folder_lock._held):
        folder_lock.release(folder)


def test_taken_names_get_a_number(tmp_path):
    base = str(tmp_path / "runs" / "2026-01-01_00-00-00_model=gru")
    assert run_folder.claim_new_name(base) == base
    assert run_folder.claim_new_name(base) == f"{base}_2"
    assert run_folder.claim_new_name(base) == f"{base}_3"
    # A folder with run outputs from before owner files existed belongs to that run.
    old = tmp_path / "runs" / "old"
    (old / "checkpoints").mkdir(parents=True)
    assert run_folder.claim_new_name(str(old)) == f"{old}_2"
    # A folder with only what Hydra writes (a run that stopped before training) is free.
    (tmp_path / "runs" / "failed" / ".hydra").mkdir(parents=True)
    assert run_folder.claim_new_name(str(tmp_path / "runs" / "failed")).endswith("failed")
    record = json.loads(Path(base, run_folder.OWNER_FILE).read_text())
    assert set(record) == {"host", "pid", "claimed", "job"}


def test_the_same_job_and_auto_resumes_enter_their_own_folder(tmp_path, monkeypatch):
    base = str(tmp_path / "runs" / "2026-01-01_00-00-00")
    monkeypatch.setenv("SEQNET_LAUNCH_ID", "launch-a")  # torchrun: rank 0 claims ...
    assert run_folder.claim_new_name(base) == base
    assert run_folder.claim_new_name(base) == base  # ... and every rank of the launch joins it
    monkeypatch.setenv("SEQNET_LAUNCH_ID", "launch-b")  # another launch in the same second
    assert run_folder.claim_new_name(base) == f"{base}_2"
    monkeypatch.delenv("SEQNET_LAUNCH_ID")
    # A SLURM job id is a requeue only once no process holds the folder: two runs of one
    # allocation get two folders, the job requeued after its end gets its own back.
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    slurm = f"{base}_slurm"
    assert run_folder.claim_new_name(slurm) == slurm
    assert run_folder.claim_new_name(slurm) == f"{slurm}_2"
    run_folder.release(Path(slurm))  # the job ends (preempted, killed): the kernel frees it
    assert run_folder.claim_new_name(slurm) == slurm
    monkeypatch.delenv("SLURM_JOB_ID")
    # ckpt_path=auto continues a folder's run only when it has a checkpoint to resume from, and
    # only once that run is gone.
    (Path(base) / "checkpoints").mkdir()
    (Path(base) / "checkpoints" / "last.pt").write_bytes(b"")
    assert run_folder.claim_new_name(base, "auto") == f"{base}_3"  # base is held, _2 too
    run_folder.release(Path(base))
    assert run_folder.claim_new_name(base) == f"{base}_4"  # a fresh run never enters it
    assert run_folder.claim_new_name(base, "auto") == base


def test_a_folder_whose_owner_died_before_its_first_checkpoint_is_reclaimed(tmp_path):
    """The owner file and partial TensorBoard events of a run killed during set-up (nobody holds
    the lock): the same folder is taken again, and the dead run's events, which would mix with
    the new run's steps, are removed."""
    folder = tmp_path / "run"
    (folder / "tb").mkdir(parents=True)
    (folder / "tb" / "events.out.tfevents.1.host.1.0").write_bytes(b"partial")
    dead = {"host": "node7", "pid": 999999, "claimed": "2026-01-01 00:00:00", "job": {}}
    (folder / run_folder.OWNER_FILE).write_text(json.dumps(dead))
    assert run_folder.claim_new_name(str(folder)) == str(folder)
    assert not (folder / "tb").exists()
    record = json.loads((folder / run_folder.OWNER_FILE).read_text())
    assert record["pid"] == os.getpid() and record["continues"] == dead


def test_refusals_name_only_files_that_exist(tmp_path):
    """A folder left by another run that cannot be continued (outputs of an older seqnet, no
    checkpoint) is refused without suggesting a checkpoint; one with a checkpoint names it."""
    old = tmp_path / "old"
    (old / "tb").mkdir(parents=True)
    with pytest.raises(ConfigError) as excinfo:
        run_folder.enter(old, None)
    assert str(excinfo.value) == (
        f"run folder '{old}' belongs to another run (an unknown run: no readable owner file; it "
        "is no longer running), which left no checkpoint to continue from: write this run into "
        "another folder: another paths.run_dir (or none, for a new timestamped folder)"
    )
    ckpt = old / "checkpoints" / "last.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"")
    with pytest.raises(ConfigError) as excinfo:
        run_folder.enter(old, None)
    assert str(excinfo.value).endswith(
        f"which left a checkpoint: continue it by resuming from it (ckpt_path={ckpt}, or "
        "ckpt_path=auto), or write this run into another folder: another paths.run_dir (or "
        "none, for a new timestamped folder)"
    )


def test_sweep_jobs_whose_overrides_are_all_left_out_get_their_job_number(tmp_path):
    sweep = str(tmp_path / "multirun" / "2026-01-01_00-00-00")
    # -m trainer.device=cpu,cuda: both jobs' names are empty (trainer.device is left out).
    assert run_folder.claim_sweep_subdir(sweep, "", 0, None) == "0"
    assert run_folder.claim_sweep_subdir(sweep, "", 1, None) == "1"
    # -m model=gru trainer.device=cpu,cuda: both are named model=gru.
    assert run_folder.claim_sweep_subdir(sweep, "model=gru", 2, None) == "model=gru"
    assert run_folder.claim_sweep_subdir(sweep, "model=gru", 3, None) == "model=gru_2"


def test_simultaneous_claims_of_one_name_get_distinct_folders(tmp_path):
    base = str(tmp_path / "same-second")
    claimed: list[str] = []
    barrier = threading.Barrier(8)

    def launch() -> None:
        barrier.wait()
        claimed.append(run_folder.claim_new_name(base))

    threads = [threading.Thread(target=launch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted([base, *(f"{base}_{n}" for n in range(2, 9))])


def test_train_refuses_a_folder_another_run_owns(tmp_path):
    first = compose_config([*TINY, f"paths.run_dir={tmp_path / 'run'}"])
    train(first)
    before = snapshot(tmp_path / "run")

    second = compose_config([*TINY, "model=gru", f"paths.run_dir={tmp_path / 'run'}"])
    with pytest.raises(ConfigError) as excinfo:
        train(second)

    message = str(excinfo.value)
    record = json.loads(before[run_folder.OWNER_FILE])
    assert message.startswith(
        f"run folder '{tmp_path / 'run'}' belongs to another run (pid {os.getpid()} on host "
        f"{record['host']}, started {record['claimed']}; it is no longer running)"
    )
    assert f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.pt'}, or ckpt_path=auto" in message
    assert snapshot(tmp_path / "run") == before

    # Its continuation may: it resumes from the checkpoint in that folder and goes on there.
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    more = [*TINY, "trainer.max_steps=9", f"ckpt_path={ckpt}", f"paths.run_dir={tmp_path / 'run'}"]
    assert train(compose_config(more))["step"] == 9
    record = json.loads((tmp_path / "run" / run_folder.OWNER_FILE).read_text())
    assert record["continues"] == json.loads(before[run_folder.OWNER_FILE])
    assert sorted(p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")) == [
        ".seqnet-run.json",
        ".seqnet-run.lock",
    ]


def test_long_override_lists_fit_a_folder_name():
    assert fit_folder_name("model=gru,data.seq_len=100") == "model=gru,data.seq_len=100"
    overrides = [f"model.option_{i}={'x' * 10}" for i in range(20)]  # 20 x 25 bytes
    name = ",".join(overrides)
    fitted = fit_folder_name(name)
    head, digest = fitted.split("...")
    assert digest == hashlib.sha1(name.encode()).hexdigest()[:8]
    # Whole overrides only: the first seven (7 x 26 = 182 bytes, with their commas) fit.
    assert head == ",".join(overrides[:7]) + ","
    assert len(fitted.encode()) == 182 + 3 + 8 <= MAX_NAME_BYTES
    # Two long names with the same head (a sweep over a late override) stay apart.
    other = fit_folder_name(name.replace("option_19=x", "option_19=y"))
    assert other != fitted and other.split("...")[0] == head
    # A multi-byte character is not cut in half: 189 bytes hold 94 two-byte characters.
    digest = hashlib.sha1(("é" * 300).encode()).hexdigest()[:8]
    assert fit_folder_name("é" * 300) == "é" * 94 + "..." + digest


def test_values_with_slashes_do_not_nest_folders() -> None:
    overrides = ["data.path=/data/x.csv", "trainer.early_stopping.metric=val/loss", "seed=1"]
    assert _job_folder(overrides, ["seed"]) == (
        "data.path=-data-x.csv,trainer.early_stopping.metric=val-loss"
    )
