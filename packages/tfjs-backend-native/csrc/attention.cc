// Fused scaled dot-product attention, forward and backward, in float32 blocks (flash-attention
// style): the [Nq, Nk] score matrix is never formed. Each (batch, head) pair is cut into blocks of
// kBlockQ query rows; a block's scores against a block of keys are one small GEMM, masked, turned
// into probabilities and multiplied into V by a second GEMM.
// - Forward: an online softmax over key blocks (running row max and sum, the partial output
//   rescaled when the max grows), so long key sequences need only a [kBlockQ, kBlockK] scratch.
// - Backward: per query block, the scores against every key it may see are recomputed (exact row
//   softmax, no saved statistics), then dP = dO V^T, dS = P (dP - rowsum(P dP)), and three GEMMs give
//   dQ and add the block's share to dK and dV.
// Semantics are those of packages/kernels/src/fused/attention-math.ts: masked keys (mask == 0) and
// keys past the causal limit (j > i) get probability 0; a row with no allowed key is NaN, as torch.
// GEMMs are oneDNN's sgemm, single-threaded inside our own threads (items are (pair, query block)
// in the forward, pairs in the backward, which own their dK/dV slices): results do not depend on
// the schedule (small products stay on OpenBLAS: kDnnlMinMacs). With fewer than two items a
// thread, the items run in turn on the calling thread and OpenBLAS threads each GEMM (a oneDNN
// call there would use one thread). Without oneDNN, or with OPENSORA_NATIVE_GEMM=openblas,
// OpenBLAS's single-threaded GEMMs run everywhere.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "blas.h"
#include "kernels.h"
#include "simd.h"
#include "threadpool.h"

