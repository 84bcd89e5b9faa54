// The compute entry points of the addon. Everything is float32, row-major, channels-last;
// shapes arrive already checked and simplified by the TypeScript side (src/kernels/*).
#pragma once
#include <cstdint>
#include <vector>

namespace osn {

// ---- norms.cc: the mean and 1/sqrt(var + eps) of one row of c values, summed in eight double lanes
// (LayerNorm and the adaLN kernels of modulate.cc round alike because they share it).
struct Moments {
  double mean, rstd;
};
Moments centered_moments(const float* x, int64_t c, float eps);

// ---- matmul.cc
// c[i] = op(a[ai[i]]) x op(b[bi[i]]) for i < batch; a is [*, M, K] (or [*, K, M] when ta).
// accumulate: c[i] += the product instead (c holds e.g. a bias already).
void batch_matmul(const float* a, const float* b, float* c, int64_t batch, const int32_t* ai, const int32_t* bi,
                  int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool accumulate = false);

// ---- conv.cc: NDHWC input, [KD, KH, KW, C, OC] filter; conv2d is the D = KD = 1 case.
struct ConvGeom {
  int64_t n, d, h, w, c;        // input
  int64_t od, oh, ow, oc;       // output
  int64_t kd, kh, kw;           // filter
  int64_t sd, sh, sw;           // strides
  int64_t dd, dh, dw;           // dilations
  int64_t pd, ph, pw;           // front (top/left) padding; the back padding is implied
};
// bias (oc values, may be null) is added to every output position, inside the conv where oneDNN runs it.
void conv_forward(const ConvGeom& g, const float* x, const float* f, float* y, const float* bias = nullptr);
void conv_backward_input(const ConvGeom& g, const float* dy, const float* f, float* dx);
void conv_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* df);
// Whether the oneDNN route was compiled in (binding.gyp finds libdnnl-dev).
bool have_dnnl();

// ---- elementwise.cc
enum class Unary : int { Exp, Log, Sigmoid, Tanh, Rsqrt, Sqrt, Square, Neg, Abs, Relu, Reciprocal, Sin, Cos, Relu6, Elu };
void unary(Unary op, const float* x, float* y, int64_t n);
enum class Binary : int { Add, Sub, Mul, Div, Max, Min, SquaredDiff };
// out[idx] = a[idx . as] op b[idx . bs] over `shape` (rank <= 8; strides 0 broadcast).
void binary(Binary op, const float* a, const float* b, float* out, int rank, const int64_t* shape, const int64_t* as,
            const int64_t* bs);

// ---- reduce.cc: x viewed as [outer, mid, inner], reduced over mid.
enum class Reduce : int { Sum, Mean, Max, Min };
void reduce(Reduce op, const float* x, float* out, int64_t outer, int64_t mid, int64_t inner);
void softmax_lastaxis(const float* x, float* y, int64_t rows, int64_t len);

// ---- transpose.cc: 4-byte elements; out shape[i] = shape[perm[i]].
void transpose(const uint32_t* x, uint32_t* y, int rank, const int64_t* shape, const int64_t* perm);

// ---- copy.cc: 4-byte elements.
// dst[idx . ds] = src[idx . ss] over `shape` (pointers already offset; strides may be negative).
void copy_strided(const uint32_t* src, uint32_t* dst, int rank, const int64_t* shape, const int64_t* ss,
                  const int64_t* ds);
// y = x padded by before/after on each axis with `value` (bit pattern); y is written in full.
void pad_constant(const uint32_t* x, uint32_t* y, int rank, const int64_t* xshape, const int64_t* before,
                  const int64_t* after, uint32_t value);
// y[i] = x[i mod xshape] with y's shape xshape * reps.
void tile(const uint32_t* x, uint32_t* y, int rank, const int64_t* xshape, const int64_t* reps);
// The same for 1-byte elements (bool).
void tile_u8(const uint8_t* x, uint8_t* y, int rank, const int64_t* xshape, const int64_t* reps);
// y[i] = cond[i] == 1 ? t[i] : e[i] (bits moved as they are).
void select(const uint8_t* cond, const uint32_t* t, const uint32_t* e, uint32_t* y, int64_t n);
// x viewed as [outer, dim, inner]: y[o, i, :] = x[o, idx[i], :] for i < n (indices in range).
void gather_rows(const uint32_t* x, uint32_t* y, const int32_t* idx, int64_t outer, int64_t dim, int64_t n,
                 int64_t inner);

// ---- norms.cc (gamma/beta may be null). GroupNorm views x as [n, s, c] with c = groups * cg.
void layer_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t rows, int64_t c, float eps);
void layer_norm_grad(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                     int64_t rows, int64_t c, float eps);
void rms_norm(const float* x, const float* gamma, float* y, int64_t rows, int64_t c, float eps);
void rms_norm_grad(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, int64_t rows,
                   int64_t c, float eps);
void group_norm(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t s, int64_t c,
                int64_t groups, float eps);
// GroupNorm then SiLU (y = t * sigmoid(t)) in one pass over the output.
void group_norm_silu(const float* x, const float* gamma, const float* beta, float* y, int64_t n, int64_t s, int64_t c,
                     int64_t groups, float eps);
void group_norm_grad(const float* dy, const float* x, const float* gamma, float* dx, float* dgamma, float* dbeta,
                     int64_t n, int64_t s, int64_t c, int64_t groups, float eps);
void gelu_tanh(const float* x, float* y, int64_t n);
void gelu_tanh_grad(const float* dy, const float* x, float* dx, int64_t n);

// ---- attention.cc: q [b, h, nq, d], k [b, h, nk, d], v [b, h, nk, dv] (all contiguous);
// mask [mb, nk] (mask_rank 2) or [mb, nq, nk] (mask_rank 3), mb 1 (shared) or b, 0 = masked.
struct AttentionDims {
  int64_t b, h, nq, nk, d, dv, mb;
  int mask_rank;
  bool causal;
  double scale;
};
// out [b, h, nq, dv]
void attention(const AttentionDims& dm, const float* q, const float* k, const float* v, const float* mask, float* out);
// dy [b, h, nq, dv] -> dq, dk, dv shaped like q, k, v (written in full).
void attention_grad(const AttentionDims& dm, const float* dy, const float* q, const float* k, const float* v,
                    const float* mask, float* dq, float* dk, float* dv);

// ---- rope.cc: x (or dy, backward) [rows, n, d], angles [n, r] (r even, <= d); y written in full.
void rope(const float* x, const float* angles, float* y, int64_t rows, int64_t n, int64_t d, int64_t r, bool backward);

// ---- optim.cc: multi-tensor optimizer updates. Tensor k has sizes[k] elements; in[j][k] and
// out[j][k] are its j-th input and output arrays (an output may be its input: an in-place update).
struct OptimTensors {
  std::vector<int64_t> sizes;
  std::vector<std::vector<const float*>> in;
  std::vector<std::vector<float*>> out;
};
// in: p, g, m, v; out: p, m, v. h (11 numbers, float32-rounded here): beta1, 1-beta1, beta2, 1-beta2,
// 1-lr*wd, hasDecay, sqrt(1-beta2^t), eps, lr/(1-beta1^t), gradScale, hasScale.
void adamw_multi(const OptimTensors& t, const double* h);
// in: ema, param; out: ema. ema*decay + param*(1-decay).
void ema_multi(const OptimTensors& t, double decay, double one_minus_decay);
// sqrt of the float32 sum, in order, of each tensor's sum of squares (reduce.cc's order).
float global_norm(const std::vector<const float*>& xs, const std::vector<int64_t>& sizes);

}  // namespace osn
