// Data movement: transpose, slices, concat/stack/split, pad, tile, gather, reverse,
// broadcast. Axes and sizes arrive normalised by TypeScript (tfjs's own shape helpers);
// outputs that are views get their own storage in the glue (but for the pieces of Unpack / SplitV).
#include "../ops.h"

namespace ost {

namespace {

/**
 * at::cat, but one strided copy per input where each input is one element thick along `axis` and
 * that axis is the innermost (the interleave of a rotary embedding's rotate_half, a stack along
 * the last axis): ATen's cat walks those element by element, 3.5x slower at [1,8,320,24,1] x2 at
 * 1 thread. Same values (a copy), so the same bits.
 */
at::Tensor concat(const std::vector<at::Tensor>& in, int64_t axis) {
  if (in.size() < 2 || !in[0].device().is_cpu()) return at::cat(in, axis);
  const at::Tensor& first = in[0];
  int64_t rank = first.dim();
  if (rank == 0) return at::cat(in, axis);
  int64_t ax = axis < 0 ? axis + rank : axis;
  if (ax != rank - 1 || first.numel() < 4096) return at::cat(in, axis);
  for (const at::Tensor& x : in) {
    if (x.dim() != rank || x.size(ax) != 1 || x.scalar_type() != first.scalar_type() || x.sizes().slice(0, ax) != first.sizes().slice(0, ax)) return at::cat(in, axis);
  }
  std::vector<int64_t> shape = first.sizes().vec();
  shape[static_cast<size_t>(ax)] = static_cast<int64_t>(in.size());
  at::Tensor out = at::empty(shape, first.options());
  for (size_t i = 0; i < in.size(); i++) out.narrow(ax, static_cast<int64_t>(i), 1).copy_(in[i]);
  return out;
}

}  // namespace

void addCopyOps(OpTable& t) {
  t["Transpose"] = [](OpCall& c) -> Outputs { return {c.x(0).permute(c.attrs.ints("perm"))}; };
  t["Slice"] = [](OpCall& c) -> Outputs {
    std::vector<int64_t> begin = c.attrs.ints("begin"), size = c.attrs.ints("size");
    at::Tensor x = c.x(0);
    for (size_t d = 0; d < begin.size(); d++) x = x.narrow(static_cast<int64_t>(d), begin[d], size[d]);
    return {x};
  };
  t["StridedSlice"] = [](OpCall& c) -> Outputs {
    // begin/end/strides per axis of x (positive strides; tfjs's sliceInfo resolved the masks),
    // then the final shape (new and shrunk axes).
    std::vector<int64_t> begin = c.attrs.ints("begin"), end = c.attrs.ints("end"), strides = c.attrs.ints("strides");
    at::Tensor x = c.x(0);
    for (size_t d = 0; d < begin.size(); d++) {
      if (strides[d] <= 0) fail(c, "only positive strides run here");
      int64_t e = std::max(end[d], begin[d]);
      x = x.slice(static_cast<int64_t>(d), begin[d], e, strides[d]);
    }
    return {x.reshape(c.attrs.ints("outShape"))};
  };
  t["Concat"] = [](OpCall& c) -> Outputs { return {concat(c.in, c.attrs.i("axis"))}; };
  t["Pack"] = [](OpCall& c) -> Outputs {
    int64_t axis = c.attrs.i("axis");
    if (c.in.empty() || (axis != c.x(0).dim() && axis != -1)) return {at::stack(c.in, axis)};
    // A stack along a new last axis is a concat of one-element-thick pieces.
    std::vector<at::Tensor> parts;
    for (const at::Tensor& x : c.in) parts.push_back(x.unsqueeze(-1));
    return {concat(parts, -1)};
  };
  // The pieces of an unbind / split partition their input: contiguous ones stay views of its
  // storage (freed when the last piece is), the others are copied out by the glue.
  t["Unpack"] = [](OpCall& c) -> Outputs {
    c.outputsMayShareStorage = true;
    return at::unbind(c.x(0), c.attrs.i("axis"));
  };
  t["SplitV"] = [](OpCall& c) -> Outputs {
    c.outputsMayShareStorage = true;
    return at::split_with_sizes(c.x(0), c.attrs.ints("sizes"), c.attrs.i("axis"));
  };
  t["PadV2"] = [](OpCall& c) -> Outputs {
    // paddings: [before0, after0, before1, after1, ...]; ATen's list starts at the last axis.
    std::vector<int64_t> p = c.attrs.ints("paddings");
    std::vector<int64_t> rev;
    for (size_t d = p.size() / 2; d-- > 0;) {
      rev.push_back(p[2 * d]);
      rev.push_back(p[2 * d + 1]);
    }
    return {at::constant_pad_nd(c.x(0), rev, c.attrs.num("constantValue"))};
  };
  t["MirrorPad"] = [](OpCall& c) -> Outputs {
    // reflect (edge not repeated) or symmetric (edge repeated), one axis at a time by gather.
    std::vector<int64_t> p = c.attrs.ints("paddings");
    bool reflect = c.attrs.s("mode") == "reflect";
    at::Tensor x = c.x(0);
    for (int64_t d = 0; d < x.dim(); d++) {
      int64_t before = p[2 * d], after = p[2 * d + 1], n = x.size(d);
      if (before == 0 && after == 0) continue;
      at::Tensor i = at::arange(-before, n + after, at::TensorOptions().dtype(at::kLong).device(x.device()));
      at::Tensor lo = reflect ? -i : -i - 1;
      at::Tensor hi = reflect ? 2 * (n - 1) - i : 2 * n - 1 - i;
      i = at::where(i < 0, lo, at::where(i >= n, hi, i));
      x = x.index_select(d, i);
    }
    return {x};
  };
  t["Tile"] = [](OpCall& c) -> Outputs { return {c.x(0).repeat(c.attrs.ints("reps"))}; };
  t["GatherV2"] = [](OpCall& c) -> Outputs {
    // out shape: x.shape[:axis] + indices.shape + x.shape[axis+1:] (batchDims 0).
    const at::Tensor& x = c.x(0);
    const at::Tensor& idx = c.x(1);
    int64_t axis = c.attrs.i("axis");
    at::Tensor flat = idx.reshape({-1}).to(at::kLong);
    int64_t n = x.size(axis);
    if (flat.numel() > 0) {
      auto lo = flat.min().item<int64_t>(), hi = flat.max().item<int64_t>();
      if (lo < 0 || hi >= n) fail(c, "index " + std::to_string(lo < 0 ? lo : hi) + " is out of range [0, " + std::to_string(n) + ")");
    }
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().begin() + axis);
    for (int64_t d : idx.sizes()) shape.push_back(d);
    for (int64_t d = axis + 1; d < x.dim(); d++) shape.push_back(x.size(d));
    return {x.index_select(axis, flat).reshape(shape)};
  };
  t["Reverse"] = [](OpCall& c) -> Outputs { return {at::flip(c.x(0), c.attrs.ints("dims"))}; };
  t["BroadcastTo"] = [](OpCall& c) -> Outputs { return {c.x(0).expand(c.attrs.ints("shape"))}; };
  t["Identity"] = [](OpCall& c) -> Outputs { return {c.x(0).clone()}; };
}

}  // namespace ost
