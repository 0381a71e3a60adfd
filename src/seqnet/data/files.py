"""What the file tasks (``data=timeseries``, ``arrays``, ``text``, ``idx``) share: the keys every
one has (``FileConfig``), the checks of ``data.path``, the split fractions, and the content hash
of the files that a checkpoint keeps (``fingerprint``), so that resuming on a changed file is
refused (``data.allow_changed_file=true``: a warning instead).

Every problem with a file is a ``DataFileError`` raised while the task is built, before any
training: one line that names the file, what is wrong and how to fix it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import MISSING

from seqnet.data.task import DataConfig
from seqnet.errors import DataFileError

_CHUNK = 1 << 22  # bytes read at a time while hashing: 4 MiB


@dataclass
class FileConfig(DataConfig):
    """The keys of every file task."""

    # The file (or folder) to read; a relative path is read from the folder seqnet-train runs in.
    path: str = MISSING
    # Resume from a checkpoint although the data file(s) changed since it was written: a
    # warning instead of the error (the resumed run then trains on other data).
    allow_changed_file: bool = False


def data_path(path: str, expect: str, folder: bool | None = None) -> Path:
    """``data.path`` as an absolute path that exists: a folder (``folder=True``), a file
    (``False``) or either (None). ``expect`` says what it should be, for the messages."""
    if not path or path == "???":  # "???": OmegaConf's MISSING, left unset
        raise DataFileError(f"data.path is not set; give {expect}: data.path=...")
    resolved = Path(path).expanduser().resolve()
    named = f"data.path={path}" + (f" ({resolved})" if str(resolved) != path else "")
    if not resolved.exists():
        raise DataFileError(
            f"{named} does not exist; give {expect} (a relative path is read from the folder "
            "seqnet-train runs in)"
        )
    if folder is True and not resolved.is_dir():
        raise DataFileError(f"{named} is a file; give {expect}")
    if folder is False and resolved.is_dir():
        raise DataFileError(f"{named} is a folder; give {expect}")
    return resolved


def file_error(path: Path, problem: str, fix: str) -> DataFileError:
    """The one-line error for a file whose contents the task cannot use."""
    return DataFileError(f"data.path: {path}: {problem}; {fix}")


def split_fractions(split: Sequence[float], key: str = "data.split") -> tuple[float, ...]:
    """Two or three fractions (train, validation[, test]) that add up to 1, train and
    validation above 0."""
    fractions = tuple(float(f) for f in split)
    if (
        len(fractions) not in (2, 3)
        or any(f < 0 for f in fractions)
        or fractions[0] <= 0
        or fractions[1] <= 0
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise DataFileError(
            f"{key}={list(split)} must be 2 or 3 fractions (train, validation[, test]) that "
            f"add up to 1, train and validation above 0: e.g. {key}=[0.8,0.1,0.1]"
        )
    return fractions


def split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int, int]:
    """How many of ``n`` items go to train, validation and test: the boundaries are the
    fractions' running sums times ``n``, rounded (a test fraction of 0, or none, gives 0)."""
    bounds = np.rint(np.cumsum(fractions)[:2] * n).astype(int).clip(0, n)
    train, val_end = int(bounds[0]), int(bounds[1])
    return train, val_end - train, n - val_end


def file_digest(path: Path) -> str:
    """The sha256 of a file's bytes, read a few MiB at a time (never held whole)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(files: Sequence[Path]) -> dict[str, Any] | None:
    """What a checkpoint keeps of a task's data files: ``{"root": folder, "files": {name:
    sha256}}``, each file named relative to the folder that holds them all (so moving the data
    elsewhere changes nothing); None for a task that reads none."""
    if not files:
        return None
    root = Path(os.path.commonpath([p.parent for p in files]))
    return {"root": str(root), "files": {str(p.relative_to(root)): file_digest(p) for p in files}}


def changed_files(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``"<name> (sha256 ab12... -> cd34...)"`` for each file that differs, is new or is gone
    between a checkpoint's fingerprint and this run's."""
    old, new = saved.get("files", {}), current.get("files", {})
    changes = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path, "none"), new.get(path, "none")
        if before != after:
            changes.append(f"{path} (sha256 {before[:12]} -> {after[:12]})")
    return changes
