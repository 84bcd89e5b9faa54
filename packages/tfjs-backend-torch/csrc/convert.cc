#include "convert.h"

#include "ops.h"

namespace ost {

void check(napi_env env, napi_status s, const char* what) {
  if (s == napi_ok) return;
  const napi_extended_error_info* info = nullptr;
  napi_get_last_error_info(env, &info);
  throw JsError(std::string(what) + (info && info->error_message ? std::string(" (") + info->error_message + ")" : ""));
}

double getNumber(napi_env env, napi_value v, const char* what) {
  double x;
  check(env, napi_get_value_double(env, v, &x), what);
  return x;
}

int64_t getInt(napi_env env, napi_value v, const char* what) {
  double x = getNumber(env, v, what);
  if (x != static_cast<double>(static_cast<int64_t>(x))) throw JsError(std::string(what) + ": expected an integer, got " + std::to_string(x));
  return static_cast<int64_t>(x);
}

bool getBool(napi_env env, napi_value v, const char* what) {
  napi_valuetype t;
  check(env, napi_typeof(env, v, &t), what);
  if (t == napi_number) return getNumber(env, v, what) != 0;
  bool b;
  check(env, napi_get_value_bool(env, v, &b), what);
  return b;
}

std::string getString(napi_env env, napi_value v, const char* what) {
  size_t len;
  check(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len), what);
  std::string s(len, '\0');
  check(env, napi_get_value_string_utf8(env, v, s.data(), len + 1, &len), what);
  return s;
}

std::vector<int64_t> getInts(napi_env env, napi_value v, const char* what) {
  bool isArray;
  check(env, napi_is_array(env, v, &isArray), what);
  if (!isArray) {
    napi_valuetype t;
    check(env, napi_typeof(env, v, &t), what);
    if (t == napi_number) return {getInt(env, v, what)};
    throw JsError(std::string(what) + ": expected an array of integers");
  }
  uint32_t n;
  check(env, napi_get_array_length(env, v, &n), what);
  std::vector<int64_t> out(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    check(env, napi_get_element(env, v, i, &e), what);
    out[i] = getInt(env, e, what);
  }
  return out;
}

napi_value makeNumber(napi_env env, double x) {
  napi_value v;
  check(env, napi_create_double(env, x, &v), "number");
  return v;
}

napi_value makeString(napi_env env, const std::string& s) {
  napi_value v;
  check(env, napi_create_string_utf8(env, s.c_str(), s.size(), &v), "string");
  return v;
}

at::ScalarType scalarTypeOf(int code) {
  switch (code) {
    case kF32: return at::kFloat;
    case kI32: return at::kInt;
    case kBool: return at::kBool;
  }
  throw JsError("unknown dtype code " + std::to_string(code));
}

int codeOf(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return kF32;
    case at::kInt: return kI32;
    case at::kBool: return kBool;
    default: throw JsError(std::string("no tfjs dtype for ") + c10::toString(t));
  }
}

napi_value Attrs::get(const char* name) const {
  bool has = false;
  if (obj_ != nullptr) check(env_, napi_has_named_property(env_, obj_, name, &has), name);
  if (!has) throw JsError(std::string(op_) + ": missing attr '" + name + "'");
  napi_value v;
  check(env_, napi_get_named_property(env_, obj_, name, &v), name);
  return v;
}

bool Attrs::has(const char* name) const {
  if (obj_ == nullptr) return false;
  bool has;
  check(env_, napi_has_named_property(env_, obj_, name, &has), name);
  if (!has) return false;
  napi_value v;
  check(env_, napi_get_named_property(env_, obj_, name, &v), name);
  napi_valuetype t;
  check(env_, napi_typeof(env_, v, &t), name);
  return t != napi_undefined && t != napi_null;
}

double Attrs::num(const char* name) const { return getNumber(env_, get(name), (std::string(op_) + " attr " + name).c_str()); }
double Attrs::num(const char* name, double fallback) const { return has(name) ? num(name) : fallback; }
int64_t Attrs::i(const char* name) const { return getInt(env_, get(name), (std::string(op_) + " attr " + name).c_str()); }
int64_t Attrs::i(const char* name, int64_t fallback) const { return has(name) ? i(name) : fallback; }
bool Attrs::b(const char* name, bool fallback) const { return has(name) ? getBool(env_, get(name), name) : fallback; }
std::string Attrs::s(const char* name) const { return getString(env_, get(name), (std::string(op_) + " attr " + name).c_str()); }
std::vector<int64_t> Attrs::ints(const char* name) const { return getInts(env_, get(name), (std::string(op_) + " attr " + name).c_str()); }

const at::Tensor& OpCall::x(size_t i) const {
  if (i >= in.size() || !in[i].defined()) throw JsError(std::string(name) + ": missing input " + std::to_string(i));
  return in[i];
}

c10::optional<at::Tensor> OpCall::maybe(size_t i) const {
  if (i >= in.size() || !in[i].defined()) return c10::nullopt;
  return in[i];
}

void fail(const OpCall& c, const std::string& message) { throw JsError(std::string(c.name) + ": " + message); }

}  // namespace ost
