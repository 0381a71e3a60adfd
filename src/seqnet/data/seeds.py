"""Seeds for generated data: separate domains for training batches and held-out sets.

Training batch k of run seed s comes from ``stream_seed(s, k)``; block b of a held-out set with
seed v from ``heldout_seed(v, b)``. Both hash a domain tag with their arguments (splitmix64), so
no training batch reuses a validation seed, whatever the values (with a plain ``seed * C + k``,
``seed=0`` made training batch 1234 the validation set of ``val_seed=1234``).

Held-out sets are drawn in fixed blocks of ``HELDOUT_BLOCK`` sequences, each block from its own
seed, so the first sequences of a set (the gradient probe batch) do not depend on its size.

Fixed data sets (not generated) draw training batch k with ``EpochShuffle``: a fresh permutation
per epoch, from the seed of (seed, epoch), so batch k is still a pure function of (seed, k).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Generator, Tensor

from seqnet.data.task import Batch

_MASK64 = (1 << 64) - 1
_TRAIN, _HELDOUT = 0x7472_6169_6E, 0x6865_6C64  # "train", "held": the two seed domains
_EPOCH = 0x6570_6F63_68  # "epoch": the order of a fixed training set, epoch by epoch
#: Sequences per block of a held-out set (see the module docstring).
HELDOUT_BLOCK = 256


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def stable_hash(*parts: int) -> int:
    """A 63-bit hash of integers, the same on every platform and library version."""
    h = 0
    for part in parts:
        h = _splitmix64(h ^ (part & _MASK64))
    return h >> 1  # 63 bits: a valid torch seed


def stream_seed(seed: int, step: int) -> int:
    """The seed of training batch ``step`` of the run seeded ``seed``."""
    return stable_hash(_TRAIN, seed, step)


def heldout_seed(seed: int, block: int) -> int:
    """The seed of block ``block`` of the held-out set (validation, test) seeded ``seed``."""
    return stable_hash(_HELDOUT, seed, block)


def heldout_set(
    generate: Callable[[int, Generator], Batch],
    n: int,
    seed: int,
    generator: Generator,
) -> Batch:
    """``n`` sequences from ``generate(count, generator)``, in whole blocks (the last one cut):
    the first ``k`` sequences are the same for every ``n >= k``."""
    blocks = [
        generate(HELDOUT_BLOCK, generator.manual_seed(heldout_seed(seed, b)))
        for b in range(-(-n // HELDOUT_BLOCK))
    ]
    return Batch(*(torch.cat(parts)[:n] for parts in zip(*blocks, strict=True)))


class EpochShuffle:
    """Training batches over a fixed set of ``n`` examples, epoch by epoch.

    Epoch e visits the examples in the order of a permutation drawn from its own seed (of
    ``seed`` and e); batch ``step`` is slice ``step mod (n // batch_size)`` of its epoch's
    permutation (the last, incomplete slice is dropped). So batch k is a pure function of
    (seed, k), as for generated tasks, and every example is seen once per epoch.
    """

    def __init__(self, n: int, batch_size: int, device: torch.device | str = "cpu") -> None:
        if batch_size > n:
            raise ValueError(
                f"data.batch_size={batch_size} is larger than the training set ({n} examples); "
                f"set data.batch_size<={n}"
            )
        self.n, self.batch_size = n, batch_size
        self.batches_per_epoch = n // batch_size
        self._generator = Generator(device=device)
        self._cached: tuple[tuple[int, int], Tensor] | None = None

    def indices(self, seed: int, step: int) -> Tensor:
        """The example indices (batch_size,) of training batch ``step`` of stream ``seed``."""
        epoch, k = divmod(step, self.batches_per_epoch)
        if self._cached is None or self._cached[0] != (seed, epoch):
            self._generator.manual_seed(stable_hash(_EPOCH, seed, epoch))
            order = torch.randperm(self.n, generator=self._generator, device=self._generator.device)
            self._cached = ((seed, epoch), order)
        return self._cached[1][k * self.batch_size : (k + 1) * self.batch_size]
