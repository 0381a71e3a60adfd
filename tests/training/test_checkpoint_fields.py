"""Every field of a checkpoint is checked when it is loaded: a config that is not a mapping, a
step that is not an integer >= 0, an RNG state of the wrong kind or size, weights or an
optimizer state of the wrong shape each stop a resume with one line naming the field, before
any work (no run folder), instead of a traceback or a run that fails later."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from helpers.runs import tiny
from seqnet.errors import CheckpointError
from seqnet.training.checkpoint import load_checkpoint
from seqnet.training.loop import train


def other_model_optimizer(checkpoint: dict[str, Any]) -> None:
    """The optimizer state of an LSTM with hidden_size=32 (same parameter names and count)."""
    model = torch.nn.LSTM(32, 32)
    params = [torch.zeros(32, 2), torch.zeros(32), *model.parameters(), torch.zeros(1, 32)]
    params.append(torch.zeros(1))
    optimizer = torch.optim.Adam(params)
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()
    checkpoint["optimizer"] = optimizer.state_dict()


def fewer_parameters(checkpoint: dict[str, Any]) -> None:
    optimizer = torch.optim.Adam([torch.zeros(3, requires_grad=True)])
    checkpoint["optimizer"] = optimizer.state_dict()


#: case -> (what is done to a good checkpoint, the message after "checkpoint '<path>' ")
DAMAGE: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "config_text": (
        lambda c: c.update(config="model: lstm"),
        "is damaged: its config is a str, not a mapping of settings",
    ),
    "config_without_model": (
        lambda c: c["config"].pop("model"),
        "is damaged: its config has no model settings (config.model is missing or not a mapping)",
    ),
    "step_text": (
        lambda c: c.update(step="6"),
        "is damaged: its step is '6' (a str), not an integer >= 0",
    ),
    "step_negative": (
        lambda c: c.update(step=-5),
        "is damaged: its step is -5, not an integer >= 0",
    ),
    "step_bool": (
        lambda c: c.update(step=True),
        "is damaged: its step is True (a bool), not an integer >= 0",
    ),
    "counter_negative": (
        lambda c: c.update(nonfinite_steps=-1),
        "is damaged: its nonfinite_steps is -1, not an integer >= 0",
    ),
    "rng_short": (
        lambda c: c["rng"].update(torch=torch.zeros(10, dtype=torch.uint8)),
        "is damaged: its rng.torch holds 10 bytes, not the 5056 of a generator state",
    ),
    "rng_list": (
        lambda c: c["rng"].update(torch=[1, 2, 3]),
        "is damaged: its rng.torch is a list, not a uint8 tensor",
    ),
    "model_list": (
        lambda c: c.update(model=[1, 2]),
        "is damaged: its model is a list, not a mapping of tensors",
    ),
    "weight_list": (
        lambda c: c["model"].update({"core.weight_hh_l0": [0.0]}),
        "is damaged: its model['core.weight_hh_l0'] is a list, not a tensor",
    ),
    "optimizer_without_state": (
        lambda c: c["optimizer"].pop("state"),
        "is damaged: its optimizer has no state and param_groups",
    ),
    "optimizer_of_another_model": (
        other_model_optimizer,
        "holds an optimizer state that does not fit its model: core.weight_ih_l0 is (64, 32) "
        "and its exp_avg (128, 32); use a checkpoint written with this model's optimizer",
    ),
    "optimizer_of_fewer_parameters": (
        fewer_parameters,
        "holds an optimizer state that does not fit its model: it has 1 parameter(s) in 1 "
        "group(s), the model 8 in 1; use a checkpoint written with this model's optimizer",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_field_stops_a_resume_with_one_line(runs, tmp_path: Path, case: str) -> None:
    damage, message = DAMAGE[case]
    checkpoint = torch.load(runs["lstm"][2] / "checkpoints" / "last.pt", weights_only=True)
    damage(checkpoint)
    path = tmp_path / "damaged.pt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError) as excinfo:
        train(tiny(tmp_path, "new", f"ckpt_path={path}"))
    expected = f"checkpoint '{path}' {message}"
    if message.startswith("is damaged"):
        expected += "; use another checkpoint"
    assert str(excinfo.value) == expected
    assert not (tmp_path / "new").exists()


def test_a_good_checkpoint_passes_every_check(runs) -> None:
    checkpoint = load_checkpoint(runs["lstm"][2] / "checkpoints" / "last.pt")
    assert checkpoint["step"] == 6
