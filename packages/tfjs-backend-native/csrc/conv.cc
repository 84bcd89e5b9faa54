// Convolution by im2col + sgemm, the route that needs only OpenBLAS. When the addon was built
// against oneDNN (conv_dnnl.cc) its direct kernels are tried first: they avoid materialising
// the column matrix and reach PyTorch's speed, since PyTorch's CPU conv3d is oneDNN.
#include <algorithm>
#include <cstring>
#include <vector>

#include "blas.h"
#include "kernels.h"
#include "threadpool.h"

namespace osn {

bool conv_forward_dnnl(const ConvGeom& g, const float* x, const float* f, float* y, const float* bias);
bool conv_backward_input_dnnl(const ConvGeom& g, const float* dy, const float* f, float* dx);
bool conv_backward_filter_dnnl(const ConvGeom& g, const float* x, const float* dy, float* df);

namespace {

// Rows of the column matrix built at once: about 4 MiB, so it stays in L2/L3 between
// im2col writing it and sgemm reading it.
int64_t chunk_rows(int64_t k, int64_t total) {
  const int64_t rows = (int64_t(4) << 20) / (4 * std::max<int64_t>(k, 1));
  return std::min(total, std::max<int64_t>(rows, 64));
}

// col[r][(kd, kh, kw, c)] = x at the input position output row (r0 + r) reads for that tap, or 0.
void im2col(const ConvGeom& g, const float* xn, float* col, int64_t r0, int64_t rows) {
  const int64_t k = g.kd * g.kh * g.kw * g.c;
  parallel_for(rows, 16, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t p = r0 + r;
      const int64_t ow = p % g.ow, oh = (p / g.ow) % g.oh, od = p / (g.ow * g.oh);
      float* dst = col + r * k;
      for (int64_t a = 0; a < g.kd; ++a) {
        const int64_t id = od * g.sd - g.pd + a * g.dd;
        for (int64_t bh = 0; bh < g.kh; ++bh) {
          const int64_t ih = oh * g.sh - g.ph + bh * g.dh;
          for (int64_t cw = 0; cw < g.kw; ++cw, dst += g.c) {
            const int64_t iw = ow * g.sw - g.pw + cw * g.dw;
            if (id < 0 || id >= g.d || ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
              std::memset(dst, 0, sizeof(float) * g.c);
            } else {
              std::memcpy(dst, xn + ((id * g.h + ih) * g.w + iw) * g.c, sizeof(float) * g.c);
            }
          }
        }
      }
    }
  });
}

// The inverse scatter: dx += col at the positions im2col read. Serial: taps of neighbouring
// rows overlap. Only the strided backward-input path uses it.
void col2im_add(const ConvGeom& g, const float* col, float* dxn, int64_t r0, int64_t rows) {
  const int64_t k = g.kd * g.kh * g.kw * g.c;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t p = r0 + r;
    const int64_t ow = p % g.ow, oh = (p / g.ow) % g.oh, od = p / (g.ow * g.oh);
    const float* src = col + r * k;
    for (int64_t a = 0; a < g.kd; ++a) {
      const int64_t id = od * g.sd - g.pd + a * g.dd;
      for (int64_t bh = 0; bh < g.kh; ++bh) {
        const int64_t ih = oh * g.sh - g.ph + bh * g.dh;
        for (int64_t cw = 0; cw < g.kw; ++cw, src += g.c) {
          const int64_t iw = ow * g.sw - g.pw + cw * g.dw;
          if (id < 0 || id >= g.d || ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
          float* dst = dxn + ((id * g.h + ih) * g.w + iw) * g.c;
          for (int64_t c = 0; c < g.c; ++c) dst[c] += src[c];
        }
      }
    }
  }
}

bool is_pointwise(const ConvGeom& g) {
  return g.kd == 1 && g.kh == 1 && g.kw == 1 && g.sd == 1 && g.sh == 1 && g.sw == 1 && g.pd == 0 && g.ph == 0 &&
         g.pw == 0 && g.od == g.d && g.oh == g.h && g.ow == g.w;
}

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k,
              1.0f, a, (int)lda, b, (int)ldb, beta, c, (int)ldc);
}

