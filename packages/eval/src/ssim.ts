// SSIM as the reference's eval/vae computes it: per channel, an 11x11 Gaussian window of sigma
// 1.5, C1 = 0.01², C2 = 0.03² (peak 1), biased (population) local variances, the map kept where
// the window fits wholly inside the image ("valid"), averaged; channels averaged. This equals
// scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=1).
import { checkSameGeometry, frameUnit, type Video } from './frames.js';

export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
const C1 = 0.01 ** 2;
const C2 = 0.03 ** 2;

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

/** SSIM of one single-channel plane pair (H x W, values on [0, 1]). */
export function ssimPlane(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number): number {
  if (height < SSIM_WINDOW || width < SSIM_WINDOW) {
    throw new Error(`ssim: a ${height}x${width} image is smaller than the ${SSIM_WINDOW}x${SSIM_WINDOW} window; use frames of at least ${SSIM_WINDOW} pixels a side.`);
  }
  const n = height * width;
  const x = Float64Array.from(a as ArrayLike<number>);
  const y = Float64Array.from(b as ArrayLike<number>);
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
    s += ((2 * m1 * m2 + C1) * (2 * s12 + C2)) / ((m1 * m1 + m2 * m2 + C1) * (s11 + s22 + C2));
  }
  return s / mu1.length;
}

/** SSIM of two interleaved (H x W x C) images on [0, 1]: the mean over channels. */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number, channels = 3): number {
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
    total += ssimPlane(pa, pb, height, width);
  }
  return total / channels;
}

/** SSIM per frame of two videos of the same geometry. */
export function ssimPerFrame(a: Video, b: Video): number[] {
  checkSameGeometry(a, b, 'ssimPerFrame');
  const out: number[] = [];
  for (let t = 0; t < a.numFrames; t++) out.push(ssim(frameUnit(a, t), frameUnit(b, t), a.height, a.width, a.channels ?? 3));
  return out;
}
