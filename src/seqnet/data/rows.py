"""Rows of an array that stays on disk: a memory-mapped ``.npy`` file (``np.load(...,
mmap_mode="r")``), read a batch at a time, so that an array larger than memory trains without
being read whole.

``Rows(array, index, device, dtype)`` stands for ``array[index]`` without reading it:
``rows[key]`` (a slice, or a tensor or array of positions, as ``EpochShuffle`` gives) reads
those rows from the file and returns them as a tensor on ``device``. Evaluation slices
validation inputs chunk by chunk, so a validation set held as ``Rows`` is read chunk by chunk
too (``Task.val_set``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class Rows:
    """The rows ``index`` (positions along the first axis) of ``array``, read when indexed."""

    def __init__(
        self, array: np.ndarray, index: np.ndarray, device: torch.device, dtype: torch.dtype
    ) -> None:
        self.array, self.index = array, np.asarray(index, dtype=np.int64)
        self.device, self.dtype = torch.device(device), dtype
        self.shape = (len(self.index), *array.shape[1:])

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key: slice | Tensor | np.ndarray) -> Tensor:
        if isinstance(key, Tensor):
            key = key.cpu().numpy()
        positions = self.index[key]
        # Read in file order (sorted), then put back in the order asked for.
        order = np.argsort(positions, kind="stable")
        rows = np.empty((len(positions), *self.array.shape[1:]), dtype=self.array.dtype)
        rows[order] = self.array[positions[order]]
        return torch.from_numpy(rows).to(self.device, self.dtype)
