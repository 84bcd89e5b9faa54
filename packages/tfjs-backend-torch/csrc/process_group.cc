// c10d process groups for the TypeScript ProcessGroup (@opensora-ts/kernels, initProcessGroup):
//   - a TCPStore that rank 0 hosts at MASTER_ADDR:MASTER_PORT, and on it a ProcessGroupGloo (CPU
//     tensors) or a ProcessGroupNCCL (CUDA tensors; only when built against a CUDA libtorch with
//     NCCL). Both are compiled in only when their headers are at hand (__has_include), so one
//     source builds against Debian's libtorch 1.13 (Gloo headers from libgloo-dev) and a pip 2.x.
//   - collectives are issued on the JS thread (so every rank's c10d sees them in call order) and
//     waited for on a libuv worker (napi async work); each returns a Promise. Host typed arrays
//     are wrapped without a copy for Gloo; the JS array is kept referenced until the work ends.
//   - a heartbeat thread per process (not the JS thread: a rank busy writing a checkpoint still
//     beats) bumps its counter in the store every second and watches the others'. A rank whose
//     counter stops for `lostAfterMs`, or a store that stops answering (rank 0, its host, died),
//     is "lost": pending and later collectives fail naming it, instead of a 30-minute Gloo hang
//     or a bare "connection reset".
#include "process_group.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <c10/core/DeviceGuard.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#if __has_include(<gloo/context.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define OST_HAS_GLOO 1
#else
#define OST_HAS_GLOO 0
#endif

#if defined(OST_WITH_NCCL) && __has_include(<nccl.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define OST_HAS_NCCL 1
#else
#define OST_HAS_NCCL 0
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "convert.h"

