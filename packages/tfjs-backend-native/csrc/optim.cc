// The optimizer step over every parameter in one call each (multi-tensor): AdamW, the EMA update
// and the global gradient norm. Each reproduces the reference composite of @opensora-ts/kernels
// (packages/kernels/src/optim/composites.ts) bit for bit on this backend: the same float32
// operations in the same order (-ffp-contract=off keeps them unfused), constants rounded to
// float32 as tfjs rounds a scalar operand, and the norm's per-tensor sums in reduce.cc's order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {
namespace {

constexpr int64_t kBlock = 512;     // elements computed into stack buffers, then stored (in place or not)
constexpr int64_t kTask = 1 << 15;  // elements per thread task

struct AdamWConsts {
  float b1, omb1, b2, omb2, decay, sqrt_bc2, eps, step_size, grad_scale;
  bool has_decay, has_scale;
};

// n <= kBlock. The results go to stack buffers first: the destinations may be the sources
// (an in-place update), and stack buffers cannot alias anything, so the loop vectorises.
OSN_CLONES void adamw_block(const float* g, const float* p, const float* m, const float* v, float* po, float* mo,
                            float* vo, int64_t n, const AdamWConsts& c) {
  float np[kBlock], nm[kBlock], nv[kBlock];
  const float b1 = c.b1, omb1 = c.omb1, b2 = c.b2, omb2 = c.omb2, decay = c.decay, sb = c.sqrt_bc2, eps = c.eps,
              ss = c.step_size, gs = c.grad_scale;
  const bool has_decay = c.has_decay, has_scale = c.has_scale;
  for (int64_t i = 0; i < n; ++i) {
    // clipping: g * coef; m1 = m*b1 + g*(1-b1); v1 = v*b2 + (g*g)*(1-b2)
    const float gi = has_scale ? g[i] * gs : g[i];
    const float m1 = m[i] * b1 + gi * omb1;
    const float v1 = v[i] * b2 + (gi * gi) * omb2;
    // p1 = p*(1 - lr*wd) - (m1 / (sqrt(v1)/sqrt(bc2) + eps)) * (lr/bc1)
    const float pd = has_decay ? p[i] * decay : p[i];
    const float denom = std::sqrt(v1) / sb + eps;
    np[i] = pd - (m1 / denom) * ss;
    nm[i] = m1;
    nv[i] = v1;
  }
  std::memcpy(po, np, n * 4);
  std::memcpy(mo, nm, n * 4);
  std::memcpy(vo, nv, n * 4);
}

OSN_CLONES void ema_block(const float* e, const float* p, float* eo, int64_t n, float d, float omd) {
  float ne[kBlock];
  for (int64_t i = 0; i < n; ++i) ne[i] = e[i] * d + p[i] * omd;
  std::memcpy(eo, ne, n * 4);
}

// reduce.cc's row_sum over the float32 squares: eight double lanes, the tail first, then the lanes.
OSN_CLONES double sum_squares(const float* __restrict x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) {
      const float s = x[i + l] * x[i + l];
      acc[l] += s;
    }
  double s = 0;
  for (; i < n; ++i) {
    const float q = x[i] * x[i];
    s += q;
  }
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

// Splits the concatenation of tensors (sizes) into tasks of about kTask elements and calls
// fn(tensor, begin, end) for each piece, in parallel.
template <typename F>
void for_each_piece(const std::vector<int64_t>& sizes, F fn) {
  struct Piece {
    int64_t t, b, e;
  };
  std::vector<Piece> pieces;
  for (int64_t t = 0; t < int64_t(sizes.size()); ++t)
    for (int64_t b = 0; b < sizes[t]; b += kTask) pieces.push_back({t, b, std::min(sizes[t], b + kTask)});
  // Below two tasks' worth of elements in all, threads cost more than they save: run inline.
  int64_t total = 0;
  for (auto s : sizes) total += s;
  const int64_t grain = total < 2 * kTask ? std::max<int64_t>(1, int64_t(pieces.size())) : 1;
  parallel_for(int64_t(pieces.size()), grain, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) fn(pieces[k].t, pieces[k].b, pieces[k].e);
  });
}

}  // namespace

void adamw_multi(const OptimTensors& t, const double* h) {
  // h: beta1, 1-beta1, beta2, 1-beta2, decay (1 - lr*wd), hasDecay, sqrt(bc2), eps, lr/bc1, gradScale, hasScale
  const AdamWConsts c{float(h[0]), float(h[1]), float(h[2]), float(h[3]), float(h[4]), float(h[6]),
                      float(h[7]), float(h[8]), float(h[9]), h[5] != 0, h[10] != 0};
  for_each_piece(t.sizes, [&](int64_t k, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i += kBlock) {
      const int64_t n = std::min(kBlock, e - i);
      adamw_block(t.in[1][k] + i, t.in[0][k] + i, t.in[2][k] + i, t.in[3][k] + i, t.out[0][k] + i, t.out[1][k] + i,
                  t.out[2][k] + i, n, c);
    }
  });
}

void ema_multi(const OptimTensors& t, double decay, double one_minus_decay) {
  const float d = float(decay), omd = float(one_minus_decay);
  for_each_piece(t.sizes, [&](int64_t k, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i += kBlock) {
      const int64_t n = std::min(kBlock, e - i);
      ema_block(t.in[0][k] + i, t.in[1][k] + i, t.out[0][k] + i, n, d, omd);
    }
  });
}

float global_norm(const std::vector<const float*>& xs, const std::vector<int64_t>& sizes) {
  // One tensor per task: each sum keeps reduce.cc's order, so it equals sum(square(x)) there.
  std::vector<float> sums(xs.size());
  parallel_for(int64_t(xs.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) sums[k] = float(sum_squares(xs[k], sizes[k]));
  });
  // addN: float32 accumulation in list order; then sqrt.
  float total = 0.0f;
  for (float s : sums) total += s;
  return std::sqrt(total);
}

}  // namespace osn
