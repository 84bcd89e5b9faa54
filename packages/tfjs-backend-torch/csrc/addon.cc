// The addon's export table and the glue around the tensor table: upload / download / release,
// `run(op, inputs, attrs)` for every op in the op table (and `exec`, its fast path through shared
// buffers), device and thread settings, info and memory. Compute lives in ops/*.cc; this file only moves handles across the boundary.
#include <node_api.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>
#ifdef OST_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <cstring>
#include <string>

#include "convert.h"
#include "ops.h"
#include "process_group.h"
#include "tensor_table.h"

namespace ost {

namespace {

struct Instance {
  TensorTable table;
  OpTable ops;
  /** The ops by index (opIndex), in the table's order; `exec` takes the index instead of a name. */
  std::vector<std::pair<const std::string*, const OpFn*>> opList;
  at::Device device{at::kCPU};
  Precision precision = Precision::fp32;
};

/**
 * One per JS environment (instance data): setIo's shared buffers (Float64Arrays, referenced so
 * they stay alive): `io` carries exec's input list in and its output list out; `rel` the ids whose
 * release JS deferred to the next call.
 */
struct EnvIo {
  double* io = nullptr;
  size_t ioLength = 0;
  double* rel = nullptr;
  size_t relLength = 0;
  napi_ref ioRef = nullptr;
  napi_ref relRef = nullptr;
};

EnvIo& envIo(napi_env env) {
  void* data = nullptr;
  check(env, napi_get_instance_data(env, &data), "instance data");
  if (data == nullptr) throw JsError("the addon's per-environment data is missing");
  return *static_cast<EnvIo*>(data);
}

Instance* g = nullptr;  // one per process (libtorch is process-global); worker threads share it

std::string libtorchVersion() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH);
}

std::vector<napi_value> args(napi_env env, napi_callback_info info, size_t want, const char* fn) {
  size_t argc = want;
  std::vector<napi_value> argv(want);
  check(env, napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr), fn);
  if (argc < want) {
    // Trailing optional arguments come back as undefined.
    napi_value undef;
    napi_get_undefined(env, &undef);
    for (size_t i = argc; i < want; i++) argv[i] = undef;
  }
  return argv;
}

bool isNullish(napi_env env, napi_value v) {
  napi_valuetype t;
  check(env, napi_typeof(env, v, &t), "typeof");
  return t == napi_undefined || t == napi_null;
}

/**
 * A tensor as tfjs will see it: float32 / int32 / bool, contiguous, owning its storage (unless
 * mayShare: the op's outputs partition an input, see OpCall), on the device.
 */
at::Tensor normalise(at::Tensor t, bool mayShare) {
  switch (t.scalar_type()) {
    case at::kFloat:
    case at::kInt:
    case at::kBool:
      break;
    case at::kLong:
    case at::kShort:
    case at::kChar:
    case at::kByte:
      t = t.to(at::kInt);
      break;
    default:
      t = t.to(at::kFloat);
  }
  if (t.device() != g->device) t = t.to(g->device);
  t = t.contiguous();
  // A view into a larger buffer (a slice, one piece of a split) would keep the whole buffer
  // alive after its source is released; give it its own storage.
  if (!mayShare && t.has_storage() && static_cast<int64_t>(t.storage().nbytes()) != static_cast<int64_t>(t.nbytes())) t = t.clone();
  return t;
}

napi_value Upload(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 3, "upload");
    napi_typedarray_type type;
    size_t length;
    void* data;
    napi_value buffer;
    size_t offset;
    check(env, napi_get_typedarray_info(env, a[0], &type, &length, &data, &buffer, &offset), "upload: values must be a typed array");
    std::vector<int64_t> shape = getInts(env, a[1], "upload: shape");
    int code = static_cast<int>(getInt(env, a[2], "upload: dtype"));
    at::ScalarType st = scalarTypeOf(code);
    bool typeOk = (st == at::kFloat && type == napi_float32_array) || (st == at::kInt && type == napi_int32_array) ||
                  (st == at::kBool && (type == napi_uint8_array || type == napi_int8_array));
    if (!typeOk) throw JsError("upload: the typed array does not match dtype code " + std::to_string(code));
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    if (static_cast<int64_t>(length) != numel) {
      throw JsError("upload: " + std::to_string(length) + " values for a shape of " + std::to_string(numel) + " elements");
    }
    at::Tensor t;
    auto opts = at::TensorOptions().dtype(st);
    if (numel == 0) {
      t = at::empty(shape, opts.device(g->device));
    } else {
      at::Tensor host = at::from_blob(data, shape, opts);
      t = g->device.is_cpu() ? host.clone() : host.to(g->device);
    }
    return makeNumber(env, static_cast<double>(g->table.add(std::move(t))));
  });
}

