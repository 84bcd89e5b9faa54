// The fused normalisations and GELU, forward and backward, with the maths of the reference
// composites in packages/kernels/src/fused/composites.ts. The backward passes recompute the
// statistics from x (the kernels receive only dy, x, gamma) and use the closed forms
//   LayerNorm: dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma
//   RMSNorm:   dx = rstd * (g - x * rstd^2 * mean(g * x))
// with the means over the normalised axes. Statistics accumulate in double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {

// Declared in kernels.h: LayerNorm here and the adaLN kernels (modulate.cc) share one summation.
// 32 double lanes, four independent vectors of eight (one vector kept each pass at the latency of an
// add per eight elements). Plain arrays: GCC turns them into one float->double conversion per
// vector, where its lowering of __builtin_convertvector (vf8 -> vd8) splits each in two.
OSN_CLONES Moments centered_moments(const float* __restrict x, int64_t c, float eps) {
  double s[32] = {};
  int64_t i = 0;
  for (; i + 32 <= c; i += 32)
    for (int l = 0; l < 32; ++l) s[l] += x[i + l];
  for (; i + 8 <= c; i += 8)
    for (int l = 0; l < 8; ++l) s[l] += x[i + l];
  double sum = 0;
  for (; i < c; ++i) sum += x[i];
  for (int l = 0; l < 8; ++l) sum += (s[l] + s[8 + l]) + (s[16 + l] + s[24 + l]);
  const double mean = sum / double(c);
  double q[32] = {};
  i = 0;
  for (; i + 32 <= c; i += 32)
    for (int l = 0; l < 32; ++l) {
      const double d = x[i + l] - mean;
      q[l] += d * d;
    }
  for (; i + 8 <= c; i += 8)
    for (int l = 0; l < 8; ++l) {
      const double d = x[i + l] - mean;
      q[l] += d * d;
    }
  double sq = 0;
  for (; i < c; ++i) sq += (x[i] - mean) * (x[i] - mean);
  for (int l = 0; l < 8; ++l) sq += (q[l] + q[8 + l]) + (q[16 + l] + q[24 + l]);
  return {mean, 1.0 / std::sqrt(float(sq / double(c)) + eps)};
}

namespace {

constexpr double kGeluC = 0.7978845608028654;  // sqrt(2 / pi)
constexpr float kGeluK = 0.044715f;

// Rows are split into at most this many blocks per thread; each block owns a partial sum for
// dgamma/dbeta, so there are no races and the result does not depend on scheduling.
int64_t blocks_for(int64_t rows) { return std::max<int64_t>(1, std::min<int64_t>(rows, 4 * threads())); }

template <typename F>
void over_row_blocks(int64_t rows, int64_t nb, F f) {
  parallel_for(nb, 1, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) f(blk, rows * blk / nb, rows * (blk + 1) / nb);
  });
}


OSN_CLONES double mean_square(const float* __restrict x, int64_t c) {
  double q[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= c; i += 8)
    for (int l = 0; l < 8; ++l) q[l] += double(x[i + l]) * x[i + l];
  double sq = 0;
  for (; i < c; ++i) sq += double(x[i]) * x[i];
  for (int l = 0; l < 8; ++l) sq += q[l];
  return sq / double(c);
}

OSN_CLONES void layer_norm_rows(const float* x, const float* gamma, const float* beta, float* y, int64_t r0, int64_t r1,
                                int64_t c, float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    float* __restrict yr = y + r * c;
    const Moments m = centered_moments(xr, c, eps);
    const float mean = float(m.mean), rstd = float(m.rstd);
    if (gamma && beta) {
      for (int64_t j = 0; j < c; ++j) yr[j] = (xr[j] - mean) * rstd * gamma[j] + beta[j];
    } else if (gamma) {
      for (int64_t j = 0; j < c; ++j) yr[j] = (xr[j] - mean) * rstd * gamma[j];
    } else if (beta) {
      for (int64_t j = 0; j < c; ++j) yr[j] = (xr[j] - mean) * rstd + beta[j];
    } else {
      for (int64_t j = 0; j < c; ++j) yr[j] = (xr[j] - mean) * rstd;
    }
  }
}

