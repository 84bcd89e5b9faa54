// Reconstruction metrics on rgb24 frames [T, H, W, 3]: PSNR over all pixels and SSIM (Gaussian
// window 11, sigma 1.5, K1 0.01, K2 0.03, per channel, averaged over frames and channels).

export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} values; the videos must have the same size.`);
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

function gaussian(size = 11, sigma = 1.5): Float64Array {
  const g = new Float64Array(size);
  let s = 0;
  for (let i = 0; i < size; i++) s += g[i] = Math.exp(-((i - (size - 1) / 2) ** 2) / (2 * sigma * sigma));
  return g.map((v) => v / s);
}

/** 'valid' separable filtering of one [h, w] plane. */
function filter(plane: Float64Array, h: number, w: number, g: Float64Array): { out: Float64Array; oh: number; ow: number } {
  const k = g.length;
  const ow = w - k + 1;
  const oh = h - k + 1;
  const tmp = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) for (let x = 0; x < ow; x++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += plane[y * w + x + i]! * g[i]!;
    tmp[y * ow + x] = s;
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += tmp[(y + i) * ow + x]! * g[i]!;
    out[y * ow + x] = s;
  }
  return { out, oh, ow };
}

export function ssim(a: Uint8Array, b: Uint8Array, width: number, height: number): number {
  if (a.length !== b.length) throw new Error(`ssim: ${a.length} vs ${b.length} values; the videos must have the same size.`);
  if (width < 11 || height < 11) throw new Error(`ssim: frames of ${width}x${height} are smaller than the 11x11 window.`);
  const g = gaussian();
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  const plane = width * height;
  const frames = a.length / (plane * 3);
  let total = 0;
  let count = 0;
  const pa = new Float64Array(plane);
  const pb = new Float64Array(plane);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < plane; i++) {
        pa[i] = a[(f * plane + i) * 3 + c]!;
        pb[i] = b[(f * plane + i) * 3 + c]!;
      }
      const mul = (x: Float64Array, y: Float64Array) => x.map((v, i) => v * y[i]!);
      const mu1 = filter(pa, height, width, g).out;
      const mu2 = filter(pb, height, width, g).out;
      const s11 = filter(mul(pa, pa), height, width, g).out;
      const s22 = filter(mul(pb, pb), height, width, g).out;
      const { out: s12 } = filter(mul(pa, pb), height, width, g);
      let sum = 0;
      for (let i = 0; i < mu1.length; i++) {
        const m1 = mu1[i]!;
        const m2 = mu2[i]!;
        const v1 = s11[i]! - m1 * m1;
        const v2 = s22[i]! - m2 * m2;
        const cov = s12[i]! - m1 * m2;
        sum += ((2 * m1 * m2 + c1) * (2 * cov + c2)) / ((m1 * m1 + m2 * m2 + c1) * (v1 + v2 + c2));
      }
      total += sum / mu1.length;
      count++;
    }
  }
  return total / count;
}