napi_value Download(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1, "download");
    at::Tensor t = g->table.get(getInt(env, a[0], "download: id")).contiguous();
    if (!t.device().is_cpu()) t = t.cpu();
    napi_typedarray_type type;
    switch (t.scalar_type()) {
      case at::kFloat: type = napi_float32_array; break;
      case at::kInt: type = napi_int32_array; break;
      case at::kBool: type = napi_uint8_array; break;
      default: throw JsError(std::string("download: tensor of unsupported dtype ") + c10::toString(t.scalar_type()));
    }
    size_t nbytes = t.nbytes();
    void* dst = nullptr;
    napi_value ab, out;
    check(env, napi_create_arraybuffer(env, nbytes, &dst, &ab), "download: allocate");
    if (nbytes > 0) std::memcpy(dst, t.data_ptr(), nbytes);
    check(env, napi_create_typedarray(env, type, static_cast<size_t>(t.numel()), ab, 0, &out), "download: typed array");
    return out;
  });
}

napi_value Release(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1, "release");
    g->table.release(getInt(env, a[0], "release: id"));
    return nullptr;
  });
}

/**
 * Runs `fn` on the inputs `words` lists ([id, rank, ...shape] per input; id 0: an absent optional
 * input, rank 0 follows) with the attrs object (nullptr: none); stores the outputs and appends
 * [id, dtype, rank, ...shape] per output to `res`.
 */
void runOp(napi_env env, const std::string& name, const OpFn& fn, const double* words, size_t n, napi_value attrsObj, std::vector<double>& res) {
  OpCall call{name.c_str(), {}, Attrs(env, attrsObj, name.c_str())};
  call.in.reserve(4);
  std::vector<int64_t> shape;
  for (size_t i = 0; i < n;) {
    if (i + 1 >= n) throw JsError(name + ": malformed input list");
    int64_t id = static_cast<int64_t>(words[i]);
    int64_t rank = static_cast<int64_t>(words[i + 1]);
    if (rank < 0 || i + 2 + static_cast<size_t>(rank) > n) throw JsError(name + ": malformed input list");
    shape.assign(words + i + 2, words + i + 2 + rank);
    i += 2 + static_cast<size_t>(rank);
    if (id == 0) {
      call.in.emplace_back();
      continue;
    }
    const at::Tensor& t = g->table.get(id);
    call.in.push_back(t.sizes().equals(shape) ? t : t.reshape(shape));
  }
  Outputs outs = fn(call);
  for (at::Tensor& o : outs) {
    at::Tensor t = normalise(std::move(o), call.outputsMayShareStorage);
    res.push_back(static_cast<double>(g->table.add(t)));
    res.push_back(codeOf(t.scalar_type()));
    res.push_back(static_cast<double>(t.dim()));
    for (int64_t d : t.sizes()) res.push_back(static_cast<double>(d));
  }
}

napi_value numberArray(napi_env env, const std::vector<double>& res) {
  napi_value arr;
  check(env, napi_create_array_with_length(env, res.size(), &arr), "run: result");
  for (size_t i = 0; i < res.size(); i++) check(env, napi_set_element(env, arr, static_cast<uint32_t>(i), makeNumber(env, res[i])), "run: result");
  return arr;
}

/**
 * run(op, inputs, attrs): inputs is a flat number array [id, rank, ...shape] per input (id 0:
 * an absent optional input, rank 0 follows); returns [id, dtype, rank, ...shape] per output.
 */
napi_value Run(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 3, "run");
    std::string name = getString(env, a[0], "run: op");
    auto it = g->ops.find(name);
    if (it == g->ops.end()) throw JsError("run: the addon has no op '" + name + "'");
    std::vector<int64_t> ints = getInts(env, a[1], "run: inputs");
    std::vector<double> flat(ints.begin(), ints.end());
    std::vector<double> res;
    runOp(env, it->first, it->second, flat.data(), flat.size(), isNullish(env, a[2]) ? nullptr : a[2], res);
    return numberArray(env, res);
  });
}

