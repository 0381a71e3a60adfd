"""``gradients.npz``: every profile of a run, raw float64 norms (zeros stay zeros), for scripts.

Layout: ``steps`` (n,) int64, and for each quantity (``h_l0``, ``c_l0``, ``x``, ...) an array of
shape (n, T) whose row i is the profile at training step ``steps[i]``. ``dtype`` and ``loss``
record how the profiles were measured.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqnet.atomic import atomic_write
from seqnet.gradients.profile import GradientProfile

#: The file, in a run directory, that holds every profile of the run.
GRADIENTS_FILE = "gradients.npz"


class GradientStore:
    """Collects the profiles of a run and writes them atomically to ``path``."""

    def __init__(self, path: Path, dtype: str = "float32", loss: str = "last") -> None:
        self.path = path
        self.dtype = dtype
        self.loss = loss
        self.profiles: list[GradientProfile] = []

    def append(self, profile: GradientProfile) -> None:
        self.profiles.append(profile)

    def matrix(self, quantity: str) -> np.ndarray:
        """(logged steps, T) norms of one quantity."""
        return np.stack([p.norms[quantity] for p in self.profiles])

    @property
    def steps(self) -> np.ndarray:
        return np.array([p.step for p in self.profiles], dtype=np.int64)

    def save(self) -> None:
        if not self.profiles:
            return
        arrays = {q: self.matrix(q) for q in self.profiles[0].norms}
        with atomic_write(self.path) as f:
            np.savez(f, steps=self.steps, dtype=self.dtype, loss=self.loss, **arrays)

    def extend_from(self, path: Path, before_step: int) -> None:
        """Start with the profiles of an earlier run (``path``) measured before ``before_step``,
        so a resumed run's gradients.npz and heatmaps hold the whole history."""
        steps, norms, meta = load_gradients(path)
        if meta["dtype"] != self.dtype or meta["loss"] != self.loss:
            return  # measured differently: not comparable, keep only this run's profiles
        for i, step in enumerate(steps.tolist()):
            if step < before_step:
                self.append(GradientProfile(step, {q: a[i] for q, a in norms.items()}, self.dtype))


def load_gradients(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, str]]:
    """``(steps, {quantity: (n, T) norms}, {"dtype": ..., "loss": ...})`` from a gradients.npz."""
    with np.load(path) as data:
        steps = data["steps"]
        meta = {k: str(data[k]) for k in ("dtype", "loss")}
        norms = {k: data[k] for k in data.files if k not in ("steps", "dtype", "loss")}
    return steps, norms, meta