// One block of rows of the LayerNorm backward; dg/db are this block's partial sums (or null).
OSN_CLONES void layer_norm_grad_rows(const float* dy, const float* x, const float* gamma, float* dx, double* dg,
                                     double* db, int64_t r0, int64_t r1, int64_t c, float eps) {
  std::vector<float> g(c);
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    const float* __restrict dyr = dy + r * c;
    float* __restrict dxr = dx + r * c;
    const Moments m = centered_moments(xr, c, eps);
    const float mean = float(m.mean), rstd = float(m.rstd);
    // sum(g) and sum(g * xhat) in eight double lanes (one serial chain each kept this loop at a
    // sum per 4 cycles, scalar).
    vd8 sg8{}, sgx8{};
    int64_t j0 = 0;
    for (; j0 + 8 <= c; j0 += 8) {
      const vf8 dv = load_v<vf8>(dyr + j0);
      const vf8 gv = gamma ? dv * load_v<vf8>(gamma + j0) : dv;
      store_v(g.data() + j0, gv);
      const vd8 gd = widen(gv);
      sg8 += gd;
      sgx8 += gd * widen((load_v<vf8>(xr + j0) - mean) * rstd);
    }
    double sg = 0, sgx = 0;
    for (; j0 < c; ++j0) {
      const float gj = gamma ? dyr[j0] * gamma[j0] : dyr[j0];
      g[j0] = gj;
      sg += gj;
      sgx += double(gj) * ((xr[j0] - mean) * rstd);
    }
    for (int l = 0; l < 8; ++l) sg += sg8[l], sgx += sgx8[l];
    const float mg = float(sg / double(c)), mgx = float(sgx / double(c));
    for (int64_t j = 0; j < c; ++j) {
      const float xhat = (xr[j] - mean) * rstd;
      dxr[j] = rstd * (g[j] - mg - xhat * mgx);
    }
    if (dg)
      for (int64_t j = 0; j < c; ++j) dg[j] += double(dyr[j]) * ((xr[j] - mean) * rstd);
    if (db)
      for (int64_t j = 0; j < c; ++j) db[j] += dyr[j];
  }
}

OSN_CLONES void rms_norm_grad_rows(const float* dy, const float* x, const float* gamma, float* dx, double* dg,
                                   int64_t r0, int64_t r1, int64_t c, float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    const float* __restrict dyr = dy + r * c;
    float* __restrict dxr = dx + r * c;
    const float rstd = 1.0f / std::sqrt(float(mean_square(xr, c)) + eps);
    // sum(g * x) in eight double lanes (one serial chain kept the loop at a sum per 4 cycles).
    double s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j0 = 0;
    for (; j0 + 8 <= c; j0 += 8)
      for (int l = 0; l < 8; ++l) s8[l] += double(gamma ? dyr[j0 + l] * gamma[j0 + l] : dyr[j0 + l]) * xr[j0 + l];
    double sgx = 0;
    for (; j0 < c; ++j0) sgx += double(gamma ? dyr[j0] * gamma[j0] : dyr[j0]) * xr[j0];
    for (int l = 0; l < 8; ++l) sgx += s8[l];
    const float k = rstd * rstd * float(sgx / double(c));
    for (int64_t j = 0; j < c; ++j) {
      const float gj = gamma ? dyr[j] * gamma[j] : dyr[j];
      dxr[j] = rstd * (gj - xr[j] * k);
    }
    if (dg)
      for (int64_t j = 0; j < c; ++j) dg[j] += double(dyr[j]) * (xr[j] * rstd);
  }
}

