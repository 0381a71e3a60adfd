"""Models: the registry, parameter names, the forget bias and option errors. (The step-by-step
engine against PyTorch's fused layers and cells: test_engine.py.)"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from torch import nn

from seqnet.data.tasks.adding import AddingProblem
from seqnet.models import (
    MODEL_REGISTRY,
    FusedGRU,
    FusedLSTM,
    FusedRNN,
    LSTMCell,
    ModelConfig,
    RNNCell,
    StepRNN,
    build_model,
    register_model,
)

SPEC = AddingProblem.spec

# ---------------------------------------------------------------------------- registry


def test_registry_holds_the_models() -> None:
    registered = {name: entry.cls for name, entry in MODEL_REGISTRY.items()}
    assert {name: registered[name] for name in ("rnn", "lstm", "gru")} == {
        "rnn": FusedRNN,
        "lstm": FusedLSTM,
        "gru": FusedGRU,
    }
    assert sorted(registered) == [
        "gru",
        "gru_layernorm",
        "indrnn",
        "irnn",
        "lstm",
        "lstm_cifg",
        "lstm_layernorm",
        "lstm_peephole",
        "mingru",
        "minlstm",
        "rnn",
    ]


def test_unknown_model_lists_registered_models() -> None:
    with pytest.raises(KeyError) as excinfo:
        build_model({"name": "transformer"}, SPEC)
    assert excinfo.value.args[0] == (
        "unknown model 'transformer'; registered models: gru, gru_layernorm, indrnn, irnn, lstm, "
        "lstm_cifg, lstm_layernorm, lstm_peephole, mingru, minlstm, rnn"
    )


def test_unknown_option_is_named() -> None:
    with pytest.raises(KeyError) as excinfo:
        build_model({"name": "gru", "forget_bias": 1.0}, SPEC)
    message = excinfo.value.args[0]
    assert message.startswith("model 'gru' has no option(s) ['forget_bias']")
    assert "'hidden_size'" in message


def test_duplicate_registration_raises() -> None:
    before = dict(MODEL_REGISTRY)
    with pytest.raises(ValueError, match="model 'lstm' is already registered by"):
        register_model("lstm", config=ModelConfig)(FusedGRU)
    assert before == MODEL_REGISTRY  # the original entry is kept


@dataclass
class ScaledConfig(ModelConfig):
    name: str = "scaled_test_cell"
    scale: float = 1.0


class ScaledRNNCell(RNNCell):
    """A variant as a user writes one: a cell with one extra option, on the engine."""

    def __init__(self, input_size, hidden_size, bias=True, scale=1.0, device=None, dtype=None):
        self.scale = scale
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def step(self, x_proj, state, probe=None):
        (h,) = super().step(x_proj, state, probe)
        return (self.scale * h,)


def test_a_registered_cell_builds_a_whole_model() -> None:
    """A new model is a config and one registration: encoder, engine core and head come from
    the shared plumbing, with the config's defaults for the keys a dict leaves out."""
    register_model("scaled_test_cell", config=ScaledConfig)(ScaledRNNCell)
    try:
        model = build_model(
            {"name": "scaled_test_cell", "hidden_size": 5, "encoder_size": None, "scale": 3.0},
            SPEC,
        )
        assert type(model.core) is StepRNN
        assert model.core.cell_class is ScaledRNNCell
        assert [c.scale for c in model.core.cells()] == [3.0]
        assert model.core.num_layers == 1  # ModelConfig's default
        assert model.core.hidden_size == 5
        assert isinstance(model.encoder, nn.Identity)
        assert model.core.input_size == SPEC.input_size
        x = torch.rand(2, 4, 2)
        cell = model.core.cells()[0]
        h = torch.zeros(2, 5)
        for t in range(4):  # the cell's own equation, by hand: h = 3 * tanh(W x + b + U h + c)
            h = 3.0 * torch.tanh(
                x[:, t] @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
            )
        pred, h_n = model(x)
        torch.testing.assert_close(h_n[0], h)
        torch.testing.assert_close(pred, model.head.linear(h))
    finally:
        MODEL_REGISTRY.pop("scaled_test_cell", None)


