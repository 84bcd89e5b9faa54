// Elementwise kernels as ATen calls, one table per family (each entry named after the tfjs
// kernel it serves). ATen broadcasts binary ops the way tfjs does (numpy rules).
#include <cmath>
#include <limits>

#include "../ops.h"

namespace ost {

namespace {

using Unary = at::Tensor (*)(const at::Tensor&);
using Binary = at::Tensor (*)(const at::Tensor&, const at::Tensor&);

/** Float math on an int/bool input computes in float32 (tfjs kernels see float32 there). */
at::Tensor floaty(const at::Tensor& x) { return at::isFloatingType(x.scalar_type()) ? x : x.to(at::kFloat); }

const std::pair<const char*, Unary> kUnary[] = {
    {"Abs", [](const at::Tensor& x) { return at::abs(x); }},
    {"Acos", [](const at::Tensor& x) { return at::acos(floaty(x)); }},
    {"Acosh", [](const at::Tensor& x) { return at::acosh(floaty(x)); }},
    {"Asin", [](const at::Tensor& x) { return at::asin(floaty(x)); }},
    {"Asinh", [](const at::Tensor& x) { return at::asinh(floaty(x)); }},
    {"Atan", [](const at::Tensor& x) { return at::atan(floaty(x)); }},
    {"Atanh", [](const at::Tensor& x) { return at::atanh(floaty(x)); }},
    {"Ceil", [](const at::Tensor& x) { return at::ceil(x); }},
    {"Cos", [](const at::Tensor& x) { return at::cos(floaty(x)); }},
    {"Cosh", [](const at::Tensor& x) { return at::cosh(floaty(x)); }},
    {"Elu", [](const at::Tensor& x) { return at::elu(floaty(x)); }},
    {"Erf", [](const at::Tensor& x) { return at::erf(floaty(x)); }},
    {"Exp", [](const at::Tensor& x) { return at::exp(floaty(x)); }},
    {"Expm1", [](const at::Tensor& x) { return at::expm1(floaty(x)); }},
    {"Floor", [](const at::Tensor& x) { return at::floor(x); }},
    {"IsFinite", [](const at::Tensor& x) { return at::isfinite(x); }},
    {"IsInf", [](const at::Tensor& x) { return at::isinf(x); }},
    {"IsNan", [](const at::Tensor& x) { return at::isnan(x); }},
    {"Log", [](const at::Tensor& x) { return at::log(floaty(x)); }},
    {"Log1p", [](const at::Tensor& x) { return at::log1p(floaty(x)); }},
    {"LogicalNot", [](const at::Tensor& x) { return at::logical_not(x); }},
    {"Neg", [](const at::Tensor& x) { return at::neg(x); }},
    {"Reciprocal", [](const at::Tensor& x) { return at::reciprocal(floaty(x)); }},
    {"Relu", [](const at::Tensor& x) { return at::relu(x); }},
    {"Relu6", [](const at::Tensor& x) { return at::clamp(x, 0, 6); }},
    {"Round", [](const at::Tensor& x) { return at::round(x); }},  // half to even, as tfjs
    {"Rsqrt", [](const at::Tensor& x) { return at::rsqrt(floaty(x)); }},
    {"Selu", [](const at::Tensor& x) { return at::selu(floaty(x)); }},
    {"Sigmoid", [](const at::Tensor& x) { return at::sigmoid(floaty(x)); }},
    {"Sign", [](const at::Tensor& x) { return at::sign(x); }},
    {"Sin", [](const at::Tensor& x) { return at::sin(floaty(x)); }},
    {"Sinh", [](const at::Tensor& x) { return at::sinh(floaty(x)); }},
    {"Softplus", [](const at::Tensor& x) { return at::softplus(floaty(x)); }},
    {"Sqrt", [](const at::Tensor& x) { return at::sqrt(floaty(x)); }},
    {"Square", [](const at::Tensor& x) { return at::square(x); }},
    {"Tan", [](const at::Tensor& x) { return at::tan(floaty(x)); }},
    {"Tanh", [](const at::Tensor& x) { return at::tanh(floaty(x)); }},
};

const std::pair<const char*, Binary> kBinary[] = {
    {"Add", [](const at::Tensor& a, const at::Tensor& b) { return at::add(a, b); }},
    {"Sub", [](const at::Tensor& a, const at::Tensor& b) { return at::sub(a, b); }},
    {"Multiply", [](const at::Tensor& a, const at::Tensor& b) { return at::mul(a, b); }},
    {"RealDiv",
     [](const at::Tensor& a, const at::Tensor& b) {
       // tfjs-cpu writes an int32 quotient into an int32 array (truncation).
       bool ints = !at::isFloatingType(a.scalar_type()) && !at::isFloatingType(b.scalar_type());
       return ints ? at::div(a, b, "trunc") : at::div(a, b);
     }},
    // tfjs's FloorDiv is int32 whatever its inputs.
    {"FloorDiv", [](const at::Tensor& a, const at::Tensor& b) { return at::div(a, b, "floor").to(at::kInt); }},
    {"Mod", [](const at::Tensor& a, const at::Tensor& b) { return at::remainder(a, b); }},
    {"Maximum", [](const at::Tensor& a, const at::Tensor& b) { return at::maximum(a, b); }},
    {"Minimum", [](const at::Tensor& a, const at::Tensor& b) { return at::minimum(a, b); }},
    {"Pow", [](const at::Tensor& a, const at::Tensor& b) { return at::pow(a, b); }},
    {"SquaredDifference", [](const at::Tensor& a, const at::Tensor& b) { return at::square(at::sub(a, b)); }},
    {"Atan2", [](const at::Tensor& a, const at::Tensor& b) { return at::atan2(floaty(a), floaty(b)); }},
    {"Equal", [](const at::Tensor& a, const at::Tensor& b) { return at::eq(a, b); }},
    {"NotEqual", [](const at::Tensor& a, const at::Tensor& b) { return at::ne(a, b); }},
    {"Less", [](const at::Tensor& a, const at::Tensor& b) { return at::lt(a, b); }},
    {"LessEqual", [](const at::Tensor& a, const at::Tensor& b) { return at::le(a, b); }},
    {"Greater", [](const at::Tensor& a, const at::Tensor& b) { return at::gt(a, b); }},
    {"GreaterEqual", [](const at::Tensor& a, const at::Tensor& b) { return at::ge(a, b); }},
    {"LogicalAnd", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_and(a, b); }},
    {"LogicalOr", [](const at::Tensor& a, const at::Tensor& b) { return at::logical_or(a, b); }},
};

at::ScalarType dtypeAttr(const OpCall& c, const char* name) {
  std::string d = c.attrs.s(name);
  if (d == "float32") return at::kFloat;
  if (d == "int32") return at::kInt;
  if (d == "bool") return at::kBool;
  fail(c, "dtype '" + d + "' is not supported (float32, int32, bool)");
}

}  // namespace

