// Data-movement kernels of 4-byte elements (Slice, StridedSlice, SplitV, Concat, PadV2, Tile,
// GatherV2, Select). Each is a set of contiguous runs copied with memcpy, threaded over output rows;
// elements are moved bit for bit, so results equal tfjs-cpu's exactly.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"
#include "threadpool.h"

namespace osn {
namespace {

// Rows of at least this many elements per task keep thread hand-off cheap next to the copy.
constexpr int64_t kGrainElems = 16384;

int64_t row_grain(int64_t row_len) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(row_len, 1)); }

// Copies n elements with the given strides; unit strides become one memcpy.
inline void copy_run(const uint32_t* src, int64_t ss, uint32_t* dst, int64_t ds, int64_t n) {
  if (ss == 1 && ds == 1) {
    std::memcpy(dst, src, sizeof(uint32_t) * n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) dst[i * ds] = src[i * ss];
}

}  // namespace

void copy_strided(const uint32_t* src, uint32_t* dst, int rank, const int64_t* shape, const int64_t* ss,
                  const int64_t* ds) {
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) total *= shape[i];
  if (total == 0) return;
  if (rank == 0) {
    dst[0] = src[0];
    return;
  }
  const int64_t len = shape[rank - 1], sl = ss[rank - 1], dl = ds[rank - 1];
  const int64_t rows = total / len;
  parallel_for(rows, row_grain(len), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t so = 0, dof = 0, rem = r;
      for (int i = rank - 2; i >= 0; --i) {
        const int64_t c = rem % shape[i];
        rem /= shape[i];
        so += c * ss[i];
        dof += c * ds[i];
      }
      copy_run(src + so, sl, dst + dof, dl, len);
    }
  });
}

void pad_constant(const uint32_t* x, uint32_t* y, int rank, const int64_t* xshape, const int64_t* before,
                  const int64_t* after, uint32_t value) {
  std::vector<int64_t> oshape(rank), xstride(rank, 1);
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) total *= (oshape[i] = before[i] + xshape[i] + after[i]);
  if (total == 0) return;
  if (rank == 0) {
    y[0] = x[0];
    return;
  }
  for (int i = rank - 2; i >= 0; --i) xstride[i] = xstride[i + 1] * xshape[i + 1];
  const int64_t len = oshape[rank - 1], xl = xshape[rank - 1], b0 = before[rank - 1];
  const int64_t rows = total / len;
  // Every output row is written once: the constant around the input's row, or all constant.
  parallel_for(rows, row_grain(len), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      uint32_t* dst = y + r * len;
      int64_t xo = 0, rem = r;
      bool inside = xl > 0;
      for (int i = rank - 2; i >= 0; --i) {
        const int64_t c = rem % oshape[i] - before[i];
        rem /= oshape[i];
        if (c < 0 || c >= xshape[i]) inside = false;
        xo += c * xstride[i];
      }
      if (!inside) {
        std::fill(dst, dst + len, value);
        continue;
      }
      std::fill(dst, dst + b0, value);
      std::memcpy(dst + b0, x + xo, sizeof(uint32_t) * xl);
      std::fill(dst + b0 + xl, dst + len, value);
    }
  });
}

// One body for 4-byte elements and for bools (tfjs stores them one byte each).
template <typename T>
void tile_any(const T* x, T* y, int rank, const int64_t* xshape, const int64_t* reps) {
  std::vector<int64_t> oshape(rank), xstride(rank, 1);
  int64_t total = 1;
  for (int i = 0; i < rank; ++i) total *= (oshape[i] = xshape[i] * reps[i]);
  if (total == 0) return;
  if (rank == 0) {
    y[0] = x[0];
    return;
  }
  for (int i = rank - 2; i >= 0; --i) xstride[i] = xstride[i + 1] * xshape[i + 1];
  const int64_t len = oshape[rank - 1], xl = xshape[rank - 1];
  const int64_t rows = total / len;
  parallel_for(rows, row_grain(len), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t xo = 0, rem = r;
      for (int i = rank - 2; i >= 0; --i) {
        xo += (rem % oshape[i] % xshape[i]) * xstride[i];
        rem /= oshape[i];
      }
      T* dst = y + r * len;
      if (xl == 1) {
        std::fill(dst, dst + len, x[xo]);
      } else {
        for (int64_t k = 0; k < len; k += xl) std::memcpy(dst + k, x + xo, sizeof(T) * xl);
      }
    }
  });
}

void tile(const uint32_t* x, uint32_t* y, int rank, const int64_t* xshape, const int64_t* reps) {
  tile_any(x, y, rank, xshape, reps);
}

void tile_u8(const uint8_t* x, uint8_t* y, int rank, const int64_t* xshape, const int64_t* reps) {
  tile_any(x, y, rank, xshape, reps);
}

void select(const uint8_t* cond, const uint32_t* t, const uint32_t* e, uint32_t* y, int64_t n) {
  parallel_for(n, kGrainElems, [&](int64_t b, int64_t end) {
    for (int64_t i = b; i < end; ++i) y[i] = cond[i] == 1 ? t[i] : e[i];
  });
}

void gather_rows(const uint32_t* x, uint32_t* y, const int32_t* idx, int64_t outer, int64_t dim, int64_t n,
                 int64_t inner) {
  const int64_t rows = outer * n;
  parallel_for(rows, row_grain(inner), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / n, i = r % n;
      std::memcpy(y + r * inner, x + (o * dim + idx[i]) * inner, sizeof(uint32_t) * inner);
    }
  });
}

}  // namespace osn