namespace ost {

namespace {

using Clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

// 1.x: the process groups derive from c10d::ProcessGroup; 2.x: from c10d::Backend.
#if TORCH_VERSION_MAJOR >= 2
using BaseGroup = c10d::Backend;
#else
using BaseGroup = c10d::ProcessGroup;
#endif

std::string messageOf(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

/** One connected group: the store, the c10d group and the heartbeat thread. */
struct Group {
  int rank = 0;
  int size = 1;
  std::string backend;
  std::string masterAddr;
  int masterPort = 0;
  bool agentStore = false;  // torchrun's agent hosts the store; every rank is a client
  std::string prefix;       // keys of this run (and restart) in the store
  std::string agentHint;    // which torch torchrun's agent looks like (for an error message)
  at::Device device{at::kCPU};
  ms lostAfter{20000};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<BaseGroup> pg;

  std::atomic<int> lostRank{-1};
  std::mutex mu;  // guards lostWhy, stop
  std::condition_variable cv;
  std::string lostWhy;
  bool stop = false;
  std::atomic<bool> beating{false};
  std::thread heartbeat;

  void markLost(int r, const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    if (lostRank.load() >= 0) return;
    lostWhy = why;
    lostRank.store(r);
  }

  std::string lostMessage(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    return "process group: rank " + std::to_string(lostRank.load()) + " of " + std::to_string(size) + " is lost (" + lostWhy + "); " + what +
           " on rank " + std::to_string(rank) + " cannot complete. Every rank must stop; relaunch to resume from the last complete checkpoint.";
  }

  void stopHeartbeat() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    if (heartbeat.joinable()) heartbeat.join();
  }
};

std::unordered_map<int64_t, std::shared_ptr<Group>> groups;  // JS thread only
int64_t nextGroupId = 1;
int64_t connects = 0;  // groups asked for so far: every rank asks in the same order, so the n-th group's keys match
bool cleanupHooked = false;

std::vector<uint8_t> bytesOf(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string hbKey(const Group& g, int r) { return g.prefix + "hb/" + std::to_string(r); }
std::string closedKey(const Group& g, int r) { return g.prefix + "closed/" + std::to_string(r); }
std::string storeHost(const Group& g) { return g.agentStore ? "torchrun's agent on rank 0's machine" : "rank 0"; }

/**
 * Beats every `interval` and watches the other ranks. Its own store client: a collective's
 * store use never delays a beat, and a beat never waits behind one.
 */
void heartbeatLoop(std::shared_ptr<Group> g, ms interval) {
  c10::intrusive_ptr<c10d::TCPStore> client;
  std::vector<std::string> last(g->size);
  std::vector<Clock::time_point> changed(g->size, Clock::now());
  std::vector<bool> closed(g->size, false);
  int64_t beat = 0;
  for (;;) {
    try {
      if (!client) {
        c10d::TCPStoreOptions o;
        o.port = static_cast<uint16_t>(g->masterPort);
        o.isServer = false;
        o.waitWorkers = false;
        o.timeout = ms(10000);
        client = c10::make_intrusive<c10d::TCPStore>(g->masterAddr, o);
      }
      client->set(hbKey(*g, g->rank), bytesOf(std::to_string(++beat)));
      auto now = Clock::now();
      for (int r = 0; r < g->size; r++) {
        if (r == g->rank || closed[r]) continue;
        if (client->check({closedKey(*g, r)})) {
          closed[r] = true;  // left on purpose (close()): not lost
          continue;
        }
        auto v = client->get(hbKey(*g, r));
        std::string s(v.begin(), v.end());
        if (s != last[r]) {
          last[r] = s;
          changed[r] = now;
        } else if (now - changed[r] > g->lostAfter) {
          auto secs = std::chrono::duration_cast<ms>(now - changed[r]).count() / 1000.0;
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.1f", secs);
          g->markLost(r, std::string("no heartbeat for ") + buf + " s: killed, crashed or its machine unreachable");
        }
      }
    } catch (const std::exception& e) {
      // The store lives with rank 0: when it stops answering, rank 0 (or its machine) is gone.
      g->markLost(0, "the store at " + g->masterAddr + ":" + std::to_string(g->masterPort) + ", hosted by " + storeHost(*g) + ", stopped answering: " + messageOf(e));
    }
    std::unique_lock<std::mutex> lock(g->mu);
    if (g->cv.wait_for(lock, interval, [&] { return g->stop; })) break;
  }
  g->beating.store(false);
}

/** Waits for a c10d work without blocking on it forever: a lost rank ends the wait. */
void waitFor(Group& g, const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  auto pause = std::chrono::microseconds(50);
  while (!work->isCompleted()) {
    if (g.lostRank.load() >= 0) throw JsError(g.lostMessage(what));
    std::this_thread::sleep_for(pause);
    if (pause < std::chrono::microseconds(2000)) pause *= 2;
  }
  try {
    work->wait();
  } catch (const std::exception& e) {
    std::string why = messageOf(e);
    // A killed peer shows first as a closed connection; give the heartbeats time to say which
    // rank it was, so the error names it.
    auto deadline = Clock::now() + g.lostAfter + ms(3000);
    while (g.lostRank.load() < 0 && g.beating.load() && Clock::now() < deadline) std::this_thread::sleep_for(ms(100));
    if (g.lostRank.load() >= 0) throw JsError(g.lostMessage(what) + " (" + g.backend + ": " + why + ")");
    throw JsError("process group: " + what + " failed on rank " + std::to_string(g.rank) + " (" + g.backend + "): " + why);
  }
}

/** The local address this process reaches `host` from: Gloo listens there, so peers on other machines reach it. */
std::string localAddressToward(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || res == nullptr) {
    throw JsError("process group: MASTER_ADDR '" + host + "' does not resolve to an IPv4 address");
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  std::string out;
  if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {  // UDP: no packet is sent
    sockaddr_in local{};
    socklen_t len = sizeof local;
    char buf[INET_ADDRSTRLEN];
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0 && inet_ntop(AF_INET, &local.sin_addr, buf, sizeof buf)) out = buf;
  }
  if (fd >= 0) close(fd);
  freeaddrinfo(res);
  if (out.empty()) throw JsError("process group: no route from this machine to MASTER_ADDR '" + host + "'");
  return out;
}

/** One pending operation: `execute` runs on a libuv worker, `finish` on the JS thread. */
struct Job {
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  std::shared_ptr<Group> group;
  std::function<void()> execute;
  std::function<napi_value(napi_env)> finish;
  std::vector<napi_ref> refs;  // JS arrays the work reads or writes
  std::string error;
  bool keepRefs = false;  // a lost rank left c10d holding the arrays: never let them be collected
};

void executeJob(napi_env, void* data) {
  auto* job = static_cast<Job*>(data);
  try {
    job->execute();
  } catch (const std::exception& e) {
    job->error = messageOf(e);
    if (job->group && job->group->lostRank.load() >= 0) job->keepRefs = true;
  }
}

void completeJob(napi_env env, napi_status status, void* data) {
  auto* job = static_cast<Job*>(data);
  napi_value result = nullptr;
  std::string error = job->error;
  if (error.empty() && status != napi_ok) error = "process group: the operation was cancelled";
  if (error.empty()) {
    try {
      result = job->finish ? job->finish(env) : nullptr;
    } catch (const std::exception& e) {
      error = messageOf(e);
    }
  }
  if (error.empty()) {
    if (result == nullptr) napi_get_undefined(env, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value msg, err;
    napi_create_string_utf8(env, error.c_str(), error.size(), &msg);
    napi_create_error(env, nullptr, msg, &err);
    napi_reject_deferred(env, job->deferred, err);
  }
  if (!job->keepRefs) {
    for (napi_ref r : job->refs) napi_delete_reference(env, r);
  }
  napi_delete_async_work(env, job->work);
  delete job;
}

napi_value startJob(napi_env env, Job* job, const char* name) {
  napi_value promise, resource;
  check(env, napi_create_promise(env, &job->deferred, &promise), name);
  check(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource), name);
  check(env, napi_create_async_work(env, nullptr, resource, executeJob, completeJob, job, &job->work), name);
  check(env, napi_queue_async_work(env, job->work), name);
  return promise;
}

std::vector<napi_value> argsOf(napi_env env, napi_callback_info info, size_t want, const char* fn) {
  size_t argc = want;
  std::vector<napi_value> argv(want);
  check(env, napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr), fn);
  if (argc < want) {
    napi_value undef;
    napi_get_undefined(env, &undef);
    for (size_t i = argc; i < want; i++) argv[i] = undef;
  }
  return argv;
}

napi_value prop(napi_env env, napi_value obj, const char* name) {
  napi_value v;
  check(env, napi_get_named_property(env, obj, name, &v), name);
  return v;
}

std::shared_ptr<Group> groupOf(napi_env env, napi_value v, const char* fn) {
  int64_t id = getInt(env, v, fn);
  auto it = groups.find(id);
  if (it == groups.end()) throw JsError(std::string(fn) + ": process group " + std::to_string(id) + " is not open (closed already?)");
  return it->second;
}

/** A host typed array as a tensor over the same memory (no copy), plus a reference keeping it alive. */
struct HostArray {
  at::Tensor tensor;
  napi_typedarray_type type;
  size_t length;
};

HostArray wrapHost(napi_env env, napi_value v, Job* job, const char* fn) {
  bool is;
  check(env, napi_is_typedarray(env, v, &is), fn);
  if (!is) throw JsError(std::string(fn) + ": expected a Float32Array, Int32Array or Uint8Array");
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value buffer;
  size_t offset;
  check(env, napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset), fn);
  at::ScalarType st;
  switch (type) {
    case napi_float32_array: st = at::kFloat; break;
    case napi_int32_array: st = at::kInt; break;
    case napi_uint8_array: st = at::kByte; break;
    default: throw JsError(std::string(fn) + ": expected a Float32Array, Int32Array or Uint8Array");
  }
  napi_ref ref;
  check(env, napi_create_reference(env, v, 1, &ref), fn);
  job->refs.push_back(ref);
  // A zero-length array may have no buffer at all: give c10d a real (empty) tensor.
  at::Tensor t = length == 0 ? at::empty({0}, at::TensorOptions().dtype(st)) : at::from_blob(data, {static_cast<int64_t>(length)}, at::TensorOptions().dtype(st));
  return {t, type, length};
}

