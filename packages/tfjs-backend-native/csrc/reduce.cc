// Reductions over one contiguous block of axes ([outer, mid, inner] -> [outer, inner]) and the
// last-axis softmax. Sums accumulate in double, as tfjs-cpu's JavaScript numbers do, so the
// two backends agree closely even over millions of elements.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {
namespace {

// Eight independent lanes let the compiler vectorise a reduction without -ffast-math.
OSN_CLONES double row_sum(const float* __restrict x, int64_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  double s = 0;
  for (; i < n; ++i) s += x[i];
  for (int l = 0; l < 8; ++l) s += acc[l];
  return s;
}

OSN_CLONES float row_extreme(const float* __restrict x, int64_t n, bool is_max) {
  float r = x[0];
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    nan |= v != v;
    r = is_max ? (v > r ? v : r) : (v < r ? v : r);
  }
  return nan ? std::numeric_limits<float>::quiet_NaN() : r;
}

OSN_CLONES void cols_sum(const float* __restrict x, double* __restrict acc, int64_t mid, int64_t inner, int64_t stride) {
  for (int64_t m = 0; m < mid; ++m) {
    const float* r = x + m * stride;
    for (int64_t j = 0; j < inner; ++j) acc[j] += r[j];
  }
}

OSN_CLONES void cols_extreme(const float* __restrict x, float* __restrict out, int64_t mid, int64_t inner,
                             int64_t stride, bool is_max) {
  for (int64_t j = 0; j < inner; ++j) out[j] = x[j];
  for (int64_t m = 1; m < mid; ++m) {
    const float* r = x + m * stride;
    for (int64_t j = 0; j < inner; ++j) {
      const float v = r[j], o = out[j];
      out[j] = (v != v || o != o) ? v + o : (is_max ? (v > o ? v : o) : (v < o ? v : o));
    }
  }
}

// The max with vector types (GCC left it one scalar max per element); the exps with exp_nonpos
// (x - max <= 0), summed in sixteen float lanes.
OSN_CLONES void softmax_row(const float* __restrict x, float* __restrict y, int64_t n) {
  // The max is exact, so its lane count is free; only a NaN in x[0] makes it NaN, as in the
  // scalar loop this replaced.
  float m = x[0];
  int64_t i = 0;
  if (n >= 16) {
    vf16 a = vf16{} + x[0], b = a;
    for (; i + 32 <= n; i += 32) {
      const vf16 u = load_v<vf16>(x + i), v = load_v<vf16>(x + i + 16);
      a = u > a ? u : a;
      b = v > b ? v : b;
    }
    for (; i + 16 <= n; i += 16) {
      const vf16 u = load_v<vf16>(x + i);
      a = u > a ? u : a;
    }
    a = b > a ? b : a;
    for (int l = 0; l < 16; ++l) m = a[l] > m ? a[l] : m;
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  float acc[16] = {};
  i = 0;
  for (; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) {
      const float e = exp_nonpos(x[i + l] - m);
      y[i + l] = e;
      acc[l] += e;
    }
  float s = 0;
  for (; i < n; ++i) {
    const float e = exp_nonpos(x[i] - m);
    y[i] = e;
    s += e;
  }
  for (int l = 0; l < 16; ++l) s += acc[l];
  const float inv = 1.0f / s;
  i = 0;
  for (; i + 16 <= n; i += 16) store_v(y + i, load_v<vf16>(y + i) * inv);
  for (; i < n; ++i) y[i] *= inv;
}

}  // namespace

void reduce(Reduce op, const float* x, float* out, int64_t outer, int64_t mid, int64_t inner) {
  const bool is_sum = op == Reduce::Sum || op == Reduce::Mean;
  const double scale = op == Reduce::Mean ? 1.0 / double(mid) : 1.0;
  if (inner == 1) {
    parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(mid, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const float* r = x + o * mid;
        out[o] = is_sum ? float(row_sum(r, mid) * scale) : row_extreme(r, mid, op == Reduce::Max);
      }
    });
    return;
  }
  // Column reductions (e.g. a bias gradient summing over rows): split the columns over
  // threads; each thread walks all rows of its columns, reading contiguous row slices.
  const int64_t piece = 256;
  const int64_t pieces = (inner + piece - 1) / piece;
  parallel_for(outer * pieces, std::max<int64_t>(1, 16384 / std::max<int64_t>(mid * piece, 1)),
               [&](int64_t b, int64_t e) {
                 std::vector<double> acc(piece);
                 for (int64_t t = b; t < e; ++t) {
                   const int64_t o = t / pieces, j0 = (t % pieces) * piece, len = std::min(piece, inner - j0);
                   const float* src = x + o * mid * inner + j0;
                   float* dst = out + o * inner + j0;
                   if (is_sum) {
                     std::fill(acc.begin(), acc.end(), 0.0);
                     cols_sum(src, acc.data(), mid, len, inner);
                     for (int64_t j = 0; j < len; ++j) dst[j] = float(acc[j] * scale);
                   } else {
                     cols_extreme(src, dst, mid, len, inner, op == Reduce::Max);
                   }
                 }
               });
}

void softmax_lastaxis(const float* x, float* y, int64_t rows, int64_t len) {
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(len, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) softmax_row(x + r * len, y + r * len, len);
  });
}

}  // namespace osn
