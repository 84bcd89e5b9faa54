// adaLN modulation and the gated residual of STDiT3's blocks, forward and backward, each in one
// pass over the tokens (packages/kernels/src/fused/modulate.ts holds the composites they replace):
//   layerNormModulate:  y = LN(x) * (1 + scale) + shift         (LN without affine)
//   gatedAdd:           out = x + gate * y
// x (and y) are [G, R, C] row-major: group g's R rows share the per-channel rows shift[g],
// scale[g], gate[g] ([G, C]). The forward passes round each step as the composite's float32 ops do
// (-ffp-contract=off), so outputs equal LayerNorm -> Add -> Multiply -> Add on this backend.
// Backward passes recompute LN's statistics from x and use its closed form with
// g = dy * (1 + scale): dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); the per-group sums
// (dshift, dscale, dgate) accumulate per fixed block of rows (float within a block, double
// across blocks, added in block order), so results do not depend on the thread count.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {
namespace {

// Mean and 1/sqrt(var + eps) of one row as float, from norms.cc's LayerNorm summation (same rounding).
struct RowMoments {
  float mean, rstd;
};

inline RowMoments row_moments(const float* x, int64_t c, float eps) {
  const Moments m = centered_moments(x, c, eps);
  return {float(m.mean), float(m.rstd)};
}

OSN_CLONES void ln_modulate_rows(const float* x, const float* shift, const float* scale, float* y, int64_t r0,
                                 int64_t r1, int64_t rpg, int64_t c, float eps) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    float* __restrict yr = y + r * c;
    const float* __restrict sh = shift + (r / rpg) * c;
    const float* __restrict sc = scale + (r / rpg) * c;
    const RowMoments m = row_moments(xr, c, eps);
    for (int64_t j = 0; j < c; ++j) {
      const float xhat = (xr[j] - m.mean) * m.rstd;
      yr[j] = xhat * (sc[j] + 1.0f) + sh[j];
    }
  }
}

// One block of rows; part holds [groups g0..g1] x {dshift, dscale} x C partial sums. Within the
// block (at most a few hundred rows) the per-channel sums run in float, eight lanes wide, and are
// added to the double partials whenever the group changes and at the end.
OSN_CLONES void ln_modulate_grad_rows(const float* dy, const float* x, const float* scale, float* dx, double* part,
                                      int64_t g0, int64_t r0, int64_t r1, int64_t rpg, int64_t c, float eps) {
  std::vector<float> buf(4 * c, 0.0f);
  float* __restrict g = buf.data();
  float* __restrict xh = g + c;
  float* __restrict fsh = xh + c;
  float* __restrict fsc = fsh + c;
  int64_t open = -1;  // the group whose sums fsh/fsc hold
  auto flush = [&]() {
    if (open < 0) return;
    double* __restrict dsh = part + (open - g0) * 2 * c;
    double* __restrict dsc = dsh + c;
    for (int64_t j = 0; j < c; ++j) {
      dsh[j] += fsh[j];
      dsc[j] += fsc[j];
      fsh[j] = 0.0f;
      fsc[j] = 0.0f;
    }
  };
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    const float* __restrict dyr = dy + r * c;
    float* __restrict dxr = dx + r * c;
    const int64_t grp = r / rpg;
    if (grp != open) {
      flush();
      open = grp;
    }
    const float* __restrict sc = scale + grp * c;
    const RowMoments m = row_moments(xr, c, eps);
    for (int64_t j = 0; j < c; ++j) {
      xh[j] = (xr[j] - m.mean) * m.rstd;
      g[j] = dyr[j] * (sc[j] + 1.0f);
    }
    double sg[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sgx[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= c; j += 8)
      for (int l = 0; l < 8; ++l) {
        sg[l] += double(g[j + l]);
        sgx[l] += double(g[j + l]) * double(xh[j + l]);
      }
    double tg = 0, tgx = 0;
    for (; j < c; ++j) {
      tg += double(g[j]);
      tgx += double(g[j]) * double(xh[j]);
    }
    for (int l = 0; l < 8; ++l) tg += sg[l], tgx += sgx[l];
    const float mg = float(tg / double(c)), mgx = float(tgx / double(c));
    for (j = 0; j < c; ++j) {
      dxr[j] = m.rstd * (g[j] - mg - xh[j] * mgx);
      fsh[j] += dyr[j];
      fsc[j] += dyr[j] * xh[j];
    }
  }
  flush();
}

