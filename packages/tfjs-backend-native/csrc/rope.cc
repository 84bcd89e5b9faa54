// Rotary embedding on interleaved pairs, forward and backward, with the float32 steps of the
// composite (packages/kernels/src/fused/rope-math.ts): cos/sin of each angle entry rounded to
// float32, then y_2j = x_2j c_2j + (-x_2j+1) s_2j, y_2j+1 = x_2j+1 c_2j+1 + x_2j s_2j+1, each
// product and sum rounded (no FMA: -ffp-contract=off), so results equal the cpu kernel's.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {
namespace {

OSN_CLONES void rope_rows(const float* x, const float* c, const float* s, float* y, int64_t i0, int64_t i1, int64_t n,
                          int64_t d, int64_t r, bool backward) {
  for (int64_t it = i0; it < i1; ++it) {
    const float* __restrict xr = x + it * d;
    float* __restrict yr = y + it * d;
    const float* __restrict cr = c + (it % n) * r;
    const float* __restrict sr = s + (it % n) * r;
    if (!backward) {
      for (int64_t j = 0; j < r; j += 2) {
        const float x0 = xr[j], x1 = xr[j + 1];
        yr[j] = x0 * cr[j] + (-x1) * sr[j];
        yr[j + 1] = x1 * cr[j + 1] + x0 * sr[j + 1];
      }
    } else {
      for (int64_t j = 0; j < r; j += 2) {
        const float g0 = xr[j], g1 = xr[j + 1];
        yr[j] = g0 * cr[j] + g1 * sr[j + 1];
        yr[j + 1] = g1 * cr[j + 1] - g0 * sr[j];
      }
    }
    for (int64_t j = r; j < d; ++j) yr[j] = xr[j];
  }
}

}  // namespace

void rope(const float* x, const float* angles, float* y, int64_t rows, int64_t n, int64_t d, int64_t r, bool backward) {
  std::vector<float> c(n * r), s(n * r);
  for (int64_t i = 0; i < n * r; ++i) {
    c[i] = float(std::cos(double(angles[i])));
    s[i] = float(std::sin(double(angles[i])));
  }
  parallel_for(rows * n, std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)),
               [&](int64_t b, int64_t e) { rope_rows(x, c.data(), s.data(), y, b, e, n, d, r, backward); });
}

}  // namespace osn