namespace osn {
namespace {

constexpr int64_t kBlockQ = 128;
// Key block of the forward: every key at the model's shapes (<= 1024 tokens), bounded beyond.
constexpr int64_t kBlockK = 1024;

const float kNegInf = -std::numeric_limits<float>::infinity();

const float* mask_row(const AttentionDims& dm, const float* mask, int64_t bi, int64_t i) {
  const int64_t mb = dm.mb == 1 ? 0 : bi;
  return mask + (dm.mask_rank == 2 ? mb * dm.nk : (mb * dm.nq + i) * dm.nk);
}

// Products below this many multiply-adds stay on OpenBLAS even when dnnl. Measured at 1 thread on
// this machine: oneDNN's sgemm costs ~0.2 us more per call (1.8-3.2x OpenBLAS's time at the
// temporal attention's 8x8x72 blocks, ~1.2x at 32 tokens) and is 10-30% faster from ~48x48x72
// up; with A transposed (dK, dV) it is 7-25% slower at 64-token blocks, even at 256x72x128 and
// 18% faster at 320x48x128. Blocking signals costs ~0.2 us a GEMM (6% of a 64-token block's),
// hence once per range of items (run_range).
constexpr int64_t kDnnlMinMacs = int64_t(1) << 17;
constexpr int64_t kDnnlMinMacsTransposedA = int64_t(1) << 20;

// c[m, n] = alpha op(a) op(b) + beta c, row-major; on oneDNN when dnnl (inside a DnnlGemmScope)
// and the product is large enough.
inline void gemm(bool dnnl, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS wants leading dimensions >= 1; an empty sum is 0
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
#ifdef OSN_HAVE_DNNL
  // oneDNN refuses bad arguments before writing anything; OpenBLAS then does the product.
  if (dnnl && m * n * k >= (ta ? kDnnlMinMacsTransposedA : kDnnlMinMacs) && dnnl_gemm1(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
#else
  (void)dnnl;
#endif
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k),
              alpha, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// Sets scores of disallowed keys to -inf: s is [n] for keys k0..k0+n of query row i.
OSN_CLONES void mask_scores(float* __restrict s, const float* __restrict mrow, int64_t k0, int64_t n, int64_t limit) {
  for (int64_t j = 0; j < n; ++j) s[j] = mrow[k0 + j] == 0.0f ? kNegInf : s[j];
  for (int64_t j = std::max<int64_t>(limit - k0, 0); j < n; ++j) s[j] = kNegInf;
}

// 16 running maxima in a vector: GCC left the same loop over a float[16] scalar (vmaxss per
// lane), 6.6% of a profile of attn_mid's forward and backward. NaN scores are skipped, as before.
OSN_CLONES float row_max(const float* __restrict s, int64_t n) {
  vf16 lanes = vf16{} + kNegInf;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const vf16 x = load_v<vf16>(s + j);
    lanes = x > lanes ? x : lanes;
  }
  float mx = kNegInf;
  for (; j < n; ++j) mx = s[j] > mx ? s[j] : mx;
  for (int l = 0; l < 16; ++l) mx = lanes[l] > mx ? lanes[l] : mx;
  return mx;
}

// s[j] = exp(s[j] - mx); returns their sum (16 partial sums, lane l summing s[l], s[l + 16], ...),
// in one pass over s.
OSN_CLONES float exp_sum(float* __restrict s, float mx, int64_t n) {
  vf16 lanes{};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const vf16 e = fast_exp(load_v<vf16>(s + j) - mx);
    store_v(s + j, e);
    lanes += e;
  }
  float z = 0;
  for (; j < n; ++j) {
    s[j] = fast_exp(s[j] - mx);
    z += s[j];
  }
  for (int l = 0; l < 16; ++l) z += lanes[l];
  return z;
}

OSN_CLONES void scale_row(float* __restrict x, float a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) x[j] *= a;
}

// dS = P (dP - rowsum(P dP)) * scale, in place in dp; p and dp are [n].
OSN_CLONES void softmax_grad_row(const float* __restrict p, float* __restrict dp, float scale, int64_t n) {
  float lanes[16] = {0};
  int64_t j = 0;
  for (; j + 16 <= n; j += 16)
    for (int l = 0; l < 16; ++l) lanes[l] += p[j + l] * dp[j + l];
  float dsum = 0;
  for (; j < n; ++j) dsum += p[j] * dp[j];
  for (int l = 0; l < 16; ++l) dsum += lanes[l];
  for (j = 0; j < n; ++j) dp[j] = p[j] * (dp[j] - dsum) * scale;
}

// The causal limit of query row i: keys j < limit are allowed.
inline int64_t row_limit(const AttentionDims& dm, int64_t i) { return dm.causal ? std::min(dm.nk, i + 1) : dm.nk; }

// With a per-key mask ([mb, nk]), keys after the last allowed one get probability 0 in every row:
// they are left out of the GEMMs (a caption padded to 300 tokens with 120 valid costs 120).
// Returns the key count to process for batch bi (nk when the mask is per query or allows nothing).
int64_t key_extent(const AttentionDims& dm, const float* mask, int64_t bi) {
  if (dm.mask_rank != 2) return dm.nk;
  const float* m = mask_row(dm, mask, bi, 0);
  int64_t n = dm.nk;
  while (n > 0 && m[n - 1] == 0.0f) --n;
  return n == 0 ? dm.nk : n;  // no allowed key: the rows' NaNs come from the full path
}

// Forward of query rows q0..q0+m of pair bh. s: [kBlockQ * kBlockK], acc: [kBlockQ * dv], mx/sum: [kBlockQ].
void forward_block(bool dnnl, const AttentionDims& dm, int64_t bh, int64_t q0, const float* q, const float* k, const float* v,
                   const float* mask, float* out, float* s, float* acc, float* mx, float* sum) {
  const int64_t nq = dm.nq, nk = dm.nk, d = dm.d, dv = dm.dv, bi = bh / dm.h;
  const int64_t m = std::min(kBlockQ, nq - q0);
  const float* qb = q + (bh * nq + q0) * d;
  const float* kb = k + bh * nk * d;
  const float* vb = v + bh * nk * dv;
  const int64_t kend = std::min(row_limit(dm, q0 + m - 1), key_extent(dm, mask, bi));  // the last row sees the most keys
  const int64_t bk = std::min(kBlockK, std::max<int64_t>(kend, 1));
  std::fill(acc, acc + m * dv, 0.0f);
  std::fill(mx, mx + m, kNegInf);
  std::fill(sum, sum + m, 0.0f);
  for (int64_t k0 = 0; k0 < kend; k0 += bk) {
    const int64_t n = std::min(bk, kend - k0);
    gemm(dnnl, false, true, m, n, d, float(dm.scale), qb, d, kb + k0 * d, d, 0.0f, s, n);
    for (int64_t r = 0; r < m; ++r) {
      float* sr = s + r * n;
      mask_scores(sr, mask_row(dm, mask, bi, q0 + r), k0, n, row_limit(dm, q0 + r));
      const float bm = row_max(sr, n);
      const float newmax = std::max(mx[r], bm);
      if (newmax == kNegInf) {  // nothing allowed yet: this block adds nothing to the row
        std::fill(sr, sr + n, 0.0f);
        continue;
      }
      const float z = exp_sum(sr, newmax, n);
      if (newmax != mx[r]) {
        const float alpha = fast_exp(mx[r] - newmax);  // 0 when the row had nothing before
        sum[r] *= alpha;
        scale_row(acc + r * dv, alpha, dv);
        mx[r] = newmax;
      }
      sum[r] += z;
    }
    gemm(dnnl, false, false, m, dv, n, 1.0f, s, n, vb + k0 * dv, dv, 1.0f, acc, dv);
  }
  float* ob = out + (bh * nq + q0) * dv;
  for (int64_t r = 0; r < m; ++r) {
    // sum is 0 for a row with no allowed key: 0 / 0 gives its NaN.
    const float inv = 1.0f / sum[r];
    for (int64_t t = 0; t < dv; ++t) ob[r * dv + t] = sum[r] == 0.0f ? std::numeric_limits<float>::quiet_NaN() : acc[r * dv + t] * inv;
  }
}

// Backward of pair bh: every query block against the keys it sees, dK and dV accumulated in place.
// p, dp: [kBlockQ * nk].
void backward_pair(bool dnnl, const AttentionDims& dm, int64_t bh, const float* dy, const float* q, const float* k,
                   const float* v, const float* mask, float* dq, float* dk, float* dvo, float* p, float* dp) {
  const int64_t nq = dm.nq, nk = dm.nk, d = dm.d, dv = dm.dv, bi = bh / dm.h;
  const float scale = float(dm.scale);
  const float* kb = k + bh * nk * d;
  const float* vb = v + bh * nk * dv;
  float* dkb = dk + bh * nk * d;
  float* dvb = dvo + bh * nk * dv;
  std::fill(dkb, dkb + nk * d, 0.0f);
  std::fill(dvb, dvb + nk * dv, 0.0f);
  const int64_t extent = key_extent(dm, mask, bi);
  for (int64_t q0 = 0; q0 < nq; q0 += kBlockQ) {
    const int64_t m = std::min(kBlockQ, nq - q0);
    const float* qb = q + (bh * nq + q0) * d;
    const float* dyb = dy + (bh * nq + q0) * dv;
    float* dqb = dq + (bh * nq + q0) * d;
    const int64_t n = std::min(row_limit(dm, q0 + m - 1), extent);
    if (n == 0) {
      std::fill(dqb, dqb + m * d, 0.0f);
      continue;
    }
    gemm(dnnl, false, true, m, n, d, scale, qb, d, kb, d, 0.0f, p, n);
    for (int64_t r = 0; r < m; ++r) {
      float* pr = p + r * n;
      mask_scores(pr, mask_row(dm, mask, bi, q0 + r), 0, n, row_limit(dm, q0 + r));
      const float rmx = row_max(pr, n);
      if (rmx == kNegInf) {  // no allowed key: NaN, as the forward
        std::fill(pr, pr + n, std::numeric_limits<float>::quiet_NaN());
        continue;
      }
      const float z = exp_sum(pr, rmx, n);
      scale_row(pr, 1.0f / z, n);
    }
    gemm(dnnl, false, true, m, n, dv, 1.0f, dyb, dv, vb, dv, 0.0f, dp, n);        // dP = dO V^T
    gemm(dnnl, true, false, n, dv, m, 1.0f, p, n, dyb, dv, 1.0f, dvb, dv);        // dV += P^T dO
    for (int64_t r = 0; r < m; ++r) softmax_grad_row(p + r * n, dp + r * n, scale, n);
    gemm(dnnl, false, false, m, d, n, 1.0f, dp, n, kb, d, 0.0f, dqb, d);          // dQ = dS K
    gemm(dnnl, true, false, n, d, m, 1.0f, dp, n, qb, d, 1.0f, dkb, d);           // dK += dS^T Q
  }
}

// fn(begin, end, dnnl) on a range of items, with its GEMMs on oneDNN when dnnl (signals blocked
// once for the range, not per GEMM).
using ItemsFn = std::function<void(int64_t, int64_t, bool)>;
void run_range(int64_t begin, int64_t end, bool dnnl, const ItemsFn& fn) {
#ifdef OSN_HAVE_DNNL
  if (dnnl) {
    DnnlGemmScope scope;
    fn(begin, end, true);
    return;
  }
#endif
  fn(begin, end, false);
}

// Runs fn over items: on our threads with single-threaded GEMMs when there are enough items to
// share, else in turn on this thread with OpenBLAS threading each GEMM.
void run_items(int64_t items, const ItemsFn& fn) {
  const int t = threads();
  const bool dnnl = !gemm_pinned_openblas();
  if (t == 1) {
    run_range(0, items, dnnl, fn);
    return;
  }
  if (items < 2 * t) {
    fn(0, items, false);
    return;
  }
  openblas_set_num_threads(1);
  try {
    parallel_for(items, 1, [&](int64_t begin, int64_t end) { run_range(begin, end, dnnl, fn); });
  } catch (...) {
    openblas_set_num_threads(t);
    throw;
  }
  openblas_set_num_threads(t);
}

}  // namespace

