"""Writes on a real full disk (a small tmpfs, skipped where it cannot be mounted), in this
process: a checkpoint, metrics.json and the log each fail with one line naming the file, the
error and the fix, and leave the previous file as it was. (Through seqnet-train:
tests/e2e/test_disk_faults.py.)"""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest

from helpers.filesystems import fill, tmpfs
from helpers.runs import last_ckpt, tiny
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import OutputError
from seqnet.training import loop
from seqnet.training.log_file import RunLogFile
from seqnet.training.loop import train

FIX = (
    "free space on that disk, or write runs elsewhere: paths.output_dir=... (or hydra.run.dir=...)"
)


def fill_on_call(disk: Path, call: int, original):
    calls = itertools.count()

    def wrapped(*args, **kwargs):
        if next(calls) == call:
            fill(disk)
        return original(*args, **kwargs)

    return wrapped


def test_a_full_disk_at_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        # No TensorBoard writes between the checkpoints of steps 3 and 6: the checkpoint is
        # the first write that meets the full disk.
        quiet = [
            "trainer.max_steps=9",
            "trainer.log_every_n_steps=9",
            "trainer.val_every_n_steps=9",
        ]
        cfg = tiny(disk, "run", *quiet, "grad_log.every_n_steps=0")
        monkeypatch.setattr(AddingProblem, "loss", fill_on_call(disk, 4, AddingProblem.loss))
        ckpt = disk / "run" / "checkpoints" / "last.pt"
        with pytest.raises(OutputError) as excinfo:
            train(cfg)
        assert str(excinfo.value) == (
            f"cannot write checkpoint {ckpt}: No space left on device (ENOSPC); {FIX}. The "
            "previous checkpoint (step 3) is intact"
        )
        assert last_ckpt(disk / "run")["step"] == 3
        assert sorted(p.name for p in ckpt.parent.iterdir()) == ["last.pt"]


def test_a_full_disk_at_the_end_keeps_the_previous_metrics(tmp_path, monkeypatch) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        run_dir = disk / "run"
        train(tiny(disk, "run", "ckpt_path=auto", "grad_log.every_n_steps=0"))
        before = (run_dir / "metrics.json").read_bytes()
        monkeypatch.setattr(
            loop, "evaluate_test_set", fill_on_call(disk, 0, loop.evaluate_test_set)
        )
        more = ["ckpt_path=auto", "trainer.max_steps=9", "grad_log.every_n_steps=0"]
        with pytest.raises(OutputError) as excinfo:
            train(tiny(disk, "run", *more))
        assert str(excinfo.value) == (
            f"cannot write {run_dir / 'metrics.json'}: No space left on device (ENOSPC); {FIX}"
        )
        assert (run_dir / "metrics.json").read_bytes() == before
        assert json.loads(before)["step"] == 6


def test_a_full_disk_under_the_log_is_one_line(tmp_path) -> None:
    with tmpfs(tmp_path / "disk", size="1m") as disk:
        logger = logging.getLogger("seqnet.test_disk_full")
        handler = RunLogFile(str(disk / "train.log"))
        logger.addHandler(handler)
        try:
            logger.warning("first")
            fill(disk)
            with pytest.raises(OutputError) as excinfo:
                logger.warning("x" * 10000)  # more than the page the log file already has
            logger.warning("dropped")  # the log stays off: no error per record
        finally:
            logger.removeHandler(handler)
            handler.close()
    assert str(excinfo.value) == (
        f"cannot write the log {disk / 'train.log'}: No space left on device (ENOSPC); {FIX}"
    )
