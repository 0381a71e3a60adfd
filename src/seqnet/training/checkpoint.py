"""Checkpoints: model, optimizer, step, RNG states and resolved config, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seqnet.atomic import atomic_write
from seqnet.errors import CheckpointError

#: Keys every seqnet checkpoint holds.
REQUIRED_KEYS = ("model", "optimizer", "step", "rng", "config")


def save_checkpoint(path: Path, checkpoint: dict[str, Any]) -> None:
    """Write ``checkpoint`` atomically: a crash mid-write leaves the previous one intact."""
    with atomic_write(path) as f:
        torch.save(checkpoint, f)


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
    return checkpoint


def model_mismatch(checkpoint: dict[str, Any], error: RuntimeError) -> CheckpointError:
    """The one-line error for a checkpoint whose weights do not fit the model this run built
    (``check_resumable`` has compared the model settings, so the task's shape differs)."""
    details = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    first = (details[0] if details else str(error)).rstrip(".")
    trained_on = checkpoint["config"].get("data", {}).get("name")
    return CheckpointError(
        f"the checkpoint's model does not fit this run's task ({first}); it was trained with "
        f"data.name={trained_on}: resume with that task"
    )
