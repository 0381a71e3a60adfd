"""The LSTM's whole-sequence kernel: every timestep's forward pass, and the backward written out,
in one autograd node, as cuDNN, oneDNN and haste do. ``LSTMCell``, ``PeepholeLSTMCell`` and
``LayerNormLSTMCell`` train with it (zoneout included), and ``CIFGLSTMCell`` with an input gate
made from its forget gate; the probes, ``model.compile`` and
autocast run the cell's ``step`` instead.

Why: stepping a cell under autograd records about a dozen nodes per timestep, and on a small CPU
their bookkeeping and the unfused elementwise ops cost about as much as the matrix products. Here
the forward runs without autograd into buffers made once per pass (with per-step views made by
one ``unbind``, not sliced in the loop), the backward runs the loop in reverse with the
derivatives written out, and the recurrent weight's gradient is one matrix product over all
timesteps instead of one per step. What each of these gains: ``scripts/bench.py --only engine``
and the docs' performance page (docs/performance.md).

Equations (PyTorch's gate order i, f, g, o; a = x_proj_t + h_{t-1} W_hh^T, x_proj holding both
biases; peepholes w_ci, w_cf, w_co as in ``PeepholeLSTMCell``):
    i = sigmoid(a_i + w_ci c_{t-1})   f = sigmoid(a_f + w_cf c_{t-1})   g = tanh(a_g)
    c_t = f c_{t-1} + i g             o = sigmoid(a_o + w_co c_t)       h_t = o tanh(c_t)
With layer norm (``LayerNormLSTMCell``) a = x_proj_t + LN(h_{t-1} W_hh^T) gain_hh and
h_t = o tanh(LN(c_t) gain_c + bias_c), through aten's layer-norm kernels and their backward
(x_proj_t = LN(W_ih x_t) gain_ih + b, normalised over the whole sequence before the loop, which
was faster than normalising it step by step in the loop).
Then zoneout, h_t <- lerp(h_t, h_{t-1}, m_h) and c_t <- lerp(c_t, c_{t-1}, m_c), with every
step's masks drawn at once before the loop (``masks``: (time, 2, batch, hidden), h's then c's;
one draw is cheaper than a draw per step) or, in evaluation, the keep probability itself; so the
kernel and ``step`` draw different masks from the same seed, from the same distribution.

The tests check this kernel against ``step`` to 1e-10 in float64 (outputs, final states and
every gradient, zoneout with the same masks) and against ``nn.LSTM`` to 1e-5 in float32.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from seqnet.models.cell import State, keep_mask
from seqnet.models.kernels import native

# aten's layer-norm backward (the one F.layer_norm's autograd runs), called as an overload: it
# takes the norm's input, mean and 1/std and returns the input's, weight's and bias' gradients.
layer_norm_backward = torch.ops.aten.native_layer_norm_backward.default

#: A layer-normalised LSTM's norms in the loop: (gain_hh, gain_c, bias_c, eps).
LayerNorms = tuple[Tensor, Tensor, Tensor | None, float]


def lstm_sequence(
    cell: Any,
    x_proj: Tensor,
    state: State,
    *,
    peepholes: tuple[Tensor, Tensor, Tensor] | None = None,
    layer_norm: LayerNorms | None = None,
    weight_hh: Tensor | None = None,
) -> tuple[Tensor, State]:
    """Run ``cell`` (an ``LSTMCell``) over time-major ``x_proj`` (time, batch, 4 hidden) from
    ``state`` = (h_0, c_0); returns every h_t (time, batch, hidden) and the final (h, c).

    ``peepholes``: (w_ci, w_cf, w_co). ``layer_norm`` (``LayerNormLSTMCell``): (gain_hh,
    gain_c, bias_c, eps), the recurrent term normalised with gain ``gain_hh`` and the cell state
    on its way to the output with ``gain_c`` and ``bias_c`` (``x_proj`` arrives normalised).
    ``weight_hh``: the recurrent weight in the kernel's (i, f, g, o) layout, where the cell's
    own is not (CIFG's); default ``cell.weight_hh``.
    """
    h0, c0 = state
    w_ci, w_cf, w_co = peepholes if peepholes is not None else (None, None, None)
    norms = layer_norm if layer_norm is not None else (None, None, None, 0.0)
    masks = None
    if cell.zoneout and cell.training:  # every step's (h, c) keep masks in one draw
        steps, batch = x_proj.shape[:2]
        masks = keep_mask(x_proj.new_empty(steps, 2, batch, cell.hidden_size), cell.zoneout)
    outputs, c_last = _LSTMSequence.apply(
        x_proj,
        h0,
        c0,
        cell.weight_hh if weight_hh is None else weight_hh,
        w_ci,
        w_cf,
        w_co,
        *norms,
        float(cell.zoneout),
        masks,
    )
    return outputs, (outputs[-1], c_last)


def weight_grad(d_rec: Tensor | list[Tensor], hs: Tensor) -> Tensor:
    """sum_t d_t^T h_{t-1}, the recurrent weight's gradient, in one product over every step:
    from the derivatives w.r.t. the recurrent term (time, batch, gates), or the list of them
    made from the last step back, and the states ``hs`` (time + 1, batch, hidden)."""
    if isinstance(d_rec, list):
        d_rec = torch.stack(d_rec[::-1])
    steps, batch, gates = d_rec.shape
    flat_h = hs[:steps].reshape(steps * batch, hs.shape[-1])
    return torch.mm(d_rec.reshape(steps * batch, gates).t(), flat_h)


def peephole_grads(d_acts: Tensor, cs: Tensor, c_raw: Tensor) -> tuple[Tensor, ...]:
    """The peepholes' gradients (w_ci, w_cf, w_co) from the pre-activations' derivatives
    (time, batch, 4 hidden) and the cell states: i and f read c_{t-1}, o reads c_t."""
    H, steps = d_acts.shape[-1] // 4, d_acts.shape[0]
    return (
        (d_acts[..., :H] * cs[:steps]).sum((0, 1)),
        (d_acts[..., H : 2 * H] * cs[:steps]).sum((0, 1)),
        (d_acts[..., 3 * H :] * c_raw[1:]).sum((0, 1)),
    )


def summed(per_step: list[Tensor | None]) -> Tensor | None:
    """The sum of a parameter's per-step gradients (None: the parameter is absent)."""
    return None if not per_step or per_step[0] is None else torch.stack(per_step).sum(0)


class _LSTMSequence(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x_proj: Tensor,
        h0: Tensor,
        c0: Tensor,
        weight_hh: Tensor,
        w_ci: Tensor | None,
        w_cf: Tensor | None,
        w_co: Tensor | None,
        gain_hh: Tensor | None,
        gain_c: Tensor | None,
        bias_c: Tensor | None,
        eps: float,
        zoneout: float,
        masks: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        ctx.zoneout, ctx.native = zoneout, native.applies(x_proj)
        if ctx.native:  # the C++ kernel (models.kernels.native): the same tensors, saved alike
            saved = native.ops().lstm_forward(
                x_proj.contiguous(), h0, c0, weight_hh, w_ci, w_cf, w_co, gain_hh, gain_c,
                bias_c, eps, zoneout, masks,
            )  # fmt: skip
            acts, hs, cs, c_raw, tanh_c, rec, stats = saved
            ctx.save_for_backward(
                acts, hs, cs, c_raw, tanh_c, rec, masks, weight_hh,
                w_ci, w_cf, w_co, gain_hh, gain_c, bias_c, stats,
            )  # fmt: skip
            return hs[1:], cs[-1]
        steps, batch, gates = x_proj.shape
        H = gates // 4
        peep, norm = w_ci is not None, gain_hh is not None
        new = x_proj.new_empty
        acts = new(steps, batch, gates)  # sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        hs, cs = new(steps + 1, batch, H), new(steps + 1, batch, H)  # what the next step reads
        hs[0], cs[0] = h0, c0
        c_raw = new(steps + 1, batch, H) if zoneout else cs  # c_t before zoneout
        tanh_c = new(steps, batch, H)  # tanh(c_t), or of LN(c_t) with layer norm
        # Layer norm: the recurrent term h_{t-1} W_hh^T before its norm, and each norm's
        # statistics (for aten's layer-norm backward).
        rec = new(steps, batch, gates) if norm else None
        stats: list[tuple[Tensor, ...]] = []
        minus_ones = x_proj.new_full((batch, H), -1.0)
        # tanh(a) = 2 sigmoid(2a) - 1: doubling the g block lets one sigmoid call serve all four
        # gates (PyTorch's CPU tanh takes several times as long as its sigmoid per element).
        scale = x_proj.new_ones(gates)
        scale[2 * H : 3 * H] = 2
        sig, sig_scale = (acts[..., : 3 * H], scale[: 3 * H]) if peep else (acts, scale)
        # Views per timestep made once (one unbind each), not sliced inside the loop.
        X, A, Sig = x_proj.unbind(0), acts.unbind(0), sig.unbind(0)
        Ai, Af, Ag, Ao = (acts[..., k * H : (k + 1) * H].unbind(0) for k in range(4))
        Hs, Cs, Craw, TC = hs.unbind(0), cs.unbind(0), c_raw.unbind(0), tanh_c.unbind(0)
        Rec = rec.unbind(0) if rec is not None else ()
        # The keep masks per step, (h's, c's); in evaluation the keep probability itself.
        keeps = masks.unbind(0) if masks is not None else [(zoneout, zoneout)] * steps
        weight_t = weight_hh.t()
        for t in range(steps):
            h_prev, c_prev, c = Hs[t], Cs[t], Craw[t + 1]
            if norm:
                torch.mm(h_prev, weight_t, out=Rec[t])
                rec_norm, mean_r, rstd_r = torch.native_layer_norm(
                    Rec[t], (gates,), gain_hh, None, eps
                )
                torch.add(X[t], rec_norm, out=A[t])
            else:
                torch.addmm(X[t], h_prev, weight_t, out=A[t])
            if peep:
                Ai[t].addcmul_(w_ci, c_prev)
                Af[t].addcmul_(w_cf, c_prev)
            Sig[t].mul_(sig_scale).sigmoid_()
            torch.add(minus_ones, Ag[t], alpha=2, out=Ag[t])
            torch.mul(Af[t], c_prev, out=c).addcmul_(Ai[t], Ag[t])
            if peep:
                Ao[t].addcmul_(w_co, c).sigmoid_()
            if norm:
                c_norm, mean_c, rstd_c = torch.native_layer_norm(c, (H,), gain_c, bias_c, eps)
                torch.tanh(c_norm, out=TC[t])
                stats.append((mean_r, rstd_r, mean_c, rstd_c))
            else:
                torch.tanh(c, out=TC[t])
            h = torch.mul(Ao[t], TC[t], out=Hs[t + 1])
            if zoneout:
                keep_h, keep_c = keeps[t]
                h.lerp_(h_prev, keep_h)
                torch.lerp(c, c_prev, keep_c, out=Cs[t + 1])
        ctx.stats = stats
        ctx.save_for_backward(
            acts, hs, cs, c_raw, tanh_c, rec, masks, weight_hh,
            w_ci, w_cf, w_co, gain_hh, gain_c, bias_c,
        )  # fmt: skip
        return hs[1:], cs[steps]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_outputs: Tensor, d_c_last: Tensor) -> tuple[Tensor | None, ...]:
        acts, hs, cs, c_raw, tanh_c, rec, masks, weight_hh = ctx.saved_tensors[:8]
        w_ci, w_cf, w_co, gain_hh, gain_c, bias_c = ctx.saved_tensors[8:14]
        zoneout, peep, norm = ctx.zoneout, w_ci is not None, gain_hh is not None
        steps, batch, gates = acts.shape
        H = gates // 4
        if ctx.native:
            d_acts, d_rec, dh, dc, *d_steps = native.ops().lstm_backward(
                d_outputs.contiguous(), d_c_last.contiguous(), acts, hs, cs, c_raw, tanh_c,
                rec, ctx.saved_tensors[14], weight_hh, w_ci, w_cf, w_co, gain_hh, gain_c,
                bias_c, zoneout, masks,
            )  # fmt: skip
            d_weight_hh = weight_grad(d_rec if norm else d_acts, hs)
            d_norm = [
                d.sum(0) if norm and (k < 2 or bias_c is not None) else None
                for k, d in enumerate(d_steps)
            ]
            d_peep = peephole_grads(d_acts, cs, c_raw) if peep else (None, None, None)
            return (d_acts, dh, dc, d_weight_hh, *d_peep, *d_norm, None, None, None)
        new = acts.new_empty
        d_acts = torch.empty_like(acts)  # derivatives w.r.t. the pre-activations a
        factor = new(batch, gates)  # each gate's derivative w.r.t. its pre-activation
        ones = acts.new_ones(batch, H)
        u, one_minus_tc2, keep_dh, keep_dc = (new(batch, H) for _ in range(4))
        A, D_all, DO = acts.unbind(0), d_acts.unbind(0), d_outputs.unbind(0)
        Ai, Af, Ag, Ao = (acts[..., k * H : (k + 1) * H].unbind(0) for k in range(4))
        # Each step's derivatives are made in one small buffer that stays in cache, then copied
        # out whole: written piecewise straight into d_acts, which at long T outgrows the last
        # cache level, a backward step slowed with T and broke the linear growth in T.
        d = new(batch, gates)
        d_ifg, (di, df, dg, do) = d[:, : 3 * H], (d[:, k * H : (k + 1) * H] for k in range(4))
        Cs, Craw, TC = cs.unbind(0), c_raw.unbind(0), tanh_c.unbind(0)
        f_ifg, f_g, f_o = factor[:, : 3 * H], factor[:, 2 * H : 3 * H], factor[:, 3 * H :]
        # Layer norm: the recurrent terms (before the norm) and the norms' parameters' gradients.
        Rec = rec.unbind(0) if norm else ()
        keeps = masks.unbind(0) if masks is not None else [(zoneout, zoneout)] * steps
        d_recs: list[Tensor] = []  # w.r.t. the term before its norm, from the last step back
        d_gains: tuple[list[Tensor], ...] = ([], [], [])  # per step, summed after the loop
        c_outputs = [True, True, bias_c is not None]  # aten's output_mask: input, weight, bias
        # d loss / d h_t and d c_t as the next step reads them (own buffers: written in place)
        dh = new(batch, H).copy_(DO[steps - 1])
        dc = new(batch, H).copy_(d_c_last)
        for t in reversed(range(steps)):
            if zoneout:  # split off what reaches h_{t-1}, c_{t-1} directly through the keep
                keep_h, keep_c = keeps[t]
                dh.sub_(torch.mul(dh, keep_h, out=keep_dh))
                dc.sub_(torch.mul(dc, keep_c, out=keep_dc))
            # sigmoid' = s (1 - s); the g block's tanh' = 1 - g^2
            torch.addcmul(A[t], A[t], A[t], value=-1, out=factor)
            torch.addcmul(ones, Ag[t], Ag[t], value=-1, out=f_g)
            torch.mul(dh, TC[t], out=do)
            if peep:  # o's pre-activation derivative now: it reaches c_t through w_co
                dc.addcmul_(do.mul_(f_o), w_co)
            torch.addcmul(ones, TC[t], TC[t], value=-1, out=one_minus_tc2)
            torch.mul(dh, Ao[t], out=u)
            if norm:  # through tanh, then LN(c_t)
                mean_r, rstd_r, mean_c, rstd_c = ctx.stats[t]
                d_c, d_gain_c, d_bias_c = layer_norm_backward(
                    u.mul_(one_minus_tc2), Craw[t + 1], (H,), mean_c, rstd_c, gain_c, bias_c,
                    c_outputs,
                )  # fmt: skip
                dc.add_(d_c)
                d_gains[1].append(d_gain_c)
                d_gains[2].append(d_bias_c)
            else:
                dc.addcmul_(u, one_minus_tc2)
            torch.mul(dc, Ag[t], out=di)
            torch.mul(dc, Cs[t], out=df)
            torch.mul(dc, Ai[t], out=dg)
            if peep:
                d_ifg.mul_(f_ifg)
            else:
                d.mul_(factor)
            D_all[t].copy_(d)
            dc.mul_(Af[t])
            if peep:
                dc.addcmul_(di, w_ci).addcmul_(df, w_cf)
            if norm:  # the recurrent term's norm
                d_r, d_gain_hh, _ = layer_norm_backward(
                    d, Rec[t], (gates,), mean_r, rstd_r, gain_hh, None, [True, True, False]
                )
                d_recs.append(d_r)
                d_gains[0].append(d_gain_hh)
            torch.mm(d_r if norm else d, weight_hh, out=dh)
            if zoneout:
                dh.add_(keep_dh)
                dc.add_(keep_dc)
            if t > 0:
                dh.add_(DO[t - 1])
        d_weight_hh = weight_grad(d_recs if norm else d_acts, hs)
        d_norm = [summed(g) for g in d_gains]
        d_peep = peephole_grads(d_acts, cs, c_raw) if peep else (None, None, None)
        return (d_acts, dh, dc, d_weight_hh, *d_peep, *d_norm, None, None, None)
