"""``GradientProfile``: the gradient norm at every timestep of every probed quantity.

Quantities are named ``h_l<l>`` / ``c_l<l>`` (hidden / cell state of layer l) and ``x`` (the
encoded input); a bidirectional model's per direction, ``h_l<l>_fwd`` and ``h_l<l>_bwd``, each
indexed by its direction's own steps (the backward one's index k is input step T-1-k). Norms
are float64 and exact zeros stay zeros; ``log10`` replaces a zero by a documented floor, one
decade below the smallest positive number of the probe's dtype (float32: -46, float64: -325),
because TensorBoard cannot plot -inf.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FLOORS = {"float32": -46.0, "float64": -325.0}


def log10_floor(dtype: str) -> float:
    """The log10 value that stands for an exact zero gradient measured in ``dtype``."""
    return _FLOORS[dtype]


def log10_norms(norms: np.ndarray, dtype: str) -> np.ndarray:
    """log10 of ``norms`` with exact zeros at ``log10_floor(dtype)`` (never -inf or NaN)."""
    positive = norms > 0
    return np.where(positive, np.log10(np.where(positive, norms, 1.0)), log10_floor(dtype))


@dataclass
class GradientProfile:
    """Norms of dLoss/d(quantity at t), per sequence, averaged over the probe batch."""

    step: int
    norms: dict[str, np.ndarray]
    dtype: str = "float32"

    @property
    def seq_len(self) -> int:
        """The length of the longest profile (an encoder-decoder's quantities differ)."""
        return max(len(v) for v in self.norms.values())

    def log10(self, quantity: str) -> np.ndarray:
        return log10_norms(self.norms[quantity], self.dtype)

    def summary(self, quantity: str, horizon_threshold: float) -> dict[str, float | int]:
        """Every gradient summary of one quantity (``seqnet.gradients.summaries``)."""
        from seqnet.gradients.summaries import Measure, summarize

        return summarize(self.norms[quantity], Measure(self.dtype, horizon_threshold))
