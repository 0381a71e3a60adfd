"""Images read as sequences, the sequential and permuted sequential MNIST benchmarks: what
``data=seq_digits`` (scikit-learn's 8x8 digits) and ``data=idx`` (MNIST-format files) share.

Read ``pixels``, an H x W image is H*W steps of one value (row-major: row 0 left to right, then
row 1, ...); read ``rows``, it is H steps of W values. A permutation (``pixel_permutation``)
first reorders the H*W pixels, the same for every image and every run, so that neighbouring
pixels are no longer neighbouring steps and the dependencies a model must bridge span the
whole sequence.
"""

from __future__ import annotations

from enum import Enum

import numpy as np
import torch
from torch import Tensor

from seqnet.data.seeds import stable_hash

_PERMUTE_DOMAIN = 0x7065_726D  # "perm": the hash domain of the pixel permutation


class ReadOrder(Enum):
    pixels = "pixels"  # one pixel per step
    rows = "rows"  # one row of pixels per step


def read_order(value: str, key: str) -> str:
    """``value`` checked to be a ``ReadOrder`` name (ValueError naming ``key`` otherwise)."""
    if value not in ReadOrder.__members__:
        raise ValueError(f"{key} must be 'pixels' or 'rows', got {value!r}")
    return value


def pixel_permutation(seed: int, pixels: int = 64) -> Tensor:
    """A fixed permutation of ``pixels`` positions, from integer hashing alone, so it is the
    same on every platform and library version."""
    keys = [stable_hash(_PERMUTE_DOMAIN, seed, i) for i in range(pixels)]
    return torch.from_numpy(np.argsort(keys, kind="stable"))


def image_sequences(images: Tensor, order: str, permutation: Tensor | None = None) -> Tensor:
    """Images (n, H, W) as sequences: (n, H*W, 1) read by ``pixels``, (n, H, W) by ``rows``,
    after reordering the H*W pixels by ``permutation`` (a tensor of positions) if given."""
    n, height, width = images.shape
    flat = images.reshape(n, height * width)
    if permutation is not None:
        flat = flat[:, permutation.to(flat.device)]
    if order == "pixels":
        return flat.unsqueeze(-1)
    return flat.reshape(n, height, width)