/** opIndex(name): the op's index for exec, or -1 when the addon has no such op. */
napi_value OpIndex(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1, "opIndex");
    std::string name = getString(env, a[0], "opIndex: op");
    for (size_t i = 0; i < g->opList.size(); i++) {
      if (*g->opList[i].first == name) return makeNumber(env, static_cast<double>(i));
    }
    return makeNumber(env, -1);
  });
}

double* float64Data(napi_env env, napi_value v, size_t* length, const char* what) {
  napi_typedarray_type type;
  void* data;
  napi_value buffer;
  size_t offset;
  check(env, napi_get_typedarray_info(env, v, &type, length, &data, &buffer, &offset), what);
  if (type != napi_float64_array) throw JsError(std::string(what) + ": expected a Float64Array");
  return static_cast<double*>(data);
}

/** setIo(io, rel): the Float64Arrays exec and releaseMany read and write (kept referenced until replaced). */
napi_value SetIo(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 2, "setIo");
    size_t ioLength, relLength;
    double* io = float64Data(env, a[0], &ioLength, "setIo: io");
    double* rel = float64Data(env, a[1], &relLength, "setIo: rel");
    EnvIo& e = envIo(env);
    if (e.ioRef) napi_delete_reference(env, e.ioRef);
    if (e.relRef) napi_delete_reference(env, e.relRef);
    e.ioRef = e.relRef = nullptr;
    check(env, napi_create_reference(env, a[0], 1, &e.ioRef), "setIo");
    check(env, napi_create_reference(env, a[1], 1, &e.relRef), "setIo");
    e.io = io;
    e.ioLength = ioLength;
    e.rel = rel;
    e.relLength = relLength;
    return nullptr;
  });
}

void releaseDeferred(const EnvIo& e, size_t n) {
  if (n == 0) return;
  if (e.rel == nullptr || n > e.relLength) throw JsError("releaseMany: more ids than setIo's buffer holds");
  // Every id is released even if one is unknown; the first failure is reported after.
  std::string err;
  for (size_t i = 0; i < n; i++) {
    try {
      g->table.release(static_cast<int64_t>(e.rel[i]));
    } catch (const std::exception& e) {
      if (err.empty()) err = e.what();
    }
  }
  if (!err.empty()) throw JsError(err);
}

/** releaseMany(n): releases the n ids at the start of setIo's `rel`. */
napi_value ReleaseMany(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1, "releaseMany");
    releaseDeferred(envIo(env), static_cast<size_t>(getInt(env, a[0], "releaseMany: n")));
    return nullptr;
  });
}

/**
 * exec(opIndex, nWords, nRelease, attrs?): run's fast path. Releases the first nRelease ids of
 * `rel`, then runs op opIndex on the input list in io[0, nWords) and writes the output list
 * there; returns its length in words, or the list itself as an array when io cannot hold it.
 */
napi_value Exec(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    size_t argc = 4;
    napi_value a[4];
    check(env, napi_get_cb_info(env, info, &argc, a, nullptr, nullptr), "exec");
    if (argc < 3) throw JsError("exec: expected (opIndex, nWords, nRelease, attrs?)");
    EnvIo& e = envIo(env);
    if (e.io == nullptr) throw JsError("exec: setIo was not called");
    int64_t op = getInt(env, a[0], "exec: op");
    size_t n = static_cast<size_t>(getInt(env, a[1], "exec: nWords"));
    releaseDeferred(e, static_cast<size_t>(getInt(env, a[2], "exec: nRelease")));
    if (op < 0 || static_cast<size_t>(op) >= g->opList.size()) throw JsError("exec: no op with index " + std::to_string(op));
    if (n > e.ioLength) throw JsError("exec: more input words than the io buffer holds");
    napi_value attrs = argc >= 4 && !isNullish(env, a[3]) ? a[3] : nullptr;
    std::vector<double> res;
    res.reserve(16);
    runOp(env, *g->opList[op].first, *g->opList[op].second, e.io, n, attrs, res);
    if (res.size() > e.ioLength) return numberArray(env, res);
    std::copy(res.begin(), res.end(), e.io);
    return makeNumber(env, static_cast<double>(res.size()));
  });
}

const char* precisionName(Precision p) { return p == Precision::tf32 ? "tf32" : p == Precision::bf16 ? "bf16" : "fp32"; }

/** cuBLAS / cuDNN may use TF32 only under tf32 (libtorch lets cuDNN by default: fp32 must say no). */
void setPrecisionOf(Precision p) {
  at::globalContext().setAllowTF32CuBLAS(p == Precision::tf32);
  at::globalContext().setAllowTF32CuDNN(p == Precision::tf32);
  g->precision = p;
}

