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
  // GroupNorm in two passes over a [N, P, G, C/G] view (mean, then the centred variance):
  // a group of one element normalises to exactly 0, as in the reference composite, where
  // ATen's native_group_norm (E[x^2] - E[x]^2) leaves rounding noise.
  t["OpensoraGroupNorm"] = [](OpCall& c) -> Outputs {
    const at::Tensor& x = c.x(0);
    if (x.dim() < 2) fail(c, "expected x of shape [N, ..., C]");
    int64_t ch = x.size(-1), groups = c.attrs.i("groups");
    if (groups < 1 || ch % groups != 0) fail(c, "groups must divide the channels");
    at::Tensor xg = x.reshape({x.size(0), -1, groups, ch / groups});
    at::Tensor xc = xg - xg.mean({1, 3}, true);
    at::Tensor y = (xc * at::rsqrt((xc * xc).mean({1, 3}, true) + c.attrs.num("eps"))).reshape(x.sizes());
    if (auto gamma = c.maybe(1)) y = y * gamma->reshape({ch});
    if (auto beta = c.maybe(2)) y = y + beta->reshape({ch});
    return {y};
  };
  t["OpensoraGroupNormGrad"] = [](OpCall& c) -> Outputs {
    const at::Tensor &dy = c.x(0), &x = c.x(1);
    auto gamma = c.maybe(2);
    int64_t ch = x.size(-1), groups = c.attrs.i("groups");
    if (groups < 1 || ch % groups != 0) fail(c, "groups must divide the channels");
    std::vector<int64_t> view{x.size(0), -1, groups, ch / groups};
    at::Tensor xg = x.reshape(view);
    at::Tensor xc = xg - xg.mean({1, 3}, true);
    at::Tensor rstd = at::rsqrt((xc * xc).mean({1, 3}, true) + c.attrs.num("eps"));
    at::Tensor xhat = xc * rstd;
    at::Tensor dyg = dy.reshape(view);
    at::Tensor g = gamma ? dyg * gamma->reshape({groups, ch / groups}) : dyg;
    at::Tensor dx = rstd * (g - g.mean({1, 3}, true) - xhat * (g * xhat).mean({1, 3}, true));
    at::Tensor dgamma = gamma ? (dyg * xhat).sum(at::IntArrayRef{0, 1}).reshape(gamma->sizes()) : at::Tensor();
    return withParamGrads(dx.reshape(x.sizes()), dgamma, dy, gamma.has_value(), c.attrs.b("hasBeta"), ch);
  };
  t["OpensoraGeluTanh"] = [](OpCall& c) -> Outputs { return {at::gelu(c.x(0), "tanh")}; };
  t["OpensoraGeluTanhGrad"] = [](OpCall& c) -> Outputs { return {at::gelu_backward(c.x(0), c.x(1), "tanh")}; };
}

}  // namespace ost
