"""Seeds for generated data: separate domains for training batches and held-out sets.

Training batch k of run seed s comes from ``stream_seed(s, k)``; block b of a held-out set with
seed v from ``heldout_seed(v, b)``. Both hash a domain tag with their arguments (splitmix64), so
no training batch reuses a validation seed, whatever the values (with a plain ``seed * C + k``,
``seed=0`` made training batch 1234 the validation set of ``val_seed=1234``).

Held-out sets are drawn in fixed blocks of ``HELDOUT_BLOCK`` sequences, each block from its own
seed, so the first sequences of a set (the gradient probe batch) do not depend on its size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Generator

from seqnet.data.base import Batch

_MASK64 = (1 << 64) - 1
_TRAIN, _HELDOUT = 0x7472_6169_6E, 0x6865_6C64  # "train", "held": the two seed domains
#: Sequences per block of a held-out set (see the module docstring).
HELDOUT_BLOCK = 256


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _hash(*parts: int) -> int:
    h = 0
    for part in parts:
        h = _splitmix64(h ^ (part & _MASK64))
    return h >> 1  # 63 bits: a valid torch seed


def stream_seed(seed: int, step: int) -> int:
    """The seed of training batch ``step`` of the run seeded ``seed``."""
    return _hash(_TRAIN, seed, step)


def heldout_seed(seed: int, block: int) -> int:
    """The seed of block ``block`` of the held-out set (validation, test) seeded ``seed``."""
    return _hash(_HELDOUT, seed, block)


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
