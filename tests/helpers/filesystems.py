"""Real faulty file systems for fault-injection tests: a small tmpfs that a test fills until the
kernel answers ENOSPC, and one remounted read-only (which stops root too, unlike chmod). Both
need the right to mount (root, or CAP_SYS_ADMIN); a test is skipped, saying so, where the
machine does not give it."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextmanager
def tmpfs(path: Path, size: str = "8m") -> Iterator[Path]:
    """A fresh tmpfs of ``size`` mounted at ``path`` for the block (unmounted after it)."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        result = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    except FileNotFoundError:
        pytest.skip("no mount command on this machine: cannot make a real full or read-only disk")
    if result.returncode:
        pytest.skip(
            f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode}): a real "
            "full or read-only disk needs root or CAP_SYS_ADMIN"
        )
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def make_read_only(path: Path) -> None:
    """Remount the tmpfs at ``path`` read-only: every write fails with EROFS, for root too."""
    result = _mount("-o", "remount,ro", str(path))
    if result.returncode:
        pytest.skip(f"cannot remount {path} read-only: {result.stderr.strip()}")


def fill(path: Path) -> Path:
    """Write a file into ``path``'s file system until the kernel answers ENOSPC even for one
    byte (unbuffered: a buffer would hold back bytes and fail again on close); returns it."""
    filler = path / "filler"
    chunk = 1 << 16
    with filler.open("wb", buffering=0) as f:
        while True:
            try:
                f.write(bytes(chunk))
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                if chunk == 1:
                    return filler
                chunk //= 2
