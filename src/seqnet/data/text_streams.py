"""Language modelling on a text cut into parallel streams, trained with truncated
backpropagation through time: what ``data=char_lm`` (Python's own documentation) and
``data=text`` (a user's files) share; each gives its text as ids, split into train, validation
and test parts (``set_text``).

Truncated BPTT: the training text is cut into ``data.batch_size`` parallel streams; consecutive
chunks of ``seq_len`` characters are consecutive batches, and the loop carries the hidden state
(detached) from one chunk to the next (``continues_stream``). Each epoch (one pass over the
streams) starts at an offset in [0, seq_len) drawn from the seed, so chunk boundaries move from
epoch to epoch, and from a zero state. Validation and test run the model over their whole text
as ``EVAL_STREAMS`` streams in one pass (state carried through), in bits per character.
Gradient profiles use the first windows of ``seq_len`` characters of the validation text.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from seqnet.data.seeds import stable_hash
from seqnet.data.task import Batch, Task

EVAL_STREAMS = 16
_OFFSET_DOMAIN = 0x6368_6172  # "char": the seed domain of the epochs' offsets


def as_streams(ids: Tensor, streams: int) -> Batch:
    """``ids`` cut into ``streams`` consecutive rows: inputs and next-character targets."""
    length = (len(ids) - 1) // streams
    x = ids[: streams * length].view(streams, length)
    y = ids[1 : streams * length + 1].view(streams, length)
    return Batch(x, y)


def unigram_entropy_bits(ids: Tensor, vocabulary_size: int) -> float:
    """Bits per character of the best context-free model of ``ids``: the trivial baseline."""
    p = torch.bincount(ids, minlength=vocabulary_size).double() / len(ids)
    p = p[p > 0]
    return float(-(p * p.log2()).sum())


class TextStreams(Task):
    """Base for character-level language models: a subclass sets ``spec`` (token inputs and
    outputs, one per step) and calls ``set_text`` once with the three parts on its device."""

    metric_names = ("loss", "bpc")

    def set_text(self, train: Tensor, val: Tensor, test: Tensor | None, seq_len: int) -> None:
        """The parts' ids (int64, 1-D; no test part: None); ValueError naming the fix where they
        are too short."""
        batch_size = self.batch_size
        if seq_len < 1:
            raise ValueError(f"data.seq_len must be >= 1, got {seq_len}")
        self.seq_len = seq_len
        self._train = train
        # Room for every offset (< seq_len) and the targets' shift by one.
        self.stream_len = (len(train) - seq_len) // batch_size
        self.chunks_per_epoch = self.stream_len // seq_len
        if self.chunks_per_epoch < 1:
            most = (len(train) - seq_len) // (2 * seq_len)
            raise ValueError(
                f"data.batch_size={batch_size} streams of data.seq_len={seq_len} characters do "
                f"not fit in the {len(train)}-character training text; lower data.seq_len "
                f"or set data.batch_size<={max(most, 1)}"
            )
        for name, part in (("validation", val), ("test", test)):
            if part is not None and len(part) <= max(EVAL_STREAMS, seq_len):
                raise ValueError(
                    f"the {name} text has {len(part)} characters: too few for "
                    f"{EVAL_STREAMS} evaluation streams and a window of data.seq_len={seq_len} "
                    f"characters (it needs more than {max(EVAL_STREAMS, seq_len)}); give a "
                    "longer text or a larger share of it to that part"
                )
        self._val = as_streams(val, EVAL_STREAMS)
        self._test = None if test is None else as_streams(test, EVAL_STREAMS)
        self._val_windows = self._windows(val)
        self._epoch: tuple[tuple[int, int], Batch] | None = None
        self.unigram_bpc = unigram_entropy_bits(train, self.spec.output_size)

    def _windows(self, ids: Tensor) -> Batch:
        """Consecutive non-overlapping windows of ``seq_len`` characters (the probe batches)."""
        n = (len(ids) - 1) // self.seq_len
        x = ids[: n * self.seq_len].view(n, self.seq_len)
        y = ids[1 : n * self.seq_len + 1].view(n, self.seq_len)
        return Batch(x, y)

    def epoch_streams(self, seed: int, epoch: int) -> Batch:
        """The (batch_size, stream_len) streams of one epoch, from its seeded offset (views)."""
        if self._epoch is None or self._epoch[0] != (seed, epoch):
            offset = stable_hash(_OFFSET_DOMAIN, seed, epoch) % self.seq_len
            n = self.batch_size * self.stream_len
            x = self._train[offset : offset + n].view(self.batch_size, self.stream_len)
            y = self._train[offset + 1 : offset + 1 + n].view(self.batch_size, self.stream_len)
            self._epoch = ((seed, epoch), Batch(x, y))
        return self._epoch[1]

    def train_batch(self, seed: int, step: int) -> Batch:
        epoch, chunk = divmod(step, self.chunks_per_epoch)
        x, y = self.epoch_streams(seed, epoch)
        window = slice(chunk * self.seq_len, (chunk + 1) * self.seq_len)
        return Batch(x[:, window], y[:, window])

    def continues_stream(self, step: int) -> bool:
        return step % self.chunks_per_epoch != 0

    def val_set(self) -> Batch:
        return self._val

    def test_set(self) -> Batch | None:
        return self._test

    def probe_batch(self, n: int) -> Batch:
        available = len(self._val_windows.x)
        if n > available:
            raise ValueError(
                f"grad_log.batch_size={n} is larger than the {available} windows of "
                f"data.seq_len={self.seq_len} characters in the validation text; set "
                f"grad_log.batch_size<={available}"
            )
        return Batch(self._val_windows.x[:n], self._val_windows.y[:n])

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(pred.flatten(0, 1), y.flatten())

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        if last_only:
            return F.cross_entropy(pred[:, -1], y[:, -1], reduction="none")
        return F.cross_entropy(pred.transpose(1, 2), y, reduction="none").sum(dim=1)

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        loss = float(F.cross_entropy(pred.flatten(0, 1).double(), y.flatten()))
        return {"loss": loss, "bpc": loss / math.log(2)}
