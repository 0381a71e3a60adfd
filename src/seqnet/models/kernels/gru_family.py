"""The GRU's whole-sequence kernel: every timestep's forward pass, and the backward written out,
in one autograd node; ``GRUCell`` and ``LayerNormGRUCell`` train with it (zoneout included).
See ``lstm_sequence`` for why, and for what runs ``step`` instead.

Equations (PyTorch's, gate order r, z, n; x_proj = W_ih x_t + b_ih):
    gh = h_{t-1} W_hh^T + b_hh
    r = sigmoid(x_r + gh_r)    z = sigmoid(x_z + gh_z)    n = tanh(x_n + r gh_n)
    h_t = (1 - z) n + z h_{t-1}
With layer norm (``LayerNormGRUCell``) gh = LN(h_{t-1} W_hh^T) gain_hh + b_hh. Then zoneout,
h_t <- lerp(h_t, h_{t-1}, m), with every step's mask drawn at once before the loop or, in
evaluation, the keep probability itself. The tests check this kernel against ``step`` to 1e-10
in float64, gradients included, and against ``nn.GRU`` to 1e-5 in float32.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from seqnet.models.cell import State, keep_mask
from seqnet.models.kernels import native
from seqnet.models.kernels.lstm_family import layer_norm_backward, summed, weight_grad


def gru_sequence(
    cell: Any, x_proj: Tensor, state: State, layer_norm: tuple[Tensor, float] | None = None
) -> tuple[Tensor, State]:
    """Run ``cell`` (a ``GRUCell``) over time-major ``x_proj`` (time, batch, 3 hidden) from
    ``state`` = (h_0,); returns every h_t (time, batch, hidden) and the final (h,).
    ``layer_norm``: (gain_hh, eps), gh = LN(h_{t-1} W_hh^T) gain_hh + b_hh
    (``LayerNormGRUCell``)."""
    gain_hh, eps = layer_norm if layer_norm is not None else (None, 0.0)
    (h0,) = state
    masks = None
    if cell.zoneout and cell.training:  # every step's keep mask in one draw
        masks = keep_mask(x_proj.new_empty(*x_proj.shape[:2], cell.hidden_size), cell.zoneout)
    outputs = _GRUSequence.apply(
        x_proj, h0, cell.weight_hh, cell.bias_hh, gain_hh, eps, float(cell.zoneout), masks
    )
    return outputs, (outputs[-1],)


class _GRUSequence(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x_proj: Tensor,
        h0: Tensor,
        weight_hh: Tensor,
        bias_hh: Tensor | None,
        gain_hh: Tensor | None,
        eps: float,
        zoneout: float,
        masks: Tensor | None,
    ) -> Tensor:
        ctx.zoneout, ctx.native = zoneout, native.applies(x_proj)
        if ctx.native:  # the C++ kernel (models.kernels.native): the same tensors, saved alike
            gh, rz, n, hs, rec, stats = native.ops().gru_forward(
                x_proj.contiguous(), h0, weight_hh, bias_hh, gain_hh, eps, zoneout, masks
            )
            ctx.save_for_backward(gh, rz, n, hs, rec, masks, weight_hh, bias_hh, gain_hh, stats)
            return hs[1:]
        steps, batch, gates = x_proj.shape
        H = gates // 3
        new = x_proj.new_empty
        norm = gain_hh is not None
        gh = new(steps, batch, gates)  # h_{t-1} W_hh^T + b_hh, or its layer norm
        rec = new(steps, batch, gates) if norm else None  # h_{t-1} W_hh^T, before the norm
        stats: list[tuple[Tensor, Tensor]] = []
        rz = new(steps, batch, 2 * H)  # sigmoid(r), sigmoid(z)
        n = new(steps, batch, H)
        hs = new(steps + 1, batch, H)
        hs[0] = h0
        Xrz, Xn = x_proj[..., : 2 * H].unbind(0), x_proj[..., 2 * H :].unbind(0)
        GH, GHrz, GHn = gh.unbind(0), gh[..., : 2 * H].unbind(0), gh[..., 2 * H :].unbind(0)
        RZ, R, Z = rz.unbind(0), rz[..., :H].unbind(0), rz[..., H:].unbind(0)
        N, Hs, Rec = n.unbind(0), hs.unbind(0), rec.unbind(0) if rec is not None else ()
        # The keep mask per step; in evaluation the keep probability itself.
        keeps = masks.unbind(0) if masks is not None else [zoneout] * steps
        weight_t = weight_hh.t()
        for t in range(steps):
            h_prev = Hs[t]
            if norm:
                torch.mm(h_prev, weight_t, out=Rec[t])
                normed, mean, rstd = torch.native_layer_norm(
                    Rec[t], (gates,), gain_hh, bias_hh, eps
                )
                GH[t].copy_(normed)
                stats.append((mean, rstd))
            elif bias_hh is None:
                torch.mm(h_prev, weight_t, out=GH[t])
            else:
                torch.addmm(bias_hh, h_prev, weight_t, out=GH[t])
            torch.add(Xrz[t], GHrz[t], out=RZ[t]).sigmoid_()
            torch.addcmul(Xn[t], R[t], GHn[t], out=N[t]).tanh_()
            h = torch.lerp(N[t], h_prev, Z[t], out=Hs[t + 1])  # (1 - z) n + z h_{t-1}
            if zoneout:
                h.lerp_(h_prev, keeps[t])
        ctx.stats = stats
        ctx.save_for_backward(gh, rz, n, hs, rec, masks, weight_hh, bias_hh, gain_hh)
        return hs[1:]

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_outputs: Tensor) -> tuple[Tensor | None, ...]:
        gh, rz, n, hs, rec, masks, weight_hh, bias_hh, gain_hh = ctx.saved_tensors[:9]
        zoneout, norm = ctx.zoneout, gain_hh is not None
        if ctx.native:
            d_x, d_gh, d_rec, dh, d_gain, d_bias = native.ops().gru_backward(
                d_outputs.contiguous(), gh, rz, n, hs, rec, ctx.saved_tensors[9], weight_hh,
                bias_hh, gain_hh, zoneout, masks,
            )  # fmt: skip
            d_weight_hh = weight_grad(d_rec if norm else d_gh, hs)
            # the bias of gh itself, or (with the norm) its shift
            d_bias = None if bias_hh is None else d_bias.sum(0) if norm else d_gh.sum((0, 1))
            d_gain = d_gain.sum(0) if norm else None
            return d_x, dh, d_weight_hh, d_bias, d_gain, None, None, None
        steps, batch, gates = gh.shape
        H = gates // 3
        new = gh.new_empty
        d_x = new(steps, batch, gates)  # w.r.t. x_proj: r's, z's and n's pre-activations
        d_gh = new(steps, batch, gates) if not norm else None  # w.r.t. gh: r, z as d_x, r d_n
        f_rz, f_n = new(batch, 2 * H), new(batch, H)  # sigmoid', tanh'
        ones = gh.new_ones(batch, H)
        dh_z, keep_dh = new(batch, H), new(batch, H)
        DO, Hs, GHn = d_outputs.unbind(0), hs.unbind(0), gh[..., 2 * H :].unbind(0)
        RZ, R, Z, N = rz.unbind(0), rz[..., :H].unbind(0), rz[..., H:].unbind(0), n.unbind(0)
        DX, DGH = d_x.unbind(0), () if d_gh is None else d_gh.unbind(0)
        # Each step's derivatives are made in small buffers that stay in cache, then copied out
        # whole (see lstm_sequence).
        dx, dgh = new(batch, gates), new(batch, gates)
        dx_rz, (dx_r, dx_z, dx_n) = dx[:, : 2 * H], (dx[:, k * H : (k + 1) * H] for k in range(3))
        dgh_rz, dgh_n = dgh[:, : 2 * H], dgh[:, 2 * H :]
        # Layer norm: the recurrent terms (before the norm) and the norm's parameters' gradients.
        Rec = rec.unbind(0) if norm else ()
        keeps = masks.unbind(0) if masks is not None else [zoneout] * steps
        d_recs: list[Tensor] = []  # w.r.t. the term before its norm, from the last step back
        d_gains: tuple[list[Tensor], list[Tensor]] = ([], [])  # per step, summed after the loop
        norm_outputs = [True, True, bias_hh is not None]  # aten's output_mask
        dh = new(batch, H).copy_(DO[steps - 1])  # d loss / d h_t as the next step reads it
        for t in reversed(range(steps)):
            if zoneout:  # split off what reaches h_{t-1} directly through the keep
                dh.sub_(torch.mul(dh, keeps[t], out=keep_dh))
            torch.addcmul(RZ[t], RZ[t], RZ[t], value=-1, out=f_rz)
            torch.addcmul(ones, N[t], N[t], value=-1, out=f_n)
            torch.sub(Hs[t], N[t], out=dx_z).mul_(dh)  # d z = dh (h_{t-1} - n)
            torch.mul(dh, Z[t], out=dh_z)  # the direct path to h_{t-1}
            torch.sub(dh, dh_z, out=dx_n).mul_(f_n)  # d n = dh (1 - z), then tanh'
            torch.mul(dx_n, GHn[t], out=dx_r)  # d r = d n_pre gh_n
            dx_rz.mul_(f_rz)
            torch.mul(dx_n, R[t], out=dgh_n)
            dgh_rz.copy_(dx_rz)
            DX[t].copy_(dx)
            if norm:  # the recurrent term's norm
                mean, rstd = ctx.stats[t]
                d_r, d_g, d_b = layer_norm_backward(
                    dgh, Rec[t], (gates,), mean, rstd, gain_hh, bias_hh, norm_outputs
                )
                d_recs.append(d_r)
                d_gains[0].append(d_g)
                d_gains[1].append(d_b)
            else:
                DGH[t].copy_(dgh)
            torch.addmm(dh_z, d_r if norm else dgh, weight_hh, out=dh)
            if zoneout:
                dh.add_(keep_dh)
            if t > 0:
                dh.add_(DO[t - 1])
        d_weight_hh = weight_grad(d_recs if norm else d_gh, hs)
        d_gain, d_bias = summed(d_gains[0]), summed(d_gains[1])
        if bias_hh is not None and not norm:  # the bias of gh itself (with the norm, its shift)
            d_bias = d_gh.sum((0, 1))
        return d_x, dh, d_weight_hh, d_bias, d_gain, None, None, None
