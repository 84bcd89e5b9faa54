// Large output buffers that can be freed at once (buffer-pool.ts). A V8 ArrayBuffer's memory is
// returned only when the garbage collector finds it dead, which during a long synchronous run
// (a VAE decode) can be several dead activations of hundreds of MB later. Here the memory is
// malloc'd by us and wrapped as an external ArrayBuffer; freeBuffer() detaches the ArrayBuffer
// (every view of it reads as empty from then on) and frees the memory on the spot. The
// finalizer, run whenever V8 collects the ArrayBuffer, frees only what freeBuffer() did not.
// Each env runs these on its JS thread (N-API runs finalizers there too); the table of live blocks
// is shared by every worker thread that loads the addon, hence the lock.
#include <napi.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace osn {
namespace {

struct Block {
  void* data;
  bool freed;
};

// Live blocks by data pointer: freeBuffer() finds its block from the ArrayBuffer it is given.
std::unordered_map<void*, Block*>& live() {
  static std::unordered_map<void*, Block*> m;
  return m;
}
std::mutex live_mutex;

void finalize(Napi::Env, void*, Block* b) {
  if (!b->freed) {
    std::lock_guard<std::mutex> lock(live_mutex);
    live().erase(b->data);
    std::free(b->data);
  }
  delete b;
}

// allocBuffer(bytes) -> ArrayBuffer of that many uninitialised bytes (malloc's alignment, 16).
Napi::Value AllocBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double want = info[0].As<Napi::Number>().DoubleValue();
  if (!(want >= 1) || want > 1e15) throw Napi::RangeError::New(env, "allocBuffer: bytes must be >= 1");
  const size_t bytes = static_cast<size_t>(want);
  // Plain malloc, as V8's own ArrayBuffer allocator: aligned_alloc's padding left freed blocks
  // too small for the next request of the same size in glibc's heap (the apps keep large blocks
  // there, tools/run/ts.mjs), so the heap grew by every dead activation.
  void* data = std::malloc(bytes);
  if (data == nullptr) throw Napi::Error::New(env, "allocBuffer: out of memory");
  Block* b = new Block{data, false};
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    live()[data] = b;
  }
  return Napi::ArrayBuffer::New(env, data, bytes, finalize, b);
}

// freeBuffer(ab) -> true when ab came from allocBuffer and was not freed yet: it is detached
// and its memory freed now. False (and nothing done) for any other ArrayBuffer.
Napi::Value FreeBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, "freeBuffer: expected an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  void* data = ab.Data();
  {
    std::lock_guard<std::mutex> lock(live_mutex);
    auto it = data == nullptr ? live().end() : live().find(data);
    if (it == live().end()) return Napi::Boolean::New(env, false);
    it->second->freed = true;
    live().erase(it);
  }
  ab.Detach();
  std::free(data);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void register_bigbuf(Napi::Env env, Napi::Object exports) {
  exports.Set("allocBuffer", Napi::Function::New(env, AllocBuffer));
  exports.Set("freeBuffer", Napi::Function::New(env, FreeBuffer));
}

}  // namespace osn
