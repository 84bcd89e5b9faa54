// OpensoraAttention (contract in @opensora-ts/kernels src/fused/cpu-kernels.ts): q [B,H,Nq,D],
// k [B,H,Nk,D], v [B,H,Nk,Dv], mask float [1|B, Nk] or [1|B, Nq, Nk] (nonzero = attend),
// attrs scale, causal (query i sees keys j <= i). Runs scaled_dot_product_attention, which
// picks flash / memory-efficient kernels on CUDA; the backward differentiates the same call
// with libtorch's autograd (the fused backward kernels where the libtorch has them).
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

at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const Masks& m, double scale) {
#if OST_SDPA_V2
  at::Tensor y = at::scaled_dot_product_attention(q, k, v, m.attend, 0.0, false, scale);
#else
  double defaultScale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  at::Tensor qs = scale == defaultScale ? q : q * (scale / defaultScale);
  at::Tensor y = std::get<0>(at::_scaled_dot_product_attention(qs, k, v, m.attend, 0.0, false, false));
#endif
  // A row that may attend to nothing is NaN, as plain softmax gives (and the cpu kernel);
  // newer libtorch math kernels return 0 there.
  if (m.attend) y = at::where(m.emptyRows, at::full({}, std::numeric_limits<float>::quiet_NaN(), y.options()), y);
  return y;
}

}  // namespace

void addAttentionOps(OpTable& t) {
  t["OpensoraAttention"] = [](OpCall& c) -> Outputs {
    at::Tensor q = lowp(c.x(0)), k = lowp(c.x(1)), v = lowp(c.x(2));
    return {fullp(sdpa(q, k, v, masks(c, q, k), c.attrs.num("scale")))};
  };
  t["OpensoraAttentionGrad"] = [](OpCall& c) -> Outputs {
    // inputs: dy, q, k, v, mask
    OpCall fwd{c.name, {c.x(1), c.x(2), c.x(3), c.x(4)}, c.attrs};
    Masks m = masks(fwd, c.x(1), c.x(2));
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
