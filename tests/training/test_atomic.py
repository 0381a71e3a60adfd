"""Atomic writes (``seqnet.atomic``, behind checkpoints and gradients.npz): permissions from the
umask without changing it, data and folder fsynced."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from conftest import SRC
from seqnet.atomic import atomic_write


def test_new_file_gets_the_umask_permissions_without_touching_the_umask(tmp_path):
    """Run in a child process with umask 027: the file is rw-r----- (0o640), and os.umask,
    which sets the umask for every thread of the process, is never called."""
    script = f"""
import os
from pathlib import Path
os.umask(0o027)
def forbidden(mask):
    raise AssertionError("os.umask called")
os.umask = forbidden
from seqnet.atomic import atomic_write
with atomic_write(Path({str(tmp_path / "f.bin")!r})) as f:
    f.write(b"data")
"""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True)
    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "f.bin").read_bytes() == b"data"
    assert stat.S_IMODE((tmp_path / "f.bin").stat().st_mode) == 0o640


@pytest.mark.skipif(os.name == "nt", reason="folders cannot be fsynced on Windows")
def test_data_then_folder_are_fsynced(tmp_path, monkeypatch):
    """The file's data before the rename, the folder (which holds the new name) after it."""
    synced: list[tuple[str, bool]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        is_folder = stat.S_ISDIR(os.fstat(fd).st_mode)
        synced.append(("folder" if is_folder else "file", (tmp_path / "f.bin").exists()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with atomic_write(tmp_path / "f.bin") as f:
        f.write(b"new")
    # (what was synced, whether the final name existed yet)
    assert synced == [("file", False), ("folder", True)]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="interrupted"), atomic_write(path) as f:
        f.write(b"half")
        raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
