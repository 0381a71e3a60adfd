"""What the tests of training runs share: tiny configs, one trained run per model, readers of a
run's TensorBoard scalars, HPARAMS and checkpoint, state comparisons, and eager against compiled."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import TINY, compose_config
from seqnet.data.tasks.adding import AddingProblem
from seqnet.gradients import load_gradients
from seqnet.models import build_model
from seqnet.training.loop import train

MODELS = ("rnn", "lstm", "gru")
# TINY: 6 steps, log every step, validate and checkpoint every 3, gradient profiles every 3.
TRAIN_STEPS = [1, 2, 3, 4, 5, 6]
VAL_STEPS = [3, 6]


def tiny(tmp: Path, run: str, *overrides: str) -> DictConfig:
    """A TINY config writing into ``tmp/run``."""
    return compose_config([*TINY, *overrides, f"paths.run_dir={tmp / run}"])


def accumulator(run_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a run: [(step, value), ...] in the order written."""
    acc = accumulator(run_dir)
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def hparams_sessions(run_dir: Path) -> list[dict[str, Any]]:
    """Every HPARAMS session-start entry in a run's ``tb/`` event files, as {key: value}."""
    sessions = []
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content
                    )
                    hparams = data.session_start_info.hparams
                    sessions.append(
                        {k: getattr(v, v.WhichOneof("kind")) for k, v in hparams.items()}
                    )
    return sessions


def hparams(run_dir: Path) -> dict[str, Any]:
    """The hyperparameters of a run's one HPARAMS session."""
    (session,) = hparams_sessions(run_dir)
    return session


def metric_columns(run_dir: Path) -> list[str]:
    """The HPARAMS metric columns a run declares."""
    content = accumulator(run_dir).PluginTagToContent("hparams")["_hparams_/experiment"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    return [m.name.tag for m in data.experiment.metric_infos]


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


def assert_same_run(run_dir: Path, reference: Path) -> None:
    """Same final checkpoint (weights, optimizer, step, RNG) and gradient history, bit for bit."""
    a, b = last_ckpt(run_dir), last_ckpt(reference)
    assert a["step"] == b["step"]
    for key in ("model", "optimizer", "rng"):
        assert_state_equal(a[key], b[key])
    steps, norms, _ = load_gradients(run_dir / "gradients.npz")
    ref_steps, ref_norms, _ = load_gradients(reference / "gradients.npz")
    assert steps.tolist() == ref_steps.tolist()
    assert norms.keys() == ref_norms.keys()
    for q in ref_norms:
        np.testing.assert_array_equal(norms[q], ref_norms[q])


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name -> bytes)."""
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def only_child(folder: Path) -> Path:
    children = list(folder.iterdir())
    assert len(children) == 1, children
    return children[0]


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
