"""``seqnet.forecast(checkpoint, windows)``: the forecasts of a model trained on
``data=timeseries``, from raw windows, in the targets' original units.

The checkpoint keeps the training part's statistics (``TimeSeries.saved_state``): each window
is standardised with them, run through the model, and its outputs put back in original units,
so the data file is not needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.typing import ArrayLike

from seqnet.errors import CheckpointError


def forecast(checkpoint: str | Path, windows: ArrayLike, device: str = "cpu") -> np.ndarray:
    """Forecasts (n, targets) for ``windows`` (n, steps, columns) of raw values: the columns of
    the run's ``data.columns``, in their order, ``steps`` rows each (the run's ``data.window``
    is what it was trained on); one window (steps, columns) gives (1, targets)."""
    from seqnet.data import TaskSpec
    from seqnet.models import build_model
    from seqnet.training.checkpoint import load_checkpoint

    saved = load_checkpoint(checkpoint, map_location=device)
    state = saved.get("task_state") or {}
    trained_on = saved["config"].get("data", {}).get("name")
    if trained_on != "timeseries" or "input_mean" not in state:
        raise CheckpointError(
            f"checkpoint {str(checkpoint)!r} was trained on data={trained_on}; seqnet.forecast "
            "reads the checkpoints of data=timeseries runs"
        )
    values = np.asarray(windows, dtype=np.float64)
    if values.ndim == 2:
        values = values[None]
    columns = state["columns"]
    if values.ndim != 3 or values.shape[2] != len(columns) or values.shape[1] < 1:
        raise ValueError(
            f"windows must be (n, steps, {len(columns)}): the columns {columns} in that order, "
            f"one row per step; got shape {np.shape(windows)}"
        )
    spec = TaskSpec(len(columns), len(state["target"]), input_kind="real", output_mode="last")
    model = build_model(saved["config"]["model"], spec).to(device)
    model.load_state_dict(saved["model"])
    scaled = (values - np.asarray(state["input_mean"])) / np.asarray(state["input_std"])
    with torch.no_grad():
        out = model.eval()(torch.tensor(scaled, dtype=torch.float32, device=device))[0]
    return out.double().cpu().numpy() * np.asarray(state["target_std"]) + state["target_mean"]
