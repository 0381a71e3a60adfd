"""``gradients.npz``: every profile of a run, raw float64 norms (zeros stay zeros), for scripts.

Layout: ``steps`` (n,) int64, and for each quantity (``h_l0``, ``c_l0``, ``x``, ...) an array of
shape (n, T) whose row i is the profile at training step ``steps[i]``. ``dtype``, ``loss`` and
``probe`` (a fingerprint of the probe batch) record how the profiles were measured: profiles
are comparable only when all three agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from seqnet.atomic import atomic_write
from seqnet.errors import GradientsFileError
from seqnet.gradients.profiles import GradientProfile

#: The file, in a run directory, that holds every profile of the run.
GRADIENTS_FILE = "gradients.npz"
#: Entries of the file that describe the measurement; every other entry is a quantity.
META_KEYS = ("dtype", "loss", "probe")


class GradientStore:
    """Collects the profiles of a run and writes them atomically to ``path``."""

    def __init__(
        self, path: Path, dtype: str = "float32", loss: str = "last", probe: str = ""
    ) -> None:
        self.path = path
        self.dtype = dtype
        self.loss = loss
        self.probe = probe  # fingerprint of the probe batch (seqnet.gradients.batch_fingerprint)
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
        meta = {"dtype": self.dtype, "loss": self.loss, "probe": self.probe}
        with atomic_write(self.path) as f:
            np.savez(f, steps=self.steps, **meta, **arrays)

    def extend_from(self, path: Path, before_step: int) -> str | None:
        """Start with the profiles of an earlier run (``path``) measured before ``before_step``,
        so a resumed run's gradients.npz and heatmaps hold the whole history.

        Returns None when they were taken over, else why not (an unreadable file, or profiles
        measured differently: another dtype, loss or probe batch), and keeps none of them.
        """
        try:
            steps, norms, meta = load_gradients(path)
        except GradientsFileError as e:
            return str(e)
        for key, ours in (("dtype", self.dtype), ("loss", self.loss)):
            if meta[key] != ours:
                return f"{str(path)!r} was measured with grad_log.{key}={meta[key]}, not {ours}"
        if not meta["probe"]:
            return f"{str(path)!r} does not record its probe batch (written by an older seqnet)"
        if meta["probe"] != self.probe:
            return f"{str(path)!r} was measured on another probe batch"
        for i, step in enumerate(steps.tolist()):
            if step < before_step:
                self.append(GradientProfile(step, {q: a[i] for q, a in norms.items()}, self.dtype))
        return None


def load_gradients(path: str | Path) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, str]]:
    """``(steps, {quantity: (n, T) norms}, {"dtype": ..., "loss": ..., "probe": ...})`` from a
    gradients.npz (``probe`` is "" in files written before it was recorded).

    Raises ``GradientsFileError`` (one line naming the file) for a missing, empty, truncated or
    foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise GradientsFileError(f"gradients file {str(path)!r} does not exist")
    try:
        with np.load(path) as data:
            steps = data["steps"]
            meta = {k: str(data[k]) if k in data.files else "" for k in META_KEYS}
            norms = {k: data[k] for k in data.files if k not in ("steps", *META_KEYS)}
        rows = {a.shape[0] if a.ndim == 2 else -1 for a in norms.values()}
        if steps.ndim != 1 or not norms or rows != {len(steps)} or not meta["dtype"]:
            raise ValueError("its arrays are not one (steps, T) profile matrix per quantity")
    except Exception as e:  # np.load fails in many ways: EOFError, BadZipFile, ValueError, ...
        reason = " ".join(str(e).split())  # one line, whatever the exception says
        raise GradientsFileError(
            f"gradients file {str(path)!r} is unreadable ({type(e).__name__}: {reason}); it is "
            "empty, truncated or not a seqnet gradients.npz"
        ) from e
    problem = damage(steps, norms)
    if problem:
        raise GradientsFileError(
            f"gradients file {str(path)!r} is damaged: {problem}; it was not written by seqnet, "
            "or was changed since"
        )
    return steps, norms, meta


def damage(steps: np.ndarray, norms: dict[str, np.ndarray]) -> str | None:
    """What no file seqnet writes can hold (None when nothing): a step measured twice, profiles
    without timesteps, negative norms. (NaN norms can be measured, from a diverged model: they
    are the readers' to name.)"""
    unique, counts = np.unique(steps, return_counts=True)
    if (counts > 1).any():
        return f"step {int(unique[counts > 1][0])} appears more than once"
    empty = sorted(name for name, matrix in norms.items() if matrix.shape[1] == 0)
    if empty:
        return f"its profiles have no timesteps ({', '.join(empty)})"
    for name, matrix in norms.items():
        negative = np.nonzero((matrix < 0).any(axis=1))[0]
        if len(negative):
            return (
                f"{name} holds negative norms (at step {int(steps[negative[0]])}), which no "
                "norm can be"
            )
    return None
