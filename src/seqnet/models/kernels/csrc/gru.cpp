// The GRU family's whole-sequence kernel (models/kernels/gru_family.py has the equations and the
// pure-PyTorch kernel it equals), laid out as lstm.cpp: per step one matrix product and one
// pass over each batch row; the saved tensors and gradients are the pure kernel's.
#include "common.h"

namespace seqnet {
namespace {

// Forward. Returns gh (T, B, 3H: h_{t-1} W_hh^T + b_hh, or its layer norm), rz (T, B, 2H:
// sigmoid(r), sigmoid(z)), n (T, B, H), hs (T + 1, B, H), rec (T, B, 3H: h_{t-1} W_hh^T before
// its norm; empty without layer norm) and stats (T, B, 2: its mean and rstd).
std::vector<at::Tensor> gru_forward(
    const at::Tensor& x_proj, const at::Tensor& h0, const at::Tensor& weight_hh,
    const std::optional<at::Tensor>& bias_hh, const std::optional<at::Tensor>& gain_hh,
    double eps, double zoneout, const std::optional<at::Tensor>& masks) {
  const int64_t T = x_proj.size(0), B = x_proj.size(1), G = x_proj.size(2), H = G / 3;
  const bool norm = gain_hh.has_value(), zone = zoneout > 0;
  at::Tensor gh = at::empty({T, B, G}, x_proj.options());
  at::Tensor rz = at::empty({T, B, 2 * H}, x_proj.options());
  at::Tensor n_gate = at::empty({T, B, H}, x_proj.options());
  at::Tensor hs = at::empty({T + 1, B, H}, x_proj.options());
  hs[0].copy_(h0);
  at::Tensor rec = buffer_if(norm, {T, B, G}, x_proj);
  at::Tensor stats = buffer_if(norm, {T, B, 2}, x_proj);
  const at::Tensor weight = weight_hh.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x_proj.scalar_type(), "seqnet_gru_forward", [&] {
    using S = scalar_t;
    using V = Vec<S>;
    const S *bias = data_or_null<S>(bias_hh), *gain = data_or_null<S>(gain_hh);
    const S* mask = data_or_null<S>(masks);
    const S* x = x_proj.data_ptr<S>();
    S *ghp = gh.data_ptr<S>(), *rzp = rz.data_ptr<S>(), *np = n_gate.data_ptr<S>();
    S* h = hs.data_ptr<S>();
    S *r = norm ? rec.data_ptr<S>() : nullptr, *st = norm ? stats.data_ptr<S>() : nullptr;
    const S* w = weight.data_ptr<S>();
    const V keep(static_cast<S>(zoneout));
    auto rows = [&](int64_t t, int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t row = t * B + b;
        const S *xr = x + row * G, *hp = h + row * H;
        S *ghr = ghp + row * G, *rzr = rzp + row * 2 * H, *nr = np + row * H;
        S* hn = h + (row + B) * H;
        const S* m = mask != nullptr ? mask + row * H : nullptr;
        if (norm) {  // gh = LN(h W_hh^T) gain_hh + b_hh
          const S* rr = r + row * G;
          S mean, rstd;
          moments(rr, G, eps, mean, rstd);
          st[row * 2] = mean;
          st[row * 2 + 1] = rstd;
          const V mv(mean), sv(rstd);
          chunks<S>(G, [&](int64_t j, int64_t n) {
            V v = (load(rr + j, n) - mv) * sv * load(gain + j, n);
            if (bias != nullptr) v = v + load(bias + j, n);
            store(v, ghr + j, n);
          });
        } else if (bias != nullptr) {  // gh = h W_hh^T + b_hh
          chunks<S>(G, [&](int64_t j, int64_t n) {
            store(load(ghr + j, n) + load(bias + j, n), ghr + j, n);
          });
        }
        chunks<S>(H, [&](int64_t j, int64_t n) {
          const V rg = sigmoid(load(xr + j, n) + load(ghr + j, n));
          const V zg = sigmoid(load(xr + H + j, n) + load(ghr + H + j, n));
          const V ng = at::vec::fmadd(rg, load(ghr + 2 * H + j, n), load(xr + 2 * H + j, n)).tanh();
          const V h_prev = load(hp + j, n);
          V h_new = lerp(ng, h_prev, zg);  // (1 - z) n + z h_{t-1}
          if (zone) h_new = lerp(h_new, h_prev, m != nullptr ? load(m + j, n) : keep);
          store(rg, rzr + j, n);
          store(zg, rzr + H + j, n);
          store(ng, nr + j, n);
          store(h_new, hn + j, n);
        });
      }
    };
    for (int64_t t = 0; t < T; ++t) {
      times_transposed(h + t * B * H, w, norm ? r + t * B * G : ghp + t * B * G, B, H, G);
      at::parallel_for(0, B, row_grain(G), [&](int64_t begin, int64_t end) { rows(t, begin, end); });
    }
  });
  return {gh, rz, n_gate, hs, rec, stats};
}

