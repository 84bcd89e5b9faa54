// Convolutions through oneDNN (Debian's libdnnl-dev), compiled only when binding.gyp finds it.
// Activations stay in tfjs's channels-last layout (oneDNN's direct kernels read ndhwc);
// weights are reordered to whatever blocked layout the chosen kernel wants. Primitives are
// cached per shape because creating one costs milliseconds.
#include "kernels.h"

#ifdef OSN_HAVE_DNNL
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include <dnnl.hpp>

namespace osn {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

struct Dims {
  memory::dims src, wei, dst, strides, dilates, pad_l, pad_r;
};

Dims dims_of(const ConvGeom& g) {
  Dims d;
  d.src = {g.n, g.c, g.d, g.h, g.w};
  d.wei = {g.oc, g.c, g.kd, g.kh, g.kw};
  d.dst = {g.n, g.oc, g.od, g.oh, g.ow};
  d.strides = {g.sd, g.sh, g.sw};
  d.dilates = {g.dd - 1, g.dh - 1, g.dw - 1};  // oneDNN counts dilation from 0
  d.pad_l = {g.pd, g.ph, g.pw};
  d.pad_r = {(g.od - 1) * g.sd + (g.kd - 1) * g.dd + 1 - g.d - g.pd, (g.oh - 1) * g.sh + (g.kh - 1) * g.dh + 1 - g.h - g.ph,
             (g.ow - 1) * g.sw + (g.kw - 1) * g.dw + 1 - g.w - g.pw};
  return d;
}

enum Kind { Fwd, BwdData, BwdWeights, FwdBias };

struct Entry {
  dnnl::primitive prim;
  memory::desc weights;  // the layout the primitive uses for (diff_)weights
  memory::desc user_weights;
  bool reorder_weights;
};

using Key = std::tuple<int, std::vector<int64_t>>;

std::vector<int64_t> key_of(const ConvGeom& g) {
  return {g.n, g.d, g.h, g.w, g.c, g.od, g.oh, g.ow, g.oc, g.kd, g.kh, g.kw,
          g.sd, g.sh, g.sw, g.dd, g.dh, g.dw, g.pd, g.ph, g.pw};
}

std::map<Key, std::shared_ptr<Entry>>& cache() {
  static std::map<Key, std::shared_ptr<Entry>> c;
  return c;
}

std::shared_ptr<Entry> build(Kind kind, const ConvGeom& g) {
  const Dims d = dims_of(g);
  auto& eng = engine();
  const memory::desc src(d.src, dt::f32, tag::ndhwc), dst(d.dst, dt::f32, tag::ndhwc);
  const memory::desc wei_any(d.wei, dt::f32, tag::any), wei_user(d.wei, dt::f32, tag::dhwio);
  const auto algo = dnnl::algorithm::convolution_direct;
  dnnl::convolution_forward::desc fdesc(dnnl::prop_kind::forward_training, algo, src, wei_any, dst, d.strides, d.dilates,
                                        d.pad_l, d.pad_r);
  dnnl::convolution_forward::primitive_desc fpd(fdesc, eng);
  auto e = std::make_shared<Entry>();
  e->user_weights = wei_user;
  if (kind == FwdBias) {
    // The bias is added to each output inside the kernel, instead of a second pass over y.
    const memory::desc bias(memory::dims{g.oc}, dt::f32, tag::x);
    dnnl::convolution_forward::desc bdesc(dnnl::prop_kind::forward_inference, algo, src, wei_any, bias, dst, d.strides,
                                          d.dilates, d.pad_l, d.pad_r);
    dnnl::convolution_forward::primitive_desc bpd(bdesc, eng);
    e->prim = dnnl::convolution_forward(bpd);
    e->weights = bpd.weights_desc();
  } else if (kind == Fwd) {
    e->prim = dnnl::convolution_forward(fpd);
    e->weights = fpd.weights_desc();
  } else if (kind == BwdData) {
    dnnl::convolution_backward_data::desc bdesc(algo, src, wei_any, dst, d.strides, d.dilates, d.pad_l, d.pad_r);
    dnnl::convolution_backward_data::primitive_desc bpd(bdesc, eng, fpd);
    e->prim = dnnl::convolution_backward_data(bpd);
    e->weights = bpd.weights_desc();
  } else {
    dnnl::convolution_backward_weights::desc wdesc(algo, src, wei_any, dst, d.strides, d.dilates, d.pad_l, d.pad_r);
    dnnl::convolution_backward_weights::primitive_desc wpd(wdesc, eng, fpd);
    e->prim = dnnl::convolution_backward_weights(wpd);
    e->weights = wpd.diff_weights_desc();
  }
  e->reorder_weights = e->weights != wei_user;
  return e;
}

std::shared_ptr<Entry> get(Kind kind, const ConvGeom& g) {
  auto& c = cache();
  const Key key{kind, key_of(g)};
  auto it = c.find(key);
  if (it != c.end()) return it->second;
  if (c.size() > 256) c.clear();  // shapes in a run are few; this only bounds pathological use
  auto e = build(kind, g);
  c.emplace(key, e);
  return e;
}

bool run(Kind kind, const ConvGeom& g, const float* a, const float* b, float* out, const float* bias = nullptr) {
  try {
    auto e = get(kind, g);
    const Dims d = dims_of(g);
    auto& eng = engine();
    dnnl::stream s(eng);
    const memory::desc src_md(d.src, dt::f32, tag::ndhwc), dst_md(d.dst, dt::f32, tag::ndhwc);
    if (kind == Fwd || kind == FwdBias || kind == BwdData) {
      const float* f = b;
      memory user_w(e->user_weights, eng, const_cast<float*>(f));
      memory w = user_w;
      if (e->reorder_weights) {
        w = memory(e->weights, eng);
        dnnl::reorder(user_w, w).execute(s, user_w, w);
      }
      if (kind == Fwd) {
        memory src(src_md, eng, const_cast<float*>(a)), dst(dst_md, eng, out);
        e->prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}});
      } else if (kind == FwdBias) {
        memory src(src_md, eng, const_cast<float*>(a)), dst(dst_md, eng, out);
        memory bm(memory::desc(memory::dims{g.oc}, dt::f32, tag::x), eng, const_cast<float*>(bias));
        e->prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, bm}, {DNNL_ARG_DST, dst}});
      } else {
        memory ddst(dst_md, eng, const_cast<float*>(a)), dsrc(src_md, eng, out);
        e->prim.execute(s, {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dsrc}});
      }
    } else {
      memory src(src_md, eng, const_cast<float*>(a)), ddst(dst_md, eng, const_cast<float*>(b));
      memory user_dw(e->user_weights, eng, out);
      memory dw = e->reorder_weights ? memory(e->weights, eng) : user_dw;
      e->prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_DIFF_WEIGHTS, dw}});
      if (e->reorder_weights) dnnl::reorder(dw, user_dw).execute(s, dw, user_dw);
    }
    s.wait();
    return true;
  } catch (const dnnl::error&) {
    return false;  // an unsupported geometry: the caller falls back to im2col
  }
}

