"""``model.bidirectional=true``: the fused cores against PyTorch's own bidirectional layers given
the same weights, the engine (and the scans) against the fused path in float64 with gradients,
torch's parameter names and state shapes, the many-to-one read-out, and the one-line refusals
for the tasks where a backward direction has no meaning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helpers.data_files import write_text
from helpers.references import assert_scan_equals_steps, make_core, random_hx
from seqnet.data import build_task
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import ConfigError
from seqnet.models import (
    FusedGRU,
    FusedLSTM,
    FusedRNN,
    GRUCell,
    LSTMCell,
    Probes,
    RNNCell,
    StepRNN,
    build_model,
)
from seqnet.training.loop import train

INPUT, HIDDEN, BATCH, STEPS = 3, 4, 2, 6
KINDS = {
    "rnn_tanh": (FusedRNN, nn.RNN, RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (FusedRNN, nn.RNN, RNNCell, {"nonlinearity": "relu"}),
    "lstm": (FusedLSTM, nn.LSTM, LSTMCell, {}),
    "gru": (FusedGRU, nn.GRU, GRUCell, {}),
}


def state_tuple(h) -> tuple[torch.Tensor, ...]:
    return h if isinstance(h, tuple) else (h,)


def random_state(kind: str, layers: int):
    parts = tuple(
        torch.randn(layers * 2, BATCH, HIDDEN, dtype=torch.float64)
        for _ in range(2 if kind == "lstm" else 1)
    )
    return parts if kind == "lstm" else parts[0]


def forward_and_grads(forward, x, hx, params):
    out, h_n = forward(x, hx)
    weights = torch.linspace(-1, 1, out.shape[-1], dtype=torch.float64)
    loss = (out * weights).sum() + sum(t.sum() for t in state_tuple(h_n))
    return out, h_n, torch.autograd.grad(loss, params)


@pytest.mark.parametrize("kind", list(KINDS))
def test_fused_core_equals_torchs_bidirectional_layer(kind):
    """Our fused core is torch's layer with torch's names (``weight_ih_l0_reverse`` ...): loaded
    into a plain ``nn.LSTM(bidirectional=True)``, the same outputs and h_n, bit for bit."""
    ours_class, torch_class, _, options = KINDS[kind]
    torch.manual_seed(0)
    ours = ours_class(
        INPUT, HIDDEN, 2, batch_first=True, bidirectional=True, backend="fused", **options
    ).double()
    theirs = torch_class(INPUT, HIDDEN, 2, batch_first=True, bidirectional=True, **options)
    theirs = theirs.double()
    theirs.load_state_dict(ours.state_dict())  # strict: the same names and shapes
    assert "weight_hh_l1_reverse" in ours.state_dict()
    assert ours.weight_ih_l1.shape[1] == 2 * HIDDEN  # layer 1 reads both directions
    x = torch.randn(BATCH, STEPS, INPUT, dtype=torch.float64)
    hx = random_state(kind, 2)
    for start in (None, hx):
        out, h_n = ours(x, start)
        ref_out, ref_h = theirs(x, start)
        assert out.shape == (BATCH, STEPS, 2 * HIDDEN)
        assert torch.equal(out, ref_out)
        for a, b in zip(state_tuple(h_n), state_tuple(ref_h), strict=True):
            assert a.shape == (4, BATCH, HIDDEN)
            assert torch.equal(a, b)


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", list(KINDS))
def test_engine_equals_the_fused_bidirectional_layer(kind, layers, batch_first):
    """The engine's reversed-time unroll (its whole-sequence kernels, and the step-by-step path
    that probes take) against the fused layer: outputs, h_n and every parameter's gradient to
    1e-10 in float64, from zeros and from a given hx."""
    fused_class, _, _, options = KINDS[kind]
    torch.manual_seed(1)
    core = fused_class(
        INPUT,
        HIDDEN,
        layers,
        batch_first=batch_first,
        bidirectional=True,
        backend="fused",
        **options,
    ).double()
    shape = (BATCH, STEPS, INPUT) if batch_first else (STEPS, BATCH, INPUT)
    x = torch.randn(*shape, dtype=torch.float64)
    params = list(core.parameters())

    def probed(x, hx):
        return core.forward_stepped(x, hx, probes=Probes())

    for hx in (None, random_state(kind, layers)):
        expected = forward_and_grads(core, x, hx, params)
        for forward in (core.forward_stepped, probed):
            got = forward_and_grads(forward, x, hx, params)
            torch.testing.assert_close(got[0], expected[0], rtol=0, atol=1e-10)
            for a, b in zip(state_tuple(got[1]), state_tuple(expected[1]), strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
            for a, b in zip(got[2], expected[2], strict=True):
                torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kind", list(KINDS))
def test_step_rnn_loads_a_bidirectional_fused_state_dict(kind):
    fused_class, _, cell_class, options = KINDS[kind]
    torch.manual_seed(2)
    fused = fused_class(
        INPUT, HIDDEN, 2, batch_first=True, bidirectional=True, backend="fused", **options
    )
    stepped = StepRNN(cell_class, INPUT, HIDDEN, 2, batch_first=True, bidirectional=True, **options)
    assert list(stepped.state_dict()) == list(fused.state_dict())
    stepped.load_state_dict(fused.state_dict())
    x = torch.randn(BATCH, STEPS, INPUT)
    out, h_n = stepped(x)
    ref_out, ref_h = fused(x)
    torch.testing.assert_close(out, ref_out, rtol=0, atol=1e-6)
    for a, b in zip(state_tuple(h_n), state_tuple(ref_h), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("space", ["linear", "log"])
@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_bidirectional_scan_equals_the_sequential_steps(name, space):
    """minGRU/minLSTM: the scan run backwards for the second direction, against the sequential
    step (the probes' path), outputs, h_n and gradients of parameters, inputs and hx to 1e-10."""
    torch.manual_seed(3)
    core = make_core(name, bidirectional=True)
    x = torch.randn(BATCH, 7, INPUT, dtype=torch.float64, requires_grad=True)
    hx = torch.cat([random_hx(core), random_hx(core)]).requires_grad_()
    assert hx.shape == (4, BATCH, core.hidden_size)
    assert_scan_equals_steps(core, x, hx, space)


def test_many_to_one_reads_both_directions_final_states():
    """The read-out of a bidirectional many-to-one model is torch's h_n of the top layer, forward
    and backward side by side: both directions have read the whole sequence."""
    torch.manual_seed(5)
    config = {"name": "lstm", "hidden_size": HIDDEN, "num_layers": 2, "bidirectional": True}
    model = build_model(config, AddingProblem.spec).double()
    x = torch.randn(BATCH, STEPS, 2, dtype=torch.float64)
    pred, (h_n, _) = model(x)
    assert h_n.shape == (4, BATCH, HIDDEN)
    torch.testing.assert_close(pred, model.head.linear(torch.cat((h_n[2], h_n[3]), dim=-1)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"name": "char_lm", "seq_len": 10},
            "model.bidirectional=true cannot be used for this task: data=char_lm predicts each "
            "character from the ones before it (its target at a step is the next step's input, "
            "and the state is carried from chunk to chunk); a backward direction would read the "
            "answer. Set model.bidirectional=false",
        ),
        (
            {"name": "sine_gen"},
            "model.bidirectional=true cannot be used for a one-to-many task: its decoder "
            "generates each output from the ones before it, so there is no later step to read "
            "backwards from; set model.bidirectional=false",
        ),
    ],
    ids=["char_lm", "one_to_many"],
)
def test_causal_tasks_refuse_bidirectional_models(data, message):
    spec = build_task(data).spec
    with pytest.raises(ValueError) as error:
        build_model({"name": "gru", "bidirectional": True}, spec)
    assert str(error.value) == message


