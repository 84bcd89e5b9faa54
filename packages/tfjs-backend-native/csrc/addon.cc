// N-API glue: unpacks JavaScript arguments, checks buffer sizes (a wrong size here would be a
// crash, not an exception) and calls the compute functions of kernels.h. All calls are
// synchronous, as tfjs kernels are; the compute functions thread internally.
#include <napi.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "kernels.h"
#include "threadpool.h"

namespace osn {
void register_modulate(Napi::Env env, Napi::Object exports);  // modulate.cc
void register_bigbuf(Napi::Env env, Napi::Object exports);    // bigbuf.cc
}

namespace {

using namespace osn;

int64_t I(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
double D(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
bool B(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

std::vector<int64_t> Ints(const Napi::CallbackInfo& info, size_t i) {
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) out[k] = arr.Get(k).As<Napi::Number>().Int64Value();
  return out;
}

// A 4-byte-element typed array argument holding at least `count` elements; null/undefined
// gives nullptr when `optional`.
template <typename T = float>
T* Buf(const Napi::CallbackInfo& info, size_t i, int64_t count, bool optional = false) {
  const Napi::Value v = info[i];
  if (optional && (v.IsNull() || v.IsUndefined())) return nullptr;
  if (!v.IsTypedArray()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + ": expected a typed array");
  auto ta = v.As<Napi::TypedArray>();
  if (ta.ElementSize() != 4 || int64_t(ta.ElementLength()) < count) {
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + ": expected " + std::to_string(count) +
                                                " 4-byte elements, got " + std::to_string(ta.ElementLength()));
  }
  return reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

// A 1-byte-element typed array argument (bool values) holding at least `count` elements.
uint8_t* Bytes(const Napi::CallbackInfo& info, size_t i, int64_t count) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + ": expected a typed array");
  auto ta = v.As<Napi::TypedArray>();
  if (ta.ElementSize() != 1 || int64_t(ta.ElementLength()) < count) {
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + ": expected " + std::to_string(count) +
                                                " 1-byte elements, got " + std::to_string(ta.ElementLength()));
  }
  return static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  set_threads(int(I(info, 0)));
  return Napi::Number::New(info.Env(), threads());
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("threads", threads());
  o.Set("dnnl", have_dnnl());
  return o;
}

// batchMatMul(a, b, c, ai, bi, m, n, k, ta, tb, accumulate?)
void BatchMatMul(const Napi::CallbackInfo& info) {
  const int64_t m = I(info, 5), n = I(info, 6), k = I(info, 7);
  const int32_t* ai = Buf<int32_t>(info, 3, 0);
  const int64_t batch = info[3].As<Napi::TypedArray>().ElementLength();
  const int32_t* bi = Buf<int32_t>(info, 4, batch);
  int64_t amax = 0, bmax = 0;
  for (int64_t i = 0; i < batch; ++i) amax = std::max<int64_t>(amax, ai[i]), bmax = std::max<int64_t>(bmax, bi[i]);
  batch_matmul(Buf(info, 0, (amax + 1) * m * k), Buf(info, 1, (bmax + 1) * k * n), Buf(info, 2, batch * m * n), batch,
               ai, bi, m, n, k, B(info, 8), B(info, 9), info.Length() > 10 && B(info, 10));
}

ConvGeom Geom(const Napi::CallbackInfo& info, size_t i) {
  const auto v = Ints(info, i);
  if (v.size() != 21) throw Napi::RangeError::New(info.Env(), "conv geometry: expected 21 numbers");
  // Same order as the ConvGeom fields (and convGeometry() in src/kernels/conv.ts).
  return ConvGeom{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10],
                  v[11], v[12], v[13], v[14], v[15], v[16], v[17], v[18], v[19], v[20]};
}
int64_t InSize(const ConvGeom& g) { return g.n * g.d * g.h * g.w * g.c; }
int64_t OutSize(const ConvGeom& g) { return g.n * g.od * g.oh * g.ow * g.oc; }
int64_t FilterSize(const ConvGeom& g) { return g.kd * g.kh * g.kw * g.c * g.oc; }