void attention(const AttentionDims& dm, const float* q, const float* k, const float* v, const float* mask, float* out) {
  const int64_t qblocks = (dm.nq + kBlockQ - 1) / kBlockQ;
  const int64_t bk = std::min(kBlockK, std::max<int64_t>(dm.nk, 1));
  run_items(dm.b * dm.h * qblocks, [&](int64_t begin, int64_t end, bool dnnl) {
    std::vector<float> s(kBlockQ * bk), acc(kBlockQ * std::max<int64_t>(dm.dv, 1)), mx(kBlockQ), sum(kBlockQ);
    for (int64_t it = begin; it < end; ++it) {
      forward_block(dnnl, dm, it / qblocks, (it % qblocks) * kBlockQ, q, k, v, mask, out, s.data(), acc.data(), mx.data(),
                    sum.data());
    }
  });
}

// With P = softmax(S), S = scale q k^T + mask: dV = P^T dO, dP = dO V^T,
// dS = P * (dP - rowsum(P * dP)), dQ = scale dS K, dK = scale dS^T Q.
void attention_grad(const AttentionDims& dm, const float* dy, const float* q, const float* k, const float* v,
                    const float* mask, float* dq, float* dk, float* dvo) {
  run_items(dm.b * dm.h, [&](int64_t begin, int64_t end, bool dnnl) {
    std::vector<float> p(kBlockQ * std::max<int64_t>(dm.nk, 1)), dp(kBlockQ * std::max<int64_t>(dm.nk, 1));
    for (int64_t bh = begin; bh < end; ++bh) backward_pair(dnnl, dm, bh, dy, q, k, v, mask, dq, dk, dvo, p.data(), dp.data());
  });
}

}  // namespace osn
