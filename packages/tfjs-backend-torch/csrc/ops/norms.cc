// The fused norm and GELU kernels of @opensora-ts/kernels (contract in its
// src/fused/cpu-kernels.ts): forward inputs [x, gamma?, beta?], backward inputs
// [dy, x, gamma?] -> [dx, dgamma (when gamma), dbeta (when attr hasBeta)]. Normalised over
// the last axis (GroupNorm: channels-last [N, ..., C], groups of channels over all positions).
#include "../ops.h"

namespace ost {

namespace {

std::vector<at::Tensor> withParamGrads(at::Tensor dx, at::Tensor dgamma, const at::Tensor& dy, bool hasGamma, bool hasBeta, int64_t c) {
  Outputs out{std::move(dx)};
  if (hasGamma) out.push_back(dgamma);
  if (hasBeta) out.push_back(dy.reshape({-1, c}).sum(0));
  return out;
}

int64_t channels(const OpCall& c, const at::Tensor& x) {
  if (x.dim() == 0) fail(c, "x is a scalar; expected at least one axis (channels last)");
  return x.size(-1);
}


/** Group statistics of a channels-last x viewed as [N, P, C]: centred x and rstd per channel. */
struct GroupStats {
  int64_t n, ch, groups;
  double count;  // elements per group: P * C / G
  at::Tensor xc;    // x - mean, [N, P, C]
  at::Tensor rstd;  // 1 / sqrt(var + eps) of each channel's group, [N, 1, C]
  /** Per-channel sums [N, C] -> per-group means [N, G, 1]. */
  at::Tensor toGroups(const at::Tensor& sums) const { return sums.view({n, groups, ch / groups}).sum(2, true).div_(count); }
  /** Per-group values [N, G, 1] -> each channel's [N, 1, C]. */
  at::Tensor perChannel(const at::Tensor& g) const { return g.expand({n, groups, ch / groups}).reshape({n, 1, ch}); }
};

GroupStats groupStats(const OpCall& c, const at::Tensor& x) {
  GroupStats s;
  s.n = x.size(0);
  s.ch = x.size(-1);
  s.groups = c.attrs.i("groups");
  if (s.groups < 1 || s.ch % s.groups != 0) fail(c, "groups must divide the channels");
  at::Tensor xr = x.reshape({s.n, -1, s.ch});
  s.count = static_cast<double>(xr.size(1) * (s.ch / s.groups));
  s.xc = xr - s.perChannel(s.toGroups(xr.sum(1)));
  at::Tensor var = s.toGroups(s.xc.square().sum(1));
  s.rstd = s.perChannel(var.add_(c.attrs.num("eps")).rsqrt_());
  return s;
}
}  // namespace

void addNormOps(OpTable& t) {
  t["OpensoraLayerNorm"] = [](OpCall& c) -> Outputs {
    const at::Tensor& x = c.x(0);
    return {at::layer_norm(x, {channels(c, x)}, c.maybe(1), c.maybe(2), c.attrs.num("eps"))};
  };
  t["OpensoraLayerNormGrad"] = [](OpCall& c) -> Outputs {
    const at::Tensor &dy = c.x(0), &x = c.x(1);
    auto gamma = c.maybe(2);
    bool hasBeta = c.attrs.b("hasBeta");
    int64_t ch = channels(c, x);
    auto fwd = at::native_layer_norm(x, {ch}, gamma, c10::nullopt, c.attrs.num("eps"));
    auto g = at::native_layer_norm_backward(dy, x, {ch}, std::get<1>(fwd), std::get<2>(fwd), gamma, c10::nullopt, {true, gamma.has_value(), false});
    return withParamGrads(std::get<0>(g), std::get<1>(g), dy, gamma.has_value(), hasBeta, ch);
  };
  t["OpensoraRMSNorm"] = [](OpCall& c) -> Outputs {
    const at::Tensor& x = c.x(0);
    at::Tensor y = x * at::rsqrt(at::mean(x * x, {-1}, true) + c.attrs.num("eps"));
    if (auto gamma = c.maybe(1)) y = y * *gamma;
    return {y};
  };
  t["OpensoraRMSNormGrad"] = [](OpCall& c) -> Outputs {
    const at::Tensor &dy = c.x(0), &x = c.x(1);
    auto gamma = c.maybe(2);
    int64_t ch = channels(c, x);
    at::Tensor r = at::rsqrt(at::mean(x * x, {-1}, true) + c.attrs.num("eps"));
    at::Tensor xhat = x * r;
    at::Tensor g = gamma ? dy * *gamma : dy;
    at::Tensor dx = r * (g - xhat * at::mean(g * xhat, {-1}, true));
    at::Tensor dgamma = gamma ? (dy * xhat).reshape({-1, ch}).sum(0).reshape(gamma->sizes()) : at::Tensor();
    return withParamGrads(dx, dgamma, dy, gamma.has_value(), false, ch);
  };
  // GroupNorm on channels-last data, two-pass (mean, then the centred variance) so a group of
  // one element normalises to exactly 0 as in the reference composite (ATen's native_group_norm
  // takes E[x^2] - E[x]^2 on channels-last input and leaves noise there and where the variance
  // is of the order of eps). Every reduction sums over positions into per-channel sums (a
  // contiguous reduction over [N, P, C], fast) and folds those into groups; reducing over a
  // [N, P, G, C/G] view directly was 10-20x slower on the VAE's activations.
  t["OpensoraGroupNorm"] = [](OpCall& c) -> Outputs {
    const at::Tensor& x = c.x(0);
    if (x.dim() < 2) fail(c, "expected x of shape [N, ..., C]");
    GroupStats s = groupStats(c, x);
    at::Tensor scale = s.rstd;  // [N, 1, C]
    if (auto gamma = c.maybe(1)) scale = scale * gamma->reshape({1, 1, s.ch});
    at::Tensor y = c.maybe(2) ? at::addcmul(c.maybe(2)->reshape({1, 1, s.ch}), s.xc, scale) : s.xc.mul_(scale);
    return {y.view(x.sizes())};
  };
  t["OpensoraGroupNormGrad"] = [](OpCall& c) -> Outputs {
    // With g = dy * gamma and xhat = (x - mean) * rstd, per group:
    // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); dgamma = sum dy * xhat; dbeta = sum dy.
    const at::Tensor &dy = c.x(0), &x = c.x(1);
    auto gamma = c.maybe(2);
    GroupStats s = groupStats(c, x);
    at::Tensor dyr = dy.reshape({s.n, -1, s.ch});
    at::Tensor xhat = s.xc.mul_(s.rstd);
    at::Tensor dyxhat = (dyr * xhat).sum(1);  // [N, C]
    at::Tensor g = gamma ? dyr * gamma->reshape({1, 1, s.ch}) : dyr;
    at::Tensor gamma2 = gamma ? gamma->reshape({1, s.ch}) : at::Tensor();
    at::Tensor meanG = s.perChannel(s.toGroups(g.sum(1)));
    at::Tensor meanGX = s.perChannel(s.toGroups(gamma ? dyxhat * gamma2 : dyxhat));
    at::Tensor dx = at::addcmul(g - meanG, xhat, meanGX, -1).mul_(s.rstd);
    at::Tensor dgamma = gamma ? dyxhat.sum(0).reshape(gamma->sizes()) : at::Tensor();
    return withParamGrads(dx.view(x.sizes()), dgamma, dy, gamma.has_value(), c.attrs.b("hasBeta"), s.ch);
  };
  // silu(GroupNorm(x)) (@opensora-ts/kernels' fused/group-norm-silu.ts; its gradient reuses
  // OpensoraGroupNormGrad): the norm above, then y * sigmoid(y) as the composite computes it, in
  // one call and over the norm's own output.
  t["OpensoraGroupNormSilu"] = [norm = t["OpensoraGroupNorm"]](OpCall& c) -> Outputs {
    at::Tensor y = norm(c)[0];
    return {y.mul_(at::sigmoid(y))};
  };
  // adaLN (@opensora-ts/kernels' fused/modulate.ts): x's rows fall in `groups` groups, each
  // sharing one row of the per-channel tensors (which keep their own shapes). LayerNormModulate
  // is LN(x) * (1 + scale) + shift and GatedAdd x + gate * y, the composites' ops in their order.
  t["OpensoraLayerNormModulate"] = [](OpCall& c) -> Outputs {
    const at::Tensor& x = c.x(0);
    int64_t ch = channels(c, x), g = c.attrs.i("groups");
    at::Tensor y = at::layer_norm(x.reshape({g, -1, ch}), {ch}, c10::nullopt, c10::nullopt, c.attrs.num("eps"));
    y.mul_(c.x(2).reshape({g, 1, ch}) + 1).add_(c.x(1).reshape({g, 1, ch}));
    return {y.view(x.sizes())};
  };
  t["OpensoraLayerNormModulateGrad"] = [](OpCall& c) -> Outputs {
    // inputs dy, x, scale -> dx, dshift, dscale (shift has scale's shape)
    const at::Tensor &x = c.x(1), &scale = c.x(2);
    int64_t ch = channels(c, x), g = c.attrs.i("groups");
    at::Tensor xr = x.reshape({g, -1, ch}), dy = c.x(0).reshape({g, -1, ch});
    auto fwd = at::native_layer_norm(xr, {ch}, c10::nullopt, c10::nullopt, c.attrs.num("eps"));
    at::Tensor dxhat = dy * (scale.reshape({g, 1, ch}) + 1);
    auto grads = at::native_layer_norm_backward(dxhat, xr, {ch}, std::get<1>(fwd), std::get<2>(fwd), c10::nullopt, c10::nullopt, {true, false, false});
    at::Tensor dscale = (dy * std::get<0>(fwd)).sum(1).view(scale.sizes());
    return {std::get<0>(grads).view(x.sizes()), dy.sum(1).view(scale.sizes()), dscale};
  };
  t["OpensoraGatedAdd"] = [](OpCall& c) -> Outputs {
    const at::Tensor &x = c.x(0), &y = c.x(2);
    int64_t ch = channels(c, x), g = c.attrs.i("groups");
    at::Tensor out = at::mul(c.x(1).reshape({g, 1, ch}), y.reshape({g, -1, ch})).add_(x.reshape({g, -1, ch}));
    return {out.view(x.sizes())};
  };
  t["OpensoraGatedAddGrad"] = [](OpCall& c) -> Outputs {
    // inputs dy, gate, y -> dy * gate (y's shape), dgate (gate's shape)
    const at::Tensor &gate = c.x(1), &y = c.x(2);
    int64_t ch = channels(c, y), g = c.attrs.i("groups");
    at::Tensor dy = c.x(0).reshape({g, -1, ch});
    return {(dy * gate.reshape({g, 1, ch})).view(y.sizes()), (dy * y.reshape({g, -1, ch})).sum(1).view(gate.sizes())};
  };
  t["OpensoraGeluTanh"] = [](OpCall& c) -> Outputs { return {at::gelu(c.x(0), "tanh")}; };
  t["OpensoraGeluTanhGrad"] = [](OpCall& c) -> Outputs { return {at::gelu_backward(c.x(0), c.x(1), "tanh")}; };
}

}  // namespace ost