// Sums partial buffers [nb][c] into out[c] (as float).
void sum_partials(const std::vector<double>& part, int64_t nb, int64_t c, float* out) {
  for (int64_t j = 0; j < c; ++j) {
    double s = 0;
    for (int64_t b = 0; b < nb; ++b) s += part[b * c + j];
    out[j] = float(s);
  }
}

// Per-channel sums over the spatial rows of one sample: k accumulators per channel, filled by f.
template <typename F>
std::vector<double> channel_sums(int64_t s, int64_t c, int k, F f) {
  const int64_t nb = blocks_for(s);
  std::vector<double> part(nb * c * k, 0.0);
  over_row_blocks(s, nb, [&](int64_t blk, int64_t r0, int64_t r1) { f(part.data() + blk * c * k, r0, r1); });
  std::vector<double> out(c * k, 0.0);
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t j = 0; j < c * k; ++j) out[j] += part[b * c * k + j];
  return out;
}

OSN_CLONES void acc_x(const float* __restrict x, double* __restrict acc, int64_t r0, int64_t r1, int64_t c) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * c;
    for (int64_t j = 0; j < c; ++j) {
      acc[j] += xr[j];
      acc[c + j] += double(xr[j]) * xr[j];
    }
  }
}

OSN_CLONES void acc_x_dy(const float* __restrict x, const float* __restrict dy, double* __restrict acc, int64_t r0,
                         int64_t r1, int64_t c) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * c;
    const float* dr = dy + r * c;
    for (int64_t j = 0; j < c; ++j) {
      acc[j] += xr[j];
      acc[c + j] += double(xr[j]) * xr[j];
      acc[2 * c + j] += dr[j];
      acc[3 * c + j] += double(dr[j]) * xr[j];
    }
  }
}

// y = (x - mu[c]) * a[c] + b[c], and dx = dy * a[c] + (x - mu[c]) * b[c] + k[c], over rows of c.
// Centering first keeps precision when the mean is large against the spread.
OSN_CLONES void affine_rows(const float* __restrict x, const float* __restrict mu, const float* __restrict a,
                            const float* __restrict b, float* __restrict y, int64_t r0, int64_t r1, int64_t c) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t j = 0; j < c; ++j) y[r * c + j] = (x[r * c + j] - mu[j]) * a[j] + b[j];
}
// The same affine, then SiLU as the composite computes it on this backend: t * sigmoid(t), with
// the Sigmoid kernel's fast_sigmoid and a float multiply (so the result is bit for bit the two ops').
OSN_CLONES void affine_silu_rows(const float* __restrict x, const float* __restrict mu, const float* __restrict a,
                                 const float* __restrict b, float* __restrict y, int64_t r0, int64_t r1, int64_t c) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t j = 0; j < c; ++j) {
      const float t = (x[r * c + j] - mu[j]) * a[j] + b[j];
      y[r * c + j] = t * fast_sigmoid(t);
    }
}
// dx = r[c] * ((dy * gm[c] - m1[c]) - (x - mu[c]) * q[c]): the grouped LayerNorm backward with
// per-channel constants, in the composite's order so degenerate groups cancel exactly.
OSN_CLONES void group_grad_rows(const float* __restrict dy, const float* __restrict x, const float* __restrict gm,
                                const float* __restrict m1, const float* __restrict mu, const float* __restrict q,
                                const float* __restrict r, float* __restrict dx, int64_t r0, int64_t r1, int64_t c) {
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = 0; j < c; ++j) {
      const int64_t e = i * c + j;
      dx[e] = r[j] * ((dy[e] * gm[j] - m1[j]) - (x[e] - mu[j]) * q[j]);
    }
}

struct GroupStats {
  std::vector<double> mean, rstd;  // per group
};

