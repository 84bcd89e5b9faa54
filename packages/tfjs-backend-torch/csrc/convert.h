// N-API <-> C++ helpers shared by the glue (addon.cc) and the op table: reading numbers,
// arrays and attrs, and turning any C++ exception (c10::Error included) into a JS Error.
#pragma once
#include <node_api.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ost {

/** A JS-facing error: thrown by helpers, turned into a JS Error at the boundary. */
struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(napi_env env, napi_status s, const char* what);

double getNumber(napi_env env, napi_value v, const char* what);
int64_t getInt(napi_env env, napi_value v, const char* what);
bool getBool(napi_env env, napi_value v, const char* what);
std::string getString(napi_env env, napi_value v, const char* what);
std::vector<int64_t> getInts(napi_env env, napi_value v, const char* what);
napi_value makeNumber(napi_env env, double x);
napi_value makeString(napi_env env, const std::string& s);

/** tfjs dtype codes, exported to TypeScript as `dtypes` so it never hard-codes them. */
enum DType : int { kF32 = 0, kI32 = 1, kBool = 2 };
at::ScalarType scalarTypeOf(int code);
/** The tfjs dtype code a tensor of this scalar type is handed back as (after normalising). */
int codeOf(at::ScalarType t);

/**
 * Named attributes of one op call: a plain JS object of numbers, booleans, strings, number arrays;
 * obj nullptr: a call without attributes (every attr absent).
 */
class Attrs {
 public:
  Attrs(napi_env env, napi_value obj, const char* op) : env_(env), obj_(obj), op_(op) {}
  bool has(const char* name) const;
  double num(const char* name) const;
  double num(const char* name, double fallback) const;
  int64_t i(const char* name) const;
  int64_t i(const char* name, int64_t fallback) const;
  bool b(const char* name, bool fallback = false) const;
  std::string s(const char* name) const;
  std::vector<int64_t> ints(const char* name) const;

 private:
  napi_value get(const char* name) const;
  napi_env env_;
  napi_value obj_;
  const char* op_;
};

/**
 * Runs `body`, converting C++ exceptions into a pending JS exception (returns nullptr then).
 * c10::Error messages lose their C++ backtrace.
 */
template <typename F>
napi_value guarded(napi_env env, F&& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    napi_throw_error(env, nullptr, (std::string("libtorch: ") + e.what_without_backtrace()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

}  // namespace ost
