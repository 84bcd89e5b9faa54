// BLAS entry points. OpenBLAS's are declared here rather than taken from <cblas.h> alone because
// the cblas.h on the include path is chosen by Debian's alternatives and may be another BLAS's.
#pragma once
#include <cblas.h>

#include <cstdint>

extern "C" {
void openblas_set_num_threads(int num_threads);
}

namespace osn {

// OPENSORA_NATIVE_GEMM=openblas pins every GEMM to OpenBLAS (benches, tests; matmul.cc).
bool gemm_pinned_openblas();

#ifdef OSN_HAVE_DNNL
// c[m, n] = alpha op(a) op(b) + beta c (row-major, leading dimensions lda, ldb, ldc): one oneDNN
// sgemm on the calling thread with signals blocked (matmul.cc says why). Every oneDNN sgemm of
// the addon goes through it. False: oneDNN refused the arguments and wrote nothing.
bool dnnl_gemm1(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// While one lives on a thread, signals stay blocked there and its OpenMP team is one thread, so
// the dnnl_gemm1 calls inside skip their two signal-mask syscalls (a kernel making thousands of
// small GEMMs blocks once). Nests; the last one out restores the mask and the team size.
class DnnlGemmScope {
 public:
  DnnlGemmScope();
  ~DnnlGemmScope();
  DnnlGemmScope(const DnnlGemmScope&) = delete;
  DnnlGemmScope& operator=(const DnnlGemmScope&) = delete;
};
#endif

}  // namespace osn
