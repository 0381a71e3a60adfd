"""Many-to-one classification of a fixed data set (MNIST-1D, the sequential 8x8 digits).

The train, validation and test splits are loaded once onto the device. Training batches come
from epoch-wise shuffles (``seqnet.data.seeds.EpochShuffle``): every example is seen once per
epoch, and batch ``k`` is a pure function of ``(seed, k)``, so a resumed run sees the same
batches.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from seqnet.data.base import Batch, Task
from seqnet.data.seeds import EpochShuffle


class SequenceClassification(Task):
    """A fixed data set of sequences ``x`` (n, time, features) with class labels ``y`` (n,),
    classified from the last step. A subclass checks its options, calls ``Task.__init__``, loads
    its data and hands the splits to ``set_splits``."""

    metric_names = ("loss", "accuracy")

    def set_splits(self, train: Batch, val: Batch, test: Batch | None) -> None:
        """Move the splits onto the task's device (called once by the subclass's constructor,
        after it has checked its options and loaded the data)."""
        self._train = Batch(*(t.to(self.device) for t in train))
        self._val = Batch(*(t.to(self.device) for t in val))
        self._test = None if test is None else Batch(*(t.to(self.device) for t in test))
        self._shuffle = EpochShuffle(len(self._train.y), self.batch_size, self.device)

    def train_batch(self, seed: int, step: int) -> Batch:
        idx = self._shuffle.indices(seed, step)
        return Batch(self._train.x[idx], self._train.y[idx])

    def val_set(self) -> Batch:
        return self._val

    def test_set(self) -> Batch | None:
        return self._test

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(pred, y)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        # One output per sequence: last_only changes nothing.
        return F.cross_entropy(pred, y, reduction="none")

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        loss = float(F.cross_entropy(pred.double(), y))
        accuracy = float((pred.argmax(-1) == y).double().mean())
        return {"loss": loss, "accuracy": accuracy}
