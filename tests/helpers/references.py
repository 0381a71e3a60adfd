"""Textbook equations of every cell, written from the papers independently of seqnet's cells: one
timestep, per gate block, with no fused or folded operation. The reference for the cells'
equations and for the gradient probes: ``unrolled`` runs a core's weights through them with
every state retained, so ``torch.autograd.grad`` can reach each one (``state_gradient_norms``).

``p`` holds one layer's parameters by their names without the ``_l<layer>`` suffix; a missing
bias is zero. States are tuples (h,) or (h, c).
"""

from __future__ import annotations

import torch
from torch import Tensor

from seqnet.models import MODEL_REGISTRY, Cell, StepRNN


def block(w: Tensor, k: int, H: int) -> Tensor:
    """Gate block k of a stacked weight or bias (rows k*H to (k+1)*H)."""
    return w[k * H : (k + 1) * H]


def gate(a: Tensor, k: int, H: int) -> Tensor:
    """Gate block k of pre-activations (batch, gates*H)."""
    return a[:, k * H : (k + 1) * H]


def affine(p: dict[str, Tensor], x: Tensor, h: Tensor | None, k: int, H: int) -> Tensor:
    """W_ih[k] x + b_ih[k] (+ W_hh[k] h + b_hh[k]) for gate block k."""
    out = x @ block(p["weight_ih"], k, H).T + bias(p, "bias_ih", k, H)
    if h is not None:
        out = out + h @ block(p["weight_hh"], k, H).T + bias(p, "bias_hh", k, H)
    return out


def bias(p: dict[str, Tensor], name: str, k: int, H: int) -> Tensor | float:
    return 0.0 if p.get(name) is None else block(p[name], k, H)


def sigmoid(v: Tensor) -> Tensor:
    return 1.0 / (1.0 + torch.exp(-v))


def layer_norm(v: Tensor, gain: Tensor, shift: Tensor | float = 0.0) -> Tensor:
    mean = v.mean(dim=-1, keepdim=True)
    var = ((v - mean) ** 2).mean(dim=-1, keepdim=True)
    return (v - mean) / torch.sqrt(var + 1e-5) * gain + shift


def g_positive(v: Tensor) -> Tensor:
    """minGRU/minLSTM's g: v + 1/2 for v >= 0, sigmoid(v) below."""
    return torch.where(v >= 0, v + 0.5, sigmoid(v))


