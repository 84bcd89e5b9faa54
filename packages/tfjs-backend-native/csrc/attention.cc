// Fused scaled dot-product attention, forward and backward, with the maths of
// packages/kernels/src/fused/attention-math.ts: one query row at a time (scores live in a row
// buffer, never as an [Nq, Nk] matrix), scores, softmax and every sum in double, masked keys
// (mask == 0) and keys past the causal limit (j > i) excluded, and a row with no allowed key
// giving NaN as torch does. The backward recomputes each row's probabilities.
// Work is split over the B*H (batch, head) pairs: each pair owns its output rows and its dk/dv
// slices, so threads never write the same memory and results do not depend on scheduling.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {
namespace {

// exp(x) in double to a few ulps, branch-free so the softmax loop vectorises (libm's exp is a
// scalar call, and exps are a large share of the work at small head sizes). Cody-Waite
// reduction x = n ln2 + r, |r| <= ln2/2, then a degree-13 Taylor series (truncation < 1e-17).
// Below -708 (where the result is subnormal or 0) it returns 0; -inf gives 0, NaN stays NaN.
OSN_INLINE double exp_f64(double x) {
  const double lo = -708.0, hi = 709.0;
  const double xc = x < lo ? lo : (x > hi ? hi : x);
  const double magic = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const double t = xc * 1.4426950408889634 + magic;
  int64_t tb;
  std::memcpy(&tb, &t, 8);
  const int64_t n = int64_t(int32_t(tb));  // the low 32 bits hold the rounded integer
  const double fn = t - magic;
  const double r = (xc - fn * 6.93147180369123816490e-01) - fn * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;  // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const int64_t bits = (n + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, 8);
  double out = p * scale;
  out = x < lo ? 0.0 : out;
  out = x > hi ? std::numeric_limits<double>::infinity() : out;
  return x != x ? x : out;
}

// p[j] = exp(p[j] - mx) for j < end; returns their sum (a separate serial loop: a reduction
// in the same loop would keep the exps from vectorising, and the JS kernel sums serially too).
OSN_INLINE double exp_shift_sum(double* __restrict p, double mx, int64_t end) {
  for (int64_t j = 0; j < end; ++j) p[j] = exp_f64(p[j] - mx);
  double z = 0;
  for (int64_t j = 0; j < end; ++j) z += p[j];
  return z;
}

// kt[t * nk + j] = k[j * d + t] in double: scores then run along keys, one vector lane per key,
// and each score still sums its d products in the serial order of the JS kernel.
OSN_INLINE void transpose_to_f64(const float* __restrict k, double* __restrict kt, int64_t nk, int64_t d) {
  for (int64_t j = 0; j < nk; ++j)
    for (int64_t t = 0; t < d; ++t) kt[t * nk + j] = k[j * d + t];
}

// Fills p[0..end) with row i's softmax probabilities (0 where masked) and returns end.
// q_row: this row of q; kt: this (b, h)'s keys transposed ([d, nk], double); mrow: this row of the mask.
OSN_INLINE int64_t row_probs(const AttentionDims& dm, const float* __restrict q_row, const double* __restrict kt,
                             const float* __restrict mrow, int64_t i, double* __restrict p) {
  const int64_t end = dm.causal ? std::min<int64_t>(dm.nk, i + 1) : dm.nk;
  const int64_t nk = dm.nk;
  for (int64_t j = 0; j < end; ++j) p[j] = 0;
  for (int64_t t = 0; t < dm.d; ++t) {
    const double qt = q_row[t];
    const double* __restrict kr = kt + t * nk;
    for (int64_t j = 0; j < end; ++j) p[j] += qt * kr[j];
  }
  const double ninf = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < end; ++j) p[j] = mrow[j] == 0.0f ? ninf : p[j] * dm.scale;
  // The row max in 8 lanes (a max is exact, so the order does not change it; NaN scores are
  // skipped as in the JS kernel's `if (s > max)`).
  double lanes[8] = {ninf, ninf, ninf, ninf, ninf, ninf, ninf, ninf};
  int64_t j8 = 0;
  for (; j8 + 8 <= end; j8 += 8)
    for (int l = 0; l < 8; ++l) lanes[l] = p[j8 + l] > lanes[l] ? p[j8 + l] : lanes[l];
  double mx = ninf;
  for (; j8 < end; ++j8) mx = p[j8] > mx ? p[j8] : mx;
  for (int l = 0; l < 8; ++l) mx = lanes[l] > mx ? lanes[l] : mx;
  // exp(-inf) = 0; with every key masked, mx = -inf and exp(-inf - -inf) = NaN: the row is NaN.
  const double z = exp_shift_sum(p, mx, end);
  const double inv = 1.0 / z;
  for (int64_t j = 0; j < end; ++j) p[j] *= inv;
  return end;
}

const float* mask_row(const AttentionDims& dm, const float* mask, int64_t bi, int64_t i) {
  const int64_t mb = dm.mb == 1 ? 0 : bi;
  return mask + (dm.mask_rank == 2 ? mb * dm.nk : (mb * dm.nq + i) * dm.nk);
}

// One (b, h) pair of the forward. kt: [d, nk] scratch; p: [nk]; acc: [dv].
OSN_CLONES void forward_head(const AttentionDims& dm, int64_t bi, const float* q, const float* k, const float* v,
                             const float* mask, float* out, double* kt, double* p, double* acc) {
  const int64_t nq = dm.nq, nk = dm.nk, d = dm.d, dv = dm.dv;
  transpose_to_f64(k, kt, nk, d);
  for (int64_t i = 0; i < nq; ++i) {
    const int64_t end = row_probs(dm, q + i * d, kt, mask_row(dm, mask, bi, i), i, p);
    for (int64_t t = 0; t < dv; ++t) acc[t] = 0;
    for (int64_t j = 0; j < end; ++j) {
      const double pj = p[j];
      if (pj == 0.0) continue;  // masked: skipping keeps 0 * inf out of the sum
      const float* __restrict vr = v + j * dv;
      for (int64_t t = 0; t < dv; ++t) acc[t] += pj * double(vr[t]);
    }
    float* __restrict o = out + i * dv;
    if (end == 0) {
      for (int64_t t = 0; t < dv; ++t) o[t] = std::numeric_limits<float>::quiet_NaN();
    } else {
      for (int64_t t = 0; t < dv; ++t) o[t] = float(acc[t]);
    }
  }
}

