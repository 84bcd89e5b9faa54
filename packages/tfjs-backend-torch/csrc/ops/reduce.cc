// Reductions over a list of axes (attr `axes`, already normalised to non-negative by
// TypeScript; an empty list copies), softmax, arg-reductions, cumulative sums and
// segment sums.
#include <algorithm>

#include "../ops.h"

namespace ost {

namespace {

using Reduce = at::Tensor (*)(const at::Tensor&, at::IntArrayRef, bool);

/** Reduces one axis at a time (for ATen reductions that take a single dim), highest first. */
template <typename F>
at::Tensor oneAxisAtATime(at::Tensor x, std::vector<int64_t> axes, bool keep, F f) {
  std::sort(axes.rbegin(), axes.rend());
  for (int64_t a : axes) x = f(x, a, keep);
  return x;
}

const std::pair<const char*, Reduce> kReduce[] = {
    {"Sum",
     [](const at::Tensor& x, at::IntArrayRef axes, bool keep) {
       // tfjs sums int32 and bool into int32 (ATen would give int64; the glue narrows it back).
       return at::sum(x, axes, keep);
     }},
    {"Mean",
     [](const at::Tensor& x, at::IntArrayRef axes, bool keep) {
       return at::mean(at::isFloatingType(x.scalar_type()) ? x : x.to(at::kFloat), axes, keep);
     }},
    {"Max", [](const at::Tensor& x, at::IntArrayRef axes, bool keep) { return at::amax(x, axes, keep); }},
    {"Min", [](const at::Tensor& x, at::IntArrayRef axes, bool keep) { return at::amin(x, axes, keep); }},
    {"Prod",
     [](const at::Tensor& x, at::IntArrayRef axes, bool keep) {
       return oneAxisAtATime(x, axes.vec(), keep, [](const at::Tensor& t, int64_t a, bool k) { return at::prod(t, a, k); });
     }},
    {"All",
     [](const at::Tensor& x, at::IntArrayRef axes, bool keep) {
       return oneAxisAtATime(x.to(at::kBool), axes.vec(), keep, [](const at::Tensor& t, int64_t a, bool k) { return at::all(t, a, k); });
     }},
    {"Any",
     [](const at::Tensor& x, at::IntArrayRef axes, bool keep) {
       return oneAxisAtATime(x.to(at::kBool), axes.vec(), keep, [](const at::Tensor& t, int64_t a, bool k) { return at::any(t, a, k); });
     }},
};

}  // namespace

void addReduceOps(OpTable& t) {
  for (const auto& [name, fn] : kReduce) {
    Reduce f = fn;
    t[name] = [f](OpCall& c) -> Outputs {
      std::vector<int64_t> axes = c.attrs.ints("axes");
      bool keep = c.attrs.b("keepDims");
      if (axes.empty()) return {c.x(0).clone()};
      return {f(c.x(0), axes, keep)};
    };
  }
  t["ArgMax"] = [](OpCall& c) -> Outputs { return {at::argmax(c.x(0), c.attrs.i("axis"))}; };
  t["ArgMin"] = [](OpCall& c) -> Outputs { return {at::argmin(c.x(0), c.attrs.i("axis"))}; };
  t["Softmax"] = [](OpCall& c) -> Outputs { return {at::softmax(c.x(0), c.attrs.i("dim"))}; };
  t["Cumsum"] = [](OpCall& c) -> Outputs {
    int64_t axis = c.attrs.i("axis");
    at::Tensor x = c.x(0);
    bool reverse = c.attrs.b("reverse"), exclusive = c.attrs.b("exclusive");
    if (reverse) x = at::flip(x, {axis});
    at::Tensor y = at::cumsum(x, axis);
    if (exclusive) y = at::sub(y, x);
    if (reverse) y = at::flip(y, {axis});
    return {y};
  };
  t["UnsortedSegmentSum"] = [](OpCall& c) -> Outputs {
    // out[s] = sum of x rows whose id is s; ids outside [0, numSegments) are dropped (tfjs).
    const at::Tensor& x = c.x(0);
    at::Tensor ids = c.x(1).to(at::kLong).reshape({-1});
    int64_t n = c.attrs.i("numSegments");
    at::Tensor rows = x.reshape({ids.size(0), -1});
    std::vector<int64_t> shape{n};
    for (int64_t d = c.x(1).dim(); d < x.dim(); d++) shape.push_back(x.size(d));
    at::Tensor keep = (ids >= 0).logical_and(ids < n).nonzero().reshape({-1});
    at::Tensor out = at::zeros({n, rows.size(1)}, rows.options());
    out.index_add_(0, ids.index_select(0, keep), rows.index_select(0, keep));
    return {out.reshape(shape)};
  };
}

}  // namespace ost
