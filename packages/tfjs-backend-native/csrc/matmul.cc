#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "blas.h"
#include "kernels.h"
#include "threadpool.h"

#ifdef OSN_HAVE_DNNL
#include <dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <signal.h>
#endif

namespace osn {

#ifdef OSN_HAVE_DNNL
enum class Gemm { Auto, OpenBLAS, Dnnl };

namespace {
// OPENSORA_NATIVE_GEMM=openblas|dnnl pins one library (benches, tests); anything else: auto.
Gemm forced() {
  static const Gemm g = [] {
    const char* v = std::getenv("OPENSORA_NATIVE_GEMM");
    if (v && std::strcmp(v, "openblas") == 0) return Gemm::OpenBLAS;
    if (v && std::strcmp(v, "dnnl") == 0) return Gemm::Dnnl;
    return Gemm::Auto;
  }();
  return g;
}

// Depth of DnnlGemmScope on this thread: inside one, signals are already blocked.
thread_local int dnnl_scope_depth = 0;
thread_local sigset_t dnnl_scope_previous;
}  // namespace

bool gemm_pinned_openblas() { return forced() == Gemm::OpenBLAS; }

DnnlGemmScope::DnnlGemmScope() {
  if (dnnl_scope_depth++ > 0) return;
  omp_set_num_threads(1);
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &dnnl_scope_previous);
}

DnnlGemmScope::~DnnlGemmScope() {
  if (--dnnl_scope_depth > 0) return;
  pthread_sigmask(SIG_SETMASK, &dnnl_scope_previous, nullptr);
  omp_set_num_threads(threads());
}

// One oneDNN sgemm on the calling thread: its OpenMP team is set to one thread (the setting is
// per calling thread). C's leading dimension is ldc.
//
// Signals are blocked for the call: oneDNN 2.6's sgemm kernels corrupt the heap when a signal
// lands on their thread mid-call (reproduced in plain C++ with pthread_kill, and in Node under
// --cpu-prof's SIGPROF; a child's SIGCHLD would do the same). A signal that arrives meanwhile is
// delivered when the call returns. Inside a caller's DnnlGemmScope they already are, and the
// two syscalls are skipped.
bool dnnl_gemm1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  const auto call = [&] {
    return dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == dnnl_success;
  };
  const DnnlGemmScope scope;  // nested in a caller's scope: nothing to do
  return call();
}
#endif

namespace {

#ifdef OSN_HAVE_DNNL
// Which library runs op(A)[m,k] x op(B)[k,n]. Measured at 1 thread on this project's machine
// (Sapphire Rapids class, AVX-512) at the shapes of STDiT3's linear layers, interleaved with
// PyTorch 2.13 (MKL): oneDNN's sgemm (2.6) was as fast or faster than OpenBLAS 0.3.21 at the
// forward products and at dX = dY W, but 5-25% slower at large dW = dY^T X (A transposed, K =
// the token count), where OpenBLAS matched MKL.
bool prefer_openblas(int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  return ta && !tb && double(m) * double(n) * double(k) >= 2.5e8;
}
#endif

// GEMMs below this many multiply-adds run on one thread: waking a second thread costs more
// than it saves there, and on a loaded machine a sleeping worker can stall the call for a
// scheduler tick.
constexpr double kThreadedMinMacs = double(1 << 22);

void openblas_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float beta, float* c, bool one_thread) {
  if (one_thread) openblas_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)n);
  if (one_thread) openblas_set_num_threads(threads());
}

#ifdef OSN_HAVE_DNNL
// oneDNN's sgemm on our thread pool rather than on its OpenMP team: C is cut into one slice of
// rows (or, for a short C, of columns) per thread and each slice is a one-thread sgemm. On a
// loaded machine OpenMP's barrier waits for every thread of the team, and a team thread that
// is not scheduled stalled a call for milliseconds; our pool's caller takes the slices no
// worker has claimed, so a slow worker costs at most its own slice.
bool dnnl_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
               int64_t ldb, float beta, float* c, bool one_thread) {
  const int t = threads();
  if (t == 1 || one_thread) {
    const bool ok = dnnl_gemm1(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, n);
    omp_set_num_threads(t);
    return ok;
  }
  std::atomic<bool> ok{true};
  if (m >= n || m >= 256) {
    // rows [r0, r1): A's rows (its columns when ta), C's rows
    parallel_for(m, std::max<int64_t>(1, m / t), [&](int64_t r0, int64_t r1) {
      if (!dnnl_gemm1(ta, tb, r1 - r0, n, k, 1.0f, ta ? a + r0 : a + r0 * lda, lda, b, ldb, beta, c + r0 * n, n)) ok = false;
    });
  } else {
    // columns [c0, c1): B's columns (its rows when tb), C's columns
    parallel_for(n, std::max<int64_t>(1, n / t), [&](int64_t c0, int64_t c1) {
      if (!dnnl_gemm1(ta, tb, m, c1 - c0, k, 1.0f, a, lda, tb ? b + c0 * ldb : b + c0, ldb, beta, c + c0, n)) ok = false;
    });
  }
  omp_set_num_threads(t);
  return ok;
}
#endif

}  // namespace

#ifndef OSN_HAVE_DNNL
bool gemm_pinned_openblas() { return true; }
#endif

void batch_matmul(const float* a, const float* b, float* c, int64_t batch, const int32_t* ai, const int32_t* bi,
                  int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool accumulate) {
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  // accumulate: c already holds a term (e.g. the bias) and the product is added onto it.
  const float beta = accumulate ? 1.0f : 0.0f;
  const bool one_thread = threads() > 1 && double(m) * double(n) * double(k) < kThreadedMinMacs;
#ifdef OSN_HAVE_DNNL
  const Gemm g = forced();
  if (g == Gemm::Dnnl || (g == Gemm::Auto && !prefer_openblas(m, n, k, ta, tb))) {
    for (int64_t i = 0; i < batch; ++i) {
      const float *ap = a + ai[i] * m * k, *bp = b + bi[i] * k * n;
      float* cp = c + i * m * n;
      if (!dnnl_gemm(ta, tb, m, n, k, ap, lda, bp, ldb, beta, cp, one_thread)) {
        // oneDNN refuses bad arguments before it writes anything, and a slice's arguments pass
        // its checks exactly when the whole product's do (not seen: ours are checked on the
        // TypeScript side); OpenBLAS then does this entry.
        openblas_gemm(ta, tb, m, n, k, ap, lda, bp, ldb, beta, cp, one_thread);
      }
    }
    return;
  }
#endif
  for (int64_t i = 0; i < batch; ++i) {
    openblas_gemm(ta, tb, m, n, k, a + ai[i] * m * k, lda, b + bi[i] * k * n, ldb, beta, c + i * m * n, one_thread);
  }
}

}  // namespace osn