// convForward(geom, x, filter, y, bias?)
void ConvForward(const Napi::CallbackInfo& info) {
  const ConvGeom g = Geom(info, 0);
  conv_forward(g, Buf(info, 1, InSize(g)), Buf(info, 2, FilterSize(g)), Buf(info, 3, OutSize(g)), Buf(info, 4, g.oc, true));
}
void ConvBackwardInput(const Napi::CallbackInfo& info) {
  const ConvGeom g = Geom(info, 0);
  conv_backward_input(g, Buf(info, 1, OutSize(g)), Buf(info, 2, FilterSize(g)), Buf(info, 3, InSize(g)));
}
void ConvBackwardFilter(const Napi::CallbackInfo& info) {
  const ConvGeom g = Geom(info, 0);
  conv_backward_filter(g, Buf(info, 1, InSize(g)), Buf(info, 2, OutSize(g)), Buf(info, 3, FilterSize(g)));
}

// unary(op, x, y, n)
void UnaryOp(const Napi::CallbackInfo& info) {
  const int64_t n = I(info, 3);
  unary(Unary(I(info, 0)), Buf(info, 1, n), Buf(info, 2, n), n);
}

// binary(op, a, b, out, shape, aStrides, bStrides)
void BinaryOp(const Napi::CallbackInfo& info) {
  const auto shape = Ints(info, 4), as = Ints(info, 5), bs = Ints(info, 6);
  if (shape.size() > 8 || as.size() != shape.size() || bs.size() != shape.size())
    throw Napi::RangeError::New(info.Env(), "binary: shape and strides must have one equal rank <= 8");
  int64_t total = 1, alast = 0, blast = 0;
  for (size_t i = 0; i < shape.size(); ++i) {
    total *= shape[i];
    alast += (shape[i] - 1) * as[i];
    blast += (shape[i] - 1) * bs[i];
  }
  if (total == 0) return;
  binary(Binary(I(info, 0)), Buf(info, 1, alast + 1), Buf(info, 2, blast + 1), Buf(info, 3, total), int(shape.size()),
         shape.data(), as.data(), bs.data());
}

// reduce(op, x, out, outer, mid, inner)
void ReduceOp(const Napi::CallbackInfo& info) {
  const int64_t outer = I(info, 3), mid = I(info, 4), inner = I(info, 5);
  reduce(Reduce(I(info, 0)), Buf(info, 1, outer * mid * inner), Buf(info, 2, outer * inner), outer, mid, inner);
}

// softmax(x, y, rows, len)
void Softmax(const Napi::CallbackInfo& info) {
  const int64_t rows = I(info, 2), len = I(info, 3);
  softmax_lastaxis(Buf(info, 0, rows * len), Buf(info, 1, rows * len), rows, len);
}

// transpose(x, y, shape, perm)
void Transpose(const Napi::CallbackInfo& info) {
  const auto shape = Ints(info, 2), perm = Ints(info, 3);
  int64_t total = 1;
  for (auto s : shape) total *= s;
  if (perm.size() != shape.size()) throw Napi::RangeError::New(info.Env(), "transpose: perm and shape differ in rank");
  transpose(Buf<uint32_t>(info, 0, total), Buf<uint32_t>(info, 1, total), int(shape.size()), shape.data(), perm.data());
}

// The [lowest, highest] element offsets an index space of `shape` reaches with `strides` from `off`.
std::pair<int64_t, int64_t> Reach(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides, int64_t off) {
  int64_t lo = off, hi = off;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t span = (shape[i] - 1) * strides[i];
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi};
}