// Backward. Returns d_x (T, B, 3H: w.r.t. x_proj), d_gh (w.r.t. gh; empty with layer norm),
// d_rec (w.r.t. the recurrent term before its norm; empty without), dh_0, and the norm's gain
// and shift gradients per step (T, 3H; empty without layer norm).
std::vector<at::Tensor> gru_backward(
    const at::Tensor& d_outputs, const at::Tensor& gh, const at::Tensor& rz,
    const at::Tensor& n_gate, const at::Tensor& hs, const at::Tensor& rec,
    const at::Tensor& stats, const at::Tensor& weight_hh,
    const std::optional<at::Tensor>& bias_hh, const std::optional<at::Tensor>& gain_hh,
    double zoneout, const std::optional<at::Tensor>& masks) {
  const int64_t T = gh.size(0), B = gh.size(1), G = gh.size(2), H = G / 3;
  const bool norm = gain_hh.has_value(), zone = zoneout > 0;
  const auto options = gh.options();
  at::Tensor d_x = at::empty({T, B, G}, options);
  at::Tensor d_gh = buffer_if(!norm, {T, B, G}, gh);
  at::Tensor d_rec = buffer_if(norm, {T, B, G}, gh);
  const int64_t P = at::get_num_threads();  // one slot per thread for the norm's gradients
  at::Tensor d_gain = buffer_if(norm, {T * P, G}, gh, true);
  at::Tensor d_bias = buffer_if(norm, {T * P, G}, gh, true);
  // dh: what reaches h_t through the product with W_hh; dh_z: through z directly; keep_dh:
  // through zoneout's keep (each added per row at the next step back).
  at::Tensor dh = at::zeros({B, H}, options);
  at::Tensor dh_z = at::zeros({B, H}, options), keep_dh = at::zeros({B, H}, options);
  at::Tensor scratch = at::empty({P, G}, options);  // each thread's row of d gh, with the norm
  const at::Tensor weight = weight_hh.contiguous();
  AT_DISPATCH_FLOATING_TYPES(gh.scalar_type(), "seqnet_gru_backward", [&] {
    using S = scalar_t;
    using V = Vec<S>;
    const S* gain = data_or_null<S>(gain_hh);
    const bool has_bias = bias_hh.has_value();
    const S* mask = data_or_null<S>(masks);
    const S *ghp = gh.data_ptr<S>(), *rzp = rz.data_ptr<S>(), *np = n_gate.data_ptr<S>();
    const S* h = hs.data_ptr<S>();
    const S *r = norm ? rec.data_ptr<S>() : nullptr, *st = norm ? stats.data_ptr<S>() : nullptr;
    S* dx = d_x.data_ptr<S>();
    S* dr = norm ? d_rec.data_ptr<S>() : nullptr;
    S *dhp = dh.data_ptr<S>(), *dhz = dh_z.data_ptr<S>(), *kdh = keep_dh.data_ptr<S>();
    const S *dout = d_outputs.data_ptr<S>(), *w = weight.data_ptr<S>();
    const V one(S(1)), keep(static_cast<S>(zoneout));
    auto rows = [&](int64_t t, int64_t begin, int64_t end) {
      const int64_t slot = t * P + at::get_thread_num();
      S* dg = norm ? scratch.data_ptr<S>() + at::get_thread_num() * G : d_gh.data_ptr<S>();
      for (int64_t b = begin; b < end; ++b) {
        const int64_t row = t * B + b;
        const S *ghr = ghp + row * G, *rzr = rzp + row * 2 * H, *nr = np + row * H;
        const S* hp = h + row * H;
        const S* m = mask != nullptr ? mask + row * H : nullptr;
        S *dxr = dx + row * G, *dgr = norm ? dg : dg + row * G;
        S *dhr = dhp + b * H, *dhzr = dhz + b * H, *kdhr = kdh + b * H;
        const S* dor = dout + row * H;
        chunks<S>(H, [&](int64_t j, int64_t n) {
          // d h_t in total: through W_hh, through z, from the output, kept by zoneout
          V d_h = load(dhr + j, n) + load(dhzr + j, n) + load(dor + j, n);
          if (zone) d_h = d_h + load(kdhr + j, n);
          if (zone) {  // split off what reaches h_{t-1} directly through the keep
            const V through = d_h * (m != nullptr ? load(m + j, n) : keep);
            store(through, kdhr + j, n);
            d_h = d_h - through;
          }
          const V rg = load(rzr + j, n), zg = load(rzr + H + j, n), ng = load(nr + j, n);
          const V d_z = (load(hp + j, n) - ng) * d_h * zg * (one - zg);
          const V direct = d_h * zg;  // the direct path to h_{t-1}
          const V d_n = (d_h - direct) * (one - ng * ng);
          const V d_r = d_n * load(ghr + 2 * H + j, n) * rg * (one - rg);
          store(direct, dhzr + j, n);
          store(d_r, dxr + j, n);
          store(d_z, dxr + H + j, n);
          store(d_n, dxr + 2 * H + j, n);
          store(d_r, dgr + j, n);
          store(d_z, dgr + H + j, n);
          store(d_n * rg, dgr + 2 * H + j, n);
        });
        if (norm) {
          layer_norm_row_backward(
              dgr, r + row * G, st[row * 2], st[row * 2 + 1], gain, G, dr + row * G,
              d_gain.data_ptr<S>() + slot * G, has_bias ? d_bias.data_ptr<S>() + slot * G : nullptr);
        }
      }
    };
    for (int64_t t = T - 1; t >= 0; --t) {
      at::parallel_for(0, B, row_grain(G), [&](int64_t begin, int64_t end) { rows(t, begin, end); });
      times(norm ? dr + t * B * G : d_gh.data_ptr<S>() + t * B * G, w, dhp, B, G, H);
    }
  });
  dh.add_(dh_z);  // d h_0 in total (no output reads h_0)
  if (zone) dh.add_(keep_dh);
  return {d_x, d_gh, d_rec, dh, d_gain, d_bias};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(seqnet, m) {
  m.def(
      "gru_forward(Tensor x_proj, Tensor h0, Tensor weight_hh, Tensor? bias_hh, "
      "Tensor? gain_hh, float eps, float zoneout, Tensor? masks) -> Tensor[]");
  m.def(
      "gru_backward(Tensor d_outputs, Tensor gh, Tensor rz, Tensor n_gate, Tensor hs, "
      "Tensor rec, Tensor stats, Tensor weight_hh, Tensor? bias_hh, Tensor? gain_hh, "
      "float zoneout, Tensor? masks) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(seqnet, CPU, m) {
  m.impl("gru_forward", &gru_forward);
  m.impl("gru_backward", &gru_backward);
}

}  // namespace seqnet
