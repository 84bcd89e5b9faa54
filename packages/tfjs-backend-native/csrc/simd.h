// Hot loops are compiled three times: for baseline x86-64 (what a published binary may assume),
// x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512), picked at load time by glibc's ifunc. This keeps the addon safe
// on any x86-64 while fast on the machines we run on. Elsewhere the attribute is empty.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define OSN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define OSN_CLONES
#endif

#define OSN_INLINE inline __attribute__((always_inline))

namespace osn {

OSN_INLINE float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
OSN_INLINE int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}

// GCC vector types for loops the auto-vectoriser handles poorly (max reductions, or where a
// fixed lane order must be kept): each clone lowers them to its widest registers (one zmm on
// x86-64-v4, two ymm on v3, four xmm on baseline), so they stay portable. They never cross the
// addon's boundary (the helpers here are always inlined and take them by reference), so GCC's note
// that returning them differs between clones (-Wpsabi, raised where they are used) does not apply
// and is silenced for the files that include this one.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf16 __attribute__((vector_size(64)));
typedef int32_t vi16 __attribute__((vector_size(64)));
typedef double vd8 __attribute__((vector_size(64)));

// Unaligned loads and stores, and reinterpreting bits, for scalars and vectors alike.
template <typename V>
OSN_INLINE V load_v(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V>
OSN_INLINE void store_v(float* p, const V& v) {
  std::memcpy(p, &v, sizeof(V));
}
template <typename To, typename From>
OSN_INLINE To bitcast_v(const From& f) {
  static_assert(sizeof(To) == sizeof(From), "bitcast_v: sizes differ");
  To t;
  std::memcpy(&t, &f, sizeof(To));
  return t;
}
OSN_INLINE vd8 widen(const vf8& v) { return __builtin_convertvector(v, vd8); }

// exp(x) to ~1 ulp (Cephes expf polynomial), written branch-free so loops calling it
// vectorise; libm's expf is a scalar call and would not. F is float (I int32_t) or vf16 (I vi16):
// the same operations in the same order, so a lane of the vector form equals the scalar form.
template <typename F, typename I>
OSN_INLINE F fast_exp_t(const F& x) {
  const F zero{};
  const float hi = 88.3762626647949f, lo = -87.3365447504f;
  const F xc = x > hi ? zero + hi : (x < lo ? zero + lo : x);
  // Round x/ln2 to nearest with the 1.5*2^23 trick (no floor/round call needed).
  const float magic = 12582912.0f;
  const F t = xc * 1.44269504088896341f + magic;
  const I n = bitcast_v<I>(t) - float_to_bits(magic);
  const F fn = t - magic;
  F r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  F p = zero + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F y = p * r * r + r + 1.0f;
  F out = bitcast_v<F>(bitcast_v<I>(y) + (n << 23));
  out = x < lo ? zero : out;
  out = x > hi ? zero + __builtin_inff() : out;
  return x != x ? x : out;  // NaN stays NaN
}
OSN_INLINE float fast_exp(float x) { return fast_exp_t<float, int32_t>(x); }
OSN_INLINE vf16 fast_exp(const vf16& x) { return fast_exp_t<vf16, vi16>(x); }

// exp(x) for x <= 0 or NaN (a softmax's x - max), the Cephes polynomial of fast_exp with fused
// multiply-adds: about half its operations, within 1.01 ulp of exp over every float in
// [-87.3, 0] (fast_exp: 0.99); below that 0, as fast_exp. fmaf rounds the same with or without
// FMA hardware, so every clone gives the same bits (the baseline one through libm's fmaf).
OSN_INLINE float exp_nonpos(float x) {
  const float lo = -87.3365447504f;
  const float xc = x < lo ? lo : x;
  const float magic = 12582912.0f;
  const float t = __builtin_fmaf(xc, 1.44269504088896341f, magic);
  const int32_t n = float_to_bits(t) - float_to_bits(magic);
  const float fn = t - magic;
  float r = __builtin_fmaf(fn, -0.693359375f, xc);
  r = __builtin_fmaf(fn, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = __builtin_fmaf(p, r, 1.3981999507e-3f);
  p = __builtin_fmaf(p, r, 8.3334519073e-3f);
  p = __builtin_fmaf(p, r, 4.1665795894e-2f);
  p = __builtin_fmaf(p, r, 1.6666665459e-1f);
  p = __builtin_fmaf(p, r, 5.0000001201e-1f);
  const float y = __builtin_fmaf(p, r * r, r) + 1.0f;
  float out = bits_to_float(float_to_bits(y) + n * (1 << 23));
  out = x < lo ? 0.0f : out;
  return x != x ? x : out;  // NaN stays NaN
}

OSN_INLINE float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

// tanh without the cancellation of 1 - 2/(e^2x + 1) near 0: a short odd series there.
OSN_INLINE float fast_tanh(float x) {
  const float ax = x < 0 ? -x : x;
  const float e = fast_exp(2.0f * (ax > 40.0f ? 40.0f : ax));
  float big = 1.0f - 2.0f / (e + 1.0f);
  const float x2 = x * x;
  const float small = ax * (1.0f + x2 * (-1.0f / 3 + x2 * (2.0f / 15 + x2 * (-17.0f / 315))));
  const float r = ax < 0.0625f ? small : big;
  return x < 0 ? -r : r;
}

}  // namespace osn
