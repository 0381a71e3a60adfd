"""Finding run folders (those holding gradients.npz) and loading what seqnet-compare shows of
each: its gradient profiles, flat config and final metrics."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqnet.cli.compare.labels import IGNORED_PREFIXES, flatten_config
from seqnet.errors import SeqnetError
from seqnet.gradients import GRADIENTS_FILE, GradientProfile, load_gradients

DEFAULT_THRESHOLD = 1e-3


class CompareError(SeqnetError):
    """Input that seqnet-compare cannot use: no runs, an unknown step or quantity, a bad file."""


@dataclass
class Run:
    """One run directory: its gradient profiles, flat config and final metrics."""

    path: Path
    steps: np.ndarray
    norms: dict[str, np.ndarray]
    dtype: str
    config: dict[str, Hashable] = field(default_factory=dict)
    config_source: str = "none"
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def horizon_threshold(self) -> float:
        """The run's own ``grad_log.horizon_threshold``, as its TensorBoard summaries used."""
        value = self.config.get("grad_log.horizon_threshold")
        return float(value) if isinstance(value, int | float) else DEFAULT_THRESHOLD

    def profile(self, step: int) -> GradientProfile:
        """The profile logged at training ``step`` (which must be one of ``steps``)."""
        (row,) = np.flatnonzero(self.steps == step)
        return GradientProfile(
            int(step), {q: values[row] for q, values in self.norms.items()}, self.dtype
        )


def find_runs(directories: Sequence[str | Path]) -> list[Path]:
    """Run folders (those holding gradients.npz) in argument order; each sweep sorted by path."""
    runs: list[Path] = []
    for arg in directories:
        directory = Path(arg)
        if not directory.is_dir():
            what = "is a file, not a directory" if directory.exists() else "does not exist"
            raise CompareError(f"{str(directory)!r} {what}; give run or sweep directories")
        if (directory / GRADIENTS_FILE).is_file():
            found = [directory]
        else:
            found = sorted(p.parent for p in directory.rglob(GRADIENTS_FILE) if p.is_file())
        if not found:
            raise CompareError(
                f"no runs with gradient profiles in {str(directory)!r}: no {GRADIENTS_FILE} "
                "in it or below it. Runs write it only when gradients are logged: train with "
                "grad_log.every_n_steps > 0 (the default is 100)"
            )
        runs.extend(found)
    unique: dict[Path, Path] = {}  # a run given twice (alone and in its sweep) is shown once
    for run in runs:
        unique.setdefault(run.resolve(), run)
    return list(unique.values())


def load_run(path: Path) -> Run:
    """Read a run folder's gradients.npz, config and metrics.json."""
    try:
        steps, norms, meta = load_gradients(path / GRADIENTS_FILE)
    except (OSError, ValueError, KeyError) as e:
        raise CompareError(
            f"{str(path / GRADIENTS_FILE)!r} is not a readable seqnet gradients file "
            f"({type(e).__name__}: {e}); it is rewritten at every checkpoint, so re-run or "
            "leave this run out"
        ) from e
    tree, source = run_config(path)
    metrics: dict[str, Any] = {}
    metrics_file = path / "metrics.json"
    if metrics_file.is_file():
        try:
            metrics = json.loads(metrics_file.read_text())
        except (OSError, ValueError):
            metrics = {}  # a run still training or killed: its table cell reads "-"
    return Run(path, steps, norms, meta["dtype"], flatten_config(tree), source, metrics)


def run_config(path: Path) -> tuple[dict[str, Any], str]:
    """The run's composed config as a plain dict, and where it came from.

    ``.hydra/config.yaml`` exists for runs launched by seqnet-train; runs made with the Python
    API have only the config saved in their checkpoint.
    """
    hydra_config = path / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        from omegaconf import OmegaConf

        conf = OmegaConf.load(hydra_config)
        for key in IGNORED_PREFIXES:  # ${hydra:...} cannot be resolved outside a Hydra job
            conf.pop(key, None)
        try:
            tree = OmegaConf.to_container(conf, resolve=True, enum_to_str=True)
        except Exception:  # an interpolation that needs Hydra: keep the raw text
            tree = OmegaConf.to_container(conf, resolve=False, enum_to_str=True)
        if isinstance(tree, dict):
            return tree, ".hydra/config.yaml"
    checkpoint = path / "checkpoints" / "last.pt"
    if checkpoint.is_file():
        from seqnet.training.checkpoint import load_checkpoint

        try:
            config = load_checkpoint(checkpoint)["config"]
        except SeqnetError:
            config = None
        if isinstance(config, dict):
            return config, "checkpoints/last.pt"
    return {}, "none"
