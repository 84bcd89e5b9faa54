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

/** [N, C, P] view of a channels-last [N, ..., C] tensor (a contiguous copy). */
at::Tensor channelsFirst(const at::Tensor& x) {
  int64_t n = x.size(0), c = x.size(-1);
  return x.reshape({n, -1, c}).permute({0, 2, 1}).contiguous();
}

at::Tensor channelsLastLike(const at::Tensor& y, const at::Tensor& like) { return y.permute({0, 2, 1}).reshape(like.sizes()); }

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
  t["OpensoraGroupNorm"] = [](OpCall& c) -> Outputs {
    const at::Tensor& x = c.x(0);
    if (x.dim() < 2) fail(c, "expected x of shape [N, ..., C]");
    at::Tensor xc = channelsFirst(x);
    auto r = at::native_group_norm(xc, c.maybe(1), c.maybe(2), xc.size(0), xc.size(1), xc.size(2), c.attrs.i("groups"), c.attrs.num("eps"));
    return {channelsLastLike(std::get<0>(r), x)};
  };
  t["OpensoraGroupNormGrad"] = [](OpCall& c) -> Outputs {
    const at::Tensor &dy = c.x(0), &x = c.x(1);
    auto gamma = c.maybe(2);
    bool hasBeta = c.attrs.b("hasBeta");
    at::Tensor xc = channelsFirst(x), dyc = channelsFirst(dy);
    int64_t n = xc.size(0), ch = xc.size(1), p = xc.size(2), groups = c.attrs.i("groups");
    auto fwd = at::native_group_norm(xc, gamma, c10::nullopt, n, ch, p, groups, c.attrs.num("eps"));
    auto g = at::native_group_norm_backward(dyc, xc, std::get<1>(fwd), std::get<2>(fwd), gamma, n, ch, p, groups, {true, gamma.has_value(), false});
    at::Tensor dgamma = gamma ? std::get<1>(g).reshape(gamma->sizes()) : at::Tensor();
    return withParamGrads(channelsLastLike(std::get<0>(g), x), dgamma, dy, gamma.has_value(), hasBeta, ch);
  };
  t["OpensoraGeluTanh"] = [](OpCall& c) -> Outputs { return {at::gelu(c.x(0), "tanh")}; };
  t["OpensoraGeluTanhGrad"] = [](OpCall& c) -> Outputs { return {at::gelu_backward(c.x(0), c.x(1), "tanh")}; };
}

}  // namespace ost
