// Reconstruction metrics as the reference's eval/vae computes them, equal to scikit-image's
// peak_signal_noise_ratio and structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range): PSNR from the plain MSE over every value, capped at
// 100 dB for (near-)identical inputs; SSIM per channel with an 11x11 Gaussian window of sigma 1.5,
// C1 = (0.01 L)², C2 = (0.03 L)², biased local variances, the map kept where the window fits
// wholly inside the image ("valid"), averaged, channels averaged. `dataRange` L is 1 for values
// on [0, 1] and 255 for uint8.

export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;

/** PSNR (dB) of two same-length arrays with values on [0, dataRange]; 100 when (near-)identical. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>, dataRange = 1): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} values; compare images or videos of the same size.`);
  if (a.length === 0) throw new Error('psnr: empty frames.');
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  const mse = s / a.length;
  if (mse < 1e-10 * dataRange * dataRange) return 100;
  return 20 * Math.log10(dataRange / Math.sqrt(mse));
}

/** The normalised 1-D Gaussian kernel (the reference's getGaussianKernel(11, 1.5)). */
export function gaussianKernel(size = SSIM_WINDOW, sigma = SSIM_SIGMA): Float64Array {
  const k = new Float64Array(size);
  const c = (size - 1) / 2;
  let s = 0;
  for (let i = 0; i < size; i++) {
    k[i] = Math.exp(-((i - c) ** 2) / (2 * sigma * sigma));
    s += k[i]!;
  }
  for (let i = 0; i < size; i++) k[i] = k[i]! / s;
  return k;
}

/** Separable "valid" filtering of one plane: out is (H-k+1) x (W-k+1). */
function filterValid(src: Float64Array, h: number, w: number, k: Float64Array): Float64Array {
  const n = k.length;
  const ow = w - n + 1;
  const oh = h - n + 1;
  const tmp = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += k[i]! * src[row + x + i]!;
      tmp[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += k[i]! * tmp[(y + i) * ow + x]!;
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** SSIM of one single-channel plane pair (H x W, values on [0, dataRange]). */
export function ssimPlane(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number, dataRange = 1): number {
  if (height < SSIM_WINDOW || width < SSIM_WINDOW) {
    throw new Error(`ssim: a ${height}x${width} image is smaller than the ${SSIM_WINDOW}x${SSIM_WINDOW} window; use frames of at least ${SSIM_WINDOW} pixels a side.`);
  }
  const c1 = (0.01 * dataRange) ** 2;
  const c2 = (0.03 * dataRange) ** 2;
  const n = height * width;
  const x = Float64Array.from(a);
  const y = Float64Array.from(b);
  const xx = new Float64Array(n);
  const yy = new Float64Array(n);
  const xy = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i]! * x[i]!;
    yy[i] = y[i]! * y[i]!;
    xy[i] = x[i]! * y[i]!;
  }
  const k = gaussianKernel();
  const mu1 = filterValid(x, height, width, k);
  const mu2 = filterValid(y, height, width, k);
  const e11 = filterValid(xx, height, width, k);
  const e22 = filterValid(yy, height, width, k);
  const e12 = filterValid(xy, height, width, k);
  let s = 0;
  for (let i = 0; i < mu1.length; i++) {
    const m1 = mu1[i]!;
    const m2 = mu2[i]!;
    const s11 = e11[i]! - m1 * m1;
    const s22 = e22[i]! - m2 * m2;
    const s12 = e12[i]! - m1 * m2;
    s += ((2 * m1 * m2 + c1) * (2 * s12 + c2)) / ((m1 * m1 + m2 * m2 + c1) * (s11 + s22 + c2));
  }
  return s / mu1.length;
}

/** SSIM of two interleaved (H x W x C) images with values on [0, dataRange]: the mean over channels. */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number, channels = 3, dataRange = 1): number {
  const n = height * width;
  if (a.length !== n * channels || b.length !== n * channels) {
    throw new Error(`ssim: expected ${height}x${width}x${channels} = ${n * channels} values, got ${a.length} and ${b.length}.`);
  }
  let total = 0;
  const pa = new Float64Array(n);
  const pb = new Float64Array(n);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < n; i++) {
      pa[i] = a[i * channels + c]!;
      pb[i] = b[i * channels + c]!;
    }
    total += ssimPlane(pa, pb, height, width, dataRange);
  }
  return total / channels;
}