c10d::ReduceOp reduceOpOf(const std::string& op, const char* fn) {
  if (op == "sum" || op == "avg") return c10d::ReduceOp::SUM;  // avg: sum, then divide (Gloo has no AVG)
  if (op == "max") return c10d::ReduceOp::MAX;
  if (op == "min") return c10d::ReduceOp::MIN;
  throw JsError(std::string(fn) + ": reduce op '" + op + "': expected sum, avg, max or min");
}

/** The tensor c10d works on: the host tensor itself (Gloo), or a device copy (NCCL). */
at::Tensor onGroupDevice(const Group& g, const at::Tensor& host) {
  if (g.device.is_cpu()) return host;
  c10::DeviceGuard guard(g.device);
  return host.to(g.device);
}

/** After the work: the device copy back into the host array (NCCL). */
void backToHost(const Group& g, const at::Tensor& host, const at::Tensor& used) {
  if (used.is_same(host)) return;
  c10::DeviceGuard guard(g.device);
  host.copy_(used);
}

// ---- connect / close ---------------------------------------------------------------------

napi_value Connect(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 1, "c10dConnect");
    napi_value o = a[0];
    auto g = std::make_shared<Group>();
    g->rank = static_cast<int>(getInt(env, prop(env, o, "rank"), "c10dConnect: rank"));
    g->size = static_cast<int>(getInt(env, prop(env, o, "worldSize"), "c10dConnect: worldSize"));
    g->masterAddr = getString(env, prop(env, o, "masterAddr"), "c10dConnect: masterAddr");
    g->masterPort = static_cast<int>(getInt(env, prop(env, o, "masterPort"), "c10dConnect: masterPort"));
    g->backend = getString(env, prop(env, o, "backend"), "c10dConnect: backend");
    ms timeout(getInt(env, prop(env, o, "timeoutMs"), "c10dConnect: timeoutMs"));
    g->lostAfter = ms(getInt(env, prop(env, o, "lostAfterMs"), "c10dConnect: lostAfterMs"));
    g->agentStore = getBool(env, prop(env, o, "agentStore"), "c10dConnect: agentStore");
    napi_value hint = prop(env, o, "agentHint");
    napi_valuetype ht;
    check(env, napi_typeof(env, hint, &ht), "c10dConnect: agentHint");
    g->agentHint = ht == napi_string ? getString(env, hint, "c10dConnect: agentHint") : "of an unknown torch";
    g->prefix = getString(env, prop(env, o, "storePrefix"), "c10dConnect: storePrefix") + "g" + std::to_string(connects++) + "/";
    napi_value dev = prop(env, o, "device");
    napi_valuetype dt;
    check(env, napi_typeof(env, dev, &dt), "c10dConnect: device");
    if (g->size < 1 || g->rank < 0 || g->rank >= g->size) throw JsError("c10dConnect: rank " + std::to_string(g->rank) + " of world size " + std::to_string(g->size));
    if (g->masterPort < 1 || g->masterPort > 65535) throw JsError("c10dConnect: masterPort " + std::to_string(g->masterPort) + ": expected 1 ... 65535");
    if (g->backend == "gloo") {
      if (!OST_HAS_GLOO) {
        throw JsError(std::string("process group: this addon was built without Gloo (no gloo headers when it was built against libtorch ") + TORCH_VERSION +
                      "); Debian: apt-get install libgloo-dev, then `pnpm --filter @opensora-ts/tfjs-backend-torch build:addon`");
      }
    } else if (g->backend == "nccl") {
      if (!OST_HAS_NCCL) {
        throw JsError(std::string("process group: this addon was built without NCCL (libtorch ") + TORCH_VERSION +
                      " is a CPU build, or nccl.h was not found when it was built); use gloo, or rebuild against a CUDA libtorch");
      }
      g->device = at::Device(dt == napi_string ? getString(env, dev, "c10dConnect: device") : std::string("cuda:0"));
      if (!g->device.is_cuda()) throw JsError("c10dConnect: nccl needs a cuda device, got '" + g->device.str() + "'");
      if (!g->device.has_index()) g->device = at::Device(at::kCUDA, 0);
    } else {
      throw JsError("c10dConnect: backend '" + g->backend + "': expected gloo or nccl");
    }

    auto* job = new Job();
    job->group = g;
    job->execute = [g, timeout]() {
      ms storeTimeout = std::min(timeout, ms(300000));
      c10d::TCPStoreOptions so;
      so.port = static_cast<uint16_t>(g->masterPort);
      so.isServer = g->rank == 0 && !g->agentStore;
      so.numWorkers = static_cast<size_t>(g->size);
      so.waitWorkers = true;
      // torchrun's agent listens before any worker starts: connecting to it is immediate, and a
      // long wait means a store that does not speak our protocol (another torch version).
      so.timeout = g->agentStore ? std::min(storeTimeout, ms(60000)) : storeTimeout;
      try {
        g->store = c10::make_intrusive<c10d::TCPStore>(g->masterAddr, so);
        g->store->setTimeout(storeTimeout);
      } catch (const std::exception& e) {
        bool hosts = g->rank == 0 && !g->agentStore;
        std::string fix = hosts ? " (is the port in use? pick another MASTER_PORT)"
                          : g->agentStore
                              ? " (torchrun's agent hosts this store: torchrun and this addon must come from torch versions whose stores talk to each other; the addon is built against libtorch " +
                                    std::string(TORCH_VERSION) + ", torchrun is " + g->agentHint +
                                    ". Launch with the torchrun of the torch the addon was built against, or rebuild the addon against the torch of this torchrun)"
                              : " (is rank 0 running and the address reachable from here?)";
        throw JsError("process group: rank " + std::to_string(g->rank) + " could not " + (hosts ? "host" : "reach") + " the store at " + g->masterAddr + ":" +
                      std::to_string(g->masterPort) + " (MASTER_ADDR:MASTER_PORT) within " + std::to_string(so.timeout.count() / 1000) + " s: " + messageOf(e) + fix);
      }
      auto pgStore = c10::make_intrusive<c10d::PrefixStore>(g->prefix + "pg/", g->store);
      try {
        if (g->backend == "gloo") {
#if OST_HAS_GLOO
          auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
          const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
          if (ifname && *ifname) {
            opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
          } else {
            opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(localAddressToward(g->masterAddr, g->masterPort)));
          }
          opts->threads = 2;
          g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(pgStore, g->rank, g->size, opts);
#endif
        } else {
#if OST_HAS_NCCL
          c10::DeviceGuard guard(g->device);
          auto opts = c10d::ProcessGroupNCCL::Options::create();
          opts->timeout = timeout;
          g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(pgStore, g->rank, g->size, opts);
#endif
        }
      } catch (const std::exception& e) {
        throw JsError("process group: rank " + std::to_string(g->rank) + " could not connect " + g->backend + " to the other ranks: " + messageOf(e));
      }
      // Everyone beats once before anyone watches, so a missing key means a bug, not a slow start.
      g->store->set(hbKey(*g, g->rank), bytesOf("0"));
      for (int r = 0; r < g->size; r++) g->store->wait({hbKey(*g, r)});
      g->beating.store(true);
      g->heartbeat = std::thread(heartbeatLoop, g, ms(std::max<int64_t>(50, std::min<int64_t>(1000, g->lostAfter.count() / 4))));
    };
    job->finish = [g](napi_env env) -> napi_value {
      int64_t id = nextGroupId++;
      groups[id] = g;
      if (!cleanupHooked) {
        cleanupHooked = true;
        // At exit: stop the heartbeat threads (a thread running into libtorch's teardown crashes);
        // the c10d objects are left to the OS.
        napi_add_env_cleanup_hook(
            env,
            [](void*) {
              for (auto& kv : groups) kv.second->stopHeartbeat();
              for (auto& kv : groups) new std::shared_ptr<Group>(kv.second);  // never destroyed
              groups.clear();
            },
            nullptr);
      }
      return makeNumber(env, static_cast<double>(id));
    };
    return startJob(env, job, "c10dConnect");
  });
}

