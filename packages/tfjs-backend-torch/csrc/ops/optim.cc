// The multi-tensor optimizer kernels of @opensora-ts/kernels (contract and reference maths in its
// src/optim/composites.ts; the native backend has the same three), one call over every
// parameter of a model instead of ~10 tfjs ops (and their scalar uploads) per parameter:
//   OpensoraAdamW      inputs [p0..pn-1, g0.., m0.., v0..], attrs n and the scalars of
//                      adamwScalars, inPlace (3n flags for p, m, v) -> [p'0.., m'0.., v'0..]
//   OpensoraEmaUpdate  inputs [e0..en-1, p0..], attrs n, decay, oneMinusDecay, inPlace (n flags)
//                      -> [e'0..]
//   OpensoraGlobalNorm inputs [x0..xn-1] -> scalar sqrt(sum_i sum(x_i^2))
// Each runs the composite's ATen ops in the composite's order (every step rounds to float32 as
// there), so the kernel and the composite agree bit for bit on this backend. An output flagged
// in place is written over its input when no other tensor of the table holds that storage, and
// handed back as the same storage (TypeScript flags only tensors nothing else refers to).
#include "../ops.h"

namespace ost {

namespace {

/** The n tensors of group j (inputs are n-tensor groups, one after another). */
int64_t groupSize(const OpCall& c, int64_t groups) {
  int64_t n = c.attrs.i("n");
  if (n < 0 || static_cast<int64_t>(c.in.size()) != groups * n) {
    fail(c, "got " + std::to_string(c.in.size()) + " inputs for n=" + std::to_string(n) + ", expected " + std::to_string(groups) + " per tensor");
  }
  return n;
}

/** Input i, checked to be float32 with as many values as the group's first tensor k. */
const at::Tensor& operand(const OpCall& c, size_t i, size_t k) {
  const at::Tensor& t = c.x(i);
  if (t.scalar_type() != at::kFloat) fail(c, "input " + std::to_string(i) + " is not float32 (optimizer state and parameters are float32)");
  if (t.numel() != c.x(k).numel()) fail(c, "input " + std::to_string(i) + " has " + std::to_string(t.numel()) + " values, expected " + std::to_string(c.x(k).numel()));
  return t;
}

/** Whether t may be overwritten: flagged by TypeScript, and its storage is this tensor's alone. */
bool writable(const std::vector<int64_t>& flags, size_t i, const at::Tensor& t) {
  return i < flags.size() && flags[i] != 0 && t.is_contiguous() && t.storage().use_count() == 1;
}

/** t * s, into t itself when allowed. */
at::Tensor scaled(const at::Tensor& t, double s, bool inPlace) { return inPlace ? t.mul_(s) : at::mul(t, s); }

std::vector<int64_t> flagsOf(const OpCall& c) { return c.attrs.has("inPlace") && c.attrs.num("inPlace") != 0 ? c.attrs.ints("inPlaceEach") : std::vector<int64_t>{}; }

}  // namespace

void addOptimOps(OpTable& t) {
  t["OpensoraAdamW"] = [](OpCall& c) -> Outputs {
    int64_t n = groupSize(c, 4);
    const auto& a = c.attrs;
    double beta1 = a.num("beta1"), omb1 = a.num("oneMinusBeta1"), beta2 = a.num("beta2"), omb2 = a.num("oneMinusBeta2");
    double decay = a.num("decay"), sqrtBc2 = a.num("sqrtBc2"), eps = a.num("eps"), stepSize = a.num("stepSize"), gradScale = a.num("gradScale");
    bool hasDecay = a.b("hasDecay"), hasGradScale = a.b("hasGradScale");
    std::vector<int64_t> flags = flagsOf(c);
    Outputs out(static_cast<size_t>(3 * n));
    for (size_t i = 0; i < static_cast<size_t>(n); i++) {
      size_t un = static_cast<size_t>(n);
      const at::Tensor& p = operand(c, i, i);
      const at::Tensor& g = operand(c, un + i, i);
      const at::Tensor& m = operand(c, 2 * un + i, i);
      const at::Tensor& v = operand(c, 3 * un + i, i);
      at::Tensor gs = hasGradScale ? at::mul(g, gradScale) : g;
      // m' = m*beta1 + gs*(1-beta1); v' = v*beta2 + gs^2*(1-beta2)
      at::Tensor m1 = scaled(m, beta1, writable(flags, un + i, m)).add_(at::mul(gs, omb1));
      at::Tensor v1 = scaled(v, beta2, writable(flags, 2 * un + i, v)).add_(at::square(gs).mul_(omb2));
      // p' = p*decay - (m' / (sqrt(v')/sqrt(bc2) + eps)) * lr/bc1
      at::Tensor step = at::div(m1, at::sqrt(v1).div_(sqrtBc2).add_(eps)).mul_(stepSize);
      bool ownP = writable(flags, i, p);
      at::Tensor p1 = hasDecay ? scaled(p, decay, ownP).sub_(step) : (ownP ? p.sub_(step) : at::sub(p, step));
      out[i] = p1;
      out[un + i] = m1;
      out[2 * un + i] = v1;
    }
    return out;
  };
  t["OpensoraEmaUpdate"] = [](OpCall& c) -> Outputs {
    int64_t n = groupSize(c, 2);
    double decay = c.attrs.num("decay"), omd = c.attrs.num("oneMinusDecay");
    std::vector<int64_t> flags = flagsOf(c);
    Outputs out(static_cast<size_t>(n));
    for (size_t i = 0; i < static_cast<size_t>(n); i++) {
      const at::Tensor& e = operand(c, i, i);
      const at::Tensor& p = operand(c, static_cast<size_t>(n) + i, i);
      out[i] = scaled(e, decay, writable(flags, i, e)).add_(at::mul(p, omd));
    }
    return out;
  };
  t["OpensoraGlobalNorm"] = [](OpCall& c) -> Outputs {
    // The composite: addN(x_i.square().sum() for each i).sqrt(), with Sum over every axis and
    // AddN accumulating left to right, as those kernels do here.
    at::Tensor acc;
    for (size_t i = 0; i < c.in.size(); i++) {
      const at::Tensor& x = c.x(i);
      if (x.scalar_type() != at::kFloat) fail(c, "input " + std::to_string(i) + " is not float32");
      at::Tensor sq = at::square(x);
      std::vector<int64_t> axes(static_cast<size_t>(sq.dim()));
      for (int64_t d = 0; d < sq.dim(); d++) axes[static_cast<size_t>(d)] = d;
      at::Tensor s = axes.empty() ? sq : at::sum(sq, axes, false);
      if (!acc.defined()) acc = s.clone();
      else acc.add_(s);
    }
    if (!acc.defined()) acc = at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(currentDevice()));
    return {at::sqrt(acc)};
  };
}

}  // namespace ost