void addElementwiseOps(OpTable& t) {
  for (const auto& [name, fn] : kUnary) {
    Unary f = fn;
    t[name] = [f](OpCall& c) -> Outputs { return {f(c.x(0))}; };
  }
  for (const auto& [name, fn] : kBinary) {
    Binary f = fn;
    t[name] = [f](OpCall& c) -> Outputs { return {f(c.x(0), c.x(1))}; };
  }
  t["LeakyRelu"] = [](OpCall& c) -> Outputs { return {at::leaky_relu(floaty(c.x(0)), c.attrs.num("alpha"))}; };
  t["Step"] = [](OpCall& c) -> Outputs {
    // tfjs: NaN stays NaN, x > 0 -> 1, else alpha.
    const at::Tensor& x = floaty(c.x(0));
    at::Tensor s = at::where(x > 0, at::ones({}, x.options()), at::full({}, c.attrs.num("alpha"), x.options()));
    return {at::where(at::isnan(x), x, s)};
  };
  t["ClipByValue"] = [](OpCall& c) -> Outputs { return {at::clamp(c.x(0), c.attrs.num("clipValueMin"), c.attrs.num("clipValueMax"))}; };
  t["Select"] = [](OpCall& c) -> Outputs {
    at::Tensor cond = c.x(0).to(at::kBool);
    const at::Tensor& a = c.x(1);
    // A rank-1 condition with higher-rank values picks whole rows (tfjs's where/select).
    if (cond.dim() == 1 && a.dim() > 1) {
      std::vector<int64_t> shape(a.dim(), 1);
      shape[0] = cond.size(0);
      cond = cond.view(shape);
    }
    return {at::where(cond, a, c.x(2))};
  };
  t["AddN"] = [](OpCall& c) -> Outputs {
    at::Tensor acc = c.x(0).clone();
    for (size_t i = 1; i < c.in.size(); i++) acc.add_(c.x(i));
    return {acc};
  };
  t["Cast"] = [](OpCall& c) -> Outputs { return {c.x(0).to(dtypeAttr(c, "dtype"))}; };
  t["Fill"] = [](OpCall& c) -> Outputs {
    auto opts = at::TensorOptions().dtype(dtypeAttr(c, "dtype")).device(currentDevice());
    return {at::full(c.attrs.ints("shape"), c.attrs.num("value"), opts)};
  };
  t["ZerosLike"] = [](OpCall& c) -> Outputs { return {at::zeros_like(c.x(0))}; };
  t["OnesLike"] = [](OpCall& c) -> Outputs { return {at::ones_like(c.x(0))}; };
  t["Range"] = [](OpCall& c) -> Outputs {
    auto opts = at::TensorOptions().dtype(dtypeAttr(c, "dtype")).device(currentDevice());
    double start = c.attrs.num("start"), step = c.attrs.num("step");
    int64_t n = c.attrs.i("size");  // tfjs's own count (ceil((stop - start) / step), at least 0)
    return {at::add(at::mul(at::arange(n, at::TensorOptions().dtype(at::kDouble).device(currentDevice())), step), start).to(opts.dtype())};
  };
  t["OneHot"] = [](OpCall& c) -> Outputs {
    int64_t depth = c.attrs.i("depth");
    at::Tensor idx = c.x(0).to(at::kLong);
    // tfjs: an index outside [0, depth) gives a row of offValue.
    at::Tensor valid = (idx >= 0).logical_and(idx < depth);
    at::Tensor hot = at::one_hot(at::where(valid, idx, at::zeros_like(idx)), depth).logical_and(valid.unsqueeze(-1));
    auto opts = at::TensorOptions().dtype(dtypeAttr(c, "dtype")).device(currentDevice());
    return {at::where(hot, at::full({}, c.attrs.num("onValue"), opts), at::full({}, c.attrs.num("offValue"), opts))};
  };
}

}  // namespace ost