// copyStrided(src, srcOffset, dst, dstOffset, shape, srcStrides, dstStrides)
void CopyStrided(const Napi::CallbackInfo& info) {
  const int64_t so = I(info, 1), dof = I(info, 3);
  const auto shape = Ints(info, 4), ss = Ints(info, 5), ds = Ints(info, 6);
  if (ss.size() != shape.size() || ds.size() != shape.size())
    throw Napi::RangeError::New(info.Env(), "copyStrided: shape and strides differ in rank");
  for (auto d : shape) {
    if (d < 0) throw Napi::RangeError::New(info.Env(), "copyStrided: negative size");
    if (d == 0) return;
  }
  const auto [slo, shi] = Reach(shape, ss, so);
  const auto [dlo, dhi] = Reach(shape, ds, dof);
  if (slo < 0 || dlo < 0) throw Napi::RangeError::New(info.Env(), "copyStrided: a negative element offset");
  uint32_t* src = Buf<uint32_t>(info, 0, shi + 1);
  uint32_t* dst = Buf<uint32_t>(info, 2, dhi + 1);
  copy_strided(src + so, dst + dof, int(shape.size()), shape.data(), ss.data(), ds.data());
}

// padConstant(x, y, xShape, before, after, valueBits)
void PadConstant(const Napi::CallbackInfo& info) {
  const auto xs = Ints(info, 2), before = Ints(info, 3), after = Ints(info, 4);
  if (before.size() != xs.size() || after.size() != xs.size())
    throw Napi::RangeError::New(info.Env(), "padConstant: paddings and shape differ in rank");
  int64_t xn = 1, yn = 1;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] < 0 || before[i] < 0 || after[i] < 0) throw Napi::RangeError::New(info.Env(), "padConstant: negative size");
    xn *= xs[i];
    yn *= before[i] + xs[i] + after[i];
  }
  pad_constant(Buf<uint32_t>(info, 0, xn), Buf<uint32_t>(info, 1, yn), int(xs.size()), xs.data(), before.data(),
               after.data(), uint32_t(info[5].As<Napi::Number>().Uint32Value()));
}

// tile(x, y, xShape, reps): 4-byte elements, or 1-byte ones (bool) when x is a Uint8Array
void Tile(const Napi::CallbackInfo& info) {
  const auto xs = Ints(info, 2), reps = Ints(info, 3);
  if (reps.size() != xs.size()) throw Napi::RangeError::New(info.Env(), "tile: reps and shape differ in rank");
  int64_t xn = 1, yn = 1;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] < 0 || reps[i] < 0) throw Napi::RangeError::New(info.Env(), "tile: negative size");
    xn *= xs[i];
    yn *= xs[i] * reps[i];
  }
  if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().ElementSize() == 1) {
    tile_u8(Bytes(info, 0, xn), Bytes(info, 1, yn), int(xs.size()), xs.data(), reps.data());
  } else {
    tile(Buf<uint32_t>(info, 0, xn), Buf<uint32_t>(info, 1, yn), int(xs.size()), xs.data(), reps.data());
  }
}

// select(cond, t, e, y): cond a Uint8Array (bool), the others 4-byte arrays, all of n elements.
void Select(const Napi::CallbackInfo& info) {
  const int64_t n = info[0].As<Napi::TypedArray>().ElementLength();
  select(Bytes(info, 0, n), Buf<uint32_t>(info, 1, n), Buf<uint32_t>(info, 2, n), Buf<uint32_t>(info, 3, n), n);
}

// gatherRows(x, y, indices, outer, dim, inner)
void GatherRows(const Napi::CallbackInfo& info) {
  const int64_t outer = I(info, 3), dim = I(info, 4), inner = I(info, 5);
  const int32_t* idx = Buf<int32_t>(info, 2, 0);
  const int64_t n = info[2].As<Napi::TypedArray>().ElementLength();
  for (int64_t i = 0; i < n; ++i) {
    if (idx[i] < 0 || idx[i] >= dim) throw Napi::RangeError::New(info.Env(), "gatherRows: index out of range");
  }
  gather_rows(Buf<uint32_t>(info, 0, outer * dim * inner), Buf<uint32_t>(info, 1, outer * n * inner), idx, outer, dim, n,
              inner);
}

