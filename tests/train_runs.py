"""What the training tests share: tiny configs, one trained run per model, readers of a run's
TensorBoard scalars, HPARAMS and checkpoint, state comparisons, and eager against compiled."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import TINY, compose_config
from seqnet.data.tasks.adding import AddingProblem
from seqnet.models import build_model
from seqnet.training.loop import train

MODELS = ("rnn", "lstm", "gru")
# TINY: 6 steps, log every step, validate and checkpoint every 3, gradient profiles every 3.
TRAIN_STEPS = [1, 2, 3, 4, 5, 6]
VAL_STEPS = [3, 6]


def accumulator(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return acc


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a run: [(step, value), ...] in the order written."""
    acc = accumulator(run_dir)
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def hparams(run_dir: Path) -> dict[str, Any]:
    """The HPARAMS plugin's session-start hyperparameters written into ``tb/``."""
    content = accumulator(run_dir).PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = {}
    for key, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        values[key] = getattr(value, kind)
    return values


def assert_state_equal(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Nested state dicts equal, tensors bit for bit."""
    assert type(a) is type(b)
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_state_equal(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_state_equal(x, y)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def last_ckpt(run_dir: Path) -> dict[str, Any]:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)


def tiny(tmp: Path, run: str, *overrides: str) -> DictConfig:
    return compose_config([*TINY, *overrides, f"paths.run_dir={tmp / run}"])


def nan_loss_on(steps: Iterable[int]) -> Callable:
    """AddingProblem.loss returning NaN on the given (0-based) training steps.

    ``loss`` is called once per training step (validation and gradient probes use other
    methods), so the call count is the step index.
    """
    original = AddingProblem.loss
    calls = itertools.count()
    bad = set(steps)

    def loss(self, pred, y):
        value = original(self, pred, y)
        return value * float("nan") if next(calls) in bad else value

    return loss


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name -> bytes)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def trained_runs(tmp: Path) -> dict[str, tuple[DictConfig, dict, Path]]:
    """One TINY run per model under ``tmp``: (cfg, returned metrics, run dir)."""
    out = {}
    for name in MODELS:
        cfg = tiny(tmp, name, f"model={name}")
        out[name] = (cfg, train(cfg), tmp / name)
    return out


def eager_and_compiled(
    config: dict[str, Any], x: torch.Tensor, passes: int = 1
) -> list[tuple[torch.Tensor, tuple[torch.Tensor, ...]]]:
    """The outputs and parameter gradients (of ``out.square().sum()``) of the model ``config``
    builds for the adding problem, the same initial weights on ``x``'s device and dtype, in
    training mode: eager, then with ``model.compile=true``; after ``passes`` passes (a second
    reuses the compiled graphs)."""
    results = []
    for compiled in (False, True):
        torch.manual_seed(3)
        model = build_model({**config, "compile": compiled}, AddingProblem.spec)
        model = model.to(x.device, x.dtype).train()
        for _ in range(passes):
            out = model(x)[0]
            grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
        results.append((out, grads))
    return results
