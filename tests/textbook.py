"""An independent reference for gradient probes: the recurrences written from the textbook
equations as a plain loop, every state retained so ``torch.autograd.grad`` can reach it."""

from __future__ import annotations

import torch
from torch import Tensor


def textbook_unroll(
    core, inputs: Tensor, initial: dict[str, Tensor] | None = None
) -> tuple[Tensor, dict[str, list[Tensor]], dict[str, Tensor]]:
    """Run ``core``'s weights (rnn tanh/relu, lstm, gru; any number of layers) over ``inputs``
    (batch, time, features) from ``initial`` ({"h": (layers, batch, H), "c": ...}, zeros when
    None). Returns the top layer's outputs, every state per step (``{"h_l0": [h_0, ...]}``) and
    the final states ({"h": (layers, batch, H), ...})."""
    kind = core.cell_class.__name__
    layer_in, states, finals = inputs, {}, {"h": [], "c": []}
    for layer in range(core.num_layers):
        w_ih, w_hh = getattr(core, f"weight_ih_l{layer}"), getattr(core, f"weight_hh_l{layer}")
        b_ih, b_hh = getattr(core, f"bias_ih_l{layer}"), getattr(core, f"bias_hh_l{layer}")
        H = w_hh.shape[1]
        zeros = inputs.new_zeros(inputs.shape[0], H)
        h = zeros if initial is None else initial["h"][layer]
        c = zeros if initial is None or "c" not in initial else initial["c"][layer]
        hs, cs = [], []
        for t in range(inputs.shape[1]):
            a_x = layer_in[:, t] @ w_ih.T + b_ih
            a_h = h @ w_hh.T + b_hh
            if kind == "LSTMCell":
                a = a_x + a_h
                i, f, g, o = (a[:, k * H : (k + 1) * H] for k in range(4))
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                cs.append(c)
            elif kind == "GRUCell":
                r = torch.sigmoid(a_x[:, :H] + a_h[:, :H])
                z = torch.sigmoid(a_x[:, H : 2 * H] + a_h[:, H : 2 * H])
                n = torch.tanh(a_x[:, 2 * H :] + r * a_h[:, 2 * H :])
                h = (1 - z) * n + z * h
            else:
                pre = a_x + a_h
                h = torch.tanh(pre) if core.nonlinearity == "tanh" else torch.relu(pre)
            hs.append(h)
        states[f"h_l{layer}"] = hs
        finals["h"].append(h)
        if cs:
            states[f"c_l{layer}"] = cs
            finals["c"].append(c)
        layer_in = torch.stack(hs, dim=1)
    return layer_in, states, {k: torch.stack(v) for k, v in finals.items() if v}


def state_gradient_norms(
    loss: Tensor, states: dict[str, list[Tensor]], extra: dict[str, Tensor] | None = None
) -> dict[str, Tensor]:
    """Per-step gradient norms of ``loss`` w.r.t. each retained state, averaged over the batch
    (zeros where a state does not reach the loss); ``extra`` tensors (batch, time, features)
    likewise, per step."""
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