// One (b, h) pair of the backward, writing this pair's dq rows and its dk, dv slices.
// kt: [d, nk], vt: [dv, nk], p/ds: [nk], dk_acc: [nk, d], dv_acc: [nk, dv], dq_row: [d] scratch.
OSN_CLONES void backward_head(const AttentionDims& dm, int64_t bi, const float* dy, const float* q, const float* k,
                              const float* v, const float* mask, float* dq, float* dk, float* dvo, double* kt,
                              double* vt, double* p, double* ds, double* dk_acc, double* dv_acc, double* dq_row) {
  const int64_t nq = dm.nq, nk = dm.nk, d = dm.d, dv = dm.dv;
  const double scale = dm.scale;
  transpose_to_f64(k, kt, nk, d);
  transpose_to_f64(v, vt, nk, dv);
  for (int64_t t = 0; t < nk * d; ++t) dk_acc[t] = 0;
  for (int64_t t = 0; t < nk * dv; ++t) dv_acc[t] = 0;
  for (int64_t i = 0; i < nq; ++i) {
    const float* __restrict q_row = q + i * d;
    const float* __restrict dy_row = dy + i * dv;
    const int64_t end = row_probs(dm, q_row, kt, mask_row(dm, mask, bi, i), i, p);
    // ds[j] = dy_row . v[j], along keys as the scores are.
    for (int64_t j = 0; j < end; ++j) ds[j] = 0;
    for (int64_t t = 0; t < dv; ++t) {
      const double g = dy_row[t];
      const double* __restrict vr = vt + t * nk;
      for (int64_t j = 0; j < end; ++j) ds[j] += g * vr[j];
    }
    double row_sum = 0;
    for (int64_t j = 0; j < end; ++j) {
      const double pj = p[j];
      if (pj == 0.0) {
        ds[j] = 0;
        continue;
      }
      double* __restrict dvr = dv_acc + j * dv;
      for (int64_t t = 0; t < dv; ++t) dvr[t] += pj * double(dy_row[t]);
      row_sum += pj * ds[j];
    }
    for (int64_t t = 0; t < d; ++t) dq_row[t] = 0;
    for (int64_t j = 0; j < end; ++j) {
      const double pj = p[j];
      if (pj == 0.0) continue;
      const double g = pj * (ds[j] - row_sum) * scale;
      const float* __restrict kr = k + j * d;
      double* __restrict dkr = dk_acc + j * d;
      for (int64_t t = 0; t < d; ++t) dq_row[t] += g * double(kr[t]);
      for (int64_t t = 0; t < d; ++t) dkr[t] += g * double(q_row[t]);
    }
    float* __restrict dq_out = dq + i * d;
    for (int64_t t = 0; t < d; ++t) dq_out[t] = float(dq_row[t]);
  }
  for (int64_t t = 0; t < nk * d; ++t) dk[t] = float(dk_acc[t]);
  for (int64_t t = 0; t < nk * dv; ++t) dvo[t] = float(dv_acc[t]);
}

}  // namespace

void attention(const AttentionDims& dm, const float* q, const float* k, const float* v, const float* mask, float* out) {
  const int64_t nq = dm.nq, nk = dm.nk, d = dm.d, dv = dm.dv;
  parallel_for(dm.b * dm.h, 1, [&](int64_t begin, int64_t end_bh) {
    std::vector<double> kt(nk * d), p(std::max<int64_t>(nk, 1)), acc(std::max<int64_t>(dv, 1));
    for (int64_t bh = begin; bh < end_bh; ++bh) {
      forward_head(dm, bh / dm.h, q + bh * nq * d, k + bh * nk * d, v + bh * nk * dv, mask, out + bh * nq * dv,
                   kt.data(), p.data(), acc.data());
    }
  });
}

// With P = softmax(S), S = scale q k^T + mask: dV = P^T dO, dP = dO V^T,
// dS = P * (dP - rowsum(P * dP)), dQ = scale dS K, dK = scale dS^T Q.
void attention_grad(const AttentionDims& dm, const float* dy, const float* q, const float* k, const float* v,
                    const float* mask, float* dq, float* dk, float* dvo) {
  const int64_t nq = dm.nq, nk = dm.nk, d = dm.d, dv = dm.dv;
  parallel_for(dm.b * dm.h, 1, [&](int64_t begin, int64_t end_bh) {
    std::vector<double> kt(nk * d), vt(nk * dv), p(std::max<int64_t>(nk, 1)), ds(std::max<int64_t>(nk, 1));
    std::vector<double> dk_acc(nk * d), dv_acc(nk * dv), dq_row(std::max<int64_t>(d, 1));
    for (int64_t bh = begin; bh < end_bh; ++bh) {
      backward_head(dm, bh / dm.h, dy + bh * nq * dv, q + bh * nq * d, k + bh * nk * d, v + bh * nk * dv, mask,
                    dq + bh * nq * d, dk + bh * nk * d, dvo + bh * nk * dv, kt.data(), vt.data(), p.data(), ds.data(),
                    dk_acc.data(), dv_acc.data(), dq_row.data());
    }
  });
}

}  // namespace osn
