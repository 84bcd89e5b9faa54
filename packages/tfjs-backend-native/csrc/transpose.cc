// N-d transpose of 4-byte elements. The TypeScript side merges axes that stay adjacent, so
// the common cases arrive as 2-D or 3-D; the last two output axes are walked in 32x32 tiles
// so both reads and writes stay within a few cache lines.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "threadpool.h"

namespace osn {

void transpose(const uint32_t* x, uint32_t* y, int rank, const int64_t* shape, const int64_t* perm) {
  std::vector<int64_t> in_stride(rank, 1), out_shape(rank), s(rank);
  for (int i = rank - 2; i >= 0; --i) in_stride[i] = in_stride[i + 1] * shape[i + 1];
  for (int i = 0; i < rank; ++i) {
    out_shape[i] = shape[perm[i]];
    s[i] = in_stride[perm[i]];  // input stride of output axis i
  }
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) total *= out_shape[i];
  if (total == 0) return;
  if (rank == 1) {
    std::memcpy(y, x, sizeof(uint32_t) * total);
    return;
  }
  const int64_t rows = out_shape[rank - 2], cols = out_shape[rank - 1];
  const int64_t srow = s[rank - 2], scol = s[rank - 1];
  int64_t outer = 1;
  for (int i = 0; i + 2 < rank; ++i) outer *= out_shape[i];
  constexpr int64_t T = 32;
  const int64_t row_tiles = (rows + T - 1) / T;
  parallel_for(outer * row_tiles, std::max<int64_t>(1, 16384 / std::max<int64_t>(T * cols, 1)), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / row_tiles, r0 = (t % row_tiles) * T, r1 = std::min(rows, r0 + T);
      int64_t base = 0, rem = o;
      for (int i = rank - 3; i >= 0; --i) {
        base += (rem % out_shape[i]) * s[i];
        rem /= out_shape[i];
      }
      uint32_t* dst = y + o * rows * cols;
      if (scol == 1) {
        for (int64_t r = r0; r < r1; ++r) std::memcpy(dst + r * cols, x + base + r * srow, sizeof(uint32_t) * cols);
        continue;
      }
      for (int64_t c0 = 0; c0 < cols; c0 += T) {
        const int64_t c1 = std::min(cols, c0 + T);
        for (int64_t r = r0; r < r1; ++r) {
          const uint32_t* src = x + base + r * srow;
          for (int64_t c = c0; c < c1; ++c) dst[r * cols + c] = src[c * scol];
        }
      }
    }
  });
}

}  // namespace osn
