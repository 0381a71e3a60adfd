"""The variants' equations against the textbook references (tests/cell_references.py), the
parallel scan against the sequential form, zoneout, and the initialisation options."""

from __future__ import annotations

import math

import pytest
import torch

from cell_references import STEPS, VARIANTS, layer_parameters, unrolled
from seqnet.models import MODEL_REGISTRY, Cell, FusedGRU, FusedLSTM, StepRNN, build_core

ZONEOUT_MODELS = ["lstm", "gru", "lstm_peephole", "lstm_cifg", "lstm_layernorm", "gru_layernorm"]
INPUT, HIDDEN, BATCH, STEPS_T = 3, 4, 2, 6


def make_core(name: str, layers: int = 2, batch_first: bool = True, **options) -> torch.nn.Module:
    """The registered core of ``name`` in float64, every parameter drawn N(0, 0.5^2) so that
    gains, peepholes and biases take generic values (not their initial 1 or 0)."""
    core_class = MODEL_REGISTRY[name].cls
    if isinstance(core_class, type) and issubclass(core_class, Cell):
        core = StepRNN(core_class, INPUT, HIDDEN, layers, batch_first=batch_first, **options)
    else:
        core = core_class(INPUT, HIDDEN, layers, batch_first=batch_first, **options)
    core = core.double()
    with torch.no_grad():
        for p in core.parameters():
            p.normal_(0.0, 0.5)
    return core


def random_hx(core) -> torch.Tensor | tuple[torch.Tensor, ...]:
    parts = tuple(
        torch.randn(core.num_layers, BATCH, HIDDEN, dtype=torch.float64)
        for _ in core.cell_class.state_names
    )
    return parts[0] if len(parts) == 1 else parts


def as_tuple(h):
    return h if isinstance(h, tuple) else (h,)


# ---------------------------------------------------------------------------- equations

CASES = [(name, {}) for name in VARIANTS] + [
    ("indrnn", {"nonlinearity": "tanh", "recurrent_max": 3}),  # |u| clipped to 2^(1/3)
    ("rnn", {"nonlinearity": "relu", "backend": "stepped"}),
    ("lstm", {"backend": "stepped"}),
    ("gru", {"backend": "stepped"}),
]


@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}{o or ''}" for n, o in CASES])
def test_core_follows_the_papers_equations(name, options, batch_first, with_hx):
    """Two layers, float64: outputs and final states equal the reference equations to 1e-10."""
    torch.manual_seed(0)
    core = make_core(name, batch_first=batch_first, **options)
    x = torch.randn(BATCH, STEPS_T, INPUT, dtype=torch.float64)
    hx = random_hx(core) if with_hx else None
    reference = {k: v for k, v in options.items() if k in ("nonlinearity", "recurrent_max")}
    expected_out, states = unrolled(name, core, x, hx, **reference)

    out, h_n = core(x if batch_first else x.transpose(0, 1), hx)
    out = out if batch_first else out.transpose(0, 1)
    torch.testing.assert_close(out, expected_out, rtol=0, atol=1e-10)
    for k, s in enumerate(core.cell_class.state_names):
        for layer in range(core.num_layers):
            final = states[f"{s}_l{layer}"][-1]
            torch.testing.assert_close(as_tuple(h_n)[k][layer], final, rtol=0, atol=1e-10)


def scalar_step(
    name: str, h: float, c: float | None = None, options: dict | None = None, **weights
) -> list[float]:
    """One step of the 1-unit, 1-input core ``name`` with the given weights, from x = 0.8 and
    the state (h, c)."""
    core = build_core(MODEL_REGISTRY[name].cls, 1, 1, **(options or {})).double()
    with torch.no_grad():
        for pname, value in weights.items():
            getattr(core, f"{pname}_l0").copy_(torch.tensor(value, dtype=torch.float64))
    state = [h] if c is None else [h, c]
    hx = tuple(torch.tensor([[[v]]], dtype=torch.float64) for v in state)
    with torch.no_grad():
        _, h_n = core(torch.tensor([[[0.8]]], dtype=torch.float64), hx[0] if c is None else hx)
    return [float(v) for v in as_tuple(h_n)]


