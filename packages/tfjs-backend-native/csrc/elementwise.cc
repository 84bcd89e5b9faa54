// Unary math and broadcasting binary ops. tfjs-cpu spends ~100 ns per element on its generic
// broadcast index arithmetic; here the innermost axis is a plain (vectorised) loop and only
// the outer axes pay for index arithmetic, once per row.
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {
namespace {

constexpr int64_t kGrain = 16384;  // elements per task: below this, threading costs more than it gains

template <typename F>
OSN_INLINE void map(const float* __restrict x, float* __restrict y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

OSN_CLONES void unary_block(Unary op, const float* __restrict x, float* __restrict y, int64_t n) {
  switch (op) {
    case Unary::Exp: map(x, y, n, [](float v) { return fast_exp(v); }); break;
    case Unary::Log: for (int64_t i = 0; i < n; ++i) y[i] = std::log(x[i]); break;
    case Unary::Sigmoid: map(x, y, n, [](float v) { return fast_sigmoid(v); }); break;
    case Unary::Tanh: map(x, y, n, [](float v) { return fast_tanh(v); }); break;
    case Unary::Rsqrt: map(x, y, n, [](float v) { return 1.0f / std::sqrt(v); }); break;
    case Unary::Sqrt: map(x, y, n, [](float v) { return std::sqrt(v); }); break;
    case Unary::Square: map(x, y, n, [](float v) { return v * v; }); break;
    case Unary::Neg: map(x, y, n, [](float v) { return -v; }); break;
    case Unary::Abs: map(x, y, n, [](float v) { return std::fabs(v); }); break;
    case Unary::Relu: map(x, y, n, [](float v) { return v > 0.0f ? v : 0.0f; }); break;
    case Unary::Relu6: map(x, y, n, [](float v) { return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v); }); break;
    case Unary::Elu: map(x, y, n, [](float v) { return v >= 0.0f ? v : fast_exp(v) - 1.0f; }); break;
    case Unary::Reciprocal: map(x, y, n, [](float v) { return 1.0f / v; }); break;
    case Unary::Sin: for (int64_t i = 0; i < n; ++i) y[i] = std::sin(x[i]); break;
    case Unary::Cos: for (int64_t i = 0; i < n; ++i) y[i] = std::cos(x[i]); break;
  }
}

template <typename F>
OSN_INLINE void row(const float* __restrict a, int64_t sa, const float* __restrict b, int64_t sb, float* __restrict o,
                    int64_t n, F f) {
  // The three stride patterns broadcasting produces get their own loops so they vectorise.
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; ++i) o[i] = f(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = f(a[i * sa], b[i * sb]);
  }
}

OSN_CLONES void binary_row(Binary op, const float* a, int64_t sa, const float* b, int64_t sb, float* o, int64_t n) {
  switch (op) {
    case Binary::Add: row(a, sa, b, sb, o, n, [](float u, float v) { return u + v; }); break;
    case Binary::Sub: row(a, sa, b, sb, o, n, [](float u, float v) { return u - v; }); break;
    case Binary::Mul: row(a, sa, b, sb, o, n, [](float u, float v) { return u * v; }); break;
    case Binary::Div: row(a, sa, b, sb, o, n, [](float u, float v) { return u / v; }); break;
    // NaN propagates as in tfjs (Math.max/min return NaN when either side is NaN).
    case Binary::Max:
      row(a, sa, b, sb, o, n, [](float u, float v) { return (u != u || v != v) ? u + v : (u > v ? u : v); });
      break;
    case Binary::Min:
      row(a, sa, b, sb, o, n, [](float u, float v) { return (u != u || v != v) ? u + v : (u < v ? u : v); });
      break;
    case Binary::SquaredDiff: row(a, sa, b, sb, o, n, [](float u, float v) { return (u - v) * (u - v); }); break;
  }
}

}  // namespace

void unary(Unary op, const float* x, float* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { unary_block(op, x + b, y + b, e - b); });
}

void binary(Binary op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* as,
            const int64_t* bs) {
  const int64_t inner = rank > 0 ? shape[rank - 1] : 1;
  const int64_t sa = rank > 0 ? as[rank - 1] : 0, sb = rank > 0 ? bs[rank - 1] : 0;
  int64_t rows = 1;
  for (int i = 0; i + 1 < rank; ++i) rows *= shape[i];
  // Split long rows too, so a same-shape op (one row after collapsing) still uses every thread.
  const int64_t pieces = inner >= 2 * kGrain ? (inner + kGrain - 1) / kGrain : 1;
  const int64_t piece = (inner + pieces - 1) / pieces;
  const int64_t row_grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1));
  parallel_for(rows * pieces, pieces > 1 ? 1 : row_grain, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t r = t / pieces, p = t % pieces;
      int64_t oa = 0, ob = 0, rem = r;
      for (int i = rank - 2; i >= 0; --i) {
        const int64_t idx = rem % shape[i];
        rem /= shape[i];
        oa += idx * as[i];
        ob += idx * bs[i];
      }
      const int64_t s = p * piece, len = std::min(inner, s + piece) - s;
      if (len > 0) binary_row(op, a + oa + s * sa, sa, b + ob + s * sb, sb, out + r * inner + s, len);
    }
  });
}

}  // namespace osn
