"""Token-sequence targets for decoder tasks: strings to padded ids, and their loss and metrics.

A target is a string of characters from the task's vocabulary followed by the end token, padded
with ``IGNORE_INDEX`` to the task's ``output_len``. Under greedy decoding the model's output is
the end token repeated after its first one (``Decoder.generate``); a target position counts as
right when the generated token there is the target token, the end token included.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from seqnet.data.task import IGNORE_INDEX, Task


class CharVocabulary:
    """Characters <-> ids; id ``len(chars)`` is the end token."""

    def __init__(self, chars: str) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError(f"vocabulary characters repeat: {chars!r}")
        self.chars = chars
        self.end = len(chars)
        self.size = len(chars) + 1  # with the end token
        self._ids = {c: i for i, c in enumerate(chars)}

    def encode(self, strings: Sequence[str], length: int) -> Tensor:
        """(len(strings), length) int64: each string's ids, the end token, then padding."""
        out = torch.full((len(strings), length), IGNORE_INDEX, dtype=torch.int64)
        for row, text in enumerate(strings):
            if len(text) + 1 > length:
                raise ValueError(f"{text!r} and its end token do not fit in {length} steps")
            out[row, : len(text)] = torch.tensor([self._ids[c] for c in text], dtype=torch.int64)
            out[row, len(text)] = self.end
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """The characters up to the first end token (padding and the end token dropped)."""
        chars = []
        for i in ids:
            if i == self.end or i < 0:
                break
            chars.append(self.chars[i])
        return "".join(chars)


def token_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Mean cross-entropy over the target tokens (padding ignored)."""
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE_INDEX)


def token_sequence_loss(logits: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
    """Per-sequence cross-entropy (batch,): at the last target token (the end token) of each
    sequence, or summed over its tokens."""
    per_token = F.cross_entropy(
        logits.transpose(1, 2), y, ignore_index=IGNORE_INDEX, reduction="none"
    )  # (batch, L), zero at padding
    if not last_only:
        return per_token.sum(dim=1)
    last = last_real_step(y != IGNORE_INDEX)
    return per_token.gather(1, last.unsqueeze(1)).squeeze(1)


def last_real_step(real: Tensor) -> Tensor:
    """The last step (batch,) int64 at which ``real`` (batch, time) is true in each row: where a
    sequence's targets end, whatever padding precedes or follows them (0 for a row with none)."""
    steps = torch.arange(real.shape[1], device=real.device)
    return torch.where(real, steps, 0).amax(dim=1)


def generation_accuracy(generated: Tensor, y: Tensor) -> tuple[float, float]:
    """(token accuracy, sequence accuracy) of greedy decodings against padded targets: the
    fraction of target tokens matched at their position, and of sequences matched entirely."""
    real = y != IGNORE_INDEX
    right = (generated[:, : y.shape[1]] == y) & real
    token = float(right.sum()) / float(real.sum())
    sequence = float((right == real).all(dim=1).double().mean())
    return token, sequence


class TokenTargets(Task):
    """The loss of a decoder task whose targets are padded token ids (its metrics are its own)."""

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return token_loss(pred, y)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        return token_sequence_loss(pred, y, last_only)