GroupStats group_stats(const std::vector<double>& acc, int64_t s, int64_t c, int64_t groups, float eps) {
  const int64_t cg = c / groups;
  const double count = double(s) * double(cg);
  GroupStats st{std::vector<double>(groups), std::vector<double>(groups)};
  for (int64_t gi = 0; gi < groups; ++gi) {
    double sx = 0, sxx = 0;
    for (int64_t j = gi * cg; j < (gi + 1) * cg; ++j) sx += acc[j], sxx += acc[c + j];
    const double mean = sx / count;
    const double var = std::max(0.0, sxx / count - mean * mean);
    st.mean[gi] = mean;
    st.rstd[gi] = 1.0 / std::sqrt(float(var) + eps);
  }
  return st;
}

OSN_CLONES void gelu_block(const float* __restrict x, float* __restrict y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    // 0.5 x (1 + tanh(u)) == x * sigmoid(2u): no cancellation for negative x.
    const float v = x[i];
    const float u = float(kGeluC) * (v + kGeluK * v * v * v);
    const float a = -2.0f * u;
    const float e = fast_exp(a > 80.0f ? 80.0f : a);
    y[i] = v / (1.0f + e);
  }
}

OSN_CLONES void gelu_grad_block(const float* __restrict dy, const float* __restrict x, float* __restrict dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float u = float(kGeluC) * (v + kGeluK * v * v * v);
    const float a = -2.0f * u;
    const float e = fast_exp(a > 80.0f ? 80.0f : a);
    const float s = 1.0f / (1.0f + e);  // (1 + tanh u) / 2
    const float one_minus_s = e * s;
    const float du = float(kGeluC) * (1.0f + 3.0f * kGeluK * v * v);
    dx[i] = dy[i] * (s + 2.0f * v * s * one_minus_s * du);
  }
}

}  // namespace

void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t c, float eps) {
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(c, 1)),
               [&](int64_t b, int64_t e) { layer_norm_rows(x, gamma, beta, y, b, e, c, eps); });
}

void layer_norm_grad(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                     int64_t rows, int64_t c, float eps) {
  const int64_t nb = blocks_for(rows);
  std::vector<double> pg(dgamma ? nb * c : 0, 0.0), pb(dbeta ? nb * c : 0, 0.0);
  over_row_blocks(rows, nb, [&](int64_t blk, int64_t r0, int64_t r1) {
    layer_norm_grad_rows(dy, x, gamma, dx, dgamma ? pg.data() + blk * c : nullptr,
                         dbeta ? pb.data() + blk * c : nullptr, r0, r1, c, eps);
  });
  if (dgamma) sum_partials(pg, nb, c, dgamma);
  if (dbeta) sum_partials(pb, nb, c, dbeta);
}

void rms_norm(const float* x, const float* gamma, float* y, int64_t rows, int64_t c, float eps) {
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(c, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * c;
      float* yr = y + r * c;
      const float rstd = 1.0f / std::sqrt(float(mean_square(xr, c)) + eps);
      if (gamma)
        for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] * rstd * gamma[j];
      else
        for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] * rstd;
    }
  });
}

void rms_norm_grad(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, int64_t rows,
                   int64_t c, float eps) {
  const int64_t nb = blocks_for(rows);
  std::vector<double> pg(dgamma ? nb * c : 0, 0.0);
  over_row_blocks(rows, nb, [&](int64_t blk, int64_t r0, int64_t r1) {
    rms_norm_grad_rows(dy, x, gamma, dx, dgamma ? pg.data() + blk * c : nullptr, r0, r1, c, eps);
  });
  if (dgamma) sum_partials(pg, nb, c, dgamma);
}