OSN_CLONES void gated_add_rows(const float* x, const float* gate, const float* y, float* out, int64_t r0, int64_t r1,
                               int64_t rpg, int64_t c) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * c;
    const float* __restrict yr = y + r * c;
    const float* __restrict gr = gate + (r / rpg) * c;
    float* __restrict o = out + r * c;
    for (int64_t j = 0; j < c; ++j) o[j] = xr[j] + gr[j] * yr[j];
  }
}

// dy_y = dy * gate; part holds [groups g0..g1] x C partial sums of dy * y (dgate), summed in
// float within the block and added to the double partials per group.
OSN_CLONES void gated_add_grad_rows(const float* dy, const float* gate, const float* y, float* dyy, double* part,
                                    int64_t g0, int64_t r0, int64_t r1, int64_t rpg, int64_t c) {
  std::vector<float> acc(c, 0.0f);
  float* __restrict fg = acc.data();
  int64_t open = -1;
  auto flush = [&]() {
    if (open < 0) return;
    double* __restrict dg = part + (open - g0) * c;
    for (int64_t j = 0; j < c; ++j) {
      dg[j] += fg[j];
      fg[j] = 0.0f;
    }
  };
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict dyr = dy + r * c;
    const float* __restrict yr = y + r * c;
    const int64_t grp = r / rpg;
    if (grp != open) {
      flush();
      open = grp;
    }
    const float* __restrict gr = gate + grp * c;
    float* __restrict o = dyy + r * c;
    for (int64_t j = 0; j < c; ++j) {
      o[j] = dyr[j] * gr[j];
      fg[j] += dyr[j] * yr[j];
    }
  }
  flush();
}

// Rows split into blocks that depend on the row count only (at least 16 rows, at most 256
// blocks), so the sums are the same for any thread count; each block owns partial sums for the
// groups its rows touch (k per-channel vectors per group), added afterwards in block order into
// out[k][G][C].
template <typename F>
void grouped_reduce(int64_t rows, int64_t rpg, int64_t c, int k, float* const* out, F f) {
  const int64_t per = std::max<int64_t>(16, (rows + 255) / 256);
  const int64_t nb = (rows + per - 1) / per;
  std::vector<std::vector<double>> parts(nb);
  parallel_for(nb, 1, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      const int64_t r0 = blk * per, r1 = std::min(rows, r0 + per);
      if (r0 >= r1) continue;
      const int64_t g0 = r0 / rpg, g1 = (r1 - 1) / rpg;
      parts[blk].assign((g1 - g0 + 1) * k * c, 0.0);
      f(parts[blk].data(), g0, r0, r1);
    }
  });
  const int64_t groups = rows / rpg;
  std::vector<double> acc(groups * k * c, 0.0);
  for (int64_t blk = 0; blk < nb; ++blk) {
    const int64_t r0 = blk * per;
    const int64_t g0 = r0 / rpg;
    const std::vector<double>& p = parts[blk];
    for (size_t i = 0; i < p.size(); ++i) acc[g0 * k * c + i] += p[i];
  }
  for (int64_t g = 0; g < groups; ++g)
    for (int kk = 0; kk < k; ++kk)
      for (int64_t j = 0; j < c; ++j) out[kk][g * c + j] = float(acc[(g * k + kk) * c + j]);
}

// ---- N-API glue (registered by addon.cc's Init through register_modulate) ----

int64_t Int(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }

float* F32(const Napi::CallbackInfo& info, size_t i, int64_t count) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + ": expected a Float32Array");
  auto ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_float32_array || int64_t(ta.ElementLength()) < count) {
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + ": expected a Float32Array of " +
                                                std::to_string(count) + " elements, got " + std::to_string(ta.ElementLength()));
  }
  return reinterpret_cast<float*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

// Checks groups/rows/channels and returns rows per group.
int64_t RowsPerGroup(const Napi::CallbackInfo& info, int64_t groups, int64_t rows, int64_t c, const char* name) {
  if (groups <= 0 || rows < 0 || c <= 0 || rows % groups != 0) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + ": rows must split evenly into a positive number of groups");
  }
  return std::max<int64_t>(1, rows / groups);
}

