"""Task shapes and the model plumbing each one gets: TaskSpec, build_model per shape, greedy
decoding, and every registered model on every registered task (two training steps, a gradient
profile and an evaluation), with direct calls."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from seqnet.data import TASK_REGISTRY, Decoded, TaskSpec, build_task
from seqnet.data.task import IGNORE_INDEX
from seqnet.gradients import measure_profile
from seqnet.models import (
    MODEL_REGISTRY,
    EncoderDecoder,
    SequenceModel,
    VectorDecoder,
    build_model,
)
from seqnet.training.carried_state import CarriedState
from seqnet.training.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_thread")

# ---------------------------------------------------------------------------- TaskSpec


def test_shape_follows_output_mode_by_default() -> None:
    assert TaskSpec(2, 1).shape == "many_to_one" and TaskSpec(2, 1).output_mode == "last"
    spec = TaskSpec(2, 1, output_mode="every")
    assert (spec.shape, spec.output_mode, spec.is_decoder) == ("many_to_many", "every", False)


@pytest.mark.parametrize(
    ("shape", "mode", "decoder"),
    [
        ("many_to_one", "last", False),
        ("one_to_one", "last", False),
        ("many_to_many", "every", False),
        ("encoder_decoder", "every", True),
        ("one_to_many", "every", True),
    ],
)
def test_shape_sets_the_output_mode(shape: str, mode: str, decoder: bool) -> None:
    spec = TaskSpec(3, 4, shape=shape, output_len=5)
    assert (spec.output_mode, spec.is_decoder) == (mode, decoder)


def test_contradicting_shape_and_output_mode() -> None:
    with pytest.raises(ValueError) as excinfo:
        TaskSpec(3, 4, shape="one_to_one", output_mode="every")
    assert str(excinfo.value) == (
        "TaskSpec(shape='one_to_one') has one output per sequence: output_mode='last', not 'every'"
    )


def test_decoder_shapes_need_an_output_length() -> None:
    with pytest.raises(ValueError, match=r"shape='one_to_many'\) needs output_len >= 1"):
        TaskSpec(3, 4, shape="one_to_many")
    with pytest.raises(ValueError, match=r"TaskSpec\.shape must be one of"):
        TaskSpec(3, 4, shape="many_to_few")


@pytest.mark.parametrize(
    ("shape", "cls"),
    [
        ("many_to_one", SequenceModel),
        ("many_to_many", SequenceModel),
        ("one_to_one", SequenceModel),
        ("encoder_decoder", EncoderDecoder),
        ("one_to_many", VectorDecoder),
    ],
)
def test_build_model_picks_the_plumbing_of_the_shape(shape: str, cls: type) -> None:
    spec = TaskSpec(3, 4, shape=shape, output_len=5)
    assert type(build_model({"name": "gru", "hidden_size": 4}, spec)) is cls


def test_decoders_are_trained_with_targets() -> None:
    task = build_task({"name": "digit_caption"})
    model = build_model({"name": "gru", "hidden_size": 4}, task.spec)
    x, _ = task.probe_batch(2)
    with pytest.raises(ValueError, match="VectorDecoder is trained with teacher forcing"):
        model(x)
    with pytest.raises(ValueError, match="VectorDecoder takes no hx"):
        model.initial_state(x, hx=torch.zeros(1, 2, 4))


# ---------------------------------------------------------------------------- greedy decoding


class ScriptedHead(nn.Module):
    """A head whose argmax at decoding step t is ``tokens[:, t]``; it records its calls."""

    def __init__(self, tokens: Tensor, vocabulary: int) -> None:
        super().__init__()
        self.tokens, self.vocabulary, self.calls = tokens, vocabulary, 0

    def forward(self, outputs: Tensor) -> Tensor:
        step = self.tokens[:, self.calls]
        self.calls += 1
        return (
            nn.functional.one_hot(step, self.vocabulary).double().unsqueeze(1)
            + 0 * outputs[..., :1].double()
        )


def test_greedy_decoding_stops_at_the_end_token() -> None:
    task = build_task({"name": "digit_caption"})
    end, L = task.spec.end_token, task.spec.output_len
    model = build_model({"name": "lstm", "hidden_size": 4}, task.spec).eval()
    script = torch.tensor([[3, end, 5, 5, 5, 5], [4, 4, end, 7, 7, 7]])
    model.decoder.head = ScriptedHead(script, task.spec.output_size)
    fed: list[Tensor] = []
    model.decoder.encoder.register_forward_hook(lambda m, args, out: fed.append(args[0].clone()))
    x, _ = task.probe_batch(2)

    generated = model.generate(x)

    assert generated.tolist() == [[3, end, end, end, end, end], [4, 4, end, end, end, end]]
    assert generated.shape == (2, L) and generated.dtype == torch.int64
    assert model.decoder.head.calls == 3  # both sequences had ended after the third step
    start = task.spec.output_size
    assert [f[:, 0].tolist() for f in fed] == [[start, start], [3, 4], [end, 4]]


def test_real_valued_decoding_feeds_back_its_outputs() -> None:
    task = build_task({"name": "sine_gen", "seq_len": 5, "val_size": 3})
    model = build_model({"name": "gru", "hidden_size": 4}, task.spec).eval()
    fed: list[Tensor] = []
    model.decoder.encoder.register_forward_hook(lambda m, args, out: fed.append(args[0].clone()))
    x, _ = task.val_set()
    with torch.no_grad():
        generated = model.generate(x)
    assert generated.shape == (3, 5, 1) and generated.dtype == torch.float32
    assert torch.equal(fed[0], torch.zeros(3, 1, 1))
    for t in range(1, 5):
        assert torch.equal(fed[t], generated[:, t - 1 : t])


# ---------------------------------------------------------------------------- every pair

#: Small values for the keys a task's schema has (only those it has are set).
TINY_DATA = {"batch_size": 4, "seq_len": 8, "val_size": 16, "max_digits": 2}
_TASKS: dict[str, object] = {}


def tiny_task(name: str):
    if name not in _TASKS:
        fields = {f.name for f in dataclasses.fields(TASK_REGISTRY[name].config)}
        cfg = {k: v for k, v in TINY_DATA.items() if k in fields}
        _TASKS[name] = build_task({"name": name, **cfg})
    return _TASKS[name]


def assert_prediction_fits(task, pred: Tensor, y: Tensor) -> None:
    """Shapes and dtypes: logits (batch[, time], classes) for integer targets, values like y."""
    assert pred.dtype == torch.float32
    if y.is_floating_point():
        assert pred.shape == y.shape or pred.squeeze(-1).shape == y.shape
    else:
        assert pred.shape == (*y.shape, task.spec.output_size)


@pytest.mark.parametrize("model_name", sorted(MODEL_REGISTRY))
@pytest.mark.parametrize("task_name", sorted(TASK_REGISTRY))
def test_every_model_trains_on_every_task(task_name: str, model_name: str) -> None:
    task = tiny_task(task_name)
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

    profile = measure_profile(model, task, task.probe_batch(3), step=2)
    assert list(profile.norms) == model.probe_names
    for q, norms in profile.norms.items():  # exactness: test_gradients, test_shape_gradients
        assert norms.ndim == 1 and len(norms) >= 1 and np.isfinite(norms).all(), q
        assert (norms >= 0).all(), q

    metrics = evaluate(model, task, task.probe_batch(3))
    assert set(metrics) == set(task.metric_names)
    assert all(math.isfinite(v) for v in metrics.values())
    if task.spec.is_decoder:
        x, y = task.probe_batch(3)
        with torch.no_grad():
            decoded = model.predict(x, y)
        assert isinstance(decoded, Decoded)
        assert_prediction_fits(task, decoded.teacher_forced, y)
        expected = y.shape if y.is_floating_point() else (3, task.spec.output_len)
        assert decoded.generated.shape == expected and decoded.generated.dtype == y.dtype
        if not y.is_floating_point():
            assert (y[y != IGNORE_INDEX] < task.spec.output_size).all()