// layerNorm(x, gamma, beta, y, rows, c, eps) / rmsNorm(x, gamma, y, rows, c, eps)
void LayerNorm(const Napi::CallbackInfo& info) {
  const int64_t rows = I(info, 4), c = I(info, 5);
  layer_norm(Buf(info, 0, rows * c), Buf(info, 1, c, true), Buf(info, 2, c, true), Buf(info, 3, rows * c), rows, c,
             float(D(info, 6)));
}
// layerNormGrad(dy, x, gamma, dx, dgamma, dbeta, rows, c, eps)
void LayerNormGrad(const Napi::CallbackInfo& info) {
  const int64_t rows = I(info, 6), c = I(info, 7);
  layer_norm_grad(Buf(info, 0, rows * c), Buf(info, 1, rows * c), Buf(info, 2, c, true), Buf(info, 3, rows * c),
                  Buf(info, 4, c, true), Buf(info, 5, c, true), rows, c, float(D(info, 8)));
}
void RmsNorm(const Napi::CallbackInfo& info) {
  const int64_t rows = I(info, 3), c = I(info, 4);
  rms_norm(Buf(info, 0, rows * c), Buf(info, 1, c, true), Buf(info, 2, rows * c), rows, c, float(D(info, 5)));
}
// rmsNormGrad(dy, x, gamma, dx, dgamma, rows, c, eps)
void RmsNormGrad(const Napi::CallbackInfo& info) {
  const int64_t rows = I(info, 5), c = I(info, 6);
  rms_norm_grad(Buf(info, 0, rows * c), Buf(info, 1, rows * c), Buf(info, 2, c, true), Buf(info, 3, rows * c),
                Buf(info, 4, c, true), rows, c, float(D(info, 7)));
}
// groupNorm(x, gamma, beta, y, n, s, c, groups, eps)
void GroupNorm(const Napi::CallbackInfo& info) {
  const int64_t n = I(info, 4), s = I(info, 5), c = I(info, 6), groups = I(info, 7);
  if (groups <= 0 || c % groups != 0) throw Napi::RangeError::New(info.Env(), "groupNorm: channels must split into groups");
  group_norm(Buf(info, 0, n * s * c), Buf(info, 1, c, true), Buf(info, 2, c, true), Buf(info, 3, n * s * c), n, s, c,
             groups, float(D(info, 8)));
}
// groupNormSilu(x, gamma, beta, y, n, s, c, groups, eps): silu(groupNorm(...))
void GroupNormSilu(const Napi::CallbackInfo& info) {
  const int64_t n = I(info, 4), s = I(info, 5), c = I(info, 6), groups = I(info, 7);
  if (groups <= 0 || c % groups != 0) throw Napi::RangeError::New(info.Env(), "groupNormSilu: channels must split into groups");
  group_norm_silu(Buf(info, 0, n * s * c), Buf(info, 1, c, true), Buf(info, 2, c, true), Buf(info, 3, n * s * c), n, s, c,
                  groups, float(D(info, 8)));
}
// groupNormGrad(dy, x, gamma, dx, dgamma, dbeta, n, s, c, groups, eps)
void GroupNormGrad(const Napi::CallbackInfo& info) {
  const int64_t n = I(info, 6), s = I(info, 7), c = I(info, 8), groups = I(info, 9);
  if (groups <= 0 || c % groups != 0) throw Napi::RangeError::New(info.Env(), "groupNorm: channels must split into groups");
  group_norm_grad(Buf(info, 0, n * s * c), Buf(info, 1, n * s * c), Buf(info, 2, c, true), Buf(info, 3, n * s * c),
                  Buf(info, 4, c, true), Buf(info, 5, c, true), n, s, c, groups, float(D(info, 10)));
}
// geluTanh(x, y, n) / geluTanhGrad(dy, x, dx, n)
void GeluTanh(const Napi::CallbackInfo& info) {
  const int64_t n = I(info, 2);
  gelu_tanh(Buf(info, 0, n), Buf(info, 1, n), n);
}
void GeluTanhGrad(const Napi::CallbackInfo& info) {
  const int64_t n = I(info, 3);
  gelu_tanh_grad(Buf(info, 0, n), Buf(info, 1, n), Buf(info, 2, n), n);
}

