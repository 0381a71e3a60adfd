"""Finding run folders (those holding gradients.npz, metrics.json or a checkpoint) and loading what
the comparisons use of each: its gradient profiles (and how they were measured; none for a run
trained with ``grad_log.every_n_steps=0``), flat config and final metrics."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqnet.analysis.labels import IGNORED_PREFIXES, flatten_config
from seqnet.errors import GradientsFileError, SeqnetError
from seqnet.gradients import GRADIENTS_FILE, GradientProfile, load_gradients


class AnalysisError(SeqnetError):
    """Run folders that cannot be compared: none found, an unknown step, quantity or group key,
    a bad file, a group whose runs were measured differently."""


#: The name seqnet-compare knew this error by.
CompareError = AnalysisError


@dataclass
class Run:
    """One run directory: its gradient profiles (``steps`` empty when it has none), flat config
    and final metrics."""

    path: Path
    steps: np.ndarray
    norms: dict[str, np.ndarray]
    dtype: str
    config: dict[str, Hashable] = field(default_factory=dict)
    #: How the profiles were measured: grad_log.loss and the probe batch's fingerprint.
    loss: str = ""
    probe: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # files that could not be read

    @property
    def has_profiles(self) -> bool:
        return len(self.steps) > 0

    @property
    def horizon_threshold(self) -> float:
        """The run's own ``grad_log.horizon_threshold``, as its TensorBoard summaries used."""
        value = self.config.get("grad_log.horizon_threshold")
        if isinstance(value, int | float):
            return float(value)
        from seqnet.config import GradLogConfig  # a run whose config lacks it: the default

        return GradLogConfig.horizon_threshold

    def profile(self, step: int) -> GradientProfile:
        """The profile logged at training ``step`` (which must be one of ``steps``)."""
        (row,) = np.flatnonzero(self.steps == step)
        return GradientProfile(
            int(step), {q: values[row] for q, values in self.norms.items()}, self.dtype
        )


#: What makes a folder a run: any of these files in it (a run trained with
#: ``grad_log.every_n_steps=0`` has no gradients.npz; one still training has no metrics.json).
RUN_FILES = (GRADIENTS_FILE, "metrics.json", "checkpoints/last.pt")


def is_run(directory: Path) -> bool:
    return any((directory / name).is_file() for name in RUN_FILES)


def find_runs(directories: Sequence[str | Path]) -> list[Path]:
    """Run folders (those holding one of ``RUN_FILES``) in argument order; each sweep sorted by
    path."""
    runs: list[Path] = []
    for arg in directories:
        directory = Path(arg)
        if not directory.is_dir():
            what = "is a file, not a directory" if directory.exists() else "does not exist"
            raise AnalysisError(f"{str(directory)!r} {what}; give run or sweep directories")
        if is_run(directory):
            found = [directory]
        else:
            found = sorted(
                {
                    run
                    for name in RUN_FILES
                    for p in directory.rglob(name)
                    if p.is_file() and is_run(run := p.parents[name.count("/")])
                }
            )
        if not found:
            raise AnalysisError(
                f"no runs in {str(directory)!r}: no {', '.join(RUN_FILES)} in it or below it; "
                "give run or sweep folders (outputs/runs/<run>, outputs/multirun/<sweep>)"
            )
        runs.extend(found)
    unique: dict[Path, Path] = {}  # a run given twice (alone and in its sweep) is shown once
    for run in runs:
        unique.setdefault(run.resolve(), run)
    return list(unique.values())


def load_run(path: Path) -> Run:
    """Read a run folder's gradients.npz (absent: a run without profiles), config and
    metrics.json. An unreadable gradients.npz is an error; an unreadable config or metrics.json
    is a note (in ``Run.notes``)."""
    if (path / GRADIENTS_FILE).is_file():
        try:
            steps, norms, meta = load_gradients(path / GRADIENTS_FILE)
        except GradientsFileError as e:
            raise AnalysisError(f"{e}: leave this run out, or re-run it") from e
    else:
        steps, norms, meta = np.zeros(0, dtype=np.int64), {}, {"dtype": "", "loss": "", "probe": ""}
    notes: list[str] = []
    for name, matrix in norms.items():
        nan_rows = np.nonzero(np.isnan(matrix).any(axis=1))[0]
        if len(nan_rows):
            at = ", ".join(str(int(steps[i])) for i in nan_rows)
            notes.append(
                f"{str(path / GRADIENTS_FILE)!r}: {name} has NaN norms at step(s) {at}; they "
                "are not drawn, and any number computed from them is nan"
            )
    tree = run_config(path, notes)
    metrics: dict[str, Any] = {}
    metrics_file = path / "metrics.json"
    if metrics_file.is_file():  # absent while a run trains or after it was killed: "-"
        try:
            metrics = json.loads(metrics_file.read_text())
        except (OSError, ValueError) as e:
            notes.append(f"{str(metrics_file)!r} is unreadable ({type(e).__name__}); no val/loss")
        if not isinstance(metrics, dict):
            kind = {list: "a list", str: "a string"}.get(type(metrics), type(metrics).__name__)
            notes.append(
                f"{str(metrics_file)!r} is not a mapping of metrics (it holds {kind}); no val/loss"
            )
            metrics = {}
    config = flatten_config(tree)
    return Run(
        path, steps, norms, meta["dtype"], config, meta["loss"], meta["probe"], metrics, notes
    )


def run_config(path: Path, notes: list[str]) -> dict[str, Any]:
    """The run's config as a plain dict: the one its checkpoint was trained with, which is what
    its weights, metrics and profiles come from (``.hydra/config.yaml`` records a launch, and
    a later launch into the folder rewrites it). A run without a readable checkpoint (stopped
    before its first) falls back to ``.hydra/config.yaml``. A file that cannot be read adds a
    note to ``notes`` and the next source is tried.
    """
    checkpoint = path / "checkpoints" / "last.pt"
    if checkpoint.is_file():
        from seqnet.training.checkpoint import load_checkpoint

        try:
            config = load_checkpoint(checkpoint)["config"]
        except SeqnetError as e:
            config = None
            notes.append(str(e).split(";")[0])
        if isinstance(config, dict):
            return config
    hydra_config = path / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        from omegaconf import OmegaConf

        try:
            conf = OmegaConf.load(hydra_config)
        except Exception as e:  # truncated or hand-edited YAML: yaml and omegaconf errors
            conf = None
            notes.append(f"{str(hydra_config)!r} is unreadable ({type(e).__name__})")
        if conf is not None:
            for key in IGNORED_PREFIXES:  # ${hydra:...} cannot be resolved outside Hydra
                conf.pop(key, None)
            try:
                tree = OmegaConf.to_container(conf, resolve=True, enum_to_str=True)
            except Exception:  # an interpolation that needs Hydra: keep the raw text
                tree = OmegaConf.to_container(conf, resolve=False, enum_to_str=True)
            if isinstance(tree, dict):
                return tree
    if notes:
        notes.append(f"{str(path)!r}: no readable config; it is labelled by its folder name")
    return {}
