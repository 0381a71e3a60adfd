// Shared by seqnet's C++ kernels (lstm.cpp, gru.cpp): vector chunks of a row, the gate
// nonlinearities, torch.lerp's formula and the row-wise layer norm with its backward.
//
// The kernels run one timestep's elementwise work for the whole batch in one pass over each
// row, in registers, where the pure-PyTorch kernels make a dozen calls a step, each a pass over
// memory with its own dispatch. The matrix products stay ATen's (MKL or oneDNN). Vectorized<T>
// is ATen's vector type: compiled with the CPU's own extensions (the build passes
// -DCPU_CAPABILITY_AVX512 or _AVX2 and their -m flags), its exp and tanh are Sleef's, as in
// PyTorch's own sigmoid and tanh.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

// BLAS's own gemm, where libtorch carries one (MKL in the x86 builds exports it): called on the
// kernels' buffers directly, a step's product costs no tensor views and no dispatch. Weak, so
// that a libtorch without it loads the library and the products go through ATen instead.
extern "C" {
void sgemm_(const char*, const char*, const int*, const int*, const int*, const float*,
            const float*, const int*, const float*, const int*, const float*, float*,
            const int*) __attribute__((weak));
void dgemm_(const char*, const char*, const int*, const int*, const int*, const double*,
            const double*, const int*, const double*, const int*, const double*, double*,
            const int*) __attribute__((weak));
}

namespace seqnet {

// Column-major gemm C = op(A) op(B) + beta C, as BLAS; through ATen where BLAS is not exported.
template <typename T>
inline void gemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda,
                 const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const int M = m, N = n, K = k, LDA = lda, LDB = ldb, LDC = ldc;
  const T one = 1;
#ifndef SEQNET_ATEN_GEMM  // defined: always through ATen (the tests build it so, to check it)
  if constexpr (std::is_same_v<T, float>) {
    if (sgemm_ != nullptr) return sgemm_(&ta, &tb, &M, &N, &K, &one, a, &LDA, b, &LDB, &beta, c, &LDC);
  } else {
    if (dgemm_ != nullptr) return dgemm_(&ta, &tb, &M, &N, &K, &one, a, &LDA, b, &LDB, &beta, c, &LDC);
  }
#endif
  // Row-major views of the column-major operands: C^T = op(B)^T op(A)^T.
  const auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  auto view = [&](const T* p, char t, int64_t rows, int64_t cols, int64_t ld) {
    // column-major (rows x cols, ld) is row-major (cols x rows); op = 'T' transposes it back
    at::Tensor x = at::from_blob(const_cast<T*>(p), {cols, rows}, {ld, 1}, options);
    return t == 'T' ? x.t() : x;
  };
  at::Tensor ct = at::from_blob(c, {n, m}, {ldc, 1}, options);
  const at::Tensor at_ = view(a, ta, ta == 'T' ? k : m, ta == 'T' ? m : k, lda);
  const at::Tensor bt = view(b, tb, tb == 'T' ? n : k, tb == 'T' ? k : n, ldb);
  if (beta == T(0)) {
    at::mm_out(ct, bt, at_);
  } else {
    at::addmm_out(ct, ct, bt, at_);
  }
}

// y (rows x out) = x (rows x in) w^T for a row-major w (out x in): a layer's h W_hh^T.
template <typename T>
inline void times_transposed(const T* x, const T* w, T* y, int64_t rows, int64_t in, int64_t out) {
  gemm<T>('T', 'N', out, rows, in, w, in, x, in, T(0), y, out);
}

// y (rows x out) = x (rows x in) w for a row-major w (in x out): the backward's d W_hh.
template <typename T>
inline void times(const T* x, const T* w, T* y, int64_t rows, int64_t in, int64_t out) {
  gemm<T>('N', 'N', out, rows, in, w, out, x, in, T(0), y, out);
}

// Rows per task when a step's rows are split over threads: about 8K values each, below which
// the split costs more than it saves.
inline int64_t row_grain(int64_t width) { return std::max<int64_t>(1, 8192 / width); }

template <typename T>
using Vec = at::vec::Vectorized<T>;

// f(j, n) for each chunk of n <= Vec<T>::size() elements of [0, size), the last one partial.
template <typename T, typename F>
inline void chunks(int64_t size, const F& f) {
  const int64_t w = Vec<T>::size();
  int64_t j = 0;
  for (; j + w <= size; j += w) f(j, w);
  if (j < size) f(j, size - j);
}

template <typename T>
inline Vec<T> load(const T* p, int64_t n) {
  return n == Vec<T>::size() ? Vec<T>::loadu(p) : Vec<T>::loadu(p, n);
}

template <typename T>
inline void store(const Vec<T>& v, T* p, int64_t n) {
  if (n == Vec<T>::size()) {
    v.store(p);
  } else {
    v.store(p, n);
  }
}

template <typename T>
inline Vec<T> sigmoid(const Vec<T>& x) {
  return (Vec<T>(T(1)) + x.neg().exp()).reciprocal();
}

