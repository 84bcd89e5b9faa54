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

// exp(x) to ~1 ulp (Cephes expf polynomial), written branch-free so loops calling it
// vectorise; libm's expf is a scalar call and would not.
OSN_INLINE float fast_exp(float x) {
  const float hi = 88.3762626647949f, lo = -87.3365447504f;
  const float xc = x > hi ? hi : (x < lo ? lo : x);
  // Round x/ln2 to nearest with the 1.5*2^23 trick (no floor/round call needed).
  const float magic = 12582912.0f;
  const float t = xc * 1.44269504088896341f + magic;
  const int32_t n = float_to_bits(t) - float_to_bits(magic);
  const float fn = t - magic;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  float out = bits_to_float(float_to_bits(y) + (n << 23));
  out = x < lo ? 0.0f : out;
  out = x > hi ? __builtin_inff() : out;
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