@pytest.mark.parametrize(
    ("name", "core_class", "gates"),
    [("rnn", FusedRNN, 1), ("lstm", FusedLSTM, 4), ("gru", FusedGRU, 3)],
)
def test_built_model_shapes(name: str, core_class: type, gates: int) -> None:
    model = build_model({"name": name, "hidden_size": 6, "num_layers": 2, "encoder_size": 4}, SPEC)
    assert type(model.core) is core_class
    assert model.core.batch_first is True
    assert model.num_layers == 2
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert shapes == {
        "encoder.weight": (4, 2),
        "encoder.bias": (4,),
        "core.weight_ih_l0": (gates * 6, 4),
        "core.weight_hh_l0": (gates * 6, 6),
        "core.bias_ih_l0": (gates * 6,),
        "core.bias_hh_l0": (gates * 6,),
        "core.weight_ih_l1": (gates * 6, 6),
        "core.weight_hh_l1": (gates * 6, 6),
        "core.bias_ih_l1": (gates * 6,),
        "core.bias_hh_l1": (gates * 6,),
        "head.linear.weight": (1, 6),
        "head.linear.bias": (1,),
    }
    pred, h_n = model(torch.rand(3, 7, 2))
    assert pred.shape == (3, 1)
    final_h = h_n[0] if name == "lstm" else h_n
    assert final_h.shape == (2, 3, 6)


def test_lstm_core_uses_standard_parameter_names() -> None:
    model = build_model({"name": "lstm", "hidden_size": 8}, SPEC)
    names = [n for n, _ in model.named_parameters() if n.startswith("core.")]
    assert names == [
        "core.weight_ih_l0",
        "core.weight_hh_l0",
        "core.bias_ih_l0",
        "core.bias_hh_l0",
    ]
    # The same names as torch.nn.LSTM, so its state_dict loads as is.
    reference = nn.LSTM(32, 8)
    model.core.load_state_dict(reference.state_dict())
    assert torch.equal(model.core.weight_hh_l0, reference.weight_hh_l0)


# ---------------------------------------------------------------------------- forget bias


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("forget_bias", [1.0, 0.0, 2.5])
def test_lstm_forget_bias_is_set_once(num_layers: int, forget_bias: float) -> None:
    hidden = 8
    torch.manual_seed(0)
    options = {"hidden_size": hidden, "num_layers": num_layers, "forget_bias": forget_bias}
    model = build_model({"name": "lstm", **options}, SPEC)
    forget = slice(hidden, 2 * hidden)
    for layer in range(num_layers):
        b_ih = getattr(model.core, f"bias_ih_l{layer}").detach()
        b_hh = getattr(model.core, f"bias_hh_l{layer}").detach()
        assert b_ih[forget].tolist() == [forget_bias] * hidden
        assert b_hh[forget].tolist() == [0.0] * hidden
        # The effective forget bias (the sum of the two) is the configured value, not twice it.
        assert (b_ih + b_hh)[forget].tolist() == [forget_bias] * hidden
        # The other gates keep PyTorch's uniform initialisation in both vectors.
        other = torch.cat((b_ih[:hidden], b_ih[2 * hidden :], b_hh[:hidden], b_hh[2 * hidden :]))
        assert other.unique().numel() == other.numel()
        assert float(other.abs().max()) <= hidden**-0.5


def test_lstm_cell_forget_bias() -> None:
    cell = LSTMCell(3, 4, forget_bias=1.5)
    assert cell.bias_ih[4:8].tolist() == [1.5] * 4
    assert cell.bias_hh[4:8].tolist() == [0.0] * 4


# ---------------------------------------------------------------------------- options


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_dropout_needs_two_layers(name: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        build_model({"name": name, "dropout": 0.2, "num_layers": 1}, SPEC)
    assert str(excinfo.value) == (
        "model.dropout=0.2 acts only between recurrent layers, and model.num_layers=1 has none: "
        "set model.num_layers >= 2 or model.dropout=0"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hidden_size": 0}, "model.hidden_size must be >= 1, got 0"),
        ({"num_layers": 0}, "model.num_layers must be >= 1, got 0"),
        ({"dropout": 1.0, "num_layers": 2}, "model.dropout must be in [0, 1), got 1.0"),
    ],
)
def test_option_ranges(options: dict, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        build_model({"name": "lstm", **options}, SPEC)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_dropout_acts_between_two_layers(name: str) -> None:
    torch.manual_seed(0)
    model = build_model({"name": name, "hidden_size": 16, "num_layers": 2, "dropout": 0.5}, SPEC)
    assert model.core.dropout == 0.5
    x = torch.rand(4, 9, 2)
    model.train()
    a, b = model(x)[0], model(x)[0]
    assert not torch.equal(a, b)  # a new dropout mask each call
    torch.manual_seed(7)
    c = model(x)[0]
    torch.manual_seed(7)
    d = model(x)[0]
    assert torch.equal(c, d)  # masks come from the global generator
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])
    # In eval mode the stepped engine matches the fused layer (dropout off in both).
    with torch.no_grad():
        features = model.encoder(x)
        fused, _ = model.core(features)
        stepped, _ = model.core.forward_stepped(features)
    torch.testing.assert_close(stepped, fused, rtol=0, atol=1e-5)