/** Runs bf16 matmul, conv (and its backward) and attention once on the device; throws what failed. */
void probeBf16(const at::Device& d) {
  auto o = at::TensorOptions().dtype(at::kBFloat16).device(d);
  const char* what = "matmul";
  try {
    at::matmul(at::ones({2, 3}, o), at::ones({3, 2}, o));
    what = "conv3d";
    at::Tensor x = at::ones({1, 2, 3, 4, 4}, o), w = at::ones({2, 2, 3, 3, 3}, o);
    at::convolution(x, w, c10::nullopt, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, false, {0, 0, 0}, 1);
    what = "conv3d backward";
    at::convolution_backward(at::ones({1, 2, 3, 4, 4}, o), x, w, c10::nullopt, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, false, {0, 0, 0}, 1, {true, true, false});
    what = "conv2d";
    at::convolution(at::ones({1, 2, 4, 4}, o), at::ones({2, 2, 3, 3}, o), c10::nullopt, {1, 1}, {1, 1}, {1, 1}, false, {0, 0}, 1);
  } catch (const c10::Error& e) {
    throw JsError(std::string("precision 'bf16': this libtorch (") + libtorchVersion() + ") cannot run " + what + " in bfloat16 on " + d.str() + ": " + e.what_without_backtrace());
  }
}

napi_value SetPrecision(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1, "setPrecision");
    std::string name = getString(env, a[0], "setPrecision: precision");
    Precision p;
    if (name == "fp32") {
      p = Precision::fp32;
    } else if (name == "tf32") {
      if (!g->device.is_cuda()) {
        throw JsError("precision 'tf32': TF32 is a CUDA tensor-core mode and the device is " + g->device.str() +
                      ", where float32 matmul and conv are already full fp32; use fp32 (default) or bf16 there");
      }
      p = Precision::tf32;
    } else if (name == "bf16") {
      probeBf16(g->device);
      p = Precision::bf16;
    } else {
      throw JsError("precision '" + name + "': expected fp32, tf32 or bf16");
    }
    setPrecisionOf(p);
    return makeString(env, precisionName(p));
  });
}

napi_value SetDevice(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1, "setDevice");
    std::string name = getString(env, a[0], "setDevice: device");
    at::Device d(name);  // throws c10::Error for a malformed name
    if (d.is_cuda()) {
      if (!at::hasCUDA()) throw JsError("device '" + name + "': this libtorch (" + libtorchVersion() + ") has no usable CUDA (CPU-only build, or no GPU/driver)");
      int n = at::detail::getCUDAHooks().getNumGPUs();
      if (d.has_index() && d.index() >= n) throw JsError("device '" + name + "': only " + std::to_string(n) + " CUDA device(s)");
      if (!d.has_index()) d = at::Device(at::kCUDA, 0);
    } else if (!d.is_cpu()) {
      throw JsError("device '" + name + "': expected cpu or cuda[:N]");
    }
    if (g->table.count() > 0 && d != g->device) throw JsError("setDevice: " + std::to_string(g->table.count()) + " tensors are still alive on " + g->device.str());
    if (d != g->device) setPrecisionOf(Precision::fp32);  // precision is chosen per device, after it
    g->device = d;
    return makeString(env, d.str());
  });
}

napi_value SetThreads(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = args(env, info, 1, "setThreads");
    int64_t n = getInt(env, a[0], "setThreads: n");
    if (n < 1) throw JsError("setThreads: expected a positive thread count");
    if (at::get_num_threads() != n) at::set_num_threads(static_cast<int>(n));
    return makeNumber(env, at::get_num_threads());
  });
}

napi_value Info(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    napi_value o, ops;
    check(env, napi_create_object(env, &o), "info");
    check(env, napi_set_named_property(env, o, "version", makeString(env, libtorchVersion())), "info");
    bool cuda = at::hasCUDA();
    napi_value b;
    check(env, napi_get_boolean(env, cuda, &b), "info");
    check(env, napi_set_named_property(env, o, "cuda", b), "info");
    check(env, napi_set_named_property(env, o, "cudaDevices", makeNumber(env, cuda ? at::detail::getCUDAHooks().getNumGPUs() : 0)), "info");
    check(env, napi_set_named_property(env, o, "device", makeString(env, g->device.str())), "info");
    check(env, napi_set_named_property(env, o, "threads", makeNumber(env, at::get_num_threads())), "info");
    check(env, napi_set_named_property(env, o, "precision", makeString(env, precisionName(g->precision))), "info");
    check(env, napi_create_array_with_length(env, g->ops.size(), &ops), "info");
    uint32_t i = 0;
    for (const auto& kv : g->ops) check(env, napi_set_element(env, ops, i++, makeString(env, kv.first)), "info");
    check(env, napi_set_named_property(env, o, "ops", ops), "info");
    return o;
  });
}

