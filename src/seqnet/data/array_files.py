"""The arrays of ``data=arrays``: an ``.npz`` file, read into memory, or a folder of ``.npy``
files, memory-mapped (read a batch at a time: ``seqnet.data.rows``), and the checks every
array must pass before any training.

Arrays: ``x`` (inputs), ``y`` (targets), optionally ``lengths`` (each sequence's length) and
``train_index``, ``val_index``, ``test_index`` (a split given as positions). Pickled (object)
arrays are refused: ``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from seqnet.data.files import file_error

NAMES = ("x", "y", "lengths", "train_index", "val_index", "test_index")
EXPECT = "an .npz file holding arrays x and y, or a folder holding x.npy and y.npy"
#: Bytes of an array read at a time while checking it (a memory-mapped array is never whole).
CHECK_CHUNK = 1 << 26


class ArrayFiles:
    """The arrays at ``path`` and where each one is (``where(name)``: for the messages)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.is_dir()
        self.arrays: dict[str, np.ndarray] = {}
        if self.folder:
            found = sorted(p.stem for p in path.glob("*.npy"))
            for name in NAMES:
                if (path / f"{name}.npy").is_file():
                    self.arrays[name] = self._load_npy(path / f"{name}.npy")
        else:
            if path.suffix != ".npz":
                raise file_error(path, "is not an .npz file (by its name)", f"give {EXPECT}")
            if not zipfile.is_zipfile(path):  # np.load would try to unpickle it
                raise file_error(
                    path, "is not an .npz file (not a zip archive)", "save it with np.savez"
                )
            try:
                with np.load(path, allow_pickle=False) as npz:
                    found = sorted(npz.files)
                    for name in NAMES:
                        if name in npz.files:
                            self.arrays[name] = npz[name]
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
                raise file_error(path, f"cannot be read ({_reason(e)})", f"give {EXPECT}") from e
        for name in ("x", "y"):
            if name not in self.arrays:
                listed = ", ".join(found) or "none"
                raise file_error(
                    path, f"has no array {name!r} (arrays there: {listed})", f"give {EXPECT}"
                )

    def _load_npy(self, file: Path) -> np.ndarray:
        try:
            return np.load(file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise file_error(file, f"cannot be read ({_reason(e)})", "save it with np.save") from e

    def files(self) -> list[Path]:
        """The files read (what a checkpoint's content hash covers)."""
        if not self.folder:
            return [self.path]
        return [self.path / f"{name}.npy" for name in NAMES if name in self.arrays]

    def where(self, name: str) -> Path:
        return self.path / f"{name}.npy" if self.folder else self.path

    def label(self, name: str) -> str:
        """How a message names an array: ``y`` (in the .npz) or ``y.npy``."""
        return f"{name}.npy" if self.folder else name

    def get(self, name: str) -> np.ndarray | None:
        return self.arrays.get(name)


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def check_numeric(files: ArrayFiles, name: str) -> None:
    array = files.arrays[name]
    if array.dtype.kind not in "biuf":
        raise file_error(
            files.where(name),
            f"array {files.label(name)} holds {array.dtype} values",
            "save numbers (integers or floats)",
        )


def check_finite(files: ArrayFiles, name: str) -> None:
    """NaN or infinite values stop, with the first one's position; read in chunks."""
    array = files.arrays[name]
    if array.dtype.kind != "f" or len(array) == 0:
        return
    rows = max(1, CHECK_CHUNK // max(1, array[0].nbytes))
    bad_total, first = 0, None
    for start in range(0, len(array), rows):
        bad = ~np.isfinite(np.asarray(array[start : start + rows]))
        if bad.any():
            bad_total += int(bad.sum())
            if first is None:
                first = (start + int(np.argwhere(bad)[0][0]), *np.argwhere(bad)[0][1:])
    if first is None:
        return
    at = ", ".join(str(int(i)) for i in first)
    raise file_error(
        files.where(name),
        f"array {files.label(name)} has NaN or infinite values: the first at [{at}] "
        f"({bad_total} in all)",
        "replace them (padding after a sequence's length too: pad with 0)",
    )


def integer_range(array: np.ndarray) -> tuple[int, int]:
    """The smallest and largest value of an integer array, read in chunks."""
    rows = max(1, CHECK_CHUNK // max(1, array[0].nbytes if array.ndim > 1 else 8))
    low, high = None, None
    for start in range(0, len(array), rows):
        chunk = np.asarray(array[start : start + rows])
        low = int(chunk.min()) if low is None else min(low, int(chunk.min()))
        high = int(chunk.max()) if high is None else max(high, int(chunk.max()))
    return int(low or 0), int(high or 0)