namespace {
void group_norm_impl(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t s, int64_t c,
                     int64_t groups, float eps, bool silu) {
  const int64_t cg = c / groups;
  std::vector<float> mu(c), a(c), b(c);
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * s * c;
    float* yi = y + i * s * c;
    const auto acc = channel_sums(s, c, 2, [&](double* p, int64_t r0, int64_t r1) { acc_x(xi, p, r0, r1, c); });
    const GroupStats st = group_stats(acc, s, c, groups, eps);
    // Per-channel scale and shift: y = (x - mean) * (rstd * gamma) + beta.
    for (int64_t j = 0; j < c; ++j) {
      const double rstd = st.rstd[j / cg], mean = st.mean[j / cg];
      const double scale = rstd * (gamma ? gamma[j] : 1.0f);
      mu[j] = float(mean);
      a[j] = float(scale);
      b[j] = beta ? beta[j] : 0.0f;
    }
    parallel_for(s, std::max<int64_t>(1, 16384 / c), [&](int64_t r0, int64_t r1) {
      if (silu)
        affine_silu_rows(xi, mu.data(), a.data(), b.data(), yi, r0, r1, c);
      else
        affine_rows(xi, mu.data(), a.data(), b.data(), yi, r0, r1, c);
    });
  }
}
}  // namespace

void group_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t s, int64_t c,
                int64_t groups, float eps) {
  group_norm_impl(x, gamma, beta, y, n, s, c, groups, eps, false);
}

void group_norm_silu(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t s, int64_t c,
                     int64_t groups, float eps) {
  group_norm_impl(x, gamma, beta, y, n, s, c, groups, eps, true);
}

void group_norm_grad(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                     int64_t n, int64_t s, int64_t c, int64_t groups, float eps) {
  const int64_t cg = c / groups;
  const double count = double(s) * double(cg);
  std::vector<double> dg(c, 0.0), db(c, 0.0);
  std::vector<float> gm(c), m1c(c), mu(c), q(c), r(c);
  for (int64_t i = 0; i < n; ++i) {
    const float* xi = x + i * s * c;
    const float* dyi = dy + i * s * c;
    const auto acc =
        channel_sums(s, c, 4, [&](double* p, int64_t r0, int64_t r1) { acc_x_dy(xi, dyi, p, r0, r1, c); });
    const GroupStats st = group_stats(acc, s, c, groups, eps);
    const double* sdy = acc.data() + 2 * c;   // sum of dy per channel
    const double* sdyx = acc.data() + 3 * c;  // sum of dy * x per channel
    for (int64_t gi = 0; gi < groups; ++gi) {
      const double mean = st.mean[gi], rstd = st.rstd[gi];
      double m1 = 0, m2 = 0;  // mean(g), mean(g * xhat) over the group
      for (int64_t j = gi * cg; j < (gi + 1) * cg; ++j) {
        const double gj = gamma ? gamma[j] : 1.0;
        const double dyxhat = rstd * (sdyx[j] - mean * sdy[j]);
        m1 += gj * sdy[j];
        m2 += gj * dyxhat;
        dg[j] += dyxhat;
        db[j] += sdy[j];
      }
      m1 /= count;
      m2 /= count;
      // dx = rstd * (gamma dy - m1 - (x - mean) rstd m2)
      for (int64_t j = gi * cg; j < (gi + 1) * cg; ++j) {
        gm[j] = gamma ? gamma[j] : 1.0f;
        m1c[j] = float(m1);
        mu[j] = float(mean);
        q[j] = float(rstd * m2);
        r[j] = float(rstd);
      }
    }
    parallel_for(s, std::max<int64_t>(1, 16384 / c), [&](int64_t r0, int64_t r1) {
      group_grad_rows(dyi, xi, gm.data(), m1c.data(), mu.data(), q.data(), r.data(), dx + i * s * c, r0, r1, c);
    });
  }
  if (dgamma)
    for (int64_t j = 0; j < c; ++j) dgamma[j] = float(dg[j]);
  if (dbeta)
    for (int64_t j = 0; j < c; ++j) dbeta[j] = float(db[j]);
}

void gelu_tanh(const float* x, float* y, int64_t n) {
  parallel_for(n, 16384, [&](int64_t b, int64_t e) { gelu_block(x + b, y + b, e - b); });
}

void gelu_tanh_grad(const float* dy, const float* x, float* dx, int64_t n) {
  parallel_for(n, 16384, [&](int64_t b, int64_t e) { gelu_grad_block(dy + b, x + b, dx + b, e - b); });
}

}  // namespace osn
