"""Tasks over a fixed data set (not generated): train/val/test splits held on the device, and
training batches drawn epoch by epoch, each batch a pure function of (seed, step)."""

from __future__ import annotations

from seqnet.data.seeds import EpochShuffle
from seqnet.data.task import Batch, Task


class FixedSplits(Task):
    """Base for fixed data sets: the constructor calls ``set_splits`` once, with the whole data
    already on ``self.device``; batches are then indexed, never rebuilt."""

    def set_splits(self, train: Batch, val: Batch, test: Batch | None = None) -> None:
        self._train, self._val, self._test = train, val, test
        self._shuffle = EpochShuffle(len(train.x), self.batch_size, self.device)

    def train_batch(self, seed: int, step: int) -> Batch:
        idx = self._shuffle.indices(seed, step)
        return Batch(self._train.x[idx], self._train.y[idx])

    def val_set(self) -> Batch:
        return self._val

    def test_set(self) -> Batch | None:
        return self._test
