"""Checkpoints: model, optimizer, step, RNG states and resolved config, written atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from seqnet.atomic import atomic_write
from seqnet.errors import CheckpointError, OutputError, output_error
from seqnet.training.checkpoint_fields import check_fields
from seqnet.training.precision import MixedPrecision
from seqnet.training.seeding import rng_state

AUTO = "auto"


def own_checkpoint(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / "last.pt"


def checkpoint_to_resume(ckpt_path: str | None, run_dir: Path) -> Path | None:
    """The checkpoint this run starts from: ``auto`` is the run directory's own, if any (None:
    a fresh start). Whether the run may write into ``run_dir`` is ``run_folder``'s rule."""
    if ckpt_path == AUTO:
        own = own_checkpoint(run_dir)
        return own if own.is_file() else None
    return Path(ckpt_path) if ckpt_path else None


#: Keys every seqnet checkpoint holds.
REQUIRED_KEYS = ("model", "optimizer", "step", "rng", "config")


@dataclass
class Counters:
    """What the loop counts across steps; saved in checkpoints so a resume continues them."""

    step: int = 0  # optimizer steps taken (successful or skipped)
    nonfinite_steps: int = 0  # steps skipped because the loss or gradient was NaN/inf
    clipped_steps: int = 0  # steps whose gradient norm was clipped


def checkpoint_payload(
    cfg: DictConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    counters: Counters,
    precision: MixedPrecision,
) -> dict[str, Any]:
    """Everything a resume needs (see ``REQUIRED_KEYS``)."""
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "grad_scaler": precision.state_dict(),
        "step": step,
        "rng": rng_state(),
        "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        "nonfinite_steps": counters.nonfinite_steps,
        "clipped_steps": counters.clipped_steps,
    }


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write ``checkpoint`` atomically: a crash mid-write leaves the previous one intact."""
    with atomic_write(path) as f:
        torch.save(checkpoint, f)


def checkpoint_write_error(path: Path, error: OSError, previous_step: int | None) -> OutputError:
    """One line for a checkpoint that could not be written (the previous one is untouched:
    ``save_checkpoint`` writes a temporary file and renames it only when it is whole)."""
    kept = (
        f"The previous checkpoint (step {previous_step}) is intact"
        if previous_step is not None
        else "No earlier checkpoint of this run exists"
    )
    base = output_error(path, error, what="checkpoint")
    return OutputError(f"{base}. {kept}")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a seqnet checkpoint (tensors and plain data only: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        hint = ""
        if path.is_dir():
            candidate = path / "checkpoints" / "last.pt"
            hint = f" (it is a folder; did you mean ckpt_path={candidate}?)"
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist{hint}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # bytes that are not a checkpoint can fail in many ways
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt or not a seqnet checkpoint "
            f"(torch.load failed with {type(e).__name__}); use another checkpoint, "
            "e.g. an earlier run's checkpoints/last.pt"
        ) from e
    if not isinstance(checkpoint, dict) or any(k not in checkpoint for k in REQUIRED_KEYS):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(
            f"{str(path)!r} is not a seqnet checkpoint: expected keys {list(REQUIRED_KEYS)}, "
            f"found {found}"
        )
    check_fields(checkpoint, path)  # every field of the type it must have: one line if not
    return checkpoint


def model_mismatch(checkpoint: dict[str, Any], error: RuntimeError) -> CheckpointError:
    """The one-line error for a checkpoint whose weights do not fit the model this run built
    (``resume.check_resumable`` has compared the model settings, so the task's shape differs)."""
    details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    first = (details[0] if details else str(error)).rstrip(".")
    return CheckpointError(
        f"the checkpoint's model does not fit this run's task ({first}); resume with the "
        f"checkpoint's task: {' '.join(task_overrides(checkpoint['config'].get('data', {})))}"
    )


def task_overrides(saved: dict[str, Any]) -> list[str]:
    """``data=<task>`` and the checkpoint's ``data.*`` values that differ from its defaults."""
    from seqnet.data import TASK_REGISTRY
    from seqnet.training.suggest import choice_overrides

    entry = TASK_REGISTRY.get(saved.get("name"))
    defaults = None
    if entry is not None:
        node = OmegaConf.structured(entry.config)
        defaults = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    return choice_overrides("data", saved, defaults)