napi_value Close(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 1, "c10dClose");
    int64_t id = getInt(env, a[0], "c10dClose: group");
    auto it = groups.find(id);
    auto* job = new Job();
    if (it == groups.end()) return startJob(env, job, "c10dClose");  // closing twice is fine
    auto g = it->second;
    groups.erase(it);
    job->group = g;
    job->execute = [g]() {
      // Say "left on purpose" before the beats stop, so no peer reports this rank lost.
      try {
        g->store->set(closedKey(*g, g->rank), bytesOf("1"));
      } catch (const std::exception&) {
      }
      g->stopHeartbeat();
      // Rank 0 hosts the store: keep it up (a few seconds at most) until the others have left.
      if (g->rank == 0 && !g->agentStore && g->lostRank.load() < 0) {
        auto deadline = Clock::now() + std::min(g->lostAfter, ms(10000));
        for (int r = 1; r < g->size && Clock::now() < deadline; r++) {
          while (Clock::now() < deadline) {
            try {
              if (g->store->check({closedKey(*g, r)})) break;
            } catch (const std::exception&) {
              break;
            }
            std::this_thread::sleep_for(ms(20));
          }
        }
      }
      if (g->lostRank.load() >= 0) {
        new std::shared_ptr<Group>(g);  // c10d may still hold work for a dead peer: never destroy it
        return;
      }
      g->pg.reset();
      g->store.reset();
    };
    return startJob(env, job, "c10dClose");
  });
}