def test_a_text_file_task_refuses_bidirectional_models(tmp_path):
    spec = build_task({"name": "text", **write_text(tmp_path)}).spec
    with pytest.raises(ValueError) as error:
        build_model({"name": "lstm", "bidirectional": True}, spec)
    assert str(error.value) == (
        "model.bidirectional=true cannot be used for this task: data=text predicts each "
        "character from the ones before it (its target at a step is the next step's input, "
        "and the state is carried from chunk to chunk); a backward direction would read the "
        "answer. Set model.bidirectional=false"
    )


def test_a_refused_run_stops_before_writing_anything(make_cfg, tmp_path):
    """Through ``train``: the same line, as a configuration error, before the run folder is made."""
    cfg = make_cfg("data=sine_gen", "model.bidirectional=true", tiny=False)
    with pytest.raises(ConfigError) as error:
        train(cfg)
    assert str(error.value).startswith("model.bidirectional=true cannot be used for a one-to-many")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


def test_a_state_of_the_wrong_shape_names_the_expected_one():
    core = StepRNN(GRUCell, INPUT, HIDDEN, 2, batch_first=True, bidirectional=True)
    with pytest.raises(ValueError) as error:
        core(torch.randn(BATCH, STEPS, INPUT), torch.zeros(2, BATCH, HIDDEN))
    assert str(error.value) == (
        "StepRNN expects state tensors of shape (num_layers * 2, batch, hidden) = (4, ...), "
        "got [(2, 2, 4)]"
    )
