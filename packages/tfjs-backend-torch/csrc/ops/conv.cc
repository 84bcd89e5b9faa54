// Convolutions (2-D and 3-D, regular and depthwise) and both backprops, and pooling, through
// at::convolution / at::convolution_backward. tfjs is channels-last (NHWC / NDHWC, filters
// [k..., in, out], depthwise [kh, kw, in, multiplier]); ATen is channels-first: permute at the
// boundary. Geometry comes from tfjs's computeConv*Info: per-axis stride, dilation and the
// padding before/after each spatial axis; unequal padding is applied to the input explicitly.
#include <limits>

#include "../ops.h"

namespace ost {

namespace {

struct Geometry {
  int64_t nd;
  std::vector<int64_t> stride, dilation, before, after, sym;
  bool channelsLast, depthwise;
  int64_t groups = 1;
};

Geometry geometry(const OpCall& c) {
  Geometry g;
  g.nd = c.attrs.i("nd");
  g.stride = c.attrs.ints("strides");
  g.dilation = c.attrs.ints("dilations");
  g.before = c.attrs.ints("padBefore");
  g.after = c.attrs.ints("padAfter");
  g.channelsLast = c.attrs.b("channelsLast", true);
  g.depthwise = c.attrs.b("depthwise");
  auto n = static_cast<size_t>(g.nd);
  if (g.stride.size() != n || g.dilation.size() != n || g.before.size() != n || g.after.size() != n) fail(c, "geometry lists must have one entry per spatial axis");
  for (size_t d = 0; d < n; d++) g.sym.push_back(std::min(g.before[d], g.after[d]));
  return g;
}

bool asymmetric(const Geometry& g) {
  for (size_t d = 0; d < g.sym.size(); d++)
    if (g.before[d] != g.sym[d] || g.after[d] != g.sym[d]) return true;
  return false;
}

/** [N, spatial..., C] -> [N, C, spatial...] (a view). */
at::Tensor toChannelsFirst(const at::Tensor& x, const Geometry& g) {
  if (!g.channelsLast) return x;
  std::vector<int64_t> p{0, g.nd + 1};
  for (int64_t d = 1; d <= g.nd; d++) p.push_back(d);
  return x.permute(p);
}

at::Tensor toChannelsLast(const at::Tensor& x, const Geometry& g) {
  if (!g.channelsLast) return x;
  std::vector<int64_t> p{0};
  for (int64_t d = 2; d < g.nd + 2; d++) p.push_back(d);
  p.push_back(1);
  return x.permute(p);
}

/** The padding beyond the symmetric part, as an explicit pad of a channels-first input. */
at::Tensor padExtra(const at::Tensor& x, const Geometry& g) {
  if (!asymmetric(g)) return x;
  std::vector<int64_t> pads;
  for (int64_t d = g.nd - 1; d >= 0; d--) {
    pads.push_back(g.before[d] - g.sym[d]);
    pads.push_back(g.after[d] - g.sym[d]);
  }
  return at::constant_pad_nd(x, pads, 0);
}

/** tfjs filter -> ATen weight [out, in / groups, k...]; sets groups for depthwise. */
at::Tensor toWeight(const at::Tensor& f, Geometry& g) {
  int64_t nd = g.nd;
  std::vector<int64_t> p;
  if (g.depthwise) {
    int64_t in = f.size(nd), mult = f.size(nd + 1);
    std::vector<int64_t> shape(f.sizes().begin(), f.sizes().begin() + nd);
    shape.push_back(in * mult);
    shape.push_back(1);
    g.groups = in;
    p = {nd, nd + 1};
    for (int64_t d = 0; d < nd; d++) p.push_back(d);
    return f.reshape(shape).permute(p);
  }
  p = {nd + 1, nd};
  for (int64_t d = 0; d < nd; d++) p.push_back(d);
  return f.permute(p);
}

/**
 * tfjs filter [k..., in, out] -> ATen weight [out, in, k...] (not depthwise), in one of two
 * layouts, without the element-by-element permuted copy (at 3x3x3, 256 -> 256 that copy took
 * ~13 ms at one thread, as long as the convolution itself on the VAE's 8x8 frames): first one
 * 2-D transpose, [K * in, out] -> [out, K * in], which ATen copies in cache blocks; that is the
 * weight's channels_last(_3d) layout (`channelsLastWeight`, for a channels-last input: no further
 * copy), else a batch of small [K, in] -> [in, K] transposes gives the contiguous layout (for a
 * contiguous channels-first dy, so that the backend keeps computing channels-first there).
 */
at::Tensor toWeightFast(const at::Tensor& f, const Geometry& g, bool channelsLastWeight) {
  int64_t nd = g.nd, in = f.size(nd), out = f.size(nd + 1), k = 1;
  for (int64_t d = 0; d < nd; d++) k *= f.size(d);
  at::Tensor w = f.reshape({k * in, out}).t().contiguous();  // [out, k..., in]
  std::vector<int64_t> shape{out, in};
  for (int64_t d = 0; d < nd; d++) shape.push_back(f.size(d));
  if (!channelsLastWeight) return w.view({out, k, in}).transpose(1, 2).contiguous().view(shape);
  std::vector<int64_t> cl{out};
  for (int64_t d = 0; d < nd; d++) cl.push_back(f.size(d));
  cl.push_back(in);
  std::vector<int64_t> p{0, nd + 1};
  for (int64_t d = 1; d <= nd; d++) p.push_back(d);
  return w.view(cl).permute(p);
}

/** ATen weight gradient [out, in, k...] (contiguous) -> tfjs filter [k..., in, out], contiguous. */
at::Tensor fromWeightFast(const at::Tensor& w, const std::vector<int64_t>& tfShape) {
  int64_t out = w.size(0), in = w.size(1), k = w.numel() / (out * in);
  return w.contiguous().view({out, in, k}).transpose(1, 2).contiguous().view({out, k * in}).t().contiguous().view(tfShape);
}

/** Shape of the ATen weight for a tfjs filter shape (backprop-filter has no filter tensor). */
std::vector<int64_t> weightShape(const std::vector<int64_t>& fs, Geometry& g) {
  int64_t nd = g.nd;
  std::vector<int64_t> s;
  if (g.depthwise) {
    g.groups = fs[nd];
    s = {fs[nd] * fs[nd + 1], 1};
  } else {
    s = {fs[nd + 1], fs[nd]};
  }
  for (int64_t d = 0; d < nd; d++) s.push_back(fs[d]);
  return s;
}

at::Tensor fromWeight(const at::Tensor& w, const Geometry& g, const std::vector<int64_t>& tfShape) {
  int64_t nd = g.nd;
  std::vector<int64_t> p;
  for (int64_t d = 2; d < nd + 2; d++) p.push_back(d);
  if (g.depthwise) {
    p.push_back(0);
    p.push_back(1);
    return w.permute(p).reshape(tfShape);
  }
  p.push_back(1);
  p.push_back(0);
  return w.permute(p);
}

/**
 * A 1x1(x1) convolution with stride 1 and no padding over channels-last data is a matrix product
 * over positions, [P, in] x [in, out], with no layout change; oneDNN's channels-last convolution
 * took 4-6x longer on the VAE's 1x1x1 shortcuts at one thread. `kernel` is the filter's spatial
 * sizes (tfjs layout: the leading nd axes).
 */
bool pointwise(const Geometry& g, at::IntArrayRef kernel) {
  if (!g.channelsLast || g.depthwise) return false;
  for (size_t d = 0; d < static_cast<size_t>(g.nd); d++) {
    if (kernel[d] != 1 || g.stride[d] != 1 || g.before[d] != 0 || g.after[d] != 0) return false;
  }
  return true;
}

/** The shape of channels-last x with its channel axis replaced by `channels`. */
std::vector<int64_t> withChannels(at::IntArrayRef shape, int64_t channels) {
  std::vector<int64_t> s(shape.begin(), shape.end());
  s.back() = channels;
  return s;
}

std::vector<int64_t> zeros(int64_t n) { return std::vector<int64_t>(static_cast<size_t>(n), 0); }

/**
 * The forward convolution. A float32 3-D one on the CPU goes to oneDNN directly: ATen's choice
 * between oneDNN and its im2col Slow3d weighs N * C * D * H of the input and leaves W out (the
 * 2-D rule, read on 5-D shapes), so every VAE conv under 20480 there (3 -> 32 at 17x64x64,
 * 32 -> 64 at 17x32x32, 64 -> 64 at 9x16x16, all at 8x8) ran Slow3d, one thread at batch 1 and
 * 3-7x slower than oneDNN (2.13 and 1.13 alike). Otherwise, and for shapes ATen already sends to
 * oneDNN, at::convolution (same primitive).
 */
at::Tensor convolve(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, const Geometry& g) {
  bool oneDnn = g.nd == 3 && g.groups == 1 && x.device().is_cpu() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
                x.numel() > 0 && w.numel() > 0 && at::hasMKLDNN() && at::globalContext().userEnabledMkldnn();
  if (oneDnn) return at::mkldnn_convolution(x, w, bias, g.sym, g.stride, g.dilation, g.groups);
  return at::convolution(x, w, bias, g.stride, g.sym, g.dilation, false, zeros(g.nd), g.groups);
}

}  // namespace

void addConvOps(OpTable& t) {
  t["Pool"] = [](OpCall& c) -> Outputs {
    // Max or average pooling; tfjs's average leaves padded cells out of the count, so it is
    // sum(x) / sum(valid) over each window of the explicitly zero-padded input.
    Geometry g = geometry(c);
    std::vector<int64_t> k = c.attrs.ints("filter");
    bool isMax = c.attrs.s("kind") == "max";
    at::Tensor x = toChannelsFirst(c.x(0), g);
    std::vector<int64_t> pads;
    for (int64_t d = g.nd - 1; d >= 0; d--) {
      pads.push_back(g.before[d]);
      pads.push_back(g.after[d]);
    }
    std::vector<int64_t> none(static_cast<size_t>(g.nd), 0);
    at::Tensor y;
    if (isMax) {
      at::Tensor xp = at::constant_pad_nd(x, pads, -std::numeric_limits<double>::infinity());
      y = g.nd == 2 ? at::max_pool2d(xp, k, g.stride, none) : at::max_pool3d(xp, k, g.stride, none);
    } else {
      at::Tensor xp = at::constant_pad_nd(x, pads, 0);
      std::vector<int64_t> oneShape{1, 1};
      for (int64_t d = 0; d < g.nd; d++) oneShape.push_back(x.size(d + 2));
      at::Tensor valid = at::constant_pad_nd(at::ones(oneShape, x.options()), pads, 0);
      auto avg = [&](const at::Tensor& v) { return g.nd == 2 ? at::avg_pool2d(v, k, g.stride, none) : at::avg_pool3d(v, k, g.stride, none); };
      y = avg(xp) / avg(valid);
    }
    return {toChannelsLast(y, g)};
  };
  // Conv: inputs x, filter; OpensoraConv3d (@opensora-ts/kernels' fused/conv3d.ts: the causal
  // conv's pad -> conv3d -> add(bias)) also takes bias [out], added by the convolution itself.
  auto conv = [](OpCall& c) -> Outputs {
    Geometry g = geometry(c);
    const at::Tensor& f = c.x(1);
    c10::optional<at::Tensor> bias = c.maybe(2);
    if (bias) bias = lowp(*bias);
    if (pointwise(g, f.sizes())) {
      int64_t in = f.size(g.nd), out = f.size(g.nd + 1);
      at::Tensor x2 = lowp(c.x(0).reshape({-1, in})), w2 = lowp(f.reshape({in, out}));
      at::Tensor y = bias ? at::addmm(*bias, x2, w2) : at::mm(x2, w2);
      return {fullp(y).view(withChannels(c.x(0).sizes(), out))};
    }
    at::Tensor x = lowp(padExtra(toChannelsFirst(c.x(0), g), g));
    at::Tensor w = lowp(g.depthwise ? toWeight(f, g) : toWeightFast(f, g, g.channelsLast));
    return {toChannelsLast(fullp(convolve(x, w, bias, g)), g)};
  };
  t["Conv"] = conv;
  t["OpensoraConv3d"] = conv;
  t["ConvBackpropInput"] = [](OpCall& c) -> Outputs {
    // inputs: dy, filter; attr inputShape (tfjs layout).
    Geometry g = geometry(c);
    const at::Tensor& f = c.x(1);
    if (pointwise(g, f.sizes())) {
      int64_t in = f.size(g.nd), out = f.size(g.nd + 1);
      at::Tensor dx = at::mm(lowp(c.x(0).reshape({-1, out})), lowp(f.reshape({in, out})).t());
      return {fullp(dx).view(c.attrs.ints("inputShape"))};
    }
    at::Tensor dy = lowp(toChannelsFirst(c.x(0), g).contiguous());
    at::Tensor w = lowp(g.depthwise ? toWeight(f, g) : toWeightFast(f, g, false));
    std::vector<int64_t> xs = c.attrs.ints("inputShape");
    // Channels-first shape of the explicitly padded input.
    std::vector<int64_t> padded{xs[0], g.channelsLast ? xs[static_cast<size_t>(g.nd + 1)] : xs[1]};
    for (int64_t d = 0; d < g.nd; d++) {
      int64_t s = xs[static_cast<size_t>(g.channelsLast ? d + 1 : d + 2)];
      padded.push_back(s + g.before[d] + g.after[d] - 2 * g.sym[d]);
    }
    at::Tensor shapeOnly = at::empty(padded, dy.options());
    auto grads = at::convolution_backward(dy, shapeOnly, w, c10::nullopt, g.stride, g.sym, g.dilation, false, zeros(g.nd), g.groups, {true, false, false});
    at::Tensor dx = fullp(std::get<0>(grads));
    if (asymmetric(g)) {
      for (int64_t d = 0; d < g.nd; d++) {
        int64_t s = xs[static_cast<size_t>(g.channelsLast ? d + 1 : d + 2)];
        dx = dx.narrow(d + 2, g.before[d] - g.sym[d], s);
      }
    }
    return {toChannelsLast(dx, g)};
  };
  t["ConvBackpropFilter"] = [](OpCall& c) -> Outputs {
    // inputs: x, dy; attr filterShape (tfjs layout).
    Geometry g = geometry(c);
    std::vector<int64_t> fsP = c.attrs.ints("filterShape");
    if (static_cast<int64_t>(fsP.size()) == g.nd + 2 && pointwise(g, fsP)) {
      int64_t in = fsP[static_cast<size_t>(g.nd)], out = fsP[static_cast<size_t>(g.nd + 1)];
      at::Tensor dw = at::mm(lowp(c.x(0).reshape({-1, in})).t(), lowp(c.x(1).reshape({-1, out})));
      return {fullp(dw).view(fsP)};
    }
    at::Tensor x = lowp(padExtra(toChannelsFirst(c.x(0), g), g).contiguous());
    at::Tensor dy = lowp(toChannelsFirst(c.x(1), g).contiguous());
    std::vector<int64_t> fs = c.attrs.ints("filterShape");
    at::Tensor shapeOnly = at::empty(weightShape(fs, g), dy.options());
    auto grads = at::convolution_backward(dy, x, shapeOnly, c10::nullopt, g.stride, g.sym, g.dilation, false, zeros(g.nd), g.groups, {false, true, false});
    at::Tensor dw = fullp(std::get<1>(grads));
    return {g.depthwise ? fromWeight(dw, g, fs) : fromWeightFast(dw, fs)};
  };
}

}  // namespace ost