// torch.lerp(a, b, w): a + w (b - a) for w < 0.5, else b - (b - a)(1 - w) (exact at w = 1,
// as zoneout's masks need).
template <typename T>
inline Vec<T> lerp(const Vec<T>& a, const Vec<T>& b, const Vec<T>& w) {
  const Vec<T> diff = b - a;
  const Vec<T> low = a + w * diff;
  const Vec<T> high = b - diff * (Vec<T>(T(1)) - w);
  return Vec<T>::blendv(low, high, w >= Vec<T>(T(0.5)));
}

template <typename T>
inline T sum_lanes(const Vec<T>& v) {
  T lanes[Vec<T>::size()];
  v.store(lanes);
  T s = 0;
  for (int64_t k = 0; k < Vec<T>::size(); ++k) s += lanes[k];
  return s;
}

// Layer norm's statistics of x[0, n): the mean and 1 / sqrt(biased variance + eps), in two
// passes (as aten's layer norm, which the pure-PyTorch kernels call).
template <typename T>
inline void moments(const T* x, int64_t n, double eps, T& mean, T& rstd) {
  const int64_t w = Vec<T>::size();
  Vec<T> acc(T(0));
  T tail = 0;
  int64_t j = 0;
  for (; j + w <= n; j += w) acc += Vec<T>::loadu(x + j);
  for (; j < n; ++j) tail += x[j];
  mean = (sum_lanes(acc) + tail) / T(n);
  const Vec<T> m(mean);
  acc = Vec<T>(T(0));
  tail = 0;
  for (j = 0; j + w <= n; j += w) {
    const Vec<T> d = Vec<T>::loadu(x + j) - m;
    acc = at::vec::fmadd(d, d, acc);
  }
  for (; j < n; ++j) tail += (x[j] - mean) * (x[j] - mean);
  const T var = (sum_lanes(acc) + tail) / T(n);
  rstd = T(1) / std::sqrt(var + T(eps));
}

// The backward of y = (x - mean) rstd gamma + beta over one row of n: dx = rstd (g - mean(g) -
// xhat mean(g xhat)) with g = dy gamma and xhat = (x - mean) rstd; adds dy xhat to dgamma and
// dy to dbeta (null: no beta).
template <typename T>
inline void layer_norm_row_backward(
    const T* dy, const T* x, T mean, T rstd, const T* gamma, int64_t n, T* dx, T* dgamma,
    T* dbeta) {
  const Vec<T> m(mean), r(rstd);
  Vec<T> sum_g(T(0)), sum_gx(T(0));
  T tail_g = 0, tail_gx = 0;
  const int64_t w = Vec<T>::size();
  int64_t j = 0;
  for (; j + w <= n; j += w) {
    const Vec<T> d = Vec<T>::loadu(dy + j);
    const Vec<T> xhat = (Vec<T>::loadu(x + j) - m) * r;
    const Vec<T> g = d * Vec<T>::loadu(gamma + j);
    sum_g += g;
    sum_gx = at::vec::fmadd(g, xhat, sum_gx);
    at::vec::fmadd(d, xhat, Vec<T>::loadu(dgamma + j)).store(dgamma + j);
    if (dbeta != nullptr) (Vec<T>::loadu(dbeta + j) + d).store(dbeta + j);
  }
  for (; j < n; ++j) {
    const T xhat = (x[j] - mean) * rstd;
    const T g = dy[j] * gamma[j];
    tail_g += g;
    tail_gx += g * xhat;
    dgamma[j] += dy[j] * xhat;
    if (dbeta != nullptr) dbeta[j] += dy[j];
  }
  const T mean_g = (sum_lanes(sum_g) + tail_g) / T(n);
  const T mean_gx = (sum_lanes(sum_gx) + tail_gx) / T(n);
  const Vec<T> mg(mean_g), mgx(mean_gx);
  for (j = 0; j + w <= n; j += w) {
    const Vec<T> xhat = (Vec<T>::loadu(x + j) - m) * r;
    const Vec<T> g = Vec<T>::loadu(dy + j) * Vec<T>::loadu(gamma + j);
    (r * (g - mg - xhat * mgx)).store(dx + j);
  }
  for (; j < n; ++j) {
    const T xhat = (x[j] - mean) * rstd;
    dx[j] = rstd * (dy[j] * gamma[j] - mean_g - xhat * mean_gx);
  }
}

// The data pointer of an optional tensor (null when absent).
template <typename T>
inline const T* data_or_null(const std::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? t->data_ptr<T>() : nullptr;
}

// A buffer of ``sizes`` where ``keep`` (zeroed with ``zero``), else an empty placeholder: what
// a kernel returns or saves for a part its variant does not have (the norms' statistics).
inline at::Tensor buffer_if(bool keep, at::IntArrayRef sizes, const at::Tensor& like,
                            bool zero = false) {
  if (!keep) return at::empty({0}, like.options());
  return zero ? at::zeros(sizes, like.options()) : at::empty(sizes, like.options());
}

}  // namespace seqnet