// ---- collectives on host arrays ----------------------------------------------------------

napi_value AllReduce(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 3, "c10dAllReduce");
    auto g = groupOf(env, a[0], "c10dAllReduce");
    auto* job = new Job();
    job->group = g;
    try {
      std::string op = getString(env, a[2], "c10dAllReduce: op");
      c10d::AllreduceOptions opts;
      opts.reduceOp = reduceOpOf(op, "c10dAllReduce");
      HostArray h = wrapHost(env, a[1], job, "c10dAllReduce");
      if (h.type != napi_float32_array) throw JsError("c10dAllReduce: expected a Float32Array");
      if (g->lostRank.load() >= 0) throw JsError(g->lostMessage("allReduce"));
      at::Tensor used = onGroupDevice(*g, h.tensor);
      std::vector<at::Tensor> ts{used};
      auto work = g->pg->allreduce(ts, opts);
      at::Tensor host = h.tensor;
      bool avg = op == "avg";
      job->execute = [g, work, used, host, avg]() {
        waitFor(*g, work, "allReduce");
        if (avg) {
          c10::DeviceGuard guard(used.device());
          used.div_(g->size);
        }
        backToHost(*g, host, used);
      };
    } catch (...) {
      for (napi_ref r : job->refs) napi_delete_reference(env, r);
      delete job;
      throw;
    }
    return startJob(env, job, "c10dAllReduce");
  });
}

