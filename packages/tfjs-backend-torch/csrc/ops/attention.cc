// OpensoraAttention (contract in @opensora-ts/kernels src/fused/cpu-kernels.ts): q [B,H,Nq,D],
// k [B,H,Nk,D], v [B,H,Nk,Dv], mask float [1|B, Nk] or [1|B, Nq, Nk] (nonzero = attend),
// attrs scale, causal (query i sees keys j <= i). Runs scaled_dot_product_attention, which
// picks flash / memory-efficient kernels on CUDA; the backward differentiates the same call
// with libtorch's autograd (the fused backward kernels where the libtorch has them). On the CPU
// with libtorch >= 2.5 and fp32, a forward run under a gradient tape (attr saveForGrad) also hands
// back the flash kernel's output and logsumexp, and the backward runs the flash backward on them
// directly instead of recomputing the forward: the same ATen calls autograd makes, so the same bits.
//
// Under a gradient tape, small products on the CPU in float32 (Nq*Nk up to kMathMaxScores per
// head) run as the reference's own attention does instead: scores = (q*scale) k^T, softmax, p v,
// with the backward from the kept probabilities p (4 GEMMs and the softmax backward). At 1
// thread, forward+backward measured 20-30% faster than the flash kernel's at STDiT3-mid's
// [5,8,64,64] and [1,8,320,120]; from 256x256 on flash is as fast or faster, and keeps O(N).
//
// Under OPENSORA_PRECISION=bf16 q, k, v (and dy) are cast to bfloat16 and the results back.
//
// libtorch 1.13 spells it at::_scaled_dot_product_attention (returns a tuple, no scale
// argument: q is pre-scaled); 2.x at::scaled_dot_product_attention (scale from 2.1).
#include <c10/core/GradMode.h>
#include <torch/version.h>

#include <cmath>
#include <limits>

#include "../ops.h"

#define OST_SDPA_V2 (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1))
// The CPU flash kernel and its backward as ops of their own, with a mask (and _fused_sdp_choice's
// enable_gqa): what scaled_dot_product_attention runs on the CPU, called directly so the forward's
// output and logsumexp can be kept for the backward.
#define OST_SDPA_CPU_FLASH (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5))

namespace ost {

namespace {

struct Masks {
  c10::optional<at::Tensor> attend;  // bool, broadcastable to [B, H, Nq, Nk]; none when all attend
  at::Tensor emptyRows;              // bool [1|B, 1, Nq|1, 1]: rows with no key to attend (defined when attend is)
};

Masks masks(const OpCall& c, const at::Tensor& q, const at::Tensor& k) {
  const at::Tensor& m = c.x(3);
  int64_t nq = q.size(2), nk = k.size(2);
  at::Tensor a = m != 0;
  if (a.dim() == 2) a = a.view({a.size(0), 1, 1, nk});
  else if (a.dim() == 3) a = a.view({a.size(0), 1, nq, nk});
  else fail(c, "mask must be [1|B, Nk] or [1|B, Nq, Nk]");
  if (c.attrs.b("causal")) a = a.logical_and(at::ones({nq, nk}, a.options()).tril());
  Masks out;
  if (a.all().item<bool>()) return out;
  out.attend = a;
  out.emptyRows = a.logical_not().all(-1, true);
  return out;
}

/** A row with no key to attend is NaN (as plain softmax gives, and the cpu kernel; newer
 * libtorch math kernels return 0 there). */
at::Tensor nanRows(const at::Tensor& y, const Masks& m) {
  return m.attend ? at::where(m.emptyRows, at::full({}, std::numeric_limits<float>::quiet_NaN(), y.options()), y) : y;
}

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const Masks& m, double scale) {
#if OST_SDPA_V2
  at::Tensor y = at::scaled_dot_product_attention(q, k, v, m.attend, 0.0, false, scale);
#else
  double defaultScale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor qs = scale == defaultScale ? q : q * (scale / defaultScale);
  at::Tensor y = std::get<0>(at::_scaled_dot_product_attention(qs, k, v, m.attend, 0.0, false, false));
#endif
  return nanRows(y, m);
}

#if OST_SDPA_CPU_FLASH
/** The float mask scaled_dot_product_attention makes of a boolean one: 0 where attended, -inf elsewhere. */
c10::optional<at::Tensor> additive(const Masks& m, const at::Tensor& q) {
  if (!m.attend) return c10::nullopt;
  return at::zeros(m.attend->sizes(), q.options()).masked_fill_(m.attend->logical_not(), -std::numeric_limits<double>::infinity());
}

/**
 * Whether scaled_dot_product_attention would run the CPU flash kernel on these operands (then
 * calling it directly gives the same bits, and its backward the gradients autograd gives): fp32
 * on the CPU, where the kernel's choice says flash.
 */
bool cpuFlash(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const c10::optional<at::Tensor>& mask, double scale) {
  if (!q.device().is_cpu() || q.scalar_type() != at::kFloat || currentPrecision() != Precision::fp32) return false;
  return at::_fused_sdp_choice(q, k, v, mask, 0.0, false, scale, false) == 1;  // sdp::SDPBackend::flash_attention
}
#endif

/** Largest Nq*Nk (per batch and head) and B*H*Nq*Nk (the kept probabilities) of the math path. */
constexpr int64_t kMathMaxScores = 256 * 256;
constexpr int64_t kMathMaxKept = int64_t{1} << 24;

/** Whether attention on these operands runs as plain GEMMs + softmax (see the header). */
bool smallMath(const at::Tensor& q, const at::Tensor& k) {
  if (!q.device().is_cpu() || q.scalar_type() != at::kFloat || currentPrecision() != Precision::fp32) return false;
  int64_t scores = q.size(2) * k.size(2);
  return scores <= kMathMaxScores && q.size(0) * q.size(1) * scores <= kMathMaxKept;
}

/** Rows with no key to attend, when there are any (a fully masked row's softmax is NaN). */
c10::optional<at::Tensor> emptyRowsOf(const Masks& m) {
  if (!m.attend || !m.emptyRows.any().item<bool>()) return c10::nullopt;
  return m.emptyRows;
}

/** softmax((q*scale) k^T masked), the reference's order; fully masked rows 0 so they pass no gradient. */
at::Tensor mathProbs(const at::Tensor& q, const at::Tensor& k, const Masks& m, double scale) {
  at::Tensor s = at::matmul(q * scale, k.transpose(-2, -1));
  if (m.attend) s.masked_fill_(m.attend->logical_not(), -std::numeric_limits<double>::infinity());
  at::Tensor p = at::_softmax(s, -1, false);
  if (auto empty = emptyRowsOf(m)) p.masked_fill_(*empty, 0);
  return p;
}

/** dq, dk, dv of y = p v with p = mathProbs(q, k): the GEMMs autograd runs on the reference's attention. */
Outputs mathBackward(const at::Tensor& dy0, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& p, const Masks& m, double scale) {
  // A NaN'd row's where() passes no gradient to it.
  c10::optional<at::Tensor> empty = emptyRowsOf(m);
  at::Tensor dy = empty ? at::where(*empty, at::zeros({}, dy0.options()), dy0) : dy0;
  at::Tensor dv = at::matmul(p.transpose(-2, -1), dy);
  at::Tensor ds = at::_softmax_backward_data(at::matmul(dy, v.transpose(-2, -1)), p, -1, at::kFloat);
  at::Tensor dq = at::matmul(ds, k).mul_(scale);
  at::Tensor dk = at::matmul(ds.transpose(-2, -1), q * scale);
  return {dq, dk, dv};
}

}  // namespace

