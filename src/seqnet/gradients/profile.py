"""``GradientProfile``: the gradient norm at every timestep of every probed quantity.

Quantities are named ``h_l<l>`` / ``c_l<l>`` (hidden / cell state of layer l) and ``x`` (the
encoded input). Norms are float64 and exact zeros stay zeros; ``log10`` replaces a zero by a
documented floor, one decade below the smallest positive number of the probe's dtype
(float32: -46, float64: -325), because TensorBoard cannot plot -inf.
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

    def log10_ratio(self, quantity: str) -> float:
        """log10(norm at t=0 / norm at t=T-1), on the floored log10 values (negative: decay)."""
        values = self.log10(quantity)
        return float(values[0] - values[-1])

    def horizon(self, quantity: str, threshold: float = 1e-3) -> int:
        """How many steps back from the end the norm stays >= ``threshold`` x its value at the
        end, counting the end itself; ``T`` when it never falls below, 0 when the end is 0."""
        norm = self.norms[quantity]
        end = norm[-1]
        if end <= 0:
            return 0
        below = np.flatnonzero(norm < threshold * end)
        return len(norm) if below.size == 0 else int(len(norm) - 1 - below[-1])

    def zero_steps(self, quantity: str) -> int:
        """How many timesteps have an exactly zero gradient (underflow)."""
        return int(np.count_nonzero(self.norms[quantity] == 0))
