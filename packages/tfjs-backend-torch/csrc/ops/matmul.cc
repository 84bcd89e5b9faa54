// Matrix products: BatchMatMul (transposes, broadcast batch dims, as tfjs), _FusedMatMul
// (bias + activation) and Einsum.
#include "../ops.h"

namespace ost {

namespace {

at::Tensor product(const OpCall& c) {
  at::Tensor a = c.x(0), b = c.x(1);
  if (c.attrs.b("transposeA")) a = a.transpose(-1, -2);
  if (c.attrs.b("transposeB")) b = b.transpose(-1, -2);
  return fullp(at::matmul(lowp(a), lowp(b)));
}

}  // namespace

void addMatmulOps(OpTable& t) {
  t["BatchMatMul"] = [](OpCall& c) -> Outputs { return {product(c)}; };
  t["_FusedMatMul"] = [](OpCall& c) -> Outputs {
    // inputs: a, b, bias?, preluActivationWeights?
    at::Tensor y = product(c);
    if (auto bias = c.maybe(2)) y = y.add_(*bias);
    std::string act = c.attrs.has("activation") ? c.attrs.s("activation") : "linear";
    if (act == "linear") return {y};
    if (act == "relu") return {y.relu_()};
    if (act == "relu6") return {y.clamp_(0, 6)};
    if (act == "elu") return {at::elu(y)};
    if (act == "sigmoid") return {y.sigmoid_()};
    if (act == "leakyrelu") return {at::leaky_relu(y, c.attrs.num("leakyreluAlpha", 0.2))};
    if (act == "prelu") {
      auto w = c.maybe(3);
      if (!w) fail(c, "prelu needs preluActivationWeights");
      return {at::where(y > 0, y, y * *w)};
    }
    fail(c, "activation '" + act + "' is not supported");
  };
  t["Einsum"] = [](OpCall& c) -> Outputs {
    std::vector<at::Tensor> in;
    for (const at::Tensor& x : c.in) in.push_back(lowp(x));
    return {fullp(at::einsum(c.attrs.s("equation"), in))};
  };
}

}  // namespace ost
