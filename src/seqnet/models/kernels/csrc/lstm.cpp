// The LSTM family's whole-sequence kernel (models/kernels/lstm_family.py has the equations and
// the pure-PyTorch kernel it equals): the forward loop and the backward loop over time, each
// step one matrix product and one pass over each batch row for the elementwise work, the rows
// split over threads. Saved tensors and gradients are the pure kernel's, so lstm_family.py's
// autograd function takes either.
#include "common.h"

namespace seqnet {
namespace {

// Forward. Returns acts (T, B, 4H: sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)), hs and cs
// (T + 1, B, H: the states each step reads), c_raw (c_t before zoneout; cs without it),
// tanh_c (T, B, H), rec (T, B, 4H: h_{t-1} W_hh^T before its norm; empty without layer norm)
// and stats (T, B, 4: the recurrent norm's mean and rstd, then the cell norm's).
std::vector<at::Tensor> lstm_forward(
    const at::Tensor& x_proj, const at::Tensor& h0, const at::Tensor& c0,
    const at::Tensor& weight_hh, const std::optional<at::Tensor>& w_ci,
    const std::optional<at::Tensor>& w_cf, const std::optional<at::Tensor>& w_co,
    const std::optional<at::Tensor>& gain_hh, const std::optional<at::Tensor>& gain_c,
    const std::optional<at::Tensor>& bias_c, double eps, double zoneout,
    const std::optional<at::Tensor>& masks) {
  const int64_t T = x_proj.size(0), B = x_proj.size(1), G = x_proj.size(2), H = G / 4;
  const bool norm = gain_hh.has_value(), zone = zoneout > 0;
  at::Tensor acts = at::empty({T, B, G}, x_proj.options());
  at::Tensor hs = at::empty({T + 1, B, H}, x_proj.options());
  at::Tensor cs = at::empty({T + 1, B, H}, x_proj.options());
  hs[0].copy_(h0);
  cs[0].copy_(c0);
  at::Tensor c_raw = zone ? at::empty({T + 1, B, H}, x_proj.options()) : cs;
  at::Tensor tanh_c = at::empty({T, B, H}, x_proj.options());
  at::Tensor rec = buffer_if(norm, {T, B, G}, x_proj);
  at::Tensor stats = buffer_if(norm, {T, B, 4}, x_proj);
  const at::Tensor weight = weight_hh.contiguous();
  AT_DISPATCH_FLOATING_TYPES(x_proj.scalar_type(), "seqnet_lstm_forward", [&] {
    using S = scalar_t;
    using V = Vec<S>;
    const S *ci = data_or_null<S>(w_ci), *cf = data_or_null<S>(w_cf), *co = data_or_null<S>(w_co);
    const S *g_hh = data_or_null<S>(gain_hh), *g_c = data_or_null<S>(gain_c);
    const S* b_c = data_or_null<S>(bias_c);
    const S* mask = data_or_null<S>(masks);
    const S *x = x_proj.data_ptr<S>(), *w = weight.data_ptr<S>();
    S *a = acts.data_ptr<S>(), *h = hs.data_ptr<S>(), *c = cs.data_ptr<S>();
    S *craw = c_raw.data_ptr<S>(), *tc = tanh_c.data_ptr<S>();
    S *r = norm ? rec.data_ptr<S>() : nullptr, *st = norm ? stats.data_ptr<S>() : nullptr;
    const V keep(static_cast<S>(zoneout));
    auto rows = [&](int64_t t, int64_t begin, int64_t end) {
      for (int64_t b = begin; b < end; ++b) {
        const int64_t row = t * B + b, next = (t + 1) * B + b;
        S* ar = a + row * G;
        const S *xr = x + row * G, *hp = h + row * H, *cp = c + row * H;
        S *hn = h + next * H, *cn = c + next * H, *crn = craw + next * H, *tcr = tc + row * H;
        const S* mh = mask != nullptr ? mask + (t * 2 * B + b) * H : nullptr;
        const S* mc = mask != nullptr ? mh + B * H : nullptr;
        if (norm) {  // a = x_proj + LN(h W_hh^T) gain_hh
          const S* rr = r + row * G;
          S mean, rstd;
          moments(rr, G, eps, mean, rstd);
          st[row * 4] = mean;
          st[row * 4 + 1] = rstd;
          const V m(mean), s(rstd);
          chunks<S>(G, [&](int64_t j, int64_t n) {
            const V normed = (load(rr + j, n) - m) * s;
            store(at::vec::fmadd(normed, load(g_hh + j, n), load(xr + j, n)), ar + j, n);
          });
        }
        // The output from tanh(c_t) (or of its norm), then zoneout.
        auto finish = [&](int64_t j, int64_t n, const V& o, const V& c_new, const V& tanh_c) {
          store(tanh_c, tcr + j, n);
          V h_new = o * tanh_c;
          if (zone) {
            const V kh = mh != nullptr ? load(mh + j, n) : keep;
            const V kc = mc != nullptr ? load(mc + j, n) : keep;
            h_new = lerp(h_new, load(hp + j, n), kh);
            store(lerp(c_new, load(cp + j, n), kc), cn + j, n);
          }
          store(h_new, hn + j, n);
        };
        // Without the norm, ar holds h W_hh^T and x_proj is added here.
        const S* xa = norm ? nullptr : xr;
        chunks<S>(H, [&](int64_t j, int64_t n) {
          V ai = load(ar + j, n), af = load(ar + H + j, n);
          V ag = load(ar + 2 * H + j, n), ao = load(ar + 3 * H + j, n);
          if (xa != nullptr) {
            ai = ai + load(xa + j, n);
            af = af + load(xa + H + j, n);
            ag = ag + load(xa + 2 * H + j, n);
            ao = ao + load(xa + 3 * H + j, n);
          }
          const V c_prev = load(cp + j, n);
          if (ci != nullptr) {
            ai = at::vec::fmadd(load(ci + j, n), c_prev, ai);
            af = at::vec::fmadd(load(cf + j, n), c_prev, af);
          }
          const V i = sigmoid(ai), f = sigmoid(af), g = ag.tanh();
          const V c_new = at::vec::fmadd(i, g, f * c_prev);
          if (co != nullptr) ao = at::vec::fmadd(load(co + j, n), c_new, ao);
          const V o = sigmoid(ao);
          store(i, ar + j, n);
          store(f, ar + H + j, n);
          store(g, ar + 2 * H + j, n);
          store(o, ar + 3 * H + j, n);
          store(c_new, crn + j, n);
          if (!norm) finish(j, n, o, c_new, c_new.tanh());
        });
        if (norm) {  // h_t = o tanh(LN(c_t) gain_c + bias_c)
          S mean, rstd;
          moments(crn, H, eps, mean, rstd);
          st[row * 4 + 2] = mean;
          st[row * 4 + 3] = rstd;
          const V m(mean), s(rstd);
          chunks<S>(H, [&](int64_t j, int64_t n) {
            const V c_new = load(crn + j, n);
            V normed = (c_new - m) * s * load(g_c + j, n);
            if (b_c != nullptr) normed = normed + load(b_c + j, n);
            finish(j, n, load(ar + 3 * H + j, n), c_new, normed.tanh());
          });
        }
      }
    };
    for (int64_t t = 0; t < T; ++t) {
      times_transposed(h + t * B * H, w, norm ? r + t * B * G : a + t * B * G, B, H, G);
      at::parallel_for(0, B, row_grain(G), [&](int64_t begin, int64_t end) { rows(t, begin, end); });
    }
  });
  return {acts, hs, cs, c_raw, tanh_c, rec, stats};
}

// Backward. Returns d_acts (T, B, 4H: w.r.t. the pre-activations a), d_rec (w.r.t. the
// recurrent term before its norm; empty without layer norm), dh_0, dc_0, and the norms'
// parameters' gradients in parts that sum to them over dim 0 ((T * threads, 4H) and
// (T * threads, H) twice; empty without layer norm).
std::vector<at::Tensor> lstm_backward(
    const at::Tensor& d_outputs, const at::Tensor& d_c_last, const at::Tensor& acts,
    const at::Tensor& hs, const at::Tensor& cs, const at::Tensor& c_raw,
    const at::Tensor& tanh_c, const at::Tensor& rec, const at::Tensor& stats,
    const at::Tensor& weight_hh, const std::optional<at::Tensor>& w_ci,
    const std::optional<at::Tensor>& w_cf, const std::optional<at::Tensor>& w_co,
    const std::optional<at::Tensor>& gain_hh, const std::optional<at::Tensor>& gain_c,
    const std::optional<at::Tensor>& bias_c, double zoneout,
    const std::optional<at::Tensor>& masks) {
  const int64_t T = acts.size(0), B = acts.size(1), G = acts.size(2), H = G / 4;
  const bool norm = gain_hh.has_value(), zone = zoneout > 0;
  const int64_t P = at::get_num_threads();  // one slot per thread for the norms' gradients
  const auto options = acts.options();
  at::Tensor d_acts = at::empty({T, B, G}, options);
  at::Tensor d_rec = buffer_if(norm, {T, B, G}, acts);
  at::Tensor d_gain_hh = buffer_if(norm, {T * P, G}, acts, true);
  at::Tensor d_gain_c = buffer_if(norm, {T * P, H}, acts, true);
  at::Tensor d_bias_c = buffer_if(norm, {T * P, H}, acts, true);
  // dh: what reaches h_t through the product with W_hh (the rest is added per row); dc: d c_t.
  at::Tensor dh = at::zeros({B, H}, options);
  at::Tensor dc = d_c_last.clone();
  at::Tensor keep_dh = at::zeros({B, H}, options), keep_dc = at::empty({B, H}, options);
  at::Tensor scratch = at::empty({P, 2, H}, options);  // the cell norm's upstream, downstream
  const at::Tensor weight = weight_hh.contiguous();
  AT_DISPATCH_FLOATING_TYPES(acts.scalar_type(), "seqnet_lstm_backward", [&] {
    using S = scalar_t;
    using V = Vec<S>;
    const S *ci = data_or_null<S>(w_ci), *cf = data_or_null<S>(w_cf), *co = data_or_null<S>(w_co);
    const S *g_hh = data_or_null<S>(gain_hh), *g_c = data_or_null<S>(gain_c);
    const bool has_bias_c = bias_c.has_value();
    const S* mask = data_or_null<S>(masks);
    const S *a = acts.data_ptr<S>(), *c = cs.data_ptr<S>(), *craw = c_raw.data_ptr<S>();
    const S *tc = tanh_c.data_ptr<S>(), *dout = d_outputs.data_ptr<S>(), *w = weight.data_ptr<S>();
    const S *r = norm ? rec.data_ptr<S>() : nullptr, *st = norm ? stats.data_ptr<S>() : nullptr;
    S *da = d_acts.data_ptr<S>(), *dr = norm ? d_rec.data_ptr<S>() : nullptr;
    S *dhp = dh.data_ptr<S>(), *dcp = dc.data_ptr<S>();
    S *kdh = keep_dh.data_ptr<S>(), *kdc = keep_dc.data_ptr<S>();
    const V one(S(1)), keep(static_cast<S>(zoneout));
    auto rows = [&](int64_t t, int64_t begin, int64_t end) {
      const int64_t slot = t * P + at::get_thread_num();
      S* up = scratch.data_ptr<S>() + at::get_thread_num() * 2 * H;
      S* down = up + H;
      for (int64_t b = begin; b < end; ++b) {
        const int64_t row = t * B + b;
        const S *ar = a + row * G, *cp = c + row * H, *tcr = tc + row * H;
        const S* dor = dout + row * H;
        S *dar = da + row * G, *dhr = dhp + b * H, *dcr = dcp + b * H;
        S *kdhr = kdh + b * H, *kdcr = kdc + b * H;
        const S* mh = mask != nullptr ? mask + (t * 2 * B + b) * H : nullptr;
        const S* mc = mask != nullptr ? mh + B * H : nullptr;
        // dc_t in total, then the gates' derivatives and what reaches c_{t-1}.
        auto gates = [&](int64_t j, int64_t n, const V& d_c) {
          const V i = load(ar + j, n), f = load(ar + H + j, n), g = load(ar + 2 * H + j, n);
          const V di = d_c * g * i * (one - i);
          const V df = d_c * load(cp + j, n) * f * (one - f);
          const V dg = d_c * i * (one - g * g);
          store(di, dar + j, n);
          store(df, dar + H + j, n);
          store(dg, dar + 2 * H + j, n);
          V d_prev = d_c * f;
          if (ci != nullptr) {
            d_prev = at::vec::fmadd(di, load(ci + j, n), d_prev);
            d_prev = at::vec::fmadd(df, load(cf + j, n), d_prev);
          }
          if (zone) d_prev = d_prev + load(kdcr + j, n);
          store(d_prev, dcr + j, n);
        };
        chunks<S>(H, [&](int64_t j, int64_t n) {
          // d h_t in total: through W_hh, from the output at t, and (zoneout) kept from t + 1
          V d_h = load(dhr + j, n) + load(dor + j, n);
          V d_c = load(dcr + j, n);
          if (zone) {  // then split off what reaches h_{t-1}, c_{t-1} directly through the keep
            d_h = d_h + load(kdhr + j, n);
            const V kh = mh != nullptr ? load(mh + j, n) : keep;
            const V kc = mc != nullptr ? load(mc + j, n) : keep;
            const V through_h = d_h * kh, through_c = d_c * kc;
            store(through_h, kdhr + j, n);
            store(through_c, kdcr + j, n);
            d_h = d_h - through_h;
            d_c = d_c - through_c;
          }
          const V o = load(ar + 3 * H + j, n), tanh_c = load(tcr + j, n);
          const V d_o = d_h * tanh_c * o * (one - o);
          store(d_o, dar + 3 * H + j, n);
          if (co != nullptr) d_c = at::vec::fmadd(d_o, load(co + j, n), d_c);
          const V u = d_h * o * (one - tanh_c * tanh_c);
          if (norm) {
            store(u, up + j, n);
            store(d_c, dcr + j, n);
          } else {
            gates(j, n, d_c + u);
          }
        });
        if (norm) {  // through tanh, then LN(c_t)
          const int64_t next = (t + 1) * B + b;
          S* dbc = has_bias_c ? d_bias_c.data_ptr<S>() + slot * H : nullptr;
          layer_norm_row_backward(
              up, craw + next * H, st[row * 4 + 2], st[row * 4 + 3], g_c, H, down,
              d_gain_c.data_ptr<S>() + slot * H, dbc);
          chunks<S>(H, [&](int64_t j, int64_t n) {
            gates(j, n, load(dcr + j, n) + load(down + j, n));
          });
          // the recurrent term's norm
          layer_norm_row_backward(
              dar, r + row * G, st[row * 4], st[row * 4 + 1], g_hh, G, dr + row * G,
              d_gain_hh.data_ptr<S>() + slot * G, static_cast<S*>(nullptr));
        }
      }
    };
    for (int64_t t = T - 1; t >= 0; --t) {
      at::parallel_for(0, B, row_grain(G), [&](int64_t begin, int64_t end) { rows(t, begin, end); });
      times(norm ? dr + t * B * G : da + t * B * G, w, dhp, B, G, H);
    }
  });
  if (zone) dh.add_(keep_dh);  // d h_0 in total (no output reads h_0)
  return {d_acts, d_rec, dh, dc, d_gain_hh, d_gain_c, d_bias_c};
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(seqnet, m) {
  m.def(
      "lstm_forward(Tensor x_proj, Tensor h0, Tensor c0, Tensor weight_hh, Tensor? w_ci, "
      "Tensor? w_cf, Tensor? w_co, Tensor? gain_hh, Tensor? gain_c, Tensor? bias_c, float eps, "
      "float zoneout, Tensor? masks) -> Tensor[]");
  m.def(
      "lstm_backward(Tensor d_outputs, Tensor d_c_last, Tensor acts, Tensor hs, Tensor cs, "
      "Tensor c_raw, Tensor tanh_c, Tensor rec, Tensor stats, Tensor weight_hh, Tensor? w_ci, "
      "Tensor? w_cf, Tensor? w_co, Tensor? gain_hh, Tensor? gain_c, Tensor? bias_c, "
      "float zoneout, Tensor? masks) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(seqnet, CPU, m) {
  m.impl("lstm_forward", &lstm_forward);
  m.impl("lstm_backward", &lstm_backward);
}

}  // namespace seqnet