void forward_im2col(const ConvGeom& g, const float* x, const float* f, float* y) {
  const int64_t k = g.kd * g.kh * g.kw * g.c, p = g.od * g.oh * g.ow, in = g.d * g.h * g.w * g.c;
  if (is_pointwise(g)) {
    sgemm(false, false, g.n * p, g.oc, g.c, x, g.c, f, g.oc, 0.0f, y, g.oc);
    return;
  }
  const int64_t rows = chunk_rows(k, p);
  std::vector<float> col(rows * k);
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t r0 = 0; r0 < p; r0 += rows) {
      const int64_t r = std::min(rows, p - r0);
      im2col(g, x + n * in, col.data(), r0, r);
      sgemm(false, false, r, g.oc, k, col.data(), k, f, g.oc, 0.0f, y + (n * p + r0) * g.oc, g.oc);
    }
  }
}

}  // namespace

void conv_forward(const ConvGeom& g, const float* x, const float* f, float* y, const float* bias) {
  if (conv_forward_dnnl(g, x, f, y, bias)) return;
  forward_im2col(g, x, f, y);
  if (!bias) return;
  const int64_t rows = g.n * g.od * g.oh * g.ow, oc = g.oc;
  parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(oc, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t c = 0; c < oc; ++c) y[r * oc + c] += bias[c];
  });
}

void conv_backward_input(const ConvGeom& g, const float* dy, const float* f, float* dx) {
  if (conv_backward_input_dnnl(g, dy, f, dx)) return;
  const int64_t k = g.kd * g.kh * g.kw * g.c, p = g.od * g.oh * g.ow, in = g.d * g.h * g.w * g.c;
  if (is_pointwise(g)) {
    sgemm(false, true, g.n * p, g.c, g.oc, dy, g.oc, f, g.oc, 0.0f, dx, g.c);
    return;
  }
  if (g.sd == 1 && g.sh == 1 && g.sw == 1) {
    // Stride 1: dx is a forward convolution of dy with the filter flipped in space and its
    // channel axes swapped, padded so every tap that reached x reaches back. This keeps the
    // threaded im2col and avoids the serial scatter of col2im.
    std::vector<float> flipped(g.kd * g.kh * g.kw * g.c * g.oc);
    for (int64_t a = 0; a < g.kd; ++a)
      for (int64_t b = 0; b < g.kh; ++b)
        for (int64_t c = 0; c < g.kw; ++c) {
          const float* src = f + (((g.kd - 1 - a) * g.kh + (g.kh - 1 - b)) * g.kw + (g.kw - 1 - c)) * g.c * g.oc;
          float* dst = flipped.data() + ((a * g.kh + b) * g.kw + c) * g.oc * g.c;
          for (int64_t ci = 0; ci < g.c; ++ci)
            for (int64_t co = 0; co < g.oc; ++co) dst[co * g.c + ci] = src[ci * g.oc + co];
        }
    ConvGeom t = g;
    t.d = g.od, t.h = g.oh, t.w = g.ow, t.c = g.oc;
    t.od = g.d, t.oh = g.h, t.ow = g.w, t.oc = g.c;
    t.pd = (g.kd - 1) * g.dd - g.pd, t.ph = (g.kh - 1) * g.dh - g.ph, t.pw = (g.kw - 1) * g.dw - g.pw;
    forward_im2col(t, dy, flipped.data(), dx);
    return;
  }
  const int64_t rows = chunk_rows(k, p);
  std::vector<float> col(rows * k);
  std::memset(dx, 0, sizeof(float) * g.n * in);
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t r0 = 0; r0 < p; r0 += rows) {
      const int64_t r = std::min(rows, p - r0);
      sgemm(false, true, r, k, g.oc, dy + (n * p + r0) * g.oc, g.oc, f, g.oc, 0.0f, col.data(), k);
      col2im_add(g, col.data(), dx + n * in, r0, r);
    }
  }
}

void conv_backward_filter(const ConvGeom& g, const float* x, const float* dy, float* df) {
  if (conv_backward_filter_dnnl(g, x, dy, df)) return;
  const int64_t k = g.kd * g.kh * g.kw * g.c, p = g.od * g.oh * g.ow, in = g.d * g.h * g.w * g.c;
  if (is_pointwise(g)) {
    sgemm(true, false, g.c, g.oc, g.n * p, x, g.c, dy, g.oc, 0.0f, df, g.oc);
    return;
  }
  const int64_t rows = chunk_rows(k, p);
  std::vector<float> col(rows * k);
  bool first = true;
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t r0 = 0; r0 < p; r0 += rows, first = false) {
      const int64_t r = std::min(rows, p - r0);
      im2col(g, x + n * in, col.data(), r0, r);
      // df[k, oc] (+)= col^T [k, r] x dy [r, oc]
      sgemm(true, false, k, g.oc, r, col.data(), k, dy + (n * p + r0) * g.oc, g.oc, first ? 0.0f : 1.0f, df, g.oc);
    }
  }
}

}  // namespace osn
