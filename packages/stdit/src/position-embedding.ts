// PositionEmbedding2D of STDiT3: a fixed sin-cos embedding of the patch grid, recomputed per call.
// The column (width) coordinate fills the first half and the row the second; both are divided by
// the resolution scale and stretched to a base_size grid. Arithmetic follows the reference's
// float32 steps so the values agree to rounding.
const f32 = Math.fround;

/** [h*w, dim] row-major over (row, col): [sin(pc f), cos(pc f), sin(pr f), cos(pr f)]. */
export function positionEmbedding2D(dim: number, h: number, w: number, scale: number, baseSize: number | null): Float32Array {
  if (dim % 4 !== 0) throw new Error(`PositionEmbedding2D: dim ${dim} must be a multiple of 4`);
  const half = dim / 2;
  const nf = half / 2;
  const invFreq = new Float32Array(nf);
  for (let j = 0; j < nf; j++) invFreq[j] = f32(1 / f32(10000 ** f32((2 * j) / half)));
  const s = f32(scale);
  const coord = (n: number) => {
    const out = new Float32Array(n);
    const stretch = baseSize == null ? 1 : f32(baseSize / n);
    for (let i = 0; i < n; i++) {
      const p = f32(i / s);
      out[i] = baseSize == null ? p : f32(p * stretch);
    }
    return out;
  };
  const rows = coord(h);
  const cols = coord(w);
  const out = new Float32Array(h * w * dim);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) {
      const o = (r * w + c) * dim;
      for (let j = 0; j < nf; j++) {
        const ac = f32(cols[c]! * invFreq[j]!);
        const ar = f32(rows[r]! * invFreq[j]!);
        out[o + j] = Math.sin(ac);
        out[o + nf + j] = Math.cos(ac);
        out[o + half + j] = Math.sin(ar);
        out[o + half + nf + j] = Math.cos(ar);
      }
    }
  }
  return out;
}

/** [n, dim]: [sin(i f), cos(i f)] with f_j = 1/10000^(2j/dim), the 1-D table of Open-Sora 1.0's temporal embedding. */
export function positionEmbedding1D(dim: number, n: number): Float32Array {
  if (dim % 2 !== 0) throw new Error(`PositionEmbedding1D: dim ${dim} must be even`);
  const half = dim / 2;
  const out = new Float32Array(n * dim);
  for (let j = 0; j < half; j++) {
    const f = f32(1 / f32(10000 ** f32((2 * j) / dim)));
    for (let i = 0; i < n; i++) {
      const a = f32(i * f);
      out[i * dim + j] = Math.sin(a);
      out[i * dim + half + j] = Math.cos(a);
    }
  }
  return out;
}
