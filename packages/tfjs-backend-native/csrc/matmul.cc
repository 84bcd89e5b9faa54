#include "blas.h"
#include "kernels.h"

namespace osn {

void batch_matmul(const float* a, const float* b, float* c, int64_t batch, const int32_t* ai, const int32_t* bi,
                  int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  for (int64_t i = 0; i < batch; ++i) {
    // One GEMM per batch entry: OpenBLAS threads each call, which pays off for the
    // attention-sized matrices (>= 64x64) this path serves.
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
                1.0f, a + ai[i] * m * k, (int)lda, b + bi[i] * k * n, (int)ldb, 0.0f, c + i * m * n, (int)n);
  }
}

}  // namespace osn
