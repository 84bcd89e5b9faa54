// Seeded test data, so a failing case reproduces exactly (tf.random* seeds differ by backend).
import { tf } from '../tf.js';

/** mulberry32: a small, fast 32-bit PRNG; uniform in [0, 1). */
export function uniformSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` standard-normal float32 values (Box-Muller), times `std`, plus `mean`. */
export function normalArray(size: number, seed: number, std = 1, mean = 0): Float32Array {
  const u = uniformSource(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    out[i] = mean + std * r * Math.cos(th);
    if (i + 1 < size) out[i + 1] = mean + std * r * Math.sin(th);
  }
  return out;
}

export function randn(shape: number[], seed: number, std = 1, mean = 0): tf.Tensor {
  return tf.tensor(normalArray(shape.reduce((a, b) => a * b, 1), seed, std, mean), shape);
}