def test_one_step_of_each_variant_by_hand():
    """Scalars (hidden 1, input 1, x = 0.8) against the papers' formulas written out with math."""
    x, h, c = 0.8, 0.5, -0.25
    s, th = (lambda v: 1 / (1 + math.exp(-v))), math.tanh
    zero4 = {"bias_ih": [0.0] * 4, "bias_hh": [0.0] * 4}

    # Peephole LSTM, gates (i, f, g, o): W_ih = (1, 2, 3, 4), W_hh = 0.5, peepholes (.1, .2, .3).
    a = [w * x + 0.5 * h for w in (1.0, 2.0, 3.0, 4.0)]
    i, f = s(a[0] + 0.1 * c), s(a[1] + 0.2 * c)
    c_new = f * c + i * th(a[2])
    expected = [s(a[3] + 0.3 * c_new) * th(c_new), c_new]
    weights = {"weight_ih": [[1.0], [2.0], [3.0], [4.0]], "weight_hh": [[0.5]] * 4, **zero4}
    peep = {"weight_ci": [0.1], "weight_cf": [0.2], "weight_co": [0.3]}
    assert scalar_step("lstm_peephole", h, c, **weights, **peep) == pytest.approx(expected)

    # CIFG, gates (f, g, o): c = f c + (1 - f) g.
    a = [w * x + 0.5 * h for w in (1.0, 2.0, 3.0)]
    c_new = s(a[0]) * c + (1 - s(a[0])) * th(a[1])
    weights = {"weight_ih": [[1.0], [2.0], [3.0]], "weight_hh": [[0.5]] * 3}
    got = scalar_step("lstm_cifg", h, c, **weights, bias_ih=[0.0] * 3, bias_hh=[0.0] * 3)
    assert got == pytest.approx([s(a[2]) * th(c_new), c_new])

    # IndRNN: ReLU(W x + u h + b); with recurrent_max=T, u = 1.5 is clipped to 2^(1/T).
    weights = {"weight_ih": [[0.5]], "weight_hh": [1.5], "bias_ih": [0.1]}
    got = scalar_step("indrnn", h, **weights)
    assert got == pytest.approx([max(0.0, 0.5 * x + 1.5 * h + 0.1)])
    got = scalar_step("indrnn", h, options={"recurrent_max": 4}, **weights)
    assert got == pytest.approx([max(0.0, 0.5 * x + 2 ** (1 / 4) * h + 0.1)])

    # IRNN: ReLU(W x + b + U h + b').
    got = scalar_step("irnn", -h, weight_ih=[[0.5]], weight_hh=[[1.0]], bias_ih=[0.1], bias_hh=[0])
    assert got == pytest.approx([max(0.0, 0.5 * x - h + 0.1)])

    # minGRU: z = s(k_z), h = (1 - z) h + z g(k_h), g(v) = s(v) for v < 0.
    z, k_h = s(0.3 * x), -0.9 * x
    got = scalar_step("mingru", h, weight_ih=[[0.3], [-0.9]], bias_ih=[0.0, 0.0])
    assert got == pytest.approx([(1 - z) * h + z * s(k_h)])

    # minLSTM: f' = f / (f + i), h = f' h + (1 - f') g(k_h), g(v) = v + 1/2 for v >= 0.
    f, i, k_h = s(0.3 * x), s(-0.2 * x), 0.9 * x
    fp = f / (f + i)
    got = scalar_step("minlstm", h, weight_ih=[[0.3], [-0.2], [0.9]], bias_ih=[0.0] * 3)
    assert got == pytest.approx([fp * h + (1 - fp) * (k_h + 0.5)])


# ---------------------------------------------------------------------------- zoneout


@pytest.mark.parametrize("name", ZONEOUT_MODELS)
def test_zoneout_in_evaluation_is_its_expectation(name):
    """eval: each state is z * previous + (1 - z) * new (the LSTM's h from the un-zoned c)."""
    torch.manual_seed(3)
    core = make_core(name, zoneout=0.3).eval()
    x = torch.randn(BATCH, STEPS_T, INPUT, dtype=torch.float64)
    hx = random_hx(core)
    expected, _ = unrolled(name, core, x, hx, zoneout=0.3)
    out, _ = core(x, hx)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ZONEOUT_MODELS)
def test_zoneout_in_training_keeps_units_at_random(name):
    """train: each unit is exactly its previous or its new value, kept with probability z; the
    average over many draws is the evaluation value (its expectation)."""
    torch.manual_seed(4)
    z, batch = 0.3, 2000
    core = make_core(name, layers=1, zoneout=z)
    x = torch.randn(1, 1, INPUT, dtype=torch.float64).expand(batch, 1, INPUT)
    hx = tuple(
        torch.randn(1, 1, HIDDEN, dtype=torch.float64).expand(1, batch, HIDDEN)
        for _ in core.cell_class.state_names
    )
    hx = hx[0] if len(hx) == 1 else hx
    previous = as_tuple(hx)[0][0]
    p = layer_parameters(core, 0)
    state = tuple(s[0] for s in as_tuple(hx))
    new = STEPS[name](p, x[:, 0], state, HIDDEN)[0]
    with torch.no_grad():
        out, _ = core.train()(x, hx)
        mean_eval = core.eval()(x, hx)[0]
    h = out[:, 0]
    kept = torch.isclose(h, previous, rtol=0, atol=1e-12)
    assert torch.all(kept | torch.isclose(h, new, rtol=0, atol=1e-12))
    assert abs(kept.double().mean().item() - z) < 4 * math.sqrt(z * (1 - z) / kept.numel())
    sd = (previous - new).abs().max().item() * math.sqrt(z * (1 - z) / batch)
    torch.testing.assert_close(h.mean(0), mean_eval[0, 0], rtol=0, atol=5 * sd)
    torch.manual_seed(5)
    a, _ = core.train()(x, hx)
    torch.manual_seed(5)
    b, _ = core(x, hx)
    assert torch.equal(a, b)  # masks come from the global generator


def test_zoneout_moves_the_plain_models_to_the_engine():
    for core_class in (FusedLSTM, FusedGRU):
        assert core_class(2, 3, zoneout=0.1).runs_stepped("cpu")
        assert core_class(2, 3, zoneout=0.1, backend="stepped").runs_stepped("cuda")
        assert not core_class(2, 3, backend="fused").runs_stepped("cpu")


# ---------------------------------------------------------------------------- initialisation


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
