"""Initialisation options: the forget bias (set once), recurrent_init, chrono initialisation
(and its refusal where there is no forget gate), IRNN's and IndRNN's own initialisation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from omegaconf import OmegaConf, open_dict

from helpers.tasks import EchoTask
from seqnet.data.tasks.adding import AddingProblem
from seqnet.errors import ConfigError
from seqnet.models import MODEL_REGISTRY, GRUCell, LSTMCell, build_core, build_model, register_model
from seqnet.models.options import EngineConfig, GatedOptions
from seqnet.training.loop import train

SPEC = AddingProblem.spec


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


def core_parameters(name: str, **options) -> dict[str, torch.Tensor]:
    torch.manual_seed(6)
    core = build_core(MODEL_REGISTRY[name].cls, 5, 8, num_layers=2, **options)
    return {n: p.detach() for n, p in core.named_parameters()}


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "lstm_peephole", "gru_layernorm"])
def test_recurrent_init(name):
    gates = core_parameters(name)["weight_hh_l1"].shape[0] // 8
    for scheme in ("orthogonal", "identity"):
        w_hh = core_parameters(name, recurrent_init=scheme)["weight_hh_l1"]
        for block in w_hh.split(8):
            expected = torch.eye(8)
            product = block @ block.T if scheme == "orthogonal" else block
            torch.testing.assert_close(product, expected, atol=1e-5, rtol=0)
        if scheme == "orthogonal" and gates > 1:  # an independent matrix per gate block
            assert not torch.allclose(w_hh[:8], w_hh[8:16])


@pytest.mark.parametrize(
    ("name", "forget", "input_gate"),
    [("lstm", 1, 0), ("lstm_peephole", 1, 0), ("lstm_cifg", 0, None), ("minlstm", 0, 1)],
)
def test_chrono_initialisation(name, forget, input_gate):
    """b_f = log(U[1, T_max - 1]) in bias_ih, b_i = -b_f, bias_hh's blocks 0."""
    params = core_parameters(name, chrono_tmax=50)
    for layer in (0, 1):
        b_ih = params[f"bias_ih_l{layer}"]
        b_f = b_ih[forget * 8 : (forget + 1) * 8]
        assert torch.all(b_f >= 0) and torch.all(b_f <= math.log(49)) and b_f.std() > 0.3
        if input_gate is not None:
            assert torch.equal(b_ih[input_gate * 8 : (input_gate + 1) * 8], -b_f)
        b_hh = params.get(f"bias_hh_l{layer}")
        if b_hh is not None:
            for gate in {forget, input_gate} - {None}:
                assert b_hh[gate * 8 : (gate + 1) * 8].abs().sum() == 0


def test_irnn_and_indrnn_initialisation():
    irnn = core_parameters("irnn")
    assert torch.equal(irnn["weight_hh_l0"], torch.eye(8))
    assert irnn["bias_ih_l0"].abs().sum() == irnn["bias_hh_l0"].abs().sum() == 0
    assert irnn["weight_ih_l0"].std() < 3e-3  # N(0, 0.001^2)
    u = core_parameters("indrnn")["weight_hh_l0"]
    assert u.shape == (8,) and torch.all((u >= 0) & (u <= 1))


@dataclass
class ChronoGRUConfig(GatedOptions, EngineConfig):
    name: str = "chrono_gru_test"
    chrono_tmax: int | None = None


class ChronoGRUCell(GRUCell):
    """A cell written by a user who passes chrono_tmax on to a cell without a forget gate."""

    def __init__(self, input_size, hidden_size, bias=True, chrono_tmax=None, **options):
        super(GRUCell, self).__init__(input_size, hidden_size, bias, chrono_tmax=chrono_tmax)


def test_chrono_on_a_model_without_a_forget_gate(make_cfg):
    """model=gru model.chrono_tmax=100 stops at composition (tests/configs/); a dict names the
    models that have the option, and a cell without a forget gate that is given it refuses it
    in one line."""
    with pytest.raises(KeyError) as excinfo:
        build_model({"name": "mingru", "chrono_tmax": 100}, EchoTask.spec)
    assert excinfo.value.args[0].endswith(
        "'chrono_tmax' is an option of models lstm, lstm_cifg, lstm_layernorm, lstm_peephole, "
        "minlstm"
    )
    register_model("chrono_gru_test", config=ChronoGRUConfig)(ChronoGRUCell)
    try:
        cfg = make_cfg("model=gru")
        with open_dict(cfg):
            model = OmegaConf.to_container(cfg.model, enum_to_str=True)
            del model["backend"]
            cfg.model = {**model, "name": "chrono_gru_test", "chrono_tmax": 100}
        with pytest.raises(ConfigError) as excinfo:
            train(cfg)
    finally:
        MODEL_REGISTRY.pop("chrono_gru_test")
    assert str(excinfo.value) == (
        "model.chrono_tmax=100: chrono initialisation sets forget-gate biases and ChronoGRUCell "
        "has no forget gate; use a model that has one (lstm, lstm_peephole, lstm_cifg, "
        "lstm_layernorm, minlstm) or remove model.chrono_tmax"
    )