bool enabled() {
  static const bool on = [] {
    const char* v = std::getenv("OPENSORA_NATIVE_DNNL");
    return !(v && v[0] == '0');  // OPENSORA_NATIVE_DNNL=0 forces im2col (tests compare both)
  }();
  return on;
}

}  // namespace

bool have_dnnl() { return true; }
bool conv_forward_dnnl(const ConvGeom& g, const float* x, const float* f, float* y, const float* bias) {
  return enabled() && (bias ? run(FwdBias, g, x, f, y, bias) : run(Fwd, g, x, f, y));
}
bool conv_backward_input_dnnl(const ConvGeom& g, const float* dy, const float* f, float* dx) {
  return enabled() && run(BwdData, g, dy, f, dx);
}
bool conv_backward_filter_dnnl(const ConvGeom& g, const float* x, const float* dy, float* df) {
  return enabled() && run(BwdWeights, g, x, dy, df);
}

}  // namespace osn

#else

namespace osn {
bool have_dnnl() { return false; }
bool conv_forward_dnnl(const ConvGeom&, const float*, const float*, float*, const float*) { return false; }
bool conv_backward_input_dnnl(const ConvGeom&, const float*, const float*, float*) { return false; }
bool conv_backward_filter_dnnl(const ConvGeom&, const float*, const float*, float*) { return false; }
}  // namespace osn

#endif
