"""seqnet-train on real faulty disks (a tmpfs, skipped where it cannot be mounted): a read-only
output folder and a disk that fills up mid-run each end the run with one line naming the path,
the error and the fix, and the previous checkpoint stays as it was."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from conftest import TINY
from helpers.filesystems import fill, make_read_only, tmpfs
from helpers.processes import seqnet_train, start_train

pytestmark = pytest.mark.slow

ARGS = [*TINY, "grad_log.every_n_steps=0", "trainer.threads=1"]


def test_a_read_only_output_folder_is_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", size="1m") as disk:
        (disk / "outputs").mkdir()
        make_read_only(disk)
        result = seqnet_train(tmp_path, *ARGS, f"paths.output_dir={disk / 'outputs'}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"seqnet-train: error: cannot write {disk / 'outputs' / 'runs'}: Read-only file system "
        "(EROFS); make that folder writable, or write runs elsewhere: paths.output_dir=... (or "
        "hydra.run.dir=...)"
    ]


def test_a_disk_that_fills_up_mid_run_is_one_line_and_keeps_the_checkpoint(tmp_path: Path):
    with tmpfs(tmp_path / "disk", size="16m") as disk:
        run_dir = disk / "run"
        args = [*ARGS, "trainer.max_steps=100000", "trainer.ckpt_every_n_steps=10"]
        process = start_train(tmp_path, *args, f"hydra.run.dir={run_dir}")
        ckpt = run_dir / "checkpoints" / "last.pt"
        deadline = time.monotonic() + 240
        while not ckpt.exists():
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGSTOP)  # between two writes of the checkpoint
        before = ckpt.read_bytes()
        fill(disk)
        os.kill(process.pid, signal.SIGCONT)
        _, err = process.communicate(timeout=120)

        assert process.returncode == 1, err[-3000:]
        (line,) = err.splitlines()  # the first write that meets the full disk, whichever
        assert re.match(
            rf"seqnet-train: error: cannot write (checkpoint )?{re.escape(str(run_dir))}/", line
        )
        assert (
            ": No space left on device (ENOSPC); free space on that disk, or write runs elsewhere: "
            "paths.output_dir=... (or hydra.run.dir=...)"
        ) in line
        assert ckpt.read_bytes() == before
        assert sorted(p.name for p in ckpt.parent.iterdir()) == ["last.pt"]