// attention(q, k, v, mask, out, dims) / attentionGrad(dy, q, k, v, mask, dq, dk, dv, dims) with
// dims = [b, h, nq, nk, d, dv, mb, maskRank, causal, scale].
AttentionDims AttnDims(const Napi::CallbackInfo& info, size_t i) {
  auto arr = info[i].As<Napi::Array>();
  if (arr.Length() != 10) throw Napi::RangeError::New(info.Env(), "attention dims: expected 10 numbers");
  auto n = [&](uint32_t j) { return arr.Get(j).As<Napi::Number>(); };
  AttentionDims dm{n(0).Int64Value(), n(1).Int64Value(), n(2).Int64Value(), n(3).Int64Value(), n(4).Int64Value(),
                   n(5).Int64Value(), n(6).Int64Value(), int(n(7).Int32Value()), n(8).DoubleValue() != 0,
                   n(9).DoubleValue()};
  const bool ok = dm.b >= 0 && dm.h >= 0 && dm.nq >= 0 && dm.nk >= 0 && dm.d >= 0 && dm.dv >= 0 &&
                  (dm.mb == 1 || dm.mb == dm.b) && (dm.mask_rank == 2 || dm.mask_rank == 3);
  if (!ok) throw Napi::RangeError::New(info.Env(), "attention dims: negative size, mask batch not 1 or b, or mask rank not 2 or 3");
  return dm;
}
int64_t MaskSize(const AttentionDims& dm) { return dm.mb * (dm.mask_rank == 3 ? dm.nq : 1) * dm.nk; }
void Attention(const Napi::CallbackInfo& info) {
  const AttentionDims dm = AttnDims(info, 5);
  const int64_t bh = dm.b * dm.h;
  attention(dm, Buf(info, 0, bh * dm.nq * dm.d), Buf(info, 1, bh * dm.nk * dm.d), Buf(info, 2, bh * dm.nk * dm.dv),
            Buf(info, 3, MaskSize(dm)), Buf(info, 4, bh * dm.nq * dm.dv));
}
void AttentionGrad(const Napi::CallbackInfo& info) {
  const AttentionDims dm = AttnDims(info, 8);
  const int64_t bh = dm.b * dm.h;
  attention_grad(dm, Buf(info, 0, bh * dm.nq * dm.dv), Buf(info, 1, bh * dm.nq * dm.d), Buf(info, 2, bh * dm.nk * dm.d),
                 Buf(info, 3, bh * dm.nk * dm.dv), Buf(info, 4, MaskSize(dm)), Buf(info, 5, bh * dm.nq * dm.d),
                 Buf(info, 6, bh * dm.nk * dm.d), Buf(info, 7, bh * dm.nk * dm.dv));
}

// rope(x, angles, y, rows, n, d, r, backward)
void Rope(const Napi::CallbackInfo& info) {
  const int64_t rows = I(info, 3), n = I(info, 4), d = I(info, 5), r = I(info, 6);
  if (r % 2 != 0 || r > d) throw Napi::RangeError::New(info.Env(), "rope: rotation width must be even and at most the last axis");
  rope(Buf(info, 0, rows * n * d), Buf(info, 1, n * r), Buf(info, 2, rows * n * d), rows, n, d, r, I(info, 7) != 0);
}

// An array of float32 arrays: their data pointers and lengths (lengths checked against `want` when given).
std::pair<std::vector<float*>, std::vector<int64_t>> F32List(const Napi::CallbackInfo& info, size_t i,
                                                             const std::vector<int64_t>* want = nullptr) {
  if (!info[i].IsArray()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + ": expected an array of Float32Arrays");
  auto arr = info[i].As<Napi::Array>();
  if (want && arr.Length() != want->size()) {
    throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + ": expected " + std::to_string(want->size()) +
                                                " arrays, got " + std::to_string(arr.Length()));
  }
  std::vector<float*> ptrs(arr.Length());
  std::vector<int64_t> lens(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); ++k) {
    const Napi::Value v = arr.Get(k);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + "[" + std::to_string(k) + "]: expected a Float32Array");
    }
    auto ta = v.As<Napi::TypedArray>();
    lens[k] = int64_t(ta.ElementLength());
    if (want && lens[k] != (*want)[k]) {
      throw Napi::RangeError::New(info.Env(), "argument " + std::to_string(i) + "[" + std::to_string(k) + "]: expected " +
                                                  std::to_string((*want)[k]) + " elements, got " + std::to_string(lens[k]));
    }
    ptrs[k] = reinterpret_cast<float*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
  }
  return {ptrs, lens};
}

