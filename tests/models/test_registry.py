"""The model registry: what is registered, one-line errors for unknown names and options, and a
new cell registered as a user writes one becomes a whole model."""

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
    ModelConfig,
    RNNCell,
    StepRNN,
    build_model,
    register_model,
)

SPEC = AddingProblem.spec


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
