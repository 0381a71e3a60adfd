"""Rows of an array that stays on disk, a ``.npy`` file, read a batch at a time, so that an
array larger than memory trains without being read whole.

The file is opened as a memory map (``np.load(..., mmap_mode="r")``: its shape and dtype, no
data read) and its rows are read with plain file reads (``os.pread``) at their offsets, so the
process holds only the rows it asked for: pages of a memory map that were touched would count
in its resident memory until the kernel dropped them. ``Rows(file, index, device, dtype)``
stands for ``array[index]``: ``rows[key]`` (a slice, or a tensor or array of positions, as
``EpochShuffle`` gives) reads those rows and returns them as a tensor on ``device``. Evaluation
slices validation inputs chunk by chunk, so a validation set held as ``Rows`` is read chunk by
chunk too (``Task.val_set``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


class RowFile:
    """A C-order ``.npy`` file read by rows: ``read(positions)`` returns those rows."""

    def __init__(self, path: Path, offset: int, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        self.path, self.offset, self.dtype, self.shape = path, offset, np.dtype(dtype), shape
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def reshaped(self, shape: tuple[int, ...]) -> RowFile:
        """The same bytes seen with rows of another shape (same size)."""
        return RowFile(self.path, self.offset, self.dtype, shape)

    def read(self, positions: np.ndarray) -> np.ndarray:
        """Rows ``positions`` (in that order); each run of consecutive rows is one read."""
        out = np.empty((len(positions), *self.shape[1:]), dtype=self.dtype)
        flat = out.reshape(len(positions), -1).view(np.uint8)
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        fd = os.open(self.path, os.O_RDONLY)
        try:
            start = 0
            while start < len(ordered):
                stop = start + 1
                while stop < len(ordered) and ordered[stop] == ordered[stop - 1] + 1:
                    stop += 1
                size = (stop - start) * self.row_bytes
                data = os.pread(fd, size, self.offset + int(ordered[start]) * self.row_bytes)
                if len(data) != size:
                    raise OSError(f"{self.path} ends before row {ordered[stop - 1]}")
                flat[order[start:stop]] = np.frombuffer(data, np.uint8).reshape(stop - start, -1)
                start = stop
        finally:
            os.close(fd)
        return out

    def chunks(self, rows: int):
        """Consecutive blocks of ``rows`` rows, each read on its own (for the checks)."""
        for start in range(0, len(self), rows):
            yield start, self.read(np.arange(start, min(start + rows, len(self))))


def row_file(mapped: np.memmap) -> RowFile:
    """The ``.npy`` that ``mapped`` (``np.load(path, mmap_mode="r")``) maps, as a ``RowFile``
    (ValueError for a Fortran-order file, whose rows are not contiguous)."""
    if not mapped.flags.c_contiguous:
        raise ValueError("it is stored in Fortran order; save np.ascontiguousarray(x)")
    return RowFile(Path(mapped.filename), int(mapped.offset), mapped.dtype, tuple(mapped.shape))


class Rows:
    """The rows ``index`` (positions along the first axis) of ``file``, read when indexed."""

    def __init__(
        self, file: RowFile, index: np.ndarray, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.file, self.index = file, np.asarray(index, dtype=np.int64)
        self.device, self.dtype = torch.device(device), dtype
        self.shape = (len(self.index), *file.shape[1:])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key: slice | Tensor | np.ndarray) -> Tensor:
        if isinstance(key, Tensor):
            key = key.cpu().numpy()
        rows = self.file.read(np.atleast_1d(self.index[key]))
        return torch.from_numpy(rows).to(self.device, self.dtype)
