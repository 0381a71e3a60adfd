"""minGRU/minLSTM scans: both forms (linear space on CPU, the paper's log space elsewhere)
against the recurrence and against the sequential step, gradients included."""

from __future__ import annotations

import pytest
import torch

from helpers.references import (
    BATCH,
    INPUT,
    assert_scan_equals_steps,
    g_positive,
    make_core,
    random_hx,
    sigmoid,
)
from helpers.runs import eager_and_compiled
from seqnet.models import MODEL_REGISTRY, Probes, log_linear_scan
from seqnet.models.engine import cell_method
from seqnet.models.scan import (
    ScanRNN,
    default_space,
    linear_recurrence_time_major,
    positive,
)
from seqnet.models.zoo import mingru as mingru_cell
from seqnet.models.zoo.minlstm import MinLSTMCell


@pytest.mark.parametrize("form", ["linear", "log"])
def test_scans_equal_the_recurrence_with_gradients(form):
    """Both scan forms against the recurrence unrolled with autograd, h_0 of any sign."""
    torch.manual_seed(0)
    a = (torch.rand(3, 8, 5, dtype=torch.float64) * 0.98 + 0.01).requires_grad_()
    b = (torch.rand(3, 8, 5, dtype=torch.float64) + 1e-3).requires_grad_()
    h0 = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, 8, 5, dtype=torch.float64)
    for start in (None, h0):
        h = torch.zeros(3, 5, dtype=torch.float64) if start is None else start
        expected = []
        for t in range(8):
            h = a[:, t] * h + b[:, t]
            expected.append(h)
        expected = torch.stack(expected, dim=1)
        if form == "linear":
            got = linear_recurrence_time_major(a.transpose(0, 1), b.transpose(0, 1), start)
            got = got.transpose(0, 1)
        else:
            got = log_linear_scan(a.log(), b.log(), start)
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)
        inputs = [a, b] + ([h0] if start is not None else [])
        for g, e in zip(
            torch.autograd.grad((got * weights).sum(), inputs),
            torch.autograd.grad((expected * weights).sum(), inputs),
            strict=True,
        ):
            torch.testing.assert_close(g, e, rtol=0, atol=1e-12)


@pytest.mark.parametrize("space", ["linear", "log"])
@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_scan_equals_sequential_with_gradients(name, with_hx, space):
    """The scan (training) and the sequential step (probes) are the same function, in either
    space: outputs, final states and the gradients of parameters, inputs and hx agree to 1e-10."""
    torch.manual_seed(1)
    core = make_core(name)
    x = torch.randn(BATCH, 7, INPUT, dtype=torch.float64, requires_grad=True)
    hx = random_hx(core).requires_grad_() if with_hx else None
    assert_scan_equals_steps(core, x, hx, space)


@pytest.mark.parametrize("space", ["linear", "log"])
@pytest.mark.parametrize("name", ["mingru", "minlstm"])
def test_scan_float32_at_t200(name, space):
    """Float32 precision of each scan form over a long sequence, against float64."""
    torch.manual_seed(2)
    core = make_core(name, layers=1)
    x = torch.randn(4, 200, INPUT, dtype=torch.float64)
    expected, _ = core.forward_stepped(x)
    got, _ = core.float().forward_scan(x.float(), space=space)
    torch.testing.assert_close(got.double(), expected, rtol=2e-4, atol=1e-5)


def test_the_scan_runs_in_linear_space_on_cpu_and_in_log_space_elsewhere(monkeypatch):
    assert (default_space(torch.device("cpu")), default_space(torch.device("cuda"))) == (
        "linear",
        "log",
    )
    calls = []
    real = mingru_cell.linear_recurrence_time_major
    monkeypatch.setattr(
        mingru_cell, "linear_recurrence_time_major", lambda *args: calls.append(1) or real(*args)
    )
    core = make_core("mingru", layers=2)
    core.forward_scan(torch.randn(BATCH, 5, INPUT, dtype=torch.float64))
    assert len(calls) == 2  # one per layer
    core.forward_scan(torch.randn(BATCH, 5, INPUT, dtype=torch.float64), space="log")
    assert len(calls) == 2
    with pytest.raises(ValueError, match="scan space 'exp' is not one of linear, log"):
        core.forward_scan(torch.randn(BATCH, 5, INPUT, dtype=torch.float64), space="exp")


