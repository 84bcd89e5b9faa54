// Rotary embedding on interleaved pairs, forward and backward, with the float32 steps of the
// composite (packages/kernels/src/fused/rope-math.ts): cos/sin of each angle entry rounded to
// float32, then y_2j = x_2j c_2j + (-x_2j+1) s_2j, y_2j+1 = x_2j+1 c_2j+1 + x_2j s_2j+1, each
// product and sum rounded (no FMA: -ffp-contract=off), so results equal the cpu kernel's.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
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

// cos/sin tables of recent angle tensors. A model calls the kernel with the same few angle
// tables again and again (STDiT3: one spatial and one temporal table for q and k of every layer,
// forward and backward), and the tables' double cos/sin cost more than the rotation itself. The
// key is the angles' contents (compared whole, bit for bit), not a tensor's identity, so a
// disposed, reused or overwritten buffer can never return stale tables; a hit returns exactly
// what a fresh computation would.
struct RopeTables {
  std::vector<float> angles, c, s;
};

constexpr size_t kRopeCacheEntries = 8;
constexpr int64_t kRopeCacheMaxSize = int64_t(1) << 20;  // entries per table (4 MiB of angles)

std::shared_ptr<const RopeTables> rope_tables(const float* angles, int64_t size) {
  static std::mutex mu;
  static std::vector<std::shared_ptr<const RopeTables>> cache;  // most recently used first
  const size_t bytes = size_t(size) * sizeof(float);
  if (size > 0 && size <= kRopeCacheMaxSize) {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < cache.size(); ++i) {
      const auto& e = cache[i];
      if (int64_t(e->angles.size()) == size && std::memcmp(e->angles.data(), angles, bytes) == 0) {
        auto hit = e;
        cache.erase(cache.begin() + int64_t(i));
        cache.insert(cache.begin(), hit);
        return hit;
      }
    }
  }
  auto t = std::make_shared<RopeTables>();
  t->angles.assign(angles, angles + size);
  t->c.resize(size);
  t->s.resize(size);
  for (int64_t i = 0; i < size; ++i) {
    t->c[i] = float(std::cos(double(angles[i])));
    t->s[i] = float(std::sin(double(angles[i])));
  }
  if (size > 0 && size <= kRopeCacheMaxSize) {
    std::lock_guard<std::mutex> lock(mu);
    cache.insert(cache.begin(), t);
    if (cache.size() > kRopeCacheEntries) cache.pop_back();
  }
  return t;
}

}  // namespace

void rope(const float* x, const float* angles, float* y, int64_t rows, int64_t n, int64_t d, int64_t r, bool backward) {
  const auto t = rope_tables(angles, n * r);
  const float* c = t->c.data();
  const float* s = t->s.data();
  parallel_for(rows * n, std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)),
               [&](int64_t b, int64_t e) { rope_rows(x, c, s, y, b, e, n, d, r, backward); });
}

}  // namespace osn