// layerNormModulate(x, shift, scale, y, groups, rows, c, eps)
void LayerNormModulate(const Napi::CallbackInfo& info) {
  const int64_t groups = Int(info, 4), rows = Int(info, 5), c = Int(info, 6);
  const int64_t rpg = RowsPerGroup(info, groups, rows, c, "layerNormModulate");
  const float eps = float(info[7].As<Napi::Number>().DoubleValue());
  const float* x = F32(info, 0, rows * c);
  const float* shift = F32(info, 1, groups * c);
  const float* scale = F32(info, 2, groups * c);
  float* y = F32(info, 3, rows * c);
  if (rows == 0) return;
  parallel_for(rows, std::max<int64_t>(1, 16384 / c),
               [&](int64_t b, int64_t e) { ln_modulate_rows(x, shift, scale, y, b, e, rpg, c, eps); });
}

// layerNormModulateGrad(dy, x, scale, dx, dshift, dscale, groups, rows, c, eps)
void LayerNormModulateGrad(const Napi::CallbackInfo& info) {
  const int64_t groups = Int(info, 6), rows = Int(info, 7), c = Int(info, 8);
  const int64_t rpg = RowsPerGroup(info, groups, rows, c, "layerNormModulateGrad");
  const float eps = float(info[9].As<Napi::Number>().DoubleValue());
  const float* dy = F32(info, 0, rows * c);
  const float* x = F32(info, 1, rows * c);
  const float* scale = F32(info, 2, groups * c);
  float* dx = F32(info, 3, rows * c);
  float* outs[2] = {F32(info, 4, groups * c), F32(info, 5, groups * c)};
  if (rows == 0) {
    std::fill(outs[0], outs[0] + groups * c, 0.0f);
    std::fill(outs[1], outs[1] + groups * c, 0.0f);
    return;
  }
  grouped_reduce(rows, rpg, c, 2, outs, [&](double* part, int64_t g0, int64_t r0, int64_t r1) {
    ln_modulate_grad_rows(dy, x, scale, dx, part, g0, r0, r1, rpg, c, eps);
  });
}

// gatedAdd(x, gate, y, out, groups, rows, c)
void GatedAdd(const Napi::CallbackInfo& info) {
  const int64_t groups = Int(info, 4), rows = Int(info, 5), c = Int(info, 6);
  const int64_t rpg = RowsPerGroup(info, groups, rows, c, "gatedAdd");
  const float* x = F32(info, 0, rows * c);
  const float* gate = F32(info, 1, groups * c);
  const float* y = F32(info, 2, rows * c);
  float* out = F32(info, 3, rows * c);
  if (rows == 0) return;
  parallel_for(rows, std::max<int64_t>(1, 32768 / c), [&](int64_t b, int64_t e) { gated_add_rows(x, gate, y, out, b, e, rpg, c); });
}

// gatedAddGrad(dy, gate, y, dyy, dgate, groups, rows, c)
void GatedAddGrad(const Napi::CallbackInfo& info) {
  const int64_t groups = Int(info, 5), rows = Int(info, 6), c = Int(info, 7);
  const int64_t rpg = RowsPerGroup(info, groups, rows, c, "gatedAddGrad");
  const float* dy = F32(info, 0, rows * c);
  const float* gate = F32(info, 1, groups * c);
  const float* y = F32(info, 2, rows * c);
  float* dyy = F32(info, 3, rows * c);
  float* outs[1] = {F32(info, 4, groups * c)};
  if (rows == 0) {
    std::fill(outs[0], outs[0] + groups * c, 0.0f);
    return;
  }
  grouped_reduce(rows, rpg, c, 1, outs, [&](double* part, int64_t g0, int64_t r0, int64_t r1) {
    gated_add_grad_rows(dy, gate, y, dyy, part, g0, r0, r1, rpg, c);
  });
}

}  // namespace

void register_modulate(Napi::Env env, Napi::Object exports) {
  exports.Set("layerNormModulate", Napi::Function::New(env, LayerNormModulate));
  exports.Set("layerNormModulateGrad", Napi::Function::New(env, LayerNormModulateGrad));
  exports.Set("gatedAdd", Napi::Function::New(env, GatedAdd));
  exports.Set("gatedAddGrad", Napi::Function::New(env, GatedAddGrad));
}

}  // namespace osn