// The lists at argument positions `ins` and `outs`, all of the first list's lengths.
OptimTensors Optim(const Napi::CallbackInfo& info, std::initializer_list<size_t> ins, std::initializer_list<size_t> outs) {
  OptimTensors t;
  t.sizes = F32List(info, *ins.begin()).second;
  for (size_t i : ins) {
    auto ptrs = F32List(info, i, &t.sizes).first;
    t.in.emplace_back(ptrs.begin(), ptrs.end());
  }
  for (size_t i : outs) t.out.push_back(F32List(info, i, &t.sizes).first);
  return t;
}

// adamwMulti(p[], g[], m[], v[], pOut[], mOut[], vOut[], h)
void AdamWMulti(const Napi::CallbackInfo& info) {
  const OptimTensors t = Optim(info, {0, 1, 2, 3}, {4, 5, 6});
  auto arr = info[7].As<Napi::Array>();
  if (arr.Length() != 11) throw Napi::RangeError::New(info.Env(), "adamwMulti: expected 11 hyperparameters");
  double h[11];
  for (uint32_t j = 0; j < 11; ++j) h[j] = arr.Get(j).As<Napi::Number>().DoubleValue();
  adamw_multi(t, h);
}

// emaMulti(ema[], param[], emaOut[], decay, oneMinusDecay)
void EmaMulti(const Napi::CallbackInfo& info) {
  const OptimTensors t = Optim(info, {0, 1}, {2});
  ema_multi(t, D(info, 3), D(info, 4));
}

// globalNorm(xs[]) -> sqrt(sum of squares)
Napi::Value GlobalNorm(const Napi::CallbackInfo& info) {
  auto [ptrs, lens] = F32List(info, 0);
  const std::vector<const float*> xs(ptrs.begin(), ptrs.end());
  return Napi::Number::New(info.Env(), global_norm(xs, lens));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("batchMatMul", Napi::Function::New(env, BatchMatMul));
  exports.Set("convForward", Napi::Function::New(env, ConvForward));
  exports.Set("convBackwardInput", Napi::Function::New(env, ConvBackwardInput));
  exports.Set("convBackwardFilter", Napi::Function::New(env, ConvBackwardFilter));
  exports.Set("unary", Napi::Function::New(env, UnaryOp));
  exports.Set("binary", Napi::Function::New(env, BinaryOp));
  exports.Set("reduce", Napi::Function::New(env, ReduceOp));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("copyStrided", Napi::Function::New(env, CopyStrided));
  exports.Set("padConstant", Napi::Function::New(env, PadConstant));
  exports.Set("tile", Napi::Function::New(env, Tile));
  exports.Set("select", Napi::Function::New(env, Select));
  exports.Set("gatherRows", Napi::Function::New(env, GatherRows));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGrad));
  exports.Set("rmsNorm", Napi::Function::New(env, RmsNorm));
  exports.Set("rmsNormGrad", Napi::Function::New(env, RmsNormGrad));
  exports.Set("groupNorm", Napi::Function::New(env, GroupNorm));
  exports.Set("groupNormGrad", Napi::Function::New(env, GroupNormGrad));
  exports.Set("groupNormSilu", Napi::Function::New(env, GroupNormSilu));
  exports.Set("geluTanh", Napi::Function::New(env, GeluTanh));
  exports.Set("geluTanhGrad", Napi::Function::New(env, GeluTanhGrad));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("attentionGrad", Napi::Function::New(env, AttentionGrad));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("adamwMulti", Napi::Function::New(env, AdamWMulti));
  exports.Set("emaMulti", Napi::Function::New(env, EmaMulti));
  exports.Set("globalNorm", Napi::Function::New(env, GlobalNorm));
  register_modulate(env, exports);
  register_bigbuf(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(opensora_native, Init)