napi_value Broadcast(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 3, "c10dBroadcast");
    auto g = groupOf(env, a[0], "c10dBroadcast");
    auto* job = new Job();
    job->group = g;
    try {
      c10d::BroadcastOptions opts;
      opts.rootRank = getInt(env, a[2], "c10dBroadcast: root");
      if (opts.rootRank < 0 || opts.rootRank >= g->size) throw JsError("c10dBroadcast: root " + std::to_string(opts.rootRank) + " is not a rank");
      HostArray h = wrapHost(env, a[1], job, "c10dBroadcast");
      if (g->lostRank.load() >= 0) throw JsError(g->lostMessage("broadcast"));
      at::Tensor used = onGroupDevice(*g, h.tensor);
      std::vector<at::Tensor> ts{used};
      auto work = g->pg->broadcast(ts, opts);
      at::Tensor host = h.tensor;
      job->execute = [g, work, used, host]() {
        waitFor(*g, work, "broadcast");
        backToHost(*g, host, used);
      };
    } catch (...) {
      for (napi_ref r : job->refs) napi_delete_reference(env, r);
      delete job;
      throw;
    }
    return startJob(env, job, "c10dBroadcast");
  });
}

napi_value AllGather(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 2, "c10dAllGather");
    auto g = groupOf(env, a[0], "c10dAllGather");
    auto* job = new Job();
    job->group = g;
    try {
      HostArray h = wrapHost(env, a[1], job, "c10dAllGather");
      if (g->lostRank.load() >= 0) throw JsError(g->lostMessage("allGather"));
      at::Tensor used = onGroupDevice(*g, h.tensor);
      std::vector<std::vector<at::Tensor>> outs(1);
      for (int r = 0; r < g->size; r++) outs[0].push_back(at::empty_like(used));
      std::vector<at::Tensor> ins{used};
      auto work = g->pg->allgather(outs, ins);
      auto results = std::make_shared<std::vector<at::Tensor>>(outs[0]);
      napi_typedarray_type type = h.type;
      size_t length = h.length;
      job->execute = [g, work, results]() {
        waitFor(*g, work, "allGather");
        for (auto& t : *results) {
          if (!t.device().is_cpu()) t = t.cpu();
        }
      };
      job->finish = [results, type, length](napi_env env) -> napi_value {
        napi_value arr;
        check(env, napi_create_array_with_length(env, results->size(), &arr), "c10dAllGather");
        for (size_t r = 0; r < results->size(); r++) {
          const at::Tensor& t = (*results)[r];
          void* dst = nullptr;
          napi_value ab, ta;
          check(env, napi_create_arraybuffer(env, t.nbytes(), &dst, &ab), "c10dAllGather");
          if (t.nbytes() > 0) std::memcpy(dst, t.data_ptr(), t.nbytes());
          check(env, napi_create_typedarray(env, type, length, ab, 0, &ta), "c10dAllGather");
          check(env, napi_set_element(env, arr, static_cast<uint32_t>(r), ta), "c10dAllGather");
        }
        return arr;
      };
    } catch (...) {
      for (napi_ref r : job->refs) napi_delete_reference(env, r);
      delete job;
      throw;
    }
    return startJob(env, job, "c10dAllGather");
  });
}