void addAttentionOps(OpTable& t) {
  t["OpensoraAttention"] = [](OpCall& c) -> Outputs {
    at::Tensor q = lowp(c.x(0)), k = lowp(c.x(1)), v = lowp(c.x(2));
    Masks m = masks(c, q, k);
    double scale = c.attrs.num("scale");
    if (c.attrs.b("saveForGrad") && smallMath(q, k)) {
      // Also hand back p, which OpensoraAttentionGrad then takes. (A forward alone stays on
      // scaled_dot_product_attention: 5-25% faster than these GEMMs at the same shapes.)
      at::Tensor p = mathProbs(q, k, m, scale);
      return {nanRows(at::matmul(p, v), m), p};
    }
#if OST_SDPA_CPU_FLASH
    // saveForGrad (TypeScript sets it while a gradient tape records): also return the kernel's
    // raw output and logsumexp, which OpensoraAttentionGrad then takes instead of recomputing.
    if (c.attrs.b("saveForGrad")) {
      c10::optional<at::Tensor> mask = additive(m, q);
      if (cpuFlash(q, k, v, mask, scale)) {
        auto [out, lse] = at::_scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, false, mask, scale);
        // The kernel's output is a transposed view: one contiguous copy serves as both when no
        // row is NaN'd.
        at::Tensor y = nanRows(out, m).contiguous();
        return {y, m.attend ? out.contiguous() : y, lse};
      }
    }
#endif
    return {fullp(sdpa(q, k, v, m, scale))};
  };
  t["OpensoraAttentionGrad"] = [](OpCall& c) -> Outputs {
    // inputs: dy, q, k, v, mask[, what OpensoraAttention returned with saveForGrad: p on the
    // math path, out and logsumexp on the flash one]
    OpCall fwd{c.name, {c.x(1), c.x(2), c.x(3), c.x(4)}, c.attrs};
    Masks m = masks(fwd, c.x(1), c.x(2));
    if (smallMath(c.x(1), c.x(2)) && !c.maybe(6)) {
      double scale = c.attrs.num("scale");
      at::Tensor p = c.maybe(5) ? c.x(5) : mathProbs(c.x(1), c.x(2), m, scale);
      return mathBackward(c.x(0), c.x(1), c.x(2), c.x(3), p, m, scale);
    }
#if OST_SDPA_CPU_FLASH
    c10::optional<at::Tensor> mask = c.maybe(5) && c.maybe(6) ? additive(m, c.x(1)) : c10::nullopt;
    if (c.maybe(5) && c.maybe(6) && cpuFlash(c.x(1), c.x(2), c.x(3), mask, c.attrs.num("scale"))) {
      const at::Tensor &q = c.x(1), &k = c.x(2), &v = c.x(3);
      double scale = c.attrs.num("scale");
      // The NaN rows' where() passes no gradient to the kernel's output there.
      at::Tensor dy = m.attend ? at::where(m.emptyRows, at::zeros({}, c.x(0).options()), c.x(0)) : c.x(0);
      auto [dq, dk, dv] = at::_scaled_dot_product_flash_attention_for_cpu_backward(dy, q, k, v, c.x(5), c.x(6), 0.0, false, mask, scale);
      return {dq, dk, dv};
    }
#endif
    c10::AutoGradMode grad(true);
    at::Tensor q = lowp(c.x(1)).detach().requires_grad_(true);
    at::Tensor k = lowp(c.x(2)).detach().requires_grad_(true);
    at::Tensor v = lowp(c.x(3)).detach().requires_grad_(true);
    at::Tensor y = sdpa(q, k, v, m, c.attrs.num("scale"));
    y.backward(lowp(c.x(0)));
    return {fullp(q.grad().detach()), fullp(k.grad().detach()), fullp(v.grad().detach())};
  };
}

}  // namespace ost