def lstm(p, x, state, H, **_):
    h, c = state
    i, f, g, o = (affine(p, x, h, k, H) for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * torch.tanh(g)
    return sigmoid(o) * torch.tanh(c), c


def lstm_peephole(p, x, state, H, **_):
    h, c = state
    a_i, a_f, a_g, a_o = (affine(p, x, h, k, H) for k in range(4))
    i = sigmoid(a_i + p["weight_ci"] * c)
    f = sigmoid(a_f + p["weight_cf"] * c)
    c_new = f * c + i * torch.tanh(a_g)
    o = sigmoid(a_o + p["weight_co"] * c_new)
    return o * torch.tanh(c_new), c_new


def lstm_cifg(p, x, state, H, **_):
    h, c = state
    a_f, a_g, a_o = (affine(p, x, h, k, H) for k in range(3))
    f = sigmoid(a_f)
    c = f * c + (1 - f) * torch.tanh(a_g)
    return sigmoid(a_o) * torch.tanh(c), c


def lstm_layernorm(p, x, state, H, **_):
    h, c = state
    a_x = layer_norm(x @ p["weight_ih"].T, p["gain_ih"])
    a_h = layer_norm(h @ p["weight_hh"].T, p["gain_hh"])
    a = a_x + a_h
    if p.get("bias_ih") is not None:
        a = a + p["bias_ih"] + p["bias_hh"]
    i, f, g, o = (gate(a, k, H) for k in range(4))
    c = sigmoid(f) * c + sigmoid(i) * torch.tanh(g)
    c_out = layer_norm(c, p["gain_c"], 0.0 if p.get("bias_c") is None else p["bias_c"])
    return sigmoid(o) * torch.tanh(c_out), c


def gru(p, x, state, H, **_):
    (h,) = state
    a_x = [affine(p, x, None, k, H) for k in range(3)]
    a_h = [h @ block(p["weight_hh"], k, H).T + bias(p, "bias_hh", k, H) for k in range(3)]
    r = sigmoid(a_x[0] + a_h[0])
    z = sigmoid(a_x[1] + a_h[1])
    n = torch.tanh(a_x[2] + r * a_h[2])
    return ((1 - z) * n + z * h,)


def gru_layernorm(p, x, state, H, **_):
    (h,) = state
    a = layer_norm(x @ p["weight_ih"].T, p["gain_ih"])
    b = layer_norm(h @ p["weight_hh"].T, p["gain_hh"])
    if p.get("bias_ih") is not None:
        a, b = a + p["bias_ih"], b + p["bias_hh"]
    a_r, a_z, a_n = (gate(a, k, H) for k in range(3))
    b_r, b_z, b_n = (gate(b, k, H) for k in range(3))
    r, z = sigmoid(a_r + b_r), sigmoid(a_z + b_z)
    n = torch.tanh(a_n + r * b_n)
    return ((1 - z) * n + z * h,)


def rnn(p, x, state, H, nonlinearity="tanh", **_):
    (h,) = state
    pre = affine(p, x, h, 0, H)
    return (torch.tanh(pre) if nonlinearity == "tanh" else torch.clamp(pre, min=0.0),)


def irnn(p, x, state, H, **_):
    return rnn(p, x, state, H, nonlinearity="relu")


def indrnn(p, x, state, H, nonlinearity="relu", recurrent_max=None, **_):
    (h,) = state
    u = p["weight_hh"]
    if recurrent_max is not None:
        bound = 2.0 ** (1.0 / recurrent_max)
        u = torch.clamp(u, -bound, bound)
    pre = affine(p, x, None, 0, H) + u * h
    return (torch.tanh(pre) if nonlinearity == "tanh" else torch.clamp(pre, min=0.0),)


def mingru(p, x, state, H, **_):
    (h,) = state
    z = sigmoid(affine(p, x, None, 0, H))
    candidate = g_positive(affine(p, x, None, 1, H))
    return ((1 - z) * h + z * candidate,)


def minlstm(p, x, state, H, **_):
    (h,) = state
    f = sigmoid(affine(p, x, None, 0, H))
    i = sigmoid(affine(p, x, None, 1, H))
    candidate = g_positive(affine(p, x, None, 2, H))
    return (f / (f + i) * h + i / (f + i) * candidate,)


STEPS = {
    "rnn": rnn,
    "lstm": lstm,
    "gru": gru,
    "lstm_peephole": lstm_peephole,
    "lstm_cifg": lstm_cifg,
    "lstm_layernorm": lstm_layernorm,
    "gru_layernorm": gru_layernorm,
    "indrnn": indrnn,
    "irnn": irnn,
    "mingru": mingru,
    "minlstm": minlstm,
}

#: The variants: every model with a reference but the three on PyTorch's fused layers.
VARIANTS = [name for name in STEPS if name not in ("rnn", "lstm", "gru")]


def layer_parameters(core, layer: int) -> dict[str, Tensor]:
    suffix = f"_l{layer}"
    return {n[: -len(suffix)]: p for n, p in core.named_parameters() if n.endswith(suffix)}


def unrolled(name, core, x, hx=None, zoneout=0.0, **options):
    """Run ``core``'s parameters through the reference equations over x (batch, time, input):
    returns the top layer's outputs and every state of every layer at every step, as lists
    ``states["h_l0"] = [h_0, ..., h_{T-1}]`` (for autograd with respect to each one).
    ``zoneout``: its expectation (evaluation), z * previous + (1 - z) * new for every state."""
    step = STEPS[name]
    H, layers = core.hidden_size, core.num_layers
    names = core.cell_class.state_names
    states: dict[str, list[Tensor]] = {}
    layer_in = x
    for layer in range(layers):
        p = layer_parameters(core, layer)
        if hx is None:
            state = tuple(x.new_zeros(x.shape[0], H) for _ in names)
        else:
            parts = (hx,) if isinstance(hx, Tensor) else hx
            state = tuple(part[layer] for part in parts)
        per_state: list[list[Tensor]] = [[] for _ in names]
        for t in range(x.shape[1]):
            new = step(p, layer_in[:, t], state, H, **options)
            if zoneout:
                new = tuple(
                    zoneout * s + (1 - zoneout) * n for s, n in zip(state, new, strict=True)
                )
            state = new
            for k, s in enumerate(state):
                per_state[k].append(s)
        for k, s in enumerate(names):
            states[f"{s}_l{layer}"] = per_state[k]
        layer_in = torch.stack(per_state[0], dim=1)
    return layer_in, states


def unrolled_bidirectional(name, core, x, hx=None, **options):
    """``unrolled`` for a bidirectional core: per layer, the forward direction with the
    parameters ``<p>_l<layer>`` over steps 0..T-1, the backward one with ``<p>_l<layer>_reverse``
    over steps T-1..0, the next layer reading [forward state at t; backward state at t]. States
    are named ``h_l0_fwd``, ``h_l0_bwd``, ... and listed in each direction's own order (the
    backward list starts at input step T-1). ``hx``: torch's layout, (layers * 2, batch, H)."""
    step = STEPS[name]
    H, names = core.hidden_size, core.cell_class.state_names
    states: dict[str, list[Tensor]] = {}
    layer_in = x
    for layer in range(core.num_layers):
        tops = []
        for direction, (suffix, tag) in enumerate((("", "fwd"), ("_reverse", "bwd"))):
            p = {
                n[: -len(f"_l{layer}{suffix}")]: v
                for n, v in core.named_parameters()
                if n.endswith(f"_l{layer}{suffix}") and (suffix or not n.endswith("_reverse"))
            }
            if hx is None:
                state = tuple(x.new_zeros(x.shape[0], H) for _ in names)
            else:
                parts = (hx,) if isinstance(hx, Tensor) else hx
                state = tuple(part[2 * layer + direction] for part in parts)
            order = range(x.shape[1]) if tag == "fwd" else reversed(range(x.shape[1]))
            per_state: list[list[Tensor]] = [[] for _ in names]
            for t in order:
                state = step(p, layer_in[:, t], state, H, **options)
                for k, s in enumerate(state):
                    per_state[k].append(s)
            for k, s in enumerate(names):
                states[f"{s}_l{layer}_{tag}"] = per_state[k]
            top = per_state[0] if tag == "fwd" else per_state[0][::-1]  # input order
            tops.append(torch.stack(top, dim=1))
        layer_in = torch.cat(tops, dim=-1)
    return layer_in, states


def final_states(core, states: dict[str, list[Tensor]]) -> tuple[Tensor, ...]:
    """The last step of every layer's states, as a core's ``hx``: one (layers, batch, H) tensor
    per state name."""
    return tuple(
        torch.stack([states[f"{s}_l{k}"][-1] for k in range(core.num_layers)])
        for s in core.cell_class.state_names
    )


def state_gradient_norms(
    loss: Tensor, states: dict[str, list[Tensor]], extra: dict[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """Per-step gradient norms of ``loss`` w.r.t. each retained state, averaged over the batch
    (zeros where a state does not reach the loss: with zoneout the last cell state feeds
    nothing); ``extra`` tensors (batch, time, features) likewise, per step."""
    extra = extra or {}
    names = list(states)
    flat = [s for n in names for s in states[n]] + list(extra.values())
    grads = torch.autograd.grad(loss, flat, allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g for t, g in zip(flat, grads, strict=True)]
    out, k = {}, 0
    for n in names:
        steps = len(states[n])
        out[n] = torch.stack(grads[k : k + steps]).norm(dim=-1).mean(dim=1)
        k += steps
    for n, g in zip(extra, grads[k:], strict=True):
        out[n] = g.norm(dim=-1).mean(dim=0)
    return out


# ---------------------------------------------------------------------------- cores to compare

INPUT, HIDDEN, BATCH = 3, 4, 2


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


def random_hx(core) -> Tensor | tuple[Tensor, ...]:
    """A random initial state for ``make_core``'s cores (BATCH sequences)."""
    parts = tuple(
        torch.randn(core.num_layers, BATCH, HIDDEN, dtype=torch.float64)
        for _ in core.cell_class.state_names
    )
    return parts[0] if len(parts) == 1 else parts


def assert_scan_equals_steps(
    core: torch.nn.Module, x: Tensor, hx: Tensor | None, space: str
) -> None:
    """A scan core's whole-sequence scan (in ``space``) and its sequential step are the same
    function: outputs, final states and the gradients of the inputs, ``hx`` and every parameter
    agree to 1e-10."""
    inputs = [x, *core.parameters(), *([hx] if hx is not None else [])]
    results = []
    for forward in (lambda a, b: core.forward_scan(a, b, space=space), core.forward_stepped):
        out, h_n = forward(x, hx)
        steps = out.shape[1]
        weights = torch.linspace(-1, 1, steps, dtype=torch.float64)[:, None]
        loss = (out * weights).sum() + h_n.sum()
        results.append((out, h_n, torch.autograd.grad(loss, inputs)))
    (out_a, h_a, g_a), (out_b, h_b, g_b) = results
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-10)
    torch.testing.assert_close(h_a, h_b, rtol=0, atol=1e-10)
    for a, b in zip(g_a, g_b, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
