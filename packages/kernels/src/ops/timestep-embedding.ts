import { tf } from '../tf.js';

/**
 * Sinusoidal embedding [B, dim] = [cos(t * f), sin(t * f)] with f_j = maxPeriod^(-j/half),
 * cos first (Open-Sora's TimestepEmbedder). Computed in float64, then rounded to float32:
 * the fixtures' tolerances are set against a float64 reference.
 */
export function timestepEmbedding(t: ArrayLike<number>, dim: number, maxPeriod = 10000): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const n = t.length;
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const ti = t[i]!;
    for (let j = 0; j < half; j++) {
      const f = Math.exp((-Math.log(maxPeriod) * j) / half);
      out[i * dim + j] = Math.cos(ti * f);
      out[i * dim + half + j] = Math.sin(ti * f);
    }
  }
  return tf.tensor2d(out, [n, dim]);
}
