"""Every registered model on every registered task, with direct calls: two training steps (the
carried state included), a gradient profile of each quantity over every timestep for both probe
losses, and an evaluation whose loss is the task's loss of the model's predictions. (Exactness
of the profiles: tests/gradients/; every task through train(): tests/training/.)"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import Tensor

from helpers.references import VARIANTS
from helpers.tasks import EchoTask
from seqnet.data import TASK_REGISTRY, Decoded, build_task
from seqnet.data.task import IGNORE_INDEX
from seqnet.gradients import measure_profile
from seqnet.models import MODEL_REGISTRY, build_model
from seqnet.training.carried_state import CarriedState
from seqnet.training.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_thread")

#: Small values for the keys a task's schema has (only those it has are set).
TINY_DATA = {"batch_size": 4, "seq_len": 8, "val_size": 16, "max_digits": 2}
_TASKS: dict[str, object] = {}
#: ReLU cells, whose units may all be dead for a probe batch (a zero gradient).
RELU = ("irnn", "indrnn")


def tiny_task(name: str, data_files: dict[str, dict]):
    """The task with TINY_DATA's keys that it has (and the files a file task reads)."""
    if name not in _TASKS:
        fields = {f.name for f in dataclasses.fields(TASK_REGISTRY[name].config)}
        cfg = {k: v for k, v in TINY_DATA.items() if k in fields}
        _TASKS[name] = build_task({"name": name, **cfg, **data_files.get(name, {})})
    return _TASKS[name]


def assert_prediction_fits(task, pred: Tensor, y: Tensor) -> None:
    """Shapes and dtypes: logits (batch[, time], classes) for integer targets, values like y."""
    assert pred.dtype == torch.float32
    if y.is_floating_point():
        assert pred.shape == y.shape or pred.squeeze(-1).shape == y.shape
    else:
        assert pred.shape == (*y.shape, task.spec.output_size)


def profile_lengths(task, quantities: list[str], x: Tensor) -> dict[str, int]:
    """The timesteps of each probed quantity: the input's for the input and the encoder, the
    output length for a decoder's states."""
    steps_in = x.shape[1]
    steps_out = task.spec.output_len if task.spec.is_decoder else steps_in
    return {q: steps_in if q == "x" or q.startswith("enc_") else steps_out for q in quantities}


@pytest.mark.parametrize("model_name", sorted(MODEL_REGISTRY))
@pytest.mark.parametrize("task_name", sorted(TASK_REGISTRY))
def test_every_model_trains_on_every_task(task_name: str, model_name: str, data_files) -> None:
    task = tiny_task(task_name, data_files)
    torch.manual_seed(0)
    model = build_model({"name": model_name, "hidden_size": 6, "encoder_size": 5}, task.spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    carried = CarriedState(task)
    before = [p.detach().clone() for p in model.parameters()]
    for step in range(2):
        x, y = task.train_batch(0, step)
        pred, final = model(x, carried.initial(step), targets=y)
        assert_prediction_fits(task, pred, y)
        loss = task.loss(pred, y)
        assert loss.dim() == 0 and math.isfinite(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        carried.keep(step, final)
    # Every parameter the loss reaches has moved (a one-to-one model's recurrent weights act
    # on the zero initial state only, so they get no gradient).
    for old, p in zip(before, model.parameters(), strict=True):
        if p.grad is not None and p.grad.abs().sum() > 0:
            assert not torch.equal(old, p)

    batch = task.probe_batch(3)
    for loss in ("last", "total"):
        profile = measure_profile(model, task, batch, step=2, loss=loss)
        assert list(profile.norms) == model.probe_names
        lengths = {q: len(norms) for q, norms in profile.norms.items()}
        assert lengths == profile_lengths(task, model.probe_names, batch.x), loss
        for q, norms in profile.norms.items():
            assert np.isfinite(norms).all() and (norms >= 0).all(), (loss, q)
            if model_name not in RELU:  # the loss reaches the last step of every quantity
                assert norms[-1] > 0, (loss, q)

    metrics = evaluate(model, task, batch)
    assert set(metrics) == set(task.metric_names)
    assert all(math.isfinite(v) for v in metrics.values())
    x, y = batch
    with torch.no_grad():
        predicted = model.eval().predict(x, y)
    scored = predicted.teacher_forced if isinstance(predicted, Decoded) else predicted
    assert metrics["loss"] == pytest.approx(float(task.loss(scored, y)), rel=1e-5)
    if task.spec.is_decoder:
        assert isinstance(predicted, Decoded)
        assert_prediction_fits(task, predicted.teacher_forced, y)
        expected = y.shape if y.is_floating_point() else (3, task.spec.output_len)
        assert predicted.generated.shape == expected and predicted.generated.dtype == y.dtype
        if not y.is_floating_point():
            assert (y[y != IGNORE_INDEX] < task.spec.output_size).all()


#: Every variant, the plain models with zoneout (on the engine), and some options.
OPTIONS = [(name, {}) for name in VARIANTS] + [
    ("lstm", {"zoneout": 0.2}),
    ("gru", {"zoneout": 0.2}),
    ("lstm_layernorm", {"zoneout": 0.1, "chrono_tmax": 8}),
    ("indrnn", {"recurrent_max": 4, "nonlinearity": "tanh"}),
]


@pytest.mark.parametrize(("name", "options"), OPTIONS, ids=[f"{n}{o or ''}" for n, o in OPTIONS])
def test_variants_and_their_options_descend_on_a_many_to_many_task(name, options):
    """Three Adam steps on the toy echo task lower its loss, zoneout's random masks included."""
    torch.manual_seed(1)
    task = EchoTask(seq_len=8, n=16)
    model = build_model({"name": name, "hidden_size": 8, **options}, task.spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = task.val_set()
    losses = []
    for _ in range(4):
        loss = task.loss(model(x)[0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
