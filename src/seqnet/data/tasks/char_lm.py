"""``data=char_lm``: a character-level language model on English text that ships with Python:
the reference text of the standard library's ``pydoc_data.topics`` (about 465k characters; its
topics in sorted order), trained with truncated backpropagation through time.

Vocabulary: newline and the 95 printable ASCII characters (96 ids, the same on every Python
version); the few other characters of the text are mapped to ASCII (typographic quotes and
dashes to ' " -, the ellipsis to ...; anything else to ?). Split: the first 90% of the text is
train, the next 5% validation, the last 5% test, contiguous.

Truncated BPTT: the training text is cut into ``data.batch_size`` parallel streams; consecutive
chunks of ``data.seq_len`` characters are consecutive batches, and the loop carries the hidden
state (detached) from one chunk to the next (``continues_stream``). Each epoch (one pass over
the streams) starts at an offset in [0, seq_len) drawn from the seed, so chunk boundaries move
from epoch to epoch, and from a zero state. Validation and test run the model over their whole
text as ``EVAL_STREAMS`` streams in one pass (state carried through), in bits per character.
Gradient profiles use the first windows of ``seq_len`` characters of the validation text.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from seqnet.data.seeds import stable_hash
from seqnet.data.task import Batch, DataConfig, Task, TaskSpec, register_task

#: The vocabulary: id i is VOCABULARY[i].
VOCABULARY = "\n" + "".join(chr(c) for c in range(32, 127))
_TO_ASCII = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."})
_OUTSIDE = re.compile(r"[^\n -~]")  # not newline or printable ASCII
SPLIT_FRACTIONS = (0.90, 0.05)  # train, validation; the test set is the rest
EVAL_STREAMS = 16
_OFFSET_DOMAIN = 0x6368_6172  # "char": the seed domain of the epochs' offsets


def normalize(text: str) -> str:
    """``text`` in the vocabulary's characters (see the module docstring)."""
    return _OUTSIDE.sub("?", text.translate(_TO_ASCII))


def encode(text: str) -> np.ndarray:
    """Ids (int64) of ``text``, which must be in the vocabulary."""
    ids = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64) - 31
    ids[ids == -21] = 0  # "\n" (10 - 31)
    return ids


def decode(ids: list[int] | np.ndarray | Tensor) -> str:
    return "".join(VOCABULARY[int(i)] for i in ids)


@functools.lru_cache(maxsize=1)
def corpus() -> np.ndarray:
    """The whole text's ids, int64."""
    from pydoc_data.topics import topics

    return encode(normalize("".join(topics[key] for key in sorted(topics))))


def split_corpus(ids: np.ndarray) -> dict[str, np.ndarray]:
    n_train = int(SPLIT_FRACTIONS[0] * len(ids))
    n_val = int(SPLIT_FRACTIONS[1] * len(ids))
    return {
        "train": ids[:n_train],
        "val": ids[n_train : n_train + n_val],
        "test": ids[n_train + n_val :],
    }


def as_streams(ids: Tensor, streams: int) -> Batch:
    """``ids`` cut into ``streams`` consecutive rows: inputs and next-character targets."""
    length = (len(ids) - 1) // streams
    x = ids[: streams * length].view(streams, length)
    y = ids[1 : streams * length + 1].view(streams, length)
    return Batch(x, y)


@dataclass
class CharLMConfig(DataConfig):
    name: str = "char_lm"
    # Parallel streams of text: batch k+1 continues the k-th in every row.
    batch_size: int = 32
    # Characters per chunk: the truncation length of backpropagation through time.
    seq_len: int = 100


@register_task("char_lm", config=CharLMConfig)
class CharLanguageModel(Task):
    spec = TaskSpec(
        input_size=len(VOCABULARY),
        output_size=len(VOCABULARY),
        input_kind="tokens",
        output_mode="every",
        causal=(
            "data=char_lm predicts each character from the ones before it (its target at a "
            "step is the next step's input, and the state is carried from chunk to chunk)"
        ),
    )
    metric_names = ("loss", "bpc")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        self.seq_len = seq_len = self.config.seq_len
        batch_size = self.batch_size
        if seq_len < 1:
            raise ValueError(f"data.seq_len must be >= 1, got {seq_len}")
        parts = {k: torch.from_numpy(v).to(self.device) for k, v in split_corpus(corpus()).items()}
        self._train = parts["train"]
        # Room for every offset (< seq_len) and the targets' shift by one.
        self.stream_len = (len(self._train) - seq_len) // batch_size
        self.chunks_per_epoch = self.stream_len // seq_len
        if self.chunks_per_epoch < 1:
            most = (len(self._train) - seq_len) // (2 * seq_len)
            raise ValueError(
                f"data.batch_size={batch_size} streams of data.seq_len={seq_len} characters do "
                f"not fit in the {len(self._train)}-character training text; lower data.seq_len "
                f"or set data.batch_size<={most}"
            )
        self._val = as_streams(parts["val"], EVAL_STREAMS)
        self._test = as_streams(parts["test"], EVAL_STREAMS)
        self._val_windows = self._windows(parts["val"])
        self._epoch: tuple[tuple[int, int], Batch] | None = None
        self.unigram_bpc = unigram_entropy_bits(self._train)

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

    def test_set(self) -> Batch:
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


def unigram_entropy_bits(ids: Tensor) -> float:
    """Bits per character of the best context-free model of ``ids``: the trivial baseline."""
    p = torch.bincount(ids, minlength=len(VOCABULARY)).double() / len(ids)
    p = p[p > 0]
    return float(-(p * p.log2()).sum())