napi_value Barrier(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 1, "c10dBarrier");
    auto g = groupOf(env, a[0], "c10dBarrier");
    if (g->lostRank.load() >= 0) throw JsError(g->lostMessage("barrier"));
    c10d::BarrierOptions opts;
    if (g->device.is_cuda()) opts.device_ids = {g->device.index()};
    auto work = g->pg->barrier(opts);
    auto* job = new Job();
    job->group = g;
    job->execute = [g, work]() { waitFor(*g, work, "barrier"); };
    return startJob(env, job, "c10dBarrier");
  });
}

// ---- a tensor of the torch backend, reduced where it lives ---------------------------------

napi_value AllReduceTensor(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 3, "c10dAllReduceTensor");
    auto g = groupOf(env, a[0], "c10dAllReduceTensor");
    const at::Tensor& src = tensorTable().get(getInt(env, a[1], "c10dAllReduceTensor: id"));
    std::string op = getString(env, a[2], "c10dAllReduceTensor: op");
    c10d::AllreduceOptions opts;
    opts.reduceOp = reduceOpOf(op, "c10dAllReduceTensor");
    if (src.scalar_type() != at::kFloat) throw JsError("c10dAllReduceTensor: expected a float32 tensor");
    if (g->lostRank.load() >= 0) throw JsError(g->lostMessage("allReduce"));
    // A fresh tensor: tfjs tensors are immutable, and the reduced copy becomes a new one.
    at::Tensor used;
    {
      c10::DeviceGuard guard(g->device);
      used = src.to(g->device, /*non_blocking=*/false, /*copy=*/true).contiguous();
    }
    std::vector<at::Tensor> ts{used};
    auto work = g->pg->allreduce(ts, opts);
    bool avg = op == "avg";
    auto* job = new Job();
    job->group = g;
    at::Device home = src.device();
    job->execute = [g, work, used, avg]() {
      waitFor(*g, work, "allReduce");
      if (avg) {
        c10::DeviceGuard guard(used.device());
        used.div_(g->size);
      }
    };
    job->finish = [used, home](napi_env env) -> napi_value {
      at::Tensor t = used.device() == home ? used : used.to(home);
      return makeNumber(env, static_cast<double>(tensorTable().add(t)));
    };
    return startJob(env, job, "c10dAllReduceTensor");
  });
}

/** null, or {rank, message} once the heartbeats have found a lost rank (polled by the JS side). */
napi_value Lost(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    auto a = argsOf(env, info, 1, "c10dLost");
    napi_value out;
    auto it = groups.find(getInt(env, a[0], "c10dLost: group"));
    if (it == groups.end() || it->second->lostRank.load() < 0) {
      napi_get_null(env, &out);
      return out;
    }
    auto& g = *it->second;
    check(env, napi_create_object(env, &out), "c10dLost");
    check(env, napi_set_named_property(env, out, "rank", makeNumber(env, g.lostRank.load())), "c10dLost");
    check(env, napi_set_named_property(env, out, "message", makeString(env, g.lostMessage("the run"))), "c10dLost");
    return out;
  });
}

napi_value Features(napi_env env, napi_callback_info info) {
  return guarded(env, [&]() -> napi_value {
    napi_value o, t, f;
    check(env, napi_create_object(env, &o), "c10dFeatures");
    napi_get_boolean(env, true, &t);
    napi_get_boolean(env, false, &f);
    check(env, napi_set_named_property(env, o, "gloo", OST_HAS_GLOO ? t : f), "c10dFeatures");
    check(env, napi_set_named_property(env, o, "nccl", OST_HAS_NCCL ? t : f), "c10dFeatures");
    return o;
  });
}

}  // namespace

void addProcessGroupFunctions(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"c10dFeatures", nullptr, Features, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dConnect", nullptr, Connect, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dClose", nullptr, Close, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dAllReduce", nullptr, AllReduce, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dBroadcast", nullptr, Broadcast, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dAllGather", nullptr, AllGather, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dBarrier", nullptr, Barrier, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dAllReduceTensor", nullptr, AllReduceTensor, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"c10dLost", nullptr, Lost, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace ost
