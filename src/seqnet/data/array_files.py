"""The arrays of ``data=arrays``: an ``.npz`` file, read into memory, or a folder of ``.npy``
files, whose ``x.npy`` is never read whole (memory-mapped for its shape, read a batch of rows at
a time: ``seqnet.data.rows``; the other, small arrays are read whole), and the checks every
array must pass before any training (which read ``x.npy`` a block at a time).

Arrays: ``x`` (inputs), ``y`` (targets), optionally ``lengths`` (each sequence's length) and
``train_index``, ``val_index``, ``test_index`` (a split given as positions). Pickled (object)
arrays are refused: ``allow_pickle=False``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from seqnet.data.files import file_error
from seqnet.data.rows import RowFile, row_file

NAMES = ("x", "y", "lengths", "train_index", "val_index", "test_index")
EXPECT = "an .npz file holding arrays x and y, or a folder holding x.npy and y.npy"
#: Bytes of an array read at a time while checking it (a memory-mapped array is never whole).
CHECK_CHUNK = 1 << 24


class ArrayFiles:
    """The arrays at ``path`` and where each one is (``where(name)``: for the messages)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.is_dir()
        self.arrays: dict[str, np.ndarray] = {}
        #: x.npy of a folder, read by rows (its array in ``arrays`` is the memory map).
        self.row_file: RowFile | None = None
        if self.folder:
            found = sorted(p.stem for p in path.glob("*.npy"))
            for name in NAMES:
                if (path / f"{name}.npy").is_file():
                    self.arrays[name] = self._load_npy(path / f"{name}.npy", name == "x")
            if "x" in self.arrays:
                try:
                    self.row_file = row_file(self.arrays["x"])
                except ValueError as e:
                    raise file_error(
                        self.where("x"), str(e).split(";")[0], "save it C-ordered"
                    ) from e
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

    def _load_npy(self, file: Path, mapped: bool) -> np.ndarray:
        try:
            return np.load(file, mmap_mode="r" if mapped else None, allow_pickle=False)
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


def blocks(files: ArrayFiles, name: str):
    """``(start, block)`` over an array's rows, ``CHECK_CHUNK`` bytes at a time: from the file
    for x.npy (never held whole), slices of the array otherwise."""
    array = files.arrays[name]
    rows = max(1, CHECK_CHUNK // max(1, array[0].nbytes if array.ndim > 1 else 8))
    if name == "x" and files.row_file is not None:
        yield from files.row_file.chunks(rows)
        return
    for start in range(0, len(array), rows):
        yield start, np.asarray(array[start : start + rows])


def check_finite(files: ArrayFiles, name: str) -> None:
    """NaN or infinite values stop, with the first one's position."""
    array = files.arrays[name]
    if array.dtype.kind != "f" or len(array) == 0:
        return
    bad_total, first = 0, None
    for start, block in blocks(files, name):
        bad = ~np.isfinite(block)
        if bad.any():
            bad_total += int(bad.sum())
            if first is None:
                where = np.argwhere(bad)[0]
                first = (start + int(where[0]), *where[1:])
    if first is None:
        return
    at = ", ".join(str(int(i)) for i in first)
    raise file_error(
        files.where(name),
        f"array {files.label(name)} has NaN or infinite values: the first at [{at}] "
        f"({bad_total} in all)",
        "replace them (padding after a sequence's length too: pad with 0)",
    )


def integer_range(files: ArrayFiles, name: str) -> tuple[int, int]:
    """The smallest and largest value of an integer array."""
    low, high = [], []
    for _, block in blocks(files, name):
        low.append(int(block.min()))
        high.append(int(block.max()))
    return min(low), max(high)