def test_scan_core_runs_the_scan_without_probes_and_the_steps_with_them(monkeypatch):
    """Training runs the scan (once per layer); with probes attached the core steps, as the
    probes need every state, and gives the same outputs."""
    assert issubclass(MODEL_REGISTRY["mingru"].cls, ScanRNN)
    assert issubclass(MODEL_REGISTRY["minlstm"].cls, ScanRNN)
    torch.manual_seed(3)
    core = make_core("minlstm", layers=2)
    x = torch.randn(BATCH, 5, INPUT, dtype=torch.float64)
    calls = []
    scan = MinLSTMCell.scan
    monkeypatch.setattr(MinLSTMCell, "scan", lambda *a: calls.append(1) or scan(*a))
    scanned, _ = core(x)
    assert len(calls) == 2
    probed, _ = core(x, probes=Probes())
    assert len(calls) == 2  # the probed pass stepped
    torch.testing.assert_close(probed, scanned, rtol=0, atol=1e-12)
    # The reference's g (minGRU/minLSTM): v + 1/2 for v >= 0, sigmoid(v) below.
    assert g_positive(torch.tensor([-1.0, 0.0, 2.0])).tolist() == pytest.approx(
        [float(sigmoid(torch.tensor(-1.0))), 0.5, 2.5]
    )


@pytest.mark.slow
def test_model_compile_trains_the_same_function():
    """model.compile=true (torch.compile of the scan) gives the eager model's outputs and
    gradients; the probes still run the eager sequential step."""
    torch.manual_seed(4)
    x = torch.randn(3, 9, 2, dtype=torch.float64)
    (out_a, g_a), (out_b, g_b) = eager_and_compiled({"name": "minlstm", "hidden_size": 6}, x)
    torch.testing.assert_close(out_b, out_a, rtol=0, atol=1e-12)
    for a, b in zip(g_a, g_b, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    compiled = cell_method(MinLSTMCell, "scan", True)
    assert cell_method(MinLSTMCell, "scan", True) is compiled  # compiled once
    assert cell_method(MinLSTMCell, "scan", False) is MinLSTMCell.scan


def test_written_out_derivatives_equal_autograd():
    """The hand-written backward passes (``positive``; minLSTM's linear-space gates) against
    gradcheck's finite differences and against autograd through the plain formulas, float64,
    on inputs from -80 (below LOW, where g is held) to 8, away from the kinks at LOW and 0."""
    from seqnet.models.scan import LOW
    from seqnet.models.zoo.minlstm import _LinearGates

    torch.manual_seed(0)
    x = torch.cat([torch.linspace(-80, -61, 5), torch.linspace(-59, -0.1, 20), torch.rand(15) * 8])
    x = x.double().requires_grad_()
    assert torch.autograd.gradcheck(positive, (x,))
    plain = x.clamp(min=0) + x.clamp(LOW, 0).sigmoid()
    torch.testing.assert_close(positive(x), plain, rtol=0, atol=0)

    ks = [(torch.randn(3, 4, 5, dtype=torch.float64) * 4).requires_grad_() for _ in range(3)]
    assert torch.autograd.gradcheck(_LinearGates.apply, ks)
    f, i = ks[0].sigmoid(), ks[1].sigmoid()
    forget = f / (f + i)
    reference = (forget, (1 - forget) * (ks[2].clamp(min=0) + ks[2].clamp(LOW, 0).sigmoid()))
    got = _LinearGates.apply(*ks)
    weights = [torch.randn_like(t) for t in got]
    loss = sum((r * w).sum() for r, w in zip(reference, weights, strict=True))
    expected = torch.autograd.grad(loss, ks)
    actual = torch.autograd.grad(sum((g * w).sum() for g, w in zip(got, weights, strict=True)), ks)
    for a, b in zip(actual, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)