napi_value Memory(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    napi_value o;
    check(env, napi_create_object(env, &o), "memory");
    check(env, napi_set_named_property(env, o, "tensors", makeNumber(env, static_cast<double>(g->table.count()))), "memory");
    check(env, napi_set_named_property(env, o, "bytes", makeNumber(env, static_cast<double>(g->table.bytes()))), "memory");
#ifdef OST_WITH_CUDA
    if (g->device.is_cuda()) {
      // The caching allocator's view: bytes handed out now and at peak, and bytes reserved from the driver.
      auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(g->device.index());
      napi_value c;
      check(env, napi_create_object(env, &c), "memory");
      check(env, napi_set_named_property(env, c, "allocated", makeNumber(env, static_cast<double>(s.allocated_bytes[0].current))), "memory");
      check(env, napi_set_named_property(env, c, "peak", makeNumber(env, static_cast<double>(s.allocated_bytes[0].peak))), "memory");
      check(env, napi_set_named_property(env, c, "reserved", makeNumber(env, static_cast<double>(s.reserved_bytes[0].current))), "memory");
      check(env, napi_set_named_property(env, o, "cuda", c), "memory");
    }
#endif
    return o;
  });
}

napi_value ResetPeakMemory(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
#ifdef OST_WITH_CUDA
    if (g->device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(g->device.index());
#endif
    return nullptr;
  });
}

}  // namespace

at::Device currentDevice() { return g->device; }

TensorTable& tensorTable() { return g->table; }

Precision currentPrecision() { return g->precision; }

at::Tensor lowp(const at::Tensor& t) {
  return g->precision == Precision::bf16 && t.scalar_type() == at::kFloat ? t.to(at::kBFloat16) : t;
}

at::Tensor fullp(const at::Tensor& t) { return t.scalar_type() == at::kBFloat16 ? t.to(at::kFloat) : t; }

}  // namespace ost

using namespace ost;

NAPI_MODULE_INIT() {
  if (g == nullptr) {
    g = new Instance();
    addElementwiseOps(g->ops);
    addReduceOps(g->ops);
    addCopyOps(g->ops);
    addMatmulOps(g->ops);
    addConvOps(g->ops);
    addNormOps(g->ops);
    addAttentionOps(g->ops);
    addOptimOps(g->ops);
    for (const auto& kv : g->ops) g->opList.emplace_back(&kv.first, &kv.second);
    // Never freed: tensors may outlive any one environment, and libtorch is torn down at exit.
    setPrecisionOf(Precision::fp32);
  }
  napi_property_descriptor props[] = {
      {"upload", nullptr, Upload, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"download", nullptr, Download, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"release", nullptr, Release, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"run", nullptr, Run, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"opIndex", nullptr, OpIndex, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setIo", nullptr, SetIo, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"exec", nullptr, Exec, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"releaseMany", nullptr, ReleaseMany, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setDevice", nullptr, SetDevice, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setPrecision", nullptr, SetPrecision, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, Info, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"memory", nullptr, Memory, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"resetPeakMemory", nullptr, ResetPeakMemory, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  napi_set_instance_data(
      env, new EnvIo(),
      [](napi_env env, void* data, void*) {
        auto* e = static_cast<EnvIo*>(data);
        if (e->ioRef) napi_delete_reference(env, e->ioRef);
        if (e->relRef) napi_delete_reference(env, e->relRef);
        delete e;
      },
      nullptr);
  addProcessGroupFunctions(env, exports);
  napi_value dtypes;
  napi_create_object(env, &dtypes);
  napi_set_named_property(env, dtypes, "float32", makeNumber(env, kF32));
  napi_set_named_property(env, dtypes, "int32", makeNumber(env, kI32));
  napi_set_named_property(env, dtypes, "bool", makeNumber(env, kBool));
  napi_set_named_property(env, exports, "dtypes", dtypes);
  return exports;
}
